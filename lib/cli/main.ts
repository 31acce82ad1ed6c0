#!/usr/bin/env node
// `hayate train|bench|info` (npx hayate …); npm start is `hayate` alone, which trains with the defaults.
// This file wires the subcommands; args.ts parses and checks the flags, train.ts trains.
// Exit codes: 0 done, 1 a failure while running (HAYATE_DEBUG=1 adds the stack), 2 a mistake on the
// command line (one line naming the flag and the value, then the usage, on stderr).
// The addon is loaded only by the subcommands that need it, so --help and --version work without it.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

import { Command, CommanderError } from 'commander';

import type * as Hy from '../index';
import { benchFilters, defaultContext, guard, makeTrainCommand, RawTrainValues, trainOptionsFrom, UsageError, withDefaultCommand } from './args';
import type * as Train from './train';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const pkg = require('../../../package.json') as { version: string; description: string };

function hy(): typeof Hy {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('../index') as typeof Hy;
}

function formatBytes(n: number): string {
  return n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(1)} GiB` : `${(n / 2 ** 20).toFixed(1)} MiB`;
}

/** 12040 -> '12.4' (CUDA's encoding: 1000 * major + 10 * minor). */
function cudaVersion(v: number | undefined): string {
  return v === undefined ? '?' : `${Math.floor(v / 1000)}.${Math.floor((v % 1000) / 10)}`;
}

/** The device report npm start has always printed before training: the backends, the CUDA device or why not. */
function report(): void {
  const info = hy().info();
  console.log(`hayate ${info.version} — backends: ${info.backends.join(', ')}`);
  if (info.cuda.available && info.cuda.device) {
    const d = info.cuda.device;
    console.log(`cuda: ${d.name} (sm_${d.computeCapability.replace('.', '')}, ${d.multiProcessors} SMs, ${formatBytes(d.totalMemory)}), driver ${info.cuda.driverVersion}, runtime ${info.cuda.runtimeVersion}`);
    return;
  }
  console.log(`cuda: not used — ${info.cuda.reason}`);
}

function printInfo(json: boolean): void {
  const info = hy().info();
  if (json) {
    console.log(JSON.stringify(info));
    return;
  }
  const c = info.cuda;
  const lines = [
    `hayate ${info.version} (node ${process.version}, ${process.platform} ${process.arch})`,
    `backends: ${info.backends.join(', ')}`,
    `cuda compiled in: ${c.compiled ? 'yes' : 'no'}${c.emulated ? ' (emulated device, HAYATE_CUDA_EMULATOR=1)' : ''}`,
  ];
  if (c.available && c.device) {
    const d = c.device;
    lines.push(`cuda device: ${d.name}, sm_${d.computeCapability.replace('.', '')}, ${d.multiProcessors} SMs, ${formatBytes(d.totalMemory)}`);
    lines.push(`cuda driver ${cudaVersion(c.driverVersion)}, runtime ${cudaVersion(c.runtimeVersion)}`);
  } else {
    lines.push(`cuda: not available — ${c.reason ?? 'no reason given'}`);
  }
  console.log(lines.join('\n'));
}

async function train(values: RawTrainValues): Promise<void> {
  const opts = trainOptionsFrom(values, defaultContext);
  if (!opts.json) report();
  const { runTrain } = require('./train') as typeof Train; // eslint-disable-line @typescript-eslint/no-require-imports
  const s = await runTrain(opts);
  if (opts.json) {
    // The last line of stdout (runTrain printed one JSON object per epoch before it); in the other mode runTrain reports.
    const { device, epochs, trainSamples, seconds, samplesPerSecond, testAccuracy } = s;
    console.log(JSON.stringify({ device, epochs, trainSamples, seconds, samplesPerSecond, testAccuracy }));
  }
}

/** Runs dist/bench/run.js once per name (its HY_BENCH filter takes one); the exit code is the worst run's. */
function bench(names: string[], usage: string): void {
  const dir = join(__dirname, '..', '..', 'bench');
  const runner = join(dir, 'run.js');
  if (!existsSync(runner)) {
    throw new UsageError(
      `hayate: the benchmarks are not part of an installed package (no ${runner}); run them from a checkout: npm run build:ts && npx hayate bench`,
      usage,
    );
  }
  const files = readdirSync(dir).filter((f) => f.endsWith('.bench.js'));
  let worst = 0;
  for (const filter of benchFilters(names, files, usage)) {
    const r = spawnSync(process.execPath, [runner], { stdio: 'inherit', env: { ...process.env, HY_BENCH: filter } });
    if (r.error) throw r.error;
    worst = Math.max(worst, r.status ?? 1);
  }
  process.exitCode = worst;
}

function program(): Command {
  const root = guard(new Command('hayate'))
    .description(pkg.description)
    .version(pkg.version, '-v, --version', 'print the version')
    .helpOption('-h, --help', 'print this help')
    .addHelpText('after', '\n`hayate` with no command (npm start) runs `hayate train` with the defaults.\nExit codes: 0 done, 1 failed while running, 2 a mistake on the command line.');

  const trainCmd = guard(makeTrainCommand(defaultContext)).action((_o, cmd: Command) => train(cmd.opts<RawTrainValues>()));
  root.addCommand(trainCmd);

  const infoCmd = guard(new Command('info'))
    .description('print the version, the backends, and the CUDA device or why there is none')
    .option('--json', 'print it as one JSON object')
    .action((o: { json?: boolean }) => printInfo(o.json === true));
  root.addCommand(infoCmd);

  const benchCmd = guard(new Command('bench'))
    .description('run the benchmarks (a checkout only); each name picks the files whose name contains it (HY_BENCH_JSON=<file> also writes the rows)')
    .argument('[names...]', 'benchmark names, e.g. gemm conv (default: all)')
    .action((names: string[]) => bench(names, benchCmd.helpInformation({ error: true })));
  root.addCommand(benchCmd);
  return root;
}

async function main(): Promise<void> {
  try {
    await program().parseAsync(withDefaultCommand(process.argv.slice(2)), { from: 'user' });
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`${e.message}\n\n${e.usage}`);
      process.exitCode = e.exitCode;
    } else if (e instanceof CommanderError) {
      process.exitCode = e.exitCode === 0 ? 0 : 2; // --help, --version: commander has printed them
    } else {
      const err = e as Error;
      process.stderr.write(`hayate: ${err?.message ?? String(e)}\n`);
      if (process.env.HAYATE_DEBUG === '1' && err?.stack) process.stderr.write(`${err.stack}\n`);
      process.exitCode = 1;
    }
  }
}

void main();
