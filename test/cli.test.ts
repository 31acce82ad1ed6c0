// The hayate command line: the flag conversion as a pure function (no training), and the built
// program spawned for --help, --version, info and every kind of mistake (exit 2, one line, the usage).
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import * as hy from '../lib/index';
import { benchFilters, CliContext, parseTrainArgs, TRAIN_DEFAULTS, UsageError, withDefaultCommand } from '../lib/cli/args';
import type { TrainCommandOptions } from '../lib/cli/train';
import { skipped, suite } from './harness';

const SUITE = 'cli';
const s = suite(SUITE);

const ROOT = resolve(__dirname, '..', '..');
const MAIN = join(ROOT, 'dist', 'lib', 'cli', 'main.js');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const pkg = require(join(ROOT, 'package.json')) as { version: string; bin?: Record<string, string> };

const noCuda: CliContext = { cuda: () => ({ available: false, reason: 'no GPU in this test' }) };
const withCuda: CliContext = { cuda: () => ({ available: true }) };

const scratch = mkdtempSync(join(tmpdir(), 'hayate-cli-'));
const aFile = join(scratch, 'a-file.ckpt');
writeFileSync(aFile, 'not a checkpoint');
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));

interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
}

function hayate(args: string[], opts: { env?: Record<string, string>; main?: string } = {}): Ran {
  const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env };
  delete env.HAYATE_DEBUG;
  const r = spawnSync(process.execPath, [opts.main ?? MAIN, ...args], { encoding: 'utf8', timeout: 20_000, env, cwd: ROOT });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A usage error: exit 2, the one line first, then the usage, and no stack trace. */
function assertUsageError(r: Ran, firstLine: string | RegExp, what: string): void {
  assert.is(r.status, 2, `${what}: exit code (stderr: ${r.stderr})`);
  const first = r.stderr.split('\n')[0];
  if (typeof firstLine === 'string') assert.is(first, firstLine, `${what}: first line`);
  else assert.match(first, firstLine, `${what}: first line`);
  assert.ok(r.stderr.includes('Usage'), `${what}: the usage follows`);
  assert.not.match(r.stderr, /^\s+at /m, `${what}: no stack trace`);
  assert.is(r.stdout, '', `${what}: nothing on stdout`);
}

function expectUsageError(args: string[], message: string, ctx: CliContext = noCuda): void {
  let thrown: unknown;
  try {
    parseTrainArgs(args, ctx);
  } catch (e) {
    thrown = e;
  }
  assert.ok(thrown instanceof UsageError, `${args.join(' ')}: expected a UsageError, got ${String(thrown)}`);
  const u = thrown as UsageError;
  assert.is(u.message, message, args.join(' '));
  assert.is(u.exitCode, 2);
  assert.match(u.usage, /^Usage: hayate train \[options\]/, `${args.join(' ')}: usage`);
  assert.ok(u.usage.includes('--epochs <n>'), `${args.join(' ')}: the usage lists the flags`);
}

// --- parseTrainArgs: defaults, each flag, each error --------------------------------------------

s('train defaults on a machine without CUDA: cpu, amp off', () => {
  const o = parseTrainArgs([], noCuda);
  const expected: TrainCommandOptions = { epochs: 6, batchSize: 64, lr: 1.0, device: 'cpu', workers: 'auto', json: false, amp: false, cudaGraph: false, seed: 1 };
  assert.equal(o, expected);
  assert.is(o.epochs, TRAIN_DEFAULTS.epochs);
  assert.not.ok('data' in o || 'checkpoint' in o || 'resume' in o, 'absent paths are absent, not undefined');
});

s('train defaults on a machine with CUDA: cuda, amp on', () => {
  const o = parseTrainArgs([], withCuda);
  assert.is(o.device, 'cuda');
  assert.is(o.amp, true);
});

s('the CUDA graph is on for cuda unless --no-cuda-graph, and never on the cpu', () => {
  assert.is(parseTrainArgs([], withCuda).cudaGraph, true);
  assert.is(parseTrainArgs(['--no-cuda-graph'], withCuda).cudaGraph, false);
  assert.is(parseTrainArgs(['--no-cuda-graph', '--cuda-graph'], withCuda).cudaGraph, true, 'the last one wins');
  assert.is(parseTrainArgs(['--device', 'cpu', '--cuda-graph'], withCuda).cudaGraph, false);
  assert.is(parseTrainArgs(['--cuda-graph'], noCuda).cudaGraph, false);
});

s('amp follows the device unless --amp or --no-amp says otherwise', () => {
  assert.is(parseTrainArgs(['--device', 'cpu'], withCuda).amp, false);
  assert.is(parseTrainArgs(['--device', 'cuda'], withCuda).amp, true);
  assert.is(parseTrainArgs(['--no-amp'], withCuda).amp, false);
  assert.is(parseTrainArgs(['--amp'], noCuda).amp, true);
  assert.is(parseTrainArgs(['--amp', '--no-amp'], withCuda).amp, false, 'the last one wins');
  assert.is(parseTrainArgs(['--no-amp', '--amp'], noCuda).amp, true, 'the last one wins');
});

s('each train flag is converted', () => {
  const data = join(scratch, 'mnist');
  mkdirSync(data, { recursive: true });
  const o = parseTrainArgs(
    ['--epochs', '5', '--batch-size', '128', '--lr', '0.5', '--device', 'cpu', '--workers', '2', '--data', data, '--json', '--checkpoint', join(scratch, 'out.ckpt'), '--resume', aFile, '--seed', '42'],
    withCuda,
  );
  const expected: TrainCommandOptions = {
    epochs: 5,
    batchSize: 128,
    lr: 0.5,
    device: 'cpu',
    workers: 2,
    data,
    json: true,
    amp: false,
    cudaGraph: false,
    checkpoint: join(scratch, 'out.ckpt'),
    resume: aFile,
    seed: 42,
  };
  assert.equal(o, expected);
});

s('flag forms: --flag=value, scientific learning rates, workers 0 and auto, seed 0, relative paths made absolute', () => {
  assert.is(parseTrainArgs(['--epochs=7'], noCuda).epochs, 7);
  assert.is(parseTrainArgs(['--lr', '1e-3'], noCuda).lr, 0.001);
  assert.is(parseTrainArgs(['--lr', '.5'], noCuda).lr, 0.5);
  assert.is(parseTrainArgs(['--workers', '0'], noCuda).workers, 0);
  assert.is(parseTrainArgs(['--workers', 'auto'], noCuda).workers, 'auto');
  assert.is(parseTrainArgs(['--seed', '0'], noCuda).seed, 0);
  assert.is(parseTrainArgs(['--data', '.'], noCuda).data, process.cwd());
  assert.is(parseTrainArgs(['--checkpoint', 'x.ckpt'], noCuda).checkpoint, resolve('x.ckpt'));
});

s('each train mistake is a UsageError naming the flag and the value', () => {
  expectUsageError(['--epochs', '0'], "hayate: --epochs must be a positive integer, got '0'");
  expectUsageError(['--epochs', '1.5'], "hayate: --epochs must be a positive integer, got '1.5'");
  expectUsageError(['--epochs', 'abc'], "hayate: --epochs must be a positive integer, got 'abc'");
  expectUsageError(['--epochs', '-1'], "hayate: --epochs must be a positive integer, got '-1'");
  expectUsageError(['--epochs', '1e3'], "hayate: --epochs must be a positive integer, got '1e3'");
  expectUsageError(['--epochs='], "hayate: --epochs must be a positive integer, got ''");
  expectUsageError(['--batch-size', '0'], "hayate: --batch-size must be a positive integer, got '0'");
  expectUsageError(['--lr', '0'], "hayate: --lr must be a positive number, got '0'");
  expectUsageError(['--lr', 'fast'], "hayate: --lr must be a positive number, got 'fast'");
  expectUsageError(['--lr', 'Infinity'], "hayate: --lr must be a positive number, got 'Infinity'");
  expectUsageError(['--device', 'gpu'], "hayate: --device must be cpu or cuda, got 'gpu'");
  expectUsageError(['--device', 'cuda'], "hayate: --device 'cuda' is not available here: no GPU in this test");
  expectUsageError(['--workers', '-2'], "hayate: --workers must be 'auto' or an integer from 0 to 64, got '-2'");
  expectUsageError(['--workers', 'many'], "hayate: --workers must be 'auto' or an integer from 0 to 64, got 'many'");
  expectUsageError(['--seed', '-1'], "hayate: --seed must be an integer >= 0, got '-1'");
  expectUsageError(['--data', '/nonexistent'], "hayate: --data must be an existing folder, got '/nonexistent' (it does not exist)");
  expectUsageError(['--data', aFile], `hayate: --data must be an existing folder, got '${aFile}' (it is not a folder)`);
  expectUsageError(['--resume', '/nonexistent'], "hayate: --resume must be an existing file, got '/nonexistent' (it does not exist)");
  expectUsageError(['--resume', scratch], `hayate: --resume must be an existing file, got '${scratch}' (it is a folder)`);
  expectUsageError(['--checkpoint', '/nonexistent/x.ckpt'], "hayate: --checkpoint must be a file path in an existing folder, got '/nonexistent/x.ckpt' (no folder /nonexistent)");
  expectUsageError(['--checkpoint', scratch], `hayate: --checkpoint must be a file path, got '${scratch}' (it is a folder)`);
  expectUsageError(['--bogus'], "hayate: unknown option '--bogus'");
  expectUsageError(['--epoch', '3'], "hayate: unknown option '--epoch' (did you mean --epochs?)");
  expectUsageError(['--epochs'], 'hayate: --epochs needs a value (--epochs <n>)');
  expectUsageError(['extra'], "hayate: train takes no arguments, got 'extra'");
});

s('no subcommand means train; --help and --version stay the program’s', () => {
  assert.equal(withDefaultCommand([]), ['train']);
  assert.equal(withDefaultCommand(['--epochs', '5']), ['train', '--epochs', '5']);
  assert.equal(withDefaultCommand(['--help']), ['--help']);
  assert.equal(withDefaultCommand(['-v']), ['-v']);
  assert.equal(withDefaultCommand(['info', '--json']), ['info', '--json']);
  assert.equal(withDefaultCommand(['frobnicate']), ['frobnicate']);
});

s('bench names: none runs all, each must match a file', () => {
  const files = ['gemm.bench.js', 'gelu.bench.js', 'conv.bench.js'];
  assert.equal(benchFilters([], files, 'u'), ['']);
  assert.equal(benchFilters(['gemm', 'ge', 'gemm'], files, 'u'), ['gemm', 'ge']);
  try {
    benchFilters(['gemm', 'nope'], files, 'usage text');
    assert.unreachable('expected a UsageError');
  } catch (e) {
    assert.instance(e, UsageError);
    assert.is((e as UsageError).message, "hayate: no benchmark matches 'nope' (there are: gemm, gelu, conv)");
    assert.is((e as UsageError).usage, 'usage text');
  }
});

// --- the built program --------------------------------------------------------------------------

s('package.json names the bin, and the built file starts with a shebang', () => {
  assert.equal(pkg.bin, { hayate: 'dist/lib/cli/main.js' });
  const head = spawnSync('head', ['-c', '20', MAIN], { encoding: 'utf8' }).stdout;
  assert.ok(head.startsWith('#!/usr/bin/env node\n'), `first line: ${JSON.stringify(head)}`);
});

s('--help lists train, bench and info; exit 0', () => {
  const r = hayate(['--help']);
  assert.is(r.status, 0, r.stderr);
  for (const c of ['train', 'bench', 'info']) assert.match(r.stdout, new RegExp(`^\\s+${c}\\b`, 'm'), c);
  assert.ok(r.stdout.includes('Usage: hayate'));
});

s('train --help lists the flags with their defaults', () => {
  const r = hayate(['train', '--help']);
  assert.is(r.status, 0, r.stderr);
  for (const f of ['--epochs <n>', '--batch-size <n>', '--lr <x>', '--device <cpu|cuda>', '--workers <n|auto>', '--data <folder>', '--json', '--amp', '--no-amp', '--checkpoint <file>', '--resume <file>', '--seed <n>']) {
    assert.ok(r.stdout.includes(f), f);
  }
  assert.ok(r.stdout.includes('(default: 6)'), 'epochs default');
});

s('--version and -v print the package version', () => {
  for (const flag of ['--version', '-v']) {
    const r = hayate([flag]);
    assert.is(r.status, 0, r.stderr);
    assert.is(r.stdout.trim(), pkg.version, flag);
  }
});

s('info prints the version, the backends and the CUDA state', () => {
  const r = hayate(['info']);
  assert.is(r.status, 0, r.stderr);
  assert.ok(r.stdout.includes(`hayate ${pkg.version}`), r.stdout);
  assert.match(r.stdout, /^backends: cpu/m);
  assert.match(r.stdout, hy.cuda.isAvailable() ? /^cuda device: /m : /^cuda: not available — ./m);
});

s('info --json is hy.info() as JSON', () => {
  const r = hayate(['info', '--json']);
  assert.is(r.status, 0, r.stderr);
  const parsed = JSON.parse(r.stdout) as ReturnType<typeof hy.info>;
  assert.equal(parsed, JSON.parse(JSON.stringify(hy.info())));
  assert.ok(parsed.backends.includes('cpu'));
});

const mistakes: [string[], string][] = [
  [['train', '--epochs', '0'], "hayate: --epochs must be a positive integer, got '0'"],
  [['train', '--workers', '65'], "hayate: --workers must be 'auto' or an integer from 0 to 64, got '65'"],
  [['train', '--epochs', '1.5'], "hayate: --epochs must be a positive integer, got '1.5'"],
  [['train', '--epochs', 'abc'], "hayate: --epochs must be a positive integer, got 'abc'"],
  [['--epochs', '0'], "hayate: --epochs must be a positive integer, got '0'"],
  [['train', '--batch-size', '0'], "hayate: --batch-size must be a positive integer, got '0'"],
  [['train', '--device', 'gpu'], "hayate: --device must be cpu or cuda, got 'gpu'"],
  [['train', '--data', '/nonexistent'], "hayate: --data must be an existing folder, got '/nonexistent' (it does not exist)"],
  [['train', '--resume', '/nonexistent'], "hayate: --resume must be an existing file, got '/nonexistent' (it does not exist)"],
  [['train', '--bogus'], "hayate: unknown option '--bogus'"],
  [['--bogus'], "hayate: unknown option '--bogus'"],
  [['train', '--epochs'], 'hayate: --epochs needs a value (--epochs <n>)'],
  [['info', '--bogus'], "hayate: unknown option '--bogus'"],
  [['info', 'extra'], "hayate: info takes no arguments, got 'extra'"],
];

for (const [args, line] of mistakes) {
  s(`a mistake exits 2 with one line and the usage: hayate ${args.join(' ')}`, () => {
    assertUsageError(hayate(args), line, args.join(' '));
  });
}

s('an unknown subcommand exits 2 with the program usage', () => {
  const r = hayate(['frobnicate']);
  assertUsageError(r, "hayate: unknown command 'frobnicate'", 'frobnicate');
  assert.ok(r.stderr.includes('Usage: hayate [options] [command]'), 'the program usage, not a subcommand’s');
});

s('the train usage follows a train mistake', () => {
  const r = hayate(['train', '--epochs', '0']);
  assert.ok(r.stderr.includes('Usage: hayate train [options]'), r.stderr);
});

const cudaCase = '--device cuda without a GPU exits 2 naming the flag and why';
if (hy.cuda.isAvailable()) {
  skipped.push(`${SUITE} > ${cudaCase}: cuda is available`);
  s.skip(cudaCase, () => undefined);
} else {
  s(cudaCase, () => {
    const reason = hy.info().cuda.reason ?? '';
    assertUsageError(hayate(['train', '--device', 'cuda']), `hayate: --device 'cuda' is not available here: ${reason}`, '--device cuda');
  });
}

s('bench with an unknown name exits 2 naming it (no benchmark runs)', () => {
  assertUsageError(hayate(['bench', 'no-such-bench']), /^hayate: no benchmark matches 'no-such-bench' \(there are: .*gemm/, 'bench no-such-bench');
});

s('bench in an installed package (no dist/bench) exits 2 with one line', () => {
  // An installed package's layout: package.json and dist/lib, no dist/bench.
  const root = join(scratch, 'installed');
  const cli = join(root, 'dist', 'lib', 'cli');
  mkdirSync(cli, { recursive: true });
  copyFileSync(join(ROOT, 'package.json'), join(root, 'package.json'));
  for (const f of ['main.js', 'args.js']) copyFileSync(join(ROOT, 'dist', 'lib', 'cli', f), join(cli, f));
  const r = hayate(['bench'], { main: join(cli, 'main.js'), env: { NODE_PATH: join(ROOT, 'node_modules') } });
  assertUsageError(r, /^hayate: the benchmarks are not part of an installed package .*npx hayate bench$/, 'bench installed');
});

// --- training runs: two train an epoch of MNIST each (~14-25 s), the third resumes with nothing to train

const SUMMARY_KEYS = ['device', 'epochs', 'trainSamples', 'seconds', 'samplesPerSecond', 'testAccuracy'];

function hayateTrain(args: string[]): Ran {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.HAYATE_DEBUG;
  const r = spawnSync(process.execPath, [MAIN, 'train', '--device', 'cpu', ...args], { encoding: 'utf8', timeout: 120_000, env, cwd: ROOT });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The --json output: every line JSON, the per-epoch events, then the summary as the last line. */
function parseJsonRun(r: Ran, what: string): { events: Record<string, unknown>[]; summary: Record<string, unknown> } {
  assert.is(r.status, 0, `${what}: exit code (stderr: ${r.stderr})`);
  const lines = r.stdout.split('\n').filter((l) => l !== '');
  assert.ok(lines.length >= 1, `${what}: at least the summary, got ${JSON.stringify(r.stdout)}`);
  const parsed = lines.map((l, i) => {
    try {
      return JSON.parse(l) as Record<string, unknown>;
    } catch {
      return assert.unreachable(`${what}: stdout line ${i + 1} is not JSON: ${l}`) as never;
    }
  });
  const summary = parsed[parsed.length - 1];
  assert.equal(Object.keys(summary).sort(), SUMMARY_KEYS.slice().sort(), `${what}: the summary's keys`);
  const events = parsed.slice(0, -1);
  for (const e of events) assert.is(e.event, 'epoch', `${what}: an earlier line is an epoch event: ${JSON.stringify(e)}`);
  return { events, summary };
}

const trainCheckpoint = join(scratch, 'train.ckpt');
const resumedCheckpoint = join(scratch, 'resumed.ckpt');
const wholeCheckpoint = join(scratch, 'whole.ckpt');
const expectedDevice = 'cpu';
// The trainings run on the CPU (an MNIST epoch on the emulated CUDA device would take hours), and
// not at all in the emulated builds' suites: they check the CLI and fit, which the plain suites
// run, and the emulator's CPU kernels under ASan would take minutes an epoch.
const trainSkip = hy.info().cuda.emulated === true ? 'the emulated-device build (the plain suites run it)' : undefined;
function trainCase(name: string, fn: () => void): void {
  if (trainSkip === undefined) {
    s(name, fn);
  } else {
    skipped.push(`cli > ${name}: ${trainSkip}`);
    s.skip(name, () => undefined);
  }
}

trainCase('train --epochs 1 --json (with --checkpoint): exit 0, JSON lines, the summary last with its six keys, test accuracy > 0.85', () => {
  const r = hayateTrain(['--epochs', '1', '--json', '--checkpoint', trainCheckpoint]);
  const { events, summary } = parseJsonRun(r, 'train --epochs 1');
  assert.is(events.length, 1, 'one epoch event');
  assert.is(events[0].epoch, 1);
  assert.is(events[0].trainSamples, 8576);
  assert.is(summary.device, expectedDevice);
  assert.is(summary.epochs, 1);
  assert.is(summary.trainSamples, 8576, "the npm package's training digits");
  assert.ok(typeof summary.seconds === 'number' && summary.seconds > 0, `seconds ${summary.seconds}`);
  assert.ok(typeof summary.samplesPerSecond === 'number' && summary.samplesPerSecond > 0, `samplesPerSecond ${summary.samplesPerSecond}`);
  assert.ok(typeof summary.testAccuracy === 'number' && summary.testAccuracy > 0.85 && summary.testAccuracy <= 1, `testAccuracy ${summary.testAccuracy}`);
  assert.is(summary.testAccuracy, events[0].evalAccuracy, 'the summary accuracy is the last evaluation');
  // the checkpoint after epoch 1: a fit checkpoint a model can load
  const info = hy.serialize.inspect(trainCheckpoint);
  assert.ok(info.tensors.some((t) => t.name === 'model.fc2~1bias'), info.tensors.map((t) => t.name).join(', ')); // '.' in a key is '~1'
});

trainCase('train --resume <checkpoint of epoch 1> --epochs 2 --json: trains epoch 2 only; the summary counts both epochs', () => {
  assert.ok(statSync(trainCheckpoint, { throwIfNoEntry: false })?.isFile(), 'the previous case wrote the checkpoint');
  const r = hayateTrain(['--resume', trainCheckpoint, '--epochs', '2', '--json', '--checkpoint', resumedCheckpoint]);
  const { events, summary } = parseJsonRun(r, 'train --resume --epochs 2');
  // Only epoch 2 runs (one event line). fit's result.epochs is the whole history (the checkpoint's
  // epoch 1 and this run's epoch 2), which is what the summary's `epochs` reports, while `seconds`
  // and `samplesPerSecond` cover this run's epoch alone.
  assert.equal(events.map((e) => e.epoch), [2], 'only epoch 2 ran');
  assert.is(events[0].lr, 0.7, 'StepLR resumed: epoch 2 runs at 1.0 * 0.7');
  assert.is(summary.epochs, 2, 'epochs: the epochs the model has been trained for, the resumed one included');
  assert.is(summary.trainSamples, 8576, 'the training set size (one epoch), not the samples trained');
  assert.is(summary.device, expectedDevice);
  assert.ok((summary.testAccuracy as number) > 0.85, `testAccuracy ${summary.testAccuracy}`);
  assert.is(summary.testAccuracy, events[0].evalAccuracy);
  assert.is(summary.samplesPerSecond, events[0].samplesPerSecond, "this run's epoch alone");
});

// The checkpoint is still at epoch 1 (the run above wrote its own): resuming at its own epoch.
trainCase('train --resume <checkpoint of epoch 1> --epochs 1 --json: nothing left to train; the summary reports the checkpoint', () => {
  assert.ok(statSync(trainCheckpoint, { throwIfNoEntry: false })?.isFile(), 'the previous case wrote the checkpoint');
  const r = hayateTrain(['--resume', trainCheckpoint, '--epochs', '1', '--json']);
  const { events, summary } = parseJsonRun(r, 'train --resume --epochs 1');
  // --epochs is the total to reach, not a count to add: the checkpoint is at epoch 1, so no epoch
  // runs (no event line). fit's result.epochs is the whole history (the checkpoint's epoch), which
  // is what the summary's `epochs` reports, while `seconds` and `samplesPerSecond` cover this run.
  assert.equal(events, [], 'no epoch ran');
  assert.is(summary.epochs, 1, "epochs: the history's length (the checkpoint's epoch 1), not the epochs this run trained (0)");
  assert.is(summary.samplesPerSecond, 0, 'no training in this run');
  assert.is(summary.trainSamples, 8576, 'the training set size, whatever ran');
  assert.is(summary.device, expectedDevice);
  assert.ok((summary.testAccuracy as number) > 0.85, `testAccuracy ${summary.testAccuracy}: the checkpoint's last evaluation`);
});

// Checkpoint, end the process, resume (the two cases above): the same weights as one process
// training both epochs. The autotuner's decisions are kept beside the checkpoint, so the resumed
// process runs the same algorithms; the uninterrupted run starts from the first run's decisions too.
trainCase('train: a run resumed in a new process ends with the weights of the uninterrupted run, bit for bit', () => {
  assert.ok(statSync(resumedCheckpoint, { throwIfNoEntry: false })?.isFile(), 'the resumed run wrote its checkpoint');
  copyFileSync(`${trainCheckpoint}.autotune.json`, `${wholeCheckpoint}.autotune.json`);
  parseJsonRun(hayateTrain(['--epochs', '2', '--json', '--checkpoint', wholeCheckpoint]), 'train --epochs 2');
  const a = hy.load(wholeCheckpoint) as unknown as { model: Record<string, hy.Tensor> };
  const b = hy.load(resumedCheckpoint) as unknown as { model: Record<string, hy.Tensor> };
  const all = (v: unknown, out: hy.Tensor[] = []): hy.Tensor[] => {
    if (v instanceof hy.Tensor) out.push(v);
    else if (v !== null && typeof v === 'object') for (const x of Object.values(v)) all(x, out);
    return out;
  };
  try {
    assert.equal(Object.keys(b.model).sort(), Object.keys(a.model).sort(), 'the same tensors');
    for (const [k, t] of Object.entries(a.model)) {
      const x = t.dataSync();
      const y = b.model[k].dataSync();
      let differ = 0;
      for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) differ++;
      assert.is(differ, 0, `${k}: ${differ} of ${x.length} values differ`);
    }
  } finally {
    for (const t of [...all(a), ...all(b)]) t.dispose();
  }
});

s.run();
