// DataLoader: batches of a dataset as tensors, loaded by worker threads, staged in pinned host
// memory and copied to the GPU without blocking.
//
//   const loader = new hy.data.DataLoader(new hy.data.MNIST(), {batchSize: 64, shuffle: true, device: 'cuda'});
//   for await (const [x, y] of loader) { ...; x.dispose(); y.dispose(); }
//
// Each batch is an array of tensors, one per field of the samples ([x, y] for MNIST). The caller
// owns them and disposes them (or lets hy.tidy do it); the loader frees its own staging buffers.
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

import { checkDevice, Device } from '../dtype';
import { describe } from '../errors';
import { native } from '../native';
import { takeCounters } from '../random';
import { allocTensor, cudaState, Tensor } from '../tensor';
import { BufferPool, collateIndices, CollatedBatch, Dataset, getSamples, isThenable, Sample, WorkerSource } from './dataset';
import type { BatchReply, BatchRequest, ReadyReply, WorkerInit } from './worker';

/** Builds a batch from samples; it may return a Promise (thenable) of the batch, which is awaited. */
export type CollateFn = (samples: Sample[]) => CollatedBatch | PromiseLike<CollatedBatch>;
/** A collate function that worker threads can load: a module path and the name of its export. */
export interface CollateSource {
  modulePath: string;
  exportName: string;
}

export interface DataLoaderOptions {
  /** Samples per batch (default 1). */
  batchSize?: number;
  /** A fresh random order every epoch (default false). */
  shuffle?: boolean;
  /** Seeds the shuffle: epoch e of a loader with seed s is always the same order. Without it the
   * order comes from the global generator (hy.manualSeed). */
  seed?: number;
  /** Drops the last batch when it is smaller than batchSize (default false). */
  dropLast?: boolean;
  /**
   * Worker threads that load and collate batches; 0 loads on the calling thread. 'auto' (the
   * default where the dataset can be rebuilt in a worker, else 0) decides at the first epoch: it
   * collates the first batches on the calling thread, timing them, and keeps the calling thread
   * when a batch costs less than handing one over from a worker would (AUTO_HANDOFF_MS), else
   * uses the machine's parallelism (at most 8). describe() says what it chose and why. At most
   * MAX_WORKERS (64): a RangeError beyond.
   */
  numWorkers?: number | 'auto';
  /** Requests each worker works ahead (default 2). A request is one batch, or on epochs long enough
   * to keep every worker busy, a run of up to 8 consecutive batches sent and returned as one message. */
  prefetch?: number;
  /** Keep the workers between epochs, until close() (default false). */
  persistentWorkers?: boolean;
  /** Stage batches in page-locked host memory (default: on when device is 'cuda'). */
  pinMemory?: boolean;
  /** Where batches go: 'cpu' (default) or 'cuda'. */
  device?: Device | 'cuda:0';
  /** Copy to the device asynchronously on the copy stream (default: on with pinMemory). */
  nonBlocking?: boolean;
  /** Builds a batch from samples; a function runs on the calling thread only, a CollateSource in workers too. */
  collate?: CollateFn | CollateSource;
  /** How workers rebuild the dataset, where the dataset has no workerSource() of its own. */
  workerSource?: WorkerSource;
  /**
   * Milliseconds to wait for a batch, as PyTorch's DataLoader timeout (default 0: wait forever).
   * With workers, a batch that has not arrived in time (a worker stuck in a get() that never
   * returns, or an infinite loop) fails the iteration with an Error naming the batch and the
   * timeout, and every worker of the iteration is terminated. A request of a run of n batches
   * (see prefetch) is given n times the timeout. A batch's clock starts once its worker has
   * started (loaded the dataset), which is bounded by the larger of the timeout and 60 s. With
   * numWorkers 0 it bounds the wait for an asynchronous dataset's Promise; a synchronous get()
   * that never returns blocks the calling thread itself, which no timer can interrupt.
   */
  timeout?: number;
}

const OPTION_NAMES = [
  'batchSize',
  'shuffle',
  'seed',
  'dropLast',
  'numWorkers',
  'prefetch',
  'persistentWorkers',
  'pinMemory',
  'device',
  'nonBlocking',
  'collate',
  'workerSource',
  'timeout',
];

const WORKER_PATH = join(__dirname, 'worker.js');
/** The most batches one request to a worker asks for. */
const MAX_RUN = 8;
/**
 * The most worker threads a loader may ask for. A fixed bound rather than one derived from the
 * machine, so that a loader that works on one machine does not fail on a smaller one; 64 threads
 * is already far past what pays on any machine (PyTorch warns above the CPU count), while a count
 * like 1000 is a mistake that would otherwise start a thousand threads.
 */
export const MAX_WORKERS = 64;
/** The least time a worker thread is given to start (load its module and build its dataset) where a timeout is set. */
const WORKER_START_MS = 60_000;
/** The longest timeout setTimeout can wait (about 24.8 days). */
const MAX_TIMEOUT_MS = 2147483647;
/**
 * In numWorkers 0 mode (and between batches of a worker's run) nothing the loader awaits needs
 * the event loop, so a for-await whose body never awaits would never give it a turn: timers and
 * I/O would wait for the whole epoch, and the finalizers of tensors nobody disposed (they run on
 * the event loop) never run, so memory grows without bound. The loader gives the event loop a turn
 * (a setImmediate) before a batch where it has not had one for this many milliseconds. A consumer
 * that awaits anything real each step (hy.train.trainEpoch does) already gives it those turns; the
 * loader sees that (a marker setImmediate that has run) and adds none.
 */
const YIELD_MS = 1;

let liveWorkers = 0;
let warnedNoPinned = false;

/** @internal Lets tests see the once-per-process notice again. */
export function resetPinnedNotice(): void {
  warnedNoPinned = false;
}

/**
 * The number of DataLoader worker threads alive in this process (all loaders together).
 *
 * @example
 * ```ts
 * const loader = new hy.data.DataLoader(new hy.data.MNIST(), { batchSize: 64, numWorkers: 4, persistentWorkers: true });
 * for await (const batch of loader) for (const t of batch) t.dispose();
 * hy.data.activeWorkers(); // 4: the persistent workers, until loader.close()
 * ```
 */
export function activeWorkers(): number {
  return liveWorkers;
}

// ---- shuffling: a small seeded generator (the order must not depend on the backend) ----

function mix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function seedWords(a: number, b: number): number {
  const lo = a % 4294967296;
  const hi = Math.floor(a / 4294967296);
  return mix32(mix32(lo ^ 0x9e3779b9) ^ mix32(hi + 0x7f4a7c15) ^ mix32((b % 4294967296) + 0x6a09e667));
}

/** A permutation of 0..n-1 (Fisher-Yates with mulberry32), the same for the same seed words. */
export function permutation(n: number, a: number, b: number): Int32Array {
  let s = seedWords(a, b);
  const next = () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}

// ---- event-loop turns ----

/** Tracks when the event loop last turned; gives it a turn where it has not for YIELD_MS. */
class Turns {
  private last = performance.now();
  private armed = false;
  private readonly mark = (): void => {
    this.armed = false;
    this.last = performance.now();
  };

  constructor() {
    this.arm();
  }

  private arm(): void {
    if (!this.armed) {
      this.armed = true;
      setImmediate(this.mark);
    }
  }

  /** Before a batch: a Promise to await where the event loop has not turned for YIELD_MS, else undefined. */
  due(): Promise<void> | undefined {
    this.arm();
    if (performance.now() - this.last < YIELD_MS) return undefined;
    // The marker was armed before this one, so it runs first and moves `last`.
    return new Promise((resolve) => setImmediate(resolve));
  }
}

// ---- worker pool ----

/** What a request to a worker comes back with: its batches, and the error that cut it short. */
interface Chunk {
  batches: CollatedBatch[];
  error: Error | null;
}

interface Pending {
  resolve: (c: Chunk) => void;
  reject: (e: Error) => void;
  /** The epoch's number of the request's first batch. */
  batch: number;
}

/** An Error on the main thread that carries a worker's message and stack. */
function workerError(worker: number, what: string, remote: { name?: string; message?: string; stack?: string }): Error {
  const e = new Error(`DataLoader worker ${worker} ${what}: ${remote.message ?? String(remote)}`);
  const remoteStack = remote.stack ?? `${remote.name ?? 'Error'}: ${remote.message}`;
  e.stack = `${e.stack}\n  --- in worker ${worker} ---\n${remoteStack}`;
  (e as Error & { workerStack: string }).workerStack = remoteStack;
  return e;
}

class WorkerPool {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, Pending>();
  /** Per worker: buffers of its batches, copied into tensors, to send back with its next request. */
  private readonly recycled: ArrayBuffer[][] = [];
  /** Per worker: resolves when it has started (built its dataset); see awaitChunk's clock. */
  private readonly started: Promise<void>[] = [];
  private readonly isStarted: boolean[] = [];
  private nextId = 0;
  private closing = false;
  private refs = 0;
  failure: Error | null = null;

  constructor(init: Omit<WorkerInit, 'workerId'>) {
    for (let w = 0; w < init.numWorkers; w++) {
      const worker = new Worker(WORKER_PATH, { workerData: { hayateDataWorker: { ...init, workerId: w } } });
      liveWorkers++;
      worker.unref();
      let onStart!: () => void;
      this.started.push(new Promise<void>((r) => (onStart = r)));
      this.isStarted.push(false);
      worker.on('message', (m: BatchReply | ReadyReply) => {
        if (m.type === 'ready') {
          this.isStarted[w] = true;
          onStart();
          return;
        }
        const p = this.pending.get(m.id);
        if (p === undefined) return; // batches of an iteration that was broken off
        this.pending.delete(m.id);
        const error = m.error === undefined ? null : workerError(w, `failed on batch ${p.batch + m.error.failedAt}`, m.error);
        p.resolve({ batches: m.batches, error });
      });
      worker.on('error', (e: Error) => this.fail(workerError(w, 'threw', e)));
      worker.on('exit', (code: number) => {
        liveWorkers--;
        if (!this.closing) this.fail(new Error(`DataLoader worker ${w} exited unexpectedly with code ${code}`));
      });
      this.workers.push(worker);
      this.recycled.push([]);
    }
  }

  get size(): number {
    return this.workers.length;
  }

  /** Whether worker w has started; whenStarted(w) resolves when it has (never, if it does not). */
  hasStarted(w: number): boolean {
    return this.isStarted[w];
  }
  whenStarted(w: number): Promise<void> {
    return this.started[w];
  }

  /**
   * Asks a worker for consecutive batches (`indices` holds their samples, batchSize each, the last
   * possibly fewer; `batch` is the first one's number). The promise resolves with the batches
   * collated before any error, and that error; it rejects where the pool fails.
   */
  submit(worker: number, indices: Int32Array, batchSize: number, batch: number): { id: number; promise: Promise<Chunk> } {
    const id = this.nextId++;
    if (this.failure !== null) {
      const failed = Promise.reject(this.failure);
      failed.catch(() => undefined);
      return { id, promise: failed };
    }
    let pending!: Pending;
    const promise = new Promise<Chunk>((resolve, reject) => {
      pending = { resolve, reject, batch };
    });
    promise.catch(() => undefined); // a batch nobody awaits any more must not be an unhandled rejection
    this.pending.set(id, pending);
    const recycle = this.recycled[worker].splice(0);
    const msg: BatchRequest = { type: 'batch', id, indices, batchSize, recycle };
    this.workers[worker].postMessage(msg, recycle);
    return { id, promise };
  }

  /** Fails the pool with e: every pending batch rejects with it and the workers are terminated. */
  abort(e: Error): void {
    this.fail(e);
  }

  /** Rejects every pending batch with e and stops all the workers (one failure ends the pool). */
  private fail(e: Error): void {
    if (this.failure !== null) return;
    this.failure = e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
    void this.terminate();
  }

  /** Hands a batch's buffers (transferred from `worker`, now copied into tensors) back to it. */
  giveBack(worker: number, batch: CollatedBatch): void {
    const list = this.recycled[worker];
    for (const f of batch) {
      const b = f.data.buffer;
      if (b instanceof ArrayBuffer && !list.includes(b) && list.length < 64) list.push(b);
    }
  }

  /** Forgets batches nobody will read; workers finish them and the results are dropped. */
  cancel(ids: Iterable<number>): void {
    for (const id of ids) this.pending.delete(id);
  }

  /** Workers keep the process alive only while the loader waits for them. */
  // (Once stopping, workers stay ref'd so the process waits for their exit.)
  ref(): void {
    if (this.refs++ === 0 && this.stopped === undefined) for (const w of this.workers) w.ref();
  }
  unref(): void {
    if (--this.refs === 0 && this.stopped === undefined) for (const w of this.workers) w.unref();
  }

  private stopped: Promise<void> | undefined;

  /** Stops every worker; resolves once all their threads have exited. Idempotent. */
  terminate(): Promise<void> {
    if (this.stopped === undefined) {
      this.closing = true;
      // ref() first: the process must stay up until an idle (unref'd) worker has really exited.
      this.stopped = Promise.all(
        this.workers.map((w) => {
          w.ref();
          return w.terminate();
        }),
      ).then(() => undefined);
      this.fail(new Error('DataLoader: the workers were shut down'));
    }
    return this.stopped;
  }
}

// ---- iterations dropped without return() ----

/** A request in flight to a worker: the batches it asked for. */
interface InFlight {
  id: number;
  promise: Promise<Chunk>;
  worker: number;
  /** The epoch's number of its first batch, and how many batches it asked for. */
  batch: number;
  count: number;
}

/**
 * What an iteration holds that outlives its iterator: the pool it uses and its requests in
 * flight. Holds nothing that leads back to the iterator, so that a dropped iterator can be
 * collected and this be released by the registry below.
 */
class Iteration {
  pool: WorkerPool | undefined;
  inFlight: InFlight[] = [];
  /** The pool is the loader's persistent one: a dropped iteration only cancels its requests. */
  keep = false;

  /** The iterator was dropped (collected) without return(): what it held is let go. */
  release(): void {
    const pool = this.pool;
    this.pool = undefined;
    if (pool === undefined) return;
    if (this.keep && pool.failure === null) pool.cancel(this.inFlight.map((r) => r.id));
    else void pool.terminate();
    this.inFlight = [];
  }
}

/**
 * An iterator that is broken off with return() (a for-await's break, return or throw) stops its
 * workers at once, in the generator's finally. One that is simply dropped (next() never called
 * again) cannot: its finally never runs. Its workers are idle and unref'd (they do not keep the
 * process alive), and once the iterator is garbage this registry terminates them (persistent
 * workers stay with the loader, their pending requests cancelled). When that happens is up to the
 * collector; return() (or close() for persistent workers) is the deterministic way.
 */
const dropped = new FinalizationRegistry<Iteration>((it) => it.release());

// ---- options ----

function checkBool(name: string, v: unknown, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw new TypeError(`DataLoader: ${name} must be a boolean, got ${describe(v)}`);
  return v;
}

function checkInt(name: string, v: unknown, dflt: number, min: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number') throw new TypeError(`DataLoader: ${name} must be a number, got ${describe(v)}`);
  if (!Number.isSafeInteger(v) || v < min) throw new RangeError(`DataLoader: ${name} must be an integer >= ${min}, got ${describe(v)}`);
  return v;
}

function checkTimeout(v: unknown): number {
  if (v === undefined) return 0;
  if (typeof v !== 'number') throw new TypeError(`DataLoader: timeout must be a number, got ${describe(v)}`);
  if (!(v >= 0 && v <= MAX_TIMEOUT_MS)) {
    throw new RangeError(`DataLoader: timeout must be a number of milliseconds from 0 (wait forever) to ${MAX_TIMEOUT_MS}, got ${describe(v)}`);
  }
  return v;
}

function checkSource(name: string, v: unknown): void {
  const s = v as Record<string, unknown>;
  if (s === null || typeof s !== 'object' || typeof s.modulePath !== 'string' || typeof s.exportName !== 'string') {
    throw new TypeError(`DataLoader: ${name} must be {modulePath, exportName, ...}, got ${describe(v)}`);
  }
}

/**
 * What a batch from a worker costs the calling thread beyond its collation: the message, the
 * structured clone of the index list, the hand-back of the buffers and the event-loop turn. On a
 * 2-core machine an MNIST epoch (157 batches of 64 in-memory digits, ~0.05 ms each to collate)
 * took 1.6x longer with workers than without, about 0.2 ms a batch more; a batch must cost more
 * than that on the calling thread before workers can pay.
 */
export const AUTO_HANDOFF_MS = 0.25;
/** Batches 'auto' times on the calling thread before deciding (they are used, not wasted). */
const AUTO_PROBE_BATCHES = 4;

/**
 * Iterates a dataset in batches. `for await (const [x, y] of loader)`; `loader.length` batches per
 * epoch; every iteration is one epoch.
 *
 * @example
 * ```ts
 * const loader = new hy.data.DataLoader(new hy.data.MNIST({ train: true }), { batchSize: 64, shuffle: true });
 * for await (const [x, y] of loader) { x.dispose(); y.dispose(); }
 * ```
 */
export class DataLoader implements AsyncIterable<Tensor[]> {
  readonly dataset: Dataset;
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly seed: number | undefined;
  readonly dropLast: boolean;
  /** The worker count in use; 'auto' until the first epoch has decided it. */
  numWorkers: number | 'auto';
  /** Why 'auto' chose what it did (empty for an explicit count). */
  private autoReason = '';
  private readonly autoWorkers: number = 0;
  readonly prefetch: number;
  readonly persistentWorkers: boolean;
  /** True when batches are staged in page-locked memory (asked for, and CUDA present). */
  readonly pinMemory: boolean;
  readonly device: Device;
  /** True when host-to-device copies are asynchronous (needs pinned memory and a cuda device). */
  readonly nonBlocking: boolean;
  private readonly collateFn: CollateFn | undefined;
  private readonly collateSource: CollateSource | undefined;
  private readonly source: WorkerSource | undefined;
  private epoch = 0;
  private pool: WorkerPool | undefined;
  private readonly buffers = new BufferPool();
  private closed = false;
  /** Milliseconds to wait for a batch; 0 waits forever. */
  readonly timeout: number;

  constructor(dataset: Dataset, opts: DataLoaderOptions = {}) {
    if (dataset === null || typeof dataset !== 'object' || typeof dataset.get !== 'function' || typeof dataset.length !== 'number') {
      throw new TypeError(`DataLoader: dataset must have a length and get(i), got ${describe(dataset)}`);
    }
    if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) throw new TypeError(`DataLoader: options must be an object, got ${describe(opts)}`);
    for (const k of Object.keys(opts)) {
      if (!OPTION_NAMES.includes(k)) throw new TypeError(`DataLoader: unknown option '${k}' (expected ${OPTION_NAMES.join(', ')})`);
    }
    this.dataset = dataset;
    this.batchSize = checkInt('batchSize', opts.batchSize, 1, 1);
    this.shuffle = checkBool('shuffle', opts.shuffle, false);
    this.seed = opts.seed === undefined ? undefined : checkInt('seed', opts.seed, 0, 0);
    this.dropLast = checkBool('dropLast', opts.dropLast, false);
    this.prefetch = checkInt('prefetch', opts.prefetch, 2, 1);
    this.persistentWorkers = checkBool('persistentWorkers', opts.persistentWorkers, false);
    this.timeout = checkTimeout(opts.timeout);
    this.device = opts.device === undefined ? 'cpu' : checkDevice('DataLoader', opts.device);
    if (this.device === 'cuda' && !cudaState().available) {
      throw new Error(`DataLoader: device 'cuda' was asked for, but CUDA is not available (${cudaState().reason})`);
    }

    if (typeof opts.collate === 'function') this.collateFn = opts.collate;
    else if (opts.collate !== undefined) {
      checkSource('collate', opts.collate);
      this.collateSource = opts.collate;
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const f = (require(opts.collate.modulePath) as Record<string, unknown>)[opts.collate.exportName];
      if (typeof f !== 'function') throw new TypeError(`DataLoader: ${opts.collate.modulePath} export '${opts.collate.exportName}' is not a function`);
      this.collateFn = f as CollateFn;
    }
    if (opts.workerSource !== undefined) checkSource('workerSource', opts.workerSource);
    this.source = opts.workerSource ?? (typeof dataset.workerSource === 'function' ? dataset.workerSource() : undefined);
    const workersPossible = this.source !== undefined && (this.collateFn === undefined || this.collateSource !== undefined);
    if (opts.numWorkers === undefined || opts.numWorkers === 'auto') {
      this.numWorkers = workersPossible ? 'auto' : 0;
      this.autoWorkers = Math.min(availableParallelism(), 8);
      if (!workersPossible) this.autoReason = 'the dataset cannot be rebuilt in a worker thread, so batches load on this one';
    } else {
      this.numWorkers = checkInt('numWorkers', opts.numWorkers, 0, 0);
      if (this.numWorkers > MAX_WORKERS) {
        throw new RangeError(`DataLoader: numWorkers must be at most ${MAX_WORKERS} worker threads, got ${describe(opts.numWorkers)}`);
      }
      if (this.numWorkers > 0 && this.source === undefined) {
        throw new TypeError(
          `DataLoader: numWorkers ${this.numWorkers} needs the dataset rebuilt in worker threads: give it a workerSource() method ` +
            'or pass the workerSource option ({modulePath, exportName, args})',
        );
      }
      if (this.numWorkers > 0 && !workersPossible) {
        throw new TypeError('DataLoader: a collate function cannot cross into worker threads; pass collate as {modulePath, exportName}');
      }
    }

    const wantPinned = checkBool('pinMemory', opts.pinMemory, this.device === 'cuda');
    const wantNonBlocking = checkBool('nonBlocking', opts.nonBlocking, wantPinned);
    if ((wantPinned || wantNonBlocking) && !cudaState().available && !warnedNoPinned) {
      warnedNoPinned = true;
      process.emitWarning(
        `DataLoader: pinMemory and nonBlocking need CUDA, which is not available (${cudaState().reason}); ` +
          'batches use ordinary host memory and blocking copies',
        { code: 'HAYATE_NO_PINNED_MEMORY' },
      );
    }
    this.pinMemory = wantPinned && cudaState().available;
    this.nonBlocking = wantNonBlocking && this.pinMemory && this.device === 'cuda';
  }

  /** Batches per epoch. */
  get length(): number {
    const n = this.dataset.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /**
   * Sets the epoch number the next iteration uses for its shuffle (it counts up by itself).
   *
   * @example
   * ```ts
   * const loader = new hy.data.DataLoader(new hy.data.MNIST(), { batchSize: 64, shuffle: true, seed: 1 });
   * loader.setEpoch(5); // resuming: the next iteration shuffles as epoch 5 of a fresh run did
   * ```
   */
  setEpoch(epoch: number): void {
    this.epoch = checkInt('epoch', epoch, 0, 0);
  }

  /** The index lists of the next epoch's batches. */
  private plan(): Int32Array[] {
    const order = this.order();
    const n = order.length;
    const out: Int32Array[] = [];
    for (let k = 0; k < this.length; k++) out.push(order.slice(k * this.batchSize, Math.min(n, (k + 1) * this.batchSize)));
    return out;
  }

  /** The next epoch's sample order (batch k is samples k * batchSize onwards). */
  private order(): Int32Array {
    const n = this.dataset.length;
    let order: Int32Array;
    if (this.shuffle) {
      const [a, b] = this.seed !== undefined ? [this.seed, this.epoch] : takeCounters(1);
      order = permutation(n, a, b);
    } else {
      order = new Int32Array(n);
      for (let i = 0; i < n; i++) order[i] = i;
    }
    this.epoch++;
    return order;
  }

  /** Collates a batch here: the batch, or where the dataset or collate function is asynchronous, a Promise of it. */
  private collateMain(indices: Int32Array): CollatedBatch | Promise<CollatedBatch> {
    const collate = this.collateFn;
    if (collate === undefined) return collateIndices(this.dataset, indices, this.buffers.alloc);
    const samples = getSamples(this.dataset, indices);
    const run = (ss: Sample[]): CollatedBatch | Promise<CollatedBatch> => {
      const b = collate(ss);
      return isThenable<CollatedBatch>(b) ? Promise.resolve(b) : b;
    };
    return samples instanceof Promise ? samples.then(run) : run(samples);
  }

  /** An asynchronous batch collated here, bounded by the timeout (batch: its number in the epoch). */
  private settle(p: Promise<CollatedBatch>, batch: number): Promise<CollatedBatch> {
    const ms = this.timeout;
    if (ms === 0) return p;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`DataLoader: batch ${batch} did not arrive within the timeout of ${ms} ms (numWorkers 0: the dataset's Promise did not settle)`)),
        ms,
      );
      p.then(
        (b) => {
          clearTimeout(timer);
          resolve(b);
        },
        (e: unknown) => {
          clearTimeout(timer);
          reject(e);
        },
      );
    });
  }

  /**
   * A worker's request, bounded by the timeout: past it the pool is aborted (every worker
   * terminated). The clock starts once the request's worker has started (loaded its module and
   * built its dataset), because a thread's start-up is not a batch's time and can take far longer
   * than a tight timeout on a loaded machine; the start-up itself is bounded by
   * max(timeout, WORKER_START_MS).
   */
  private awaitChunk(pool: WorkerPool, req: InFlight): Promise<Chunk> {
    const t = this.timeout;
    if (t === 0) return req.promise;
    const ms = Math.min(MAX_TIMEOUT_MS, t * req.count);
    return new Promise((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      let settled = false;
      const expire = (what: string): void => {
        settled = true;
        const e = new Error(`DataLoader: ${what}; the workers were terminated`);
        pool.abort(e);
        reject(e);
      };
      const startClock = (): void => {
        if (settled) return;
        clearTimeout(timer);
        const what =
          req.count === 1
            ? `batch ${req.batch} did not arrive within the timeout of ${t} ms (worker ${req.worker})`
            : `batches ${req.batch}-${req.batch + req.count - 1} did not arrive within the timeout of ${t} ms a batch (worker ${req.worker}, ${ms} ms for the ${req.count})`;
        timer = setTimeout(() => expire(what), ms);
      };
      if (pool.hasStarted(req.worker)) {
        startClock();
      } else {
        const limit = Math.max(ms, WORKER_START_MS);
        timer = setTimeout(() => expire(`worker ${req.worker} did not start within ${limit} ms`), limit);
        void pool.whenStarted(req.worker).then(startClock);
      }
      req.promise.then(
        (c) => {
          settled = true;
          clearTimeout(timer);
          resolve(c);
        },
        (e: unknown) => {
          settled = true;
          clearTimeout(timer);
          reject(e);
        },
      );
    });
  }

  /**
   * Collated fields -> tensors on the target device.
   *
   * Staging: each field is written into a host tensor (page-locked when pinMemory) with one memcpy.
   * Workers hand back ordinary ArrayBuffers because native pinned memory belongs to the main
   * isolate and cannot be shared with a worker's; that memcpy is cheap next to collation.
   *
   * The staging ring: for a device batch, the staging tensor is disposed as soon as its copy is
   * enqueued. That is safe, and is what makes the pinned buffers a reusable ring: the pinned
   * caching allocator records the copy stream on the block, keeps a freed block out of reuse until
   * the event recorded after the copy has completed, and then hands the very same block to the
   * next batch. So a buffer is never rewritten while a DMA still reads it, pinned memory is not
   * allocated per batch, and the number of blocks in use is the number of copies in flight (plus
   * one being filled). Keeping our own ring of tensors and rewriting them would instead need a
   * host-side wait on each copy.
   *
   * The copy: to(device, {nonBlocking}) from a pinned source runs on the copy stream into memory from
   * that stream's pool, so it waits for no kernel and overlaps the compute stream's work; the compute
   * stream waits for the copy before its next kernel. The host never blocks, so the next batch is
   * collated and enqueued while this batch's kernels run.
   */
  private emit(batch: CollatedBatch): Tensor[] {
    if (!Array.isArray(batch) || batch.length === 0) throw new TypeError(`DataLoader: a collated batch must be a non-empty array of fields, got ${describe(batch)}`);
    const out: Tensor[] = [];
    try {
      batch.forEach((f, j) => {
        const n = f.shape.reduce((a, b) => a * b, 1);
        const ok = f.dtype === 'int32' ? f.data instanceof Int32Array : f.dtype === 'float32' && f.data instanceof Float32Array;
        if (!ok) throw new TypeError(`DataLoader: field ${j} of a batch is ${describe(f.data)} with dtype ${describe(f.dtype)}; expected Float32Array/float32 or Int32Array/int32`);
        if (f.data.length !== n) throw new RangeError(`DataLoader: field ${j} has shape [${f.shape.join(', ')}] (${n} values) but ${f.data.length} values`);
        const host = allocTensor('DataLoader', f.shape, f.dtype, 'cpu', this.pinMemory);
        if (this.device === 'cpu') out.push(host);
        try {
          native.write(host.live('DataLoader'), f.dtype, f.data);
          if (this.device !== 'cpu') out.push(host.to(this.device, { nonBlocking: this.nonBlocking }));
        } finally {
          if (this.device !== 'cpu') host.dispose();
        }
      });
    } catch (e) {
      for (const t of out) t.dispose();
      throw e;
    }
    return out;
  }

  /**
   * One epoch: its batches in order, each an array of tensors (one per field) that the caller disposes.
   *
   * @example
   * ```ts
   * const loader = new hy.data.DataLoader(new hy.data.MNIST(), { batchSize: 64, device: 'cuda' });
   * for await (const [x, y] of loader) { x.dispose(); y.dispose(); } // a break stops the workers
   * ```
   */
  [Symbol.asyncIterator](): AsyncGenerator<Tensor[], void, undefined> {
    if (this.closed) throw new Error('DataLoader: the loader was closed');
    if (this.numWorkers === 0) return this.iterateMain();
    const it = new Iteration();
    const gen = this.numWorkers === 'auto' ? this.iterateAuto(it) : this.iterateWorkers(this.order(), 0, it);
    dropped.register(gen, it, it);
    return gen;
  }

  /**
   * What the loader does: its batching and how it loads, with what 'auto' decided and why.
   *
   * @example
   * ```ts
   * const loader = new hy.data.DataLoader(new hy.data.MNIST(), { batchSize: 64, shuffle: true });
   * console.log(loader.describe()); // after the first epoch it says what numWorkers 'auto' chose
   * ```
   */
  describe(): string {
    const workers =
      this.numWorkers === 'auto'
        ? "numWorkers 'auto' (decided at the first epoch)"
        : `numWorkers ${this.numWorkers}${this.autoReason === '' ? '' : ` (auto: ${this.autoReason})`}`;
    return `DataLoader: ${this.dataset.length} samples in ${this.length} batches of ${this.batchSize}${this.shuffle ? ', shuffled' : ''}; ${workers}; ` +
      `device ${this.device}${this.pinMemory ? ', pinned' : ''}${this.nonBlocking ? ', non-blocking copies' : ''}`;
  }

  /** numWorkers 0: collates on the calling thread, one batch per next(). */
  private async *iterateMain(): AsyncGenerator<Tensor[], void, undefined> {
    yield* this.mainBatches(this.plan(), 0);
  }

  /**
   * Batches collated on this thread (`first` is the first one's number in the epoch), with a turn
   * of the event loop where it has had none for YIELD_MS, and the await of an asynchronous
   * dataset's batch only where there is one (a synchronous batch is never awaited).
   */
  private async *mainBatches(plan: Int32Array[], first: number): AsyncGenerator<Tensor[], void, undefined> {
    const turns = new Turns();
    for (let k = 0; k < plan.length; k++) {
      if (k > 0) {
        const turn = turns.due();
        if (turn !== undefined) await turn;
      }
      const collated = this.collateMain(plan[k]);
      const batch = collated instanceof Promise ? await this.settle(collated, first + k) : collated;
      const tensors = this.emit(batch);
      for (const f of batch) this.buffers.give(f.data.buffer); // only buffers the pool handed out
      yield tensors;
    }
  }

  /**
   * 'auto', first epoch: the first batches are collated here and timed; the fastest decides
   * whether the rest of this epoch and every later one go through workers.
   */
  private async *iterateAuto(it: Iteration): AsyncGenerator<Tensor[], void, undefined> {
    const order = this.order();
    const n = order.length;
    const probe = Math.min(AUTO_PROBE_BATCHES, this.length);
    const times: number[] = [];
    const turns = new Turns();
    for (let k = 0; k < probe; k++) {
      if (k > 0) {
        const turn = turns.due();
        if (turn !== undefined) await turn;
      }
      const t0 = performance.now();
      const collated = this.collateMain(order.slice(k * this.batchSize, Math.min(n, (k + 1) * this.batchSize)));
      const batch = collated instanceof Promise ? await this.settle(collated, k) : collated;
      times.push(performance.now() - t0);
      const tensors = this.emit(batch);
      for (const f of batch) this.buffers.give(f.data.buffer);
      yield tensors;
    }
    if (this.numWorkers === 'auto') {
      // The fastest probe: the first batches also pay for compiling the collate path.
      const ms = Math.min(...times);
      const fast = ms < AUTO_HANDOFF_MS;
      this.numWorkers = fast || this.autoWorkers < 1 ? 0 : this.autoWorkers;
      this.autoReason = fast
        ? `collating a batch here took ${ms.toFixed(3)} ms, less than the ${AUTO_HANDOFF_MS} ms a worker's hand-off costs, so batches load on this thread`
        : `collating a batch here took ${ms.toFixed(3)} ms, more than the ${AUTO_HANDOFF_MS} ms a worker's hand-off costs, so ${this.numWorkers} workers load them`;
    }
    if (probe >= this.length) return;
    if (this.numWorkers === 0) {
      const rest: Int32Array[] = [];
      for (let k = probe; k < this.length; k++) rest.push(order.slice(k * this.batchSize, Math.min(n, (k + 1) * this.batchSize)));
      yield* this.mainBatches(rest, probe);
    } else {
      yield* this.iterateWorkers(order, probe, it);
    }
  }

  /**
   * Workers: each request asks one worker for a run of `per` consecutive batches and comes back as
   * one message. Requests go round-robin to the workers; about `prefetch` requests per worker are
   * in flight, and batches are yielded in order whichever worker finishes first. Runs are as long
   * as an epoch allows while leaving every worker several requests (at most MAX_RUN batches), so
   * small epochs still go batch by batch.
   */
  private async *iterateWorkers(order: Int32Array, first: number, it: Iteration): AsyncGenerator<Tensor[], void, undefined> {
    const batches = this.length;
    const size = this.batchSize;
    const workers = this.numWorkers as number;
    const per = Math.max(1, Math.min(MAX_RUN, Math.floor(batches / (workers * this.prefetch * 4))));
    const window = workers * this.prefetch * per;
    let pool = this.pool;
    if (pool === undefined || pool.failure !== null) {
      pool = new WorkerPool({
        source: this.source as WorkerSource,
        collate: this.collateSource,
        numWorkers: workers,
      });
      if (this.persistentWorkers) this.pool = pool;
    }
    // What a finalizer releases if this iterator is dropped without return() (see `dropped`).
    const inFlight: InFlight[] = [];
    it.pool = pool;
    it.inFlight = inFlight;
    it.keep = this.persistentWorkers;
    let sent = first; // batches requested (the first `first` were loaded on this thread)
    let requests = 0;
    let k = first; // batches yielded
    // Keeps about `window` batches requested ahead of the one being yielded.
    const topUp = (p: WorkerPool) => {
      while (sent < batches && sent < k + window) {
        const count = Math.min(per, batches - sent);
        const worker = requests++ % workers;
        const indices = order.slice(sent * size, Math.min(order.length, (sent + count) * size));
        inFlight.push({ ...p.submit(worker, indices, size, sent), worker, batch: sent, count });
        sent += count;
      }
    };
    const turns = new Turns();
    try {
      while (k < batches) {
        topUp(pool);
        const req = inFlight[0];
        pool.ref();
        let chunk: Chunk;
        try {
          chunk = await this.awaitChunk(pool, req);
        } finally {
          pool.unref();
        }
        inFlight.shift();
        for (let j = 0; j < chunk.batches.length; j++) {
          if (k > first) {
            const turn = turns.due();
            if (turn !== undefined) await turn;
          }
          const fields = chunk.batches[j];
          const tensors = this.emit(fields);
          pool.giveBack(req.worker, fields);
          k++;
          yield tensors;
          // Batch by batch, so the workers are not left idle while a long run is consumed.
          topUp(pool);
        }
        if (chunk.error !== null) throw chunk.error;
      }
    } finally {
      dropped.unregister(it);
      it.pool = undefined;
      it.inFlight = [];
      if (this.persistentWorkers && pool.failure === null && !this.closed) {
        pool.cancel(inFlight.map((r) => r.id));
      } else {
        if (this.pool === pool) this.pool = undefined;
        await pool.terminate();
      }
    }
  }

  /**
   * Stops persistent workers. The loader cannot be iterated afterwards.
   *
   * @example
   * ```ts
   * const loader = new hy.data.DataLoader(new hy.data.MNIST(), { batchSize: 64, numWorkers: 4, persistentWorkers: true });
   * for (let epoch = 0; epoch < 3; epoch++) for await (const b of loader) for (const t of b) t.dispose();
   * await loader.close();
   * ```
   */
  async close(): Promise<void> {
    this.closed = true;
    const pool = this.pool;
    this.pool = undefined;
    if (pool !== undefined) await pool.terminate();
  }
}
