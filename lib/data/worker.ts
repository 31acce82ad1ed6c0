// A DataLoader worker thread: rebuilds the dataset from its WorkerSource, then answers requests
// for a run of consecutive batches with their collated fields, transferring the buffers back (no
// copy). One message carries several batches each way, because at MNIST sizes the cost of a
// message and of waking the thread that receives it is of the order of collating a batch.
//
// Protocol (main -> worker): {type: 'batch', id, indices: Int32Array, batchSize, recycle}
//   indices holds the samples of consecutive batches, batchSize samples each (the last may be short).
// Protocol (worker -> main): {type: 'batch', id, batches: CollatedBatch[], error?: {failedAt, name, message, stack}}
//   batches are those collated before any error; failedAt is the failing batch's place in the request.
// The worker never loads the native addon: datasets and collation are plain JavaScript.
import { parentPort, workerData } from 'node:worker_threads';

import { BufferAlloc, BufferPool, collateIndices, CollatedBatch, Dataset, defaultCollate, Sample, WorkerSource } from './dataset';

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

function loadCollate(spec: { modulePath: string; exportName: string }): (samples: Sample[]) => CollatedBatch {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const f = (require(spec.modulePath) as Record<string, unknown>)[spec.exportName];
  if (typeof f !== 'function') throw new Error(`DataLoader worker: ${spec.modulePath} export '${spec.exportName}' is not a collate function`);
  return f as (samples: Sample[]) => CollatedBatch;
}

/** Collates one batch with a custom collate function or the dataset's own batching. */
export function collateWith(
  dataset: Dataset,
  indices: ArrayLike<number>,
  collate?: (samples: Sample[]) => CollatedBatch,
  alloc?: BufferAlloc,
): CollatedBatch {
  if (collate === undefined) return collateIndices(dataset, indices, alloc);
  const samples: Sample[] = [];
  for (let k = 0; k < indices.length; k++) samples.push(dataset.get(indices[k]));
  return collate(samples);
}

export { defaultCollate };

if (parentPort !== null && (workerData as { hayateDataWorker?: WorkerInit } | undefined)?.hayateDataWorker !== undefined) {
  const port = parentPort;
  const init = (workerData as { hayateDataWorker: WorkerInit }).hayateDataWorker;
  let dataset: Dataset | undefined;
  let collate: ((samples: Sample[]) => CollatedBatch) | undefined;
  const pool = new BufferPool(64);
  port.on('message', (msg: BatchRequest) => {
    if (msg.type !== 'batch') return;
    for (const b of msg.recycle ?? []) pool.give(b, true);
    const batches: CollatedBatch[] = [];
    const transfer: ArrayBuffer[] = [];
    let error: BatchReply['error'];
    try {
      if (dataset === undefined) {
        dataset = buildDataset(init.source);
        if (init.collate !== undefined) collate = loadCollate(init.collate);
      }
      const { indices, batchSize } = msg;
      for (let start = 0; start < indices.length; start += batchSize) {
        const fields = collateWith(dataset, indices.subarray(start, Math.min(indices.length, start + batchSize)), collate, pool.alloc);
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
        batches.push(fields);
      }
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      error = { failedAt: batches.length, name: err.name, message: err.message, stack: err.stack ?? '' };
    }
    const reply: BatchReply = { type: 'batch', id: msg.id, batches, error };
    port.postMessage(reply, transfer);
  });
}
