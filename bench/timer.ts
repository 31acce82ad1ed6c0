// The one benchmark timer. measure(device, fn) gives the median milliseconds of one call of fn and
// the samples the median was taken from.
//
// A sample runs fn `reps` times back to back, reps chosen so a sample lasts about sampleMs, and
// divides by reps; after warm-up, `samples` samples are taken (fewer when a case is so slow that
// budgetMs would be exceeded, never fewer than minSamples) and the median is reported.
//
// On CUDA the sample is timed with a pair of CUDA events recorded on the compute stream around the
// calls, as the PyTorch peers do with torch.cuda.Event(enable_timing=True): the figure is the
// device's time for the work, not the host's time to enqueue it plus a synchronisation. Where the
// library does not offer events (hy.cuda.Event), the sample ends with hy.cuda.synchronize() and is
// timed with performance.now(). On the CPU the sample is timed with performance.now() and ends by
// waiting for the CPU queue (hy.cpu.synchronize(), where the library queues CPU work).
import * as hy from '../lib/index';
import type { Device } from '../lib/index';
import { median } from './stats';

/** A CUDA event, as hy.cuda.Event offers it (PyTorch's torch.cuda.Event with timing enabled). */
interface CudaEvent {
  /** Enqueues the event on the compute stream. */
  record(): void;
  /** Blocks until the work enqueued before record() has run. */
  synchronize(): void;
  /** Milliseconds from this event to `end` (PyTorch's start.elapsed_time(end)). */
  elapsedTime(end: CudaEvent): number;
  /** Releases the native event now, where the binding offers it. */
  dispose?(): void;
}

type CudaEventClass = new () => CudaEvent;

/** hy.cuda.Event where the library has it. */
function cudaEventClass(): CudaEventClass | undefined {
  const ev = (hy.cuda as unknown as { Event?: CudaEventClass }).Event;
  return typeof ev === 'function' ? ev : undefined;
}

/** hy.cpu.synchronize where the library queues CPU work. */
function cpuSynchronizer(): (() => Promise<void>) | undefined {
  const cpu = (hy as unknown as { cpu?: { synchronize?(): Promise<void> } }).cpu;
  const sync = cpu?.synchronize;
  return typeof sync === 'function' ? () => sync.call(cpu) : undefined;
}

export type Clock = 'cuda-event' | 'cuda-sync+wall' | 'cpu-queue+wall' | 'wall';

export interface TimerOptions {
  /** Samples the median is taken from (default 11). */
  samples?: number;
  /** Fewest samples however slow the case is (default 3). */
  minSamples?: number;
  /** Target length of one sample in milliseconds: fast calls are repeated up to it (default 20). */
  sampleMs?: number;
  /** Most calls in one sample (default 65536). */
  maxReps?: number;
  /** Untimed calls before the first sample (default 3). */
  warmup?: number;
  /** Rough ceiling on the timed milliseconds of one case; lowers the sample count (default 1500). */
  budgetMs?: number;
  /**
   * 'wall' times with performance.now() after a device synchronisation even where CUDA events
   * exist: for work whose cost is on the host (a data-loading epoch).
   */
  clock?: 'auto' | 'wall';
}

export interface Measurement {
  /** Median milliseconds of one call. */
  medianMs: number;
  /** Milliseconds of one call in each sample, in the order taken. */
  samples: number[];
  /** Calls per sample. */
  reps: number;
  /** How the samples were timed. */
  clock: Clock;
}

export type TimedFn = () => void | Promise<void>;

interface SampleTimer {
  clock: Clock;
  /** Milliseconds of `reps` calls of fn, the device's work included. */
  time(fn: TimedFn, reps: number): Promise<number>;
  /** Frees what the timer holds (its events). */
  dispose?(): void;
}

/** Calls fn reps times, awaiting only the calls that return a promise. */
async function repeat(fn: TimedFn, reps: number): Promise<void> {
  for (let i = 0; i < reps; i++) {
    const r = fn();
    if (r !== undefined) await r;
  }
}

function timerFor(device: Device, clock: 'auto' | 'wall'): SampleTimer {
  if (device === 'cuda') {
    const Ev = clock === 'auto' ? cudaEventClass() : undefined;
    if (Ev !== undefined) {
      const start = new Ev();
      const end = new Ev();
      return {
        clock: 'cuda-event',
        async time(fn, reps) {
          start.record();
          await repeat(fn, reps);
          end.record();
          end.synchronize();
          // start.elapsedTime(end) is end minus start; the absolute value keeps the figure right
          // should the binding count the other way.
          return Math.abs(start.elapsedTime(end));
        },
        dispose() {
          start.dispose?.();
          end.dispose?.();
        },
      };
    }
    return {
      clock: 'cuda-sync+wall',
      async time(fn, reps) {
        hy.cuda.synchronize();
        const t0 = performance.now();
        await repeat(fn, reps);
        hy.cuda.synchronize();
        return performance.now() - t0;
      },
    };
  }
  const sync = cpuSynchronizer();
  return {
    clock: sync === undefined ? 'wall' : 'cpu-queue+wall',
    async time(fn, reps) {
      if (sync !== undefined) await sync();
      const t0 = performance.now();
      await repeat(fn, reps);
      if (sync !== undefined) await sync();
      return performance.now() - t0;
    },
  };
}

/** Median milliseconds of one call of fn on device, with the samples; see the file's comment. */
export async function measure(device: Device, fn: TimedFn, opts: TimerOptions = {}): Promise<Measurement> {
  const samples = opts.samples ?? 11;
  const minSamples = Math.min(opts.minSamples ?? 3, samples);
  const sampleMs = opts.sampleMs ?? 20;
  const maxReps = opts.maxReps ?? 1 << 16;
  const budgetMs = opts.budgetMs ?? 1500;
  const timer = timerFor(device, opts.clock ?? 'auto');
  const perCall: number[] = [];
  let reps = 1;
  try {
    // Warm-up calls wait for the device one at a time: queued back to back, a slow case's calls
    // would each hold their outputs until the queue reached them.
    const warmup = opts.warmup ?? 3;
    for (let i = 0; i < warmup; i++) await timer.time(fn, 1);
    // Size a sample: double (or, far from the target, multiply by 8) until it lasts sampleMs. With
    // one call a sample there is nothing to size: every sample is timed, none is spent sizing.
    let last = 0;
    while (maxReps > 1) {
      last = await timer.time(fn, reps);
      if (last >= sampleMs || reps >= maxReps) break;
      reps = Math.min(maxReps, reps * (last < sampleMs / 8 ? 8 : 2));
    }
    const count = last > 0 ? Math.max(minSamples, Math.min(samples, Math.floor(budgetMs / last))) : samples;
    for (let s = 0; s < count; s++) perCall.push((await timer.time(fn, reps)) / reps);
  } finally {
    timer.dispose?.();
  }
  return { medianMs: median(perCall), samples: perCall, reps, clock: timer.clock };
}
