// A DataLoader worker thread: rebuilds the dataset from its WorkerSource, then answers requests
// for a run of consecutive batches with their collated fields, transferring the buffers back (no
// copy). One message carries several batches each way, because at MNIST sizes the cost of a
// message and of waking the thread that receives it is of the order of collating a batch.
//
// Protocol (main -> worker): {type: 'batch', id, indices: Int32Array, batchSize, recycle}
//   indices holds the samples of consecutive batches, batchSize samples each (the last may be short).
// Protocol (worker -> main): {type: 'ready'} once, when the worker has loaded its dataset (or failed
//   to: the first request then replies with that error), so the main thread's timeout clock counts
//   a batch's own time and not the thread's start-up;
//   {type: 'batch', id, batches: CollatedBatch[], error?: {failedAt, name, message, stack}}
//   batches are those collated before any error; failedAt is the failing batch's place in the request.
// The worker never loads the native addon: datasets and collation are plain JavaScript.
//
// Asynchronous datasets: where get(), getBatch() or the collate function returns a thenable, the
// worker awaits it. A worker answers one request at a time, in the order they came: a request
// that arrives while another awaits its samples waits behind it, so the replies keep the order
// of the requests and a worker never holds more than one request's samples.
import { parentPort, workerData } from 'node:worker_threads';

import { BufferAlloc, BufferPool, collateIndices, CollatedBatch, Dataset, defaultCollate, getSamples, isThenable, Sample, WorkerSource } from './dataset';

export interface WorkerInit {
  source: WorkerSource;
  collate?: { modulePath: string; exportName: string };
  workerId: number;
  numWorkers: number;
}

export interface BatchReply {
  type: 'batch';
  id: number;
  batches: CollatedBatch[];
  /** Set where a batch failed: its place in the request, and the error. */
  error?: { failedAt: number; name: string; message: string; stack: string };
}

/** Sent once, when the worker has built its dataset (or failed to, see the protocol above). */
export interface ReadyReply {
  type: 'ready';
}

export interface BatchRequest {
  type: 'batch';
  id: number;
  /** The samples of one or more consecutive batches. */
  indices: Int32Array;
  /** Samples per batch; the last batch of the request may be shorter. */
  batchSize: number;
  /** Buffers of earlier batches, handed back for reuse. */
  recycle?: ArrayBuffer[];
}

/** Loads the export a WorkerSource names and builds the dataset from it. */
export function buildDataset(source: WorkerSource): Dataset {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(source.modulePath) as Record<string, unknown>;
  const exp = mod[source.exportName] as ((...a: unknown[]) => unknown) & Record<string, unknown>;
  if (exp === undefined) throw new Error(`DataLoader worker: ${source.modulePath} has no export '${source.exportName}'`);
  const args = source.args ?? [];
  let ds: unknown;
  if (source.factory !== undefined) {
    const f = exp[source.factory];
    if (typeof f !== 'function') throw new Error(`DataLoader worker: ${source.exportName}.${source.factory} is not a function`);
    ds = (f as (...a: unknown[]) => unknown).apply(exp, args);
  } else if (typeof exp === 'function' && exp.prototype !== undefined && typeof exp.prototype.get === 'function') {
    ds = new (exp as unknown as new (...a: unknown[]) => unknown)(...args);
  } else if (typeof exp === 'function') {
    ds = exp(...args);
  } else {
    ds = exp;
  }
  const d = ds as Dataset;
  if (d === null || typeof d !== 'object' || typeof d.get !== 'function') {
    throw new Error(`DataLoader worker: ${source.modulePath} export '${source.exportName}' did not give a dataset (an object with length and get())`);
  }
  return d;
}

function loadCollate(spec: { modulePath: string; exportName: string }): AnyCollate {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const f = (require(spec.modulePath) as Record<string, unknown>)[spec.exportName];
  if (typeof f !== 'function') throw new Error(`DataLoader worker: ${spec.modulePath} export '${spec.exportName}' is not a collate function`);
  return f as AnyCollate;
}

/** A collate function: samples to a batch, or to a Promise (thenable) of one. */
export type AnyCollate = (samples: Sample[]) => CollatedBatch | PromiseLike<CollatedBatch>;

/**
 * Collates one batch with a custom collate function or the dataset's own batching: the batch, or
 * where the dataset or the collate function is asynchronous, a Promise of it.
 */
export function collateWith(
  dataset: Dataset,
  indices: ArrayLike<number>,
  collate?: AnyCollate,
  alloc?: BufferAlloc,
): CollatedBatch | Promise<CollatedBatch> {
  if (collate === undefined) return collateIndices(dataset, indices, alloc);
  const samples = getSamples(dataset, indices);
  const run = (ss: Sample[]): CollatedBatch | Promise<CollatedBatch> => {
    const b = collate(ss);
    return isThenable<CollatedBatch>(b) ? Promise.resolve(b) : b;
  };
  return samples instanceof Promise ? samples.then(run) : run(samples);
}

export { defaultCollate };

if (parentPort !== null && (workerData as { hayateDataWorker?: WorkerInit } | undefined)?.hayateDataWorker !== undefined) {
  const port = parentPort;
  const init = (workerData as { hayateDataWorker: WorkerInit }).hayateDataWorker;
  let dataset: Dataset | undefined;
  let collate: AnyCollate | undefined;
  let startError: unknown;
  let failedToStart = false;
  try {
    dataset = buildDataset(init.source);
    if (init.collate !== undefined) collate = loadCollate(init.collate);
  } catch (e) {
    startError = e; // each request replies with it, as with a batch that failed
    failedToStart = true;
  }
  const ready: ReadyReply = { type: 'ready' };
  port.postMessage(ready);
  const pool = new BufferPool(64);

  /** Moves the batch's buffers to the main thread (copying those the worker does not own). */
  const stage = (fields: CollatedBatch, transfer: ArrayBuffer[]): void => {
    for (const f of fields) {
      // Buffers the worker owns move to the main thread; a shared one (a view into the dataset)
      // must be copied, or the main thread would alias the dataset.
      if (!(f.data.buffer instanceof SharedArrayBuffer) && f.data.byteOffset === 0 && f.data.byteLength === f.data.buffer.byteLength) {
        if (!transfer.includes(f.data.buffer)) transfer.push(f.data.buffer);
      } else {
        f.data = f.data.slice();
        transfer.push(f.data.buffer as ArrayBuffer);
      }
    }
  };

  /** Answers one request; returns a Promise where a batch had to be awaited (it never rejects). */
  const answer = (msg: BatchRequest): void | Promise<void> => {
    for (const b of msg.recycle ?? []) pool.give(b, true);
    const batches: CollatedBatch[] = [];
    const transfer: ArrayBuffer[] = [];
    const { indices, batchSize } = msg;
    // failed: the batch after those collated threw or rejected, with e (which may be anything, undefined too)
    const reply = (failed: boolean, e?: unknown): void => {
      let error: BatchReply['error'];
      if (failed) {
        const err = e instanceof Error ? e : new Error(String(e));
        error = { failedAt: batches.length, name: err.name, message: err.message, stack: err.stack ?? '' };
      }
      const r: BatchReply = { type: 'batch', id: msg.id, batches, error };
      port.postMessage(r, transfer);
    };
    // Synchronous batches are collated in a plain loop; from the first thenable on, asynchronously.
    let start = 0;
    const rest = async (first: Promise<CollatedBatch>): Promise<void> => {
      try {
        let next: CollatedBatch | Promise<CollatedBatch> = first;
        for (;;) {
          const fields = await next;
          stage(fields, transfer);
          batches.push(fields);
          start += batchSize;
          if (start >= indices.length) break;
          next = collateWith(dataset!, indices.subarray(start, Math.min(indices.length, start + batchSize)), collate, pool.alloc);
        }
      } catch (e) {
        reply(true, e);
        return;
      }
      reply(false);
    };
    try {
      if (failedToStart) throw startError;
      for (; start < indices.length; start += batchSize) {
        const fields = collateWith(dataset!, indices.subarray(start, Math.min(indices.length, start + batchSize)), collate, pool.alloc);
        if (fields instanceof Promise) return rest(fields);
        stage(fields, transfer);
        batches.push(fields);
      }
    } catch (e) {
      reply(true, e);
      return;
    }
    reply(false);
  };

  // One request at a time: those that arrive while one awaits its samples queue behind it.
  const queue: BatchRequest[] = [];
  let busy = false;
  const drain = (): void => {
    while (!busy && queue.length > 0) {
      const r = answer(queue.shift()!);
      if (r !== undefined) {
        busy = true;
        void r.then(() => {
          busy = false;
          drain();
        });
      }
    }
  };
  port.on('message', (msg: BatchRequest) => {
    if (msg.type !== 'batch') return;
    queue.push(msg);
    drain();
  });
}
