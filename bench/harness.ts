// The benchmark interface. A benchmark is a file `bench/<name>.bench.ts` that exports
// `run(): Promise<BenchRow[]>`; bench/run.ts finds it, runs it and prints its rows. The PyTorch
// peers in bench/peers/ print the same rows as JSON, so a row's (bench, case) pair is the key
// that lines our figure up with the peer's.
import type { Bench, Fn, FnOptions } from 'tinybench' with { 'resolution-mode': 'import' };

import * as hy from '../lib/index';

export interface BenchRow {
  /** The benchmark's name: 'copy', 'gelu', 'gemm', ... */
  bench: string;
  /** What was measured, e.g. 'h2d 64MiB pinned nonBlocking'; equal across peers for the same work. */
  case: string;
  /** The card's name, or 'cpu (no CUDA: <reason>)'. */
  device: string;
  /** Median wall time of one iteration, in milliseconds. */
  medianMs: number;
  /** Bytes moved per iteration over the median time, in 10^9 bytes per second. */
  gbps?: number;
  /** Floating-point operations per iteration over the median time, in 10^12 per second. */
  tflops?: number;
  extra?: Record<string, string | number | boolean>;
}

export type BenchFunction = () => Promise<BenchRow[]>;

/** The module shape bench/run.ts expects of every `*.bench.js`. */
export interface BenchModule {
  run: BenchFunction;
}

/** The name rows carry in `device`: the CUDA card, or the CPU and why CUDA is absent. */
export function deviceName(): string {
  const cuda = hy.info().cuda;
  if (cuda.available && cuda.device !== undefined) return cuda.device.name;
  return `cpu (no CUDA: ${cuda.reason ?? 'unknown reason'})`;
}

export interface BenchCase {
  case: string;
  /** One timed iteration. GPU work must be synchronised inside it so the time is real. */
  fn: Fn;
  /** Untimed work around each iteration (tinybench's beforeEach / afterEach). */
  hooks?: Pick<FnOptions, 'beforeEach' | 'afterEach'>;
  /** Bytes per iteration, for GB/s. */
  bytes?: number;
  /** Floating-point operations per iteration, for TFLOP/s. */
  flops?: number;
}

export interface MeasureOptions {
  /** Fewest timed iterations per case (the median's sample count). */
  iterations?: number;
  /** Fewest milliseconds of timed iterations per case; a case runs until both minimums are met. */
  timeMs?: number;
  warmupIterations?: number;
}

// tinybench is an ES module and this project compiles to CommonJS; import() loads it either way.
async function newBench(opts: MeasureOptions): Promise<Bench> {
  const { Bench } = await import('tinybench');
  return new Bench({
    iterations: opts.iterations ?? 30,
    time: opts.timeMs ?? 1000,
    warmup: true,
    warmupIterations: opts.warmupIterations ?? 5,
    warmupTime: 500,
    throws: true,
  });
}

/** Times each case with tinybench (after warm-up) and turns its median into a row. */
export async function measure(bench: string, device: string, cases: BenchCase[], opts: MeasureOptions = {}): Promise<BenchRow[]> {
  const b = await newBench(opts);
  for (const c of cases) b.add(c.case, c.fn, c.hooks);
  const tasks = await b.run();
  return tasks.map((task, i) => {
    const c = cases[i];
    const result = task.result;
    if (result.state !== 'completed') throw new Error(`${bench} / ${c.case}: benchmark ${result.state}`);
    const medianMs = result.latency.p50;
    const row: BenchRow = { bench, case: c.case, device, medianMs, extra: { samples: result.latency.samplesCount } };
    if (c.bytes !== undefined) row.gbps = c.bytes / (medianMs * 1e-3) / 1e9;
    if (c.flops !== undefined) row.tflops = c.flops / (medianMs * 1e-3) / 1e12;
    return row;
  });
}
