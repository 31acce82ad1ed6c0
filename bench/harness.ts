// The benchmark interface. A benchmark is a file `bench/<name>.bench.ts` that exports
// `run(): Promise<BenchRow[]>` and `covers`, the native ops whose kernels its rows time (see
// test/bench-coverage.test.ts); bench/run.ts finds it, runs it and prints its rows. The PyTorch
// peers in bench/peers/ print the same rows as JSON, so a row's (bench, case) pair is the key
// that lines our figure up with the peer's. Every figure comes from the one timer, bench/timer.ts.
import * as hy from '../lib/index';
import type { Device, Tensor } from '../lib/index';
import { measure, Measurement, TimedFn, TimerOptions } from './timer';

export interface BenchRow {
  /** The benchmark's name: 'copy', 'gelu', 'gemm', ... */
  bench: string;
  /** What was measured, e.g. 'h2d 64MiB pinned nonBlocking'; equal across peers for the same work. */
  case: string;
  /** The card's name, or 'cpu' ('cpu (no CUDA: <reason>)' on a machine without CUDA). */
  device: string;
  /** Median time of one iteration, in milliseconds. */
  medianMs: number;
  /** Bytes the case must move per iteration over the median time, in 10^9 bytes per second. */
  gbps?: number;
  /** Floating-point operations per iteration over the median time, in 10^12 per second. */
  tflops?: number;
  extra?: Record<string, string | number | boolean>;
}

export type BenchFunction = () => Promise<BenchRow[]>;

/** The module shape bench/run.ts and test/bench-coverage.test.ts expect of every `*.bench.js`. */
export interface BenchModule {
  run: BenchFunction;
  /** The registered native ops (names as native.ops() lists them) whose kernels the rows time. */
  covers: readonly string[];
}

/** The name rows carry in `device`: the CUDA card, or the CPU and why CUDA is absent. */
export function deviceName(): string {
  const cuda = hy.info().cuda;
  if (cuda.available && cuda.device !== undefined) return cuda.device.name;
  return `cpu (no CUDA: ${cuda.reason ?? 'unknown reason'})`;
}

/** The `device` of a row measured on `device`: the card's name, 'cpu', or the CPU and why CUDA is absent. */
export function deviceLabel(device: Device): string {
  if (device === 'cuda') return hy.info().cuda.device?.name ?? 'cuda';
  return hy.cuda.isAvailable() ? 'cpu' : deviceName();
}

/** The backends to measure: CUDA first where present, then the CPU. */
export function benchDevices(): Device[] {
  const present: Device[] = hy.cuda.isAvailable() ? ['cuda', 'cpu'] : ['cpu'];
  // HY_BENCH_DEVICES=cuda (a comma list) measures only those devices: the device check times the
  // GPU rows alone, CI and this machine the CPU rows.
  const wanted = (process.env.HY_BENCH_DEVICES ?? '').split(',').map((d) => d.trim()).filter((d) => d !== '');
  return wanted.length === 0 ? present : present.filter((d) => wanted.includes(d));
}

/** What a case must move or compute per iteration: the floor its throughput is measured against. */
export interface Work {
  /** Bytes read plus bytes written, for GB/s. */
  bytes?: number;
  /** Floating-point operations, for TFLOP/s. */
  flops?: number;
}

/** A row from one measurement. */
export function toRow(bench: string, name: string, device: Device, m: Measurement, work: Work = {}, extra: BenchRow['extra'] = {}): BenchRow {
  const row: BenchRow = {
    bench,
    case: name,
    device: deviceLabel(device),
    medianMs: m.medianMs,
    extra: { ...extra, samples: m.samples.length, reps: m.reps, clock: m.clock },
  };
  if (work.bytes !== undefined) row.gbps = work.bytes / (m.medianMs * 1e-3) / 1e9;
  if (work.flops !== undefined) row.tflops = work.flops / (m.medianMs * 1e-3) / 1e12;
  return row;
}

export interface BenchCase extends Work {
  case: string;
  /** One timed iteration; it enqueues its work and returns (the timer waits for the device). */
  fn: TimedFn;
  extra?: BenchRow['extra'];
}

/** Times each case on device and turns its median into a row. */
export async function measureCases(bench: string, device: Device, cases: BenchCase[], opts: TimerOptions = {}): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const c of cases) rows.push(toRow(bench, c.case, device, await measure(device, c.fn, opts), c, c.extra));
  return rows;
}

/**
 * A case whose tensors are made only when it runs, so that a plan can be listed (for its case
 * names) without allocating anything. setup() returns the timed iteration and what frees its inputs.
 */
export interface PlannedCase extends Work {
  case: string;
  extra?: BenchRow['extra'];
  setup(): { fn: TimedFn; dispose(): void };
}

/** Runs a device's planned cases one after another, each set up just before it is timed and freed after. */
export async function runPlan(bench: string, device: Device, plan: PlannedCase[], opts: TimerOptions = {}): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const c of plan) {
    const { fn, dispose } = c.setup();
    try {
      rows.push(toRow(bench, c.case, device, await measure(device, fn, opts), c, c.extra));
    } finally {
      dispose();
    }
  }
  return rows;
}

/** Disposes every tensor given (skipping null / undefined). */
export function disposeAll(...ts: ({ dispose(): void } | null | undefined)[]): void {
  for (const t of ts) t?.dispose();
}

/**
 * The case name of a row: CPU cases start with 'cpu ', so a CPU figure is never put next to a GPU
 * peer's even by case name alone (bench/compare.ts pairs by device as well).
 */
export function caseName(device: Device, rest: string): string {
  return `${device === 'cpu' ? 'cpu ' : ''}${rest}`;
}

/**
 * One call of the backward that the op producing y recorded, for the upstream gradient g: the
 * function autograd's backward() runs for that node, without the engine's bookkeeping around it
 * (the copy of the root gradient, the accumulation into .grad). Every gradient it returns is freed.
 */
export function backwardOf(y: Tensor, g: Tensor): () => void {
  const node = y.gradFn;
  if (node === null) throw new Error('backwardOf: the tensor has no recorded backward (does an input require grad?)');
  return () => {
    const grads = hy.noGrad(() => node.backward(g));
    for (const t of grads) t?.dispose();
  };
}

/** Frees what y's recorded backward saved, and y. */
export function releaseGraph(y: Tensor): void {
  y.gradFn?.release();
  y.dispose();
}

export type FloatDType = 'float32' | 'float16';

/**
 * The dtypes a device measures: float16 where it matters, on the GPU (the CPU backend converts
 * float16 element by element, and PyTorch's CPU kernels lack many float16 forms).
 */
export function benchDtypes(device: Device): FloatDType[] {
  return device === 'cuda' ? ['float32', 'float16'] : ['float32'];
}

/** Runs every device's plan (CUDA first) and gathers the rows. */
export async function runAll(bench: string, plan: (device: Device) => PlannedCase[], opts: (device: Device) => TimerOptions = () => ({})): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const device of benchDevices()) rows.push(...(await runPlan(bench, device, plan(device), opts(device))));
  return rows;
}

/** Element size in bytes of a floating dtype. */
export const ESIZE = { float32: 4, float16: 2 } as const;

/** Prints rows as JSON lines when a bench file is run directly (node dist/bench/<name>.bench.js). */
export function runAsMain(run: BenchFunction): void {
  run().then(
    (rows) => {
      for (const r of rows) process.stdout.write(JSON.stringify(r) + '\n');
    },
    (e) => {
      console.error(e);
      process.exitCode = 1;
    },
  );
}
