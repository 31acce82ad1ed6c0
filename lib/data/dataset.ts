// Datasets: indexable collections of samples, and collation of samples into batches.
//
// This module is loaded inside DataLoader worker threads as well as on the main thread, so it must
// not load the native addon at run time: it only imports types from the tensor layer.
import { describe } from '../errors';
import type { Tensor } from '../tensor';

/** The dtype of one collated field: images and features are float32, class labels int32. */
export type FieldDType = 'float32' | 'int32';

/** Shape (without the batch dimension) and dtype of one field of every sample. */
export interface FieldSpec {
  shape: number[];
  dtype: FieldDType;
}

/**
 * One field of a sample: a number or an array of numbers. Int32Array fields collate to int32,
 * every other kind to float32 (JavaScript numbers cannot say whether they are integers by type:
 * declare `fields()` on the dataset to collate plain numbers as int32 class labels).
 */
export type SampleField = number | ArrayLike<number>;
export type Sample = readonly SampleField[];

/** One field of a batch, flat, with its batch shape ([batch, ...sample shape]). */
export interface CollatedField {
  data: Float32Array | Int32Array;
  shape: number[];
  dtype: FieldDType;
}
export type CollatedBatch = CollatedField[];

/**
 * How a DataLoader worker thread rebuilds a dataset: it loads `modulePath`, takes the export
 * `exportName` and either calls its static `factory(...args)`, constructs it with `new` (a class),
 * or calls it (a factory function). Arguments cross by structured clone, so SharedArrayBuffer-backed
 * arrays are shared with the worker, not copied.
 */
export interface WorkerSource {
  modulePath: string;
  exportName: string;
  args?: unknown[];
  factory?: string;
}

/** Gives a batch buffer, recycled from earlier batches where one is free (see BufferPool). */
export type BufferAlloc = (dtype: FieldDType, length: number) => Float32Array | Int32Array;

/**
 * Batch buffers for reuse: a batch's arrays, once copied into tensors, come back here instead of
 * being left to the garbage collector (at 200 KB a batch, allocating fresh ones costs more than
 * collating MNIST). Only buffers this pool handed out are taken back, so a dataset's own arrays are
 * never overwritten.
 */
export class BufferPool {
  private readonly free = new Map<number, ArrayBuffer[]>();
  private readonly mine = new WeakSet<ArrayBuffer>();
  constructor(private readonly perSize = 8) {}

  readonly alloc: BufferAlloc = (dtype, length) => {
    const list = this.free.get(length * 4);
    const buf = list?.pop() ?? new ArrayBuffer(length * 4);
    this.mine.add(buf);
    return dtype === 'int32' ? new Int32Array(buf) : new Float32Array(buf);
  };

  /** Takes a buffer back: one handed out by alloc, or (trusted) one transferred from another thread. */
  give(buf: ArrayBufferLike, trusted = false): void {
    if (buf instanceof SharedArrayBuffer || !(trusted || this.mine.has(buf as ArrayBuffer))) return;
    let list = this.free.get(buf.byteLength);
    if (list === undefined) this.free.set(buf.byteLength, (list = []));
    if (list.length < this.perSize) {
      this.mine.add(buf as ArrayBuffer);
      list.push(buf as ArrayBuffer);
    }
  }
}

/**
 * A map-style dataset, as in PyTorch: a length and a sample per index. get() (and getBatch()) may
 * also return a Promise or any thenable of the sample: the DataLoader awaits it (an async source,
 * a file or a network read). The gets of one batch are all started before any is awaited, so they
 * overlap; batches still come out in order, and a rejection fails the iteration with its error.
 */
export abstract class Dataset {
  abstract get length(): number;
  /** The sample at index i (0 <= i < length), as a tuple of fields, or a Promise (thenable) of it. */
  abstract get(index: number): Sample | PromiseLike<Sample>;
  /** Optional: collates several samples at once (faster than get() per sample). Where `alloc` is
   * given, take the batch's arrays from it: they are recycled buffers of earlier batches. */
  getBatch?(indices: ArrayLike<number>, alloc?: BufferAlloc): CollatedBatch | PromiseLike<CollatedBatch>;
  /** Optional: declares each field's sample shape and dtype instead of inferring it. */
  fields?(): FieldSpec[];
  /** Optional: how a worker thread rebuilds this dataset (see WorkerSource). */
  workerSource?(): WorkerSource;
}

function fieldLength(f: SampleField): number {
  return typeof f === 'number' ? 1 : f.length;
}

/** Infers field specs from one sample: numbers are scalars, arrays are flat vectors. */
export function inferFields(sample: Sample): FieldSpec[] {
  if (!Array.isArray(sample) || sample.length === 0) {
    throw new TypeError(`collate: a sample must be a non-empty array of fields, got ${describe(sample)}`);
  }
  return sample.map((f, j) => {
    if (typeof f === 'number') return { shape: [], dtype: 'float32' as const };
    if (f === null || typeof f !== 'object' || typeof (f as ArrayLike<number>).length !== 'number') {
      throw new TypeError(`collate: field ${j} of a sample must be a number or an array of numbers, got ${describe(f)}`);
    }
    return { shape: [f.length], dtype: f instanceof Int32Array ? ('int32' as const) : ('float32' as const) };
  });
}

function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Stacks samples into one flat typed array per field (PyTorch's default_collate for tuples of numbers). */
export function defaultCollate(samples: readonly Sample[], specs?: FieldSpec[], alloc?: BufferAlloc): CollatedBatch {
  if (samples.length === 0) throw new RangeError('collate: a batch needs at least one sample');
  const fields = specs ?? inferFields(samples[0]);
  return fields.map((spec, j) => {
    const per = sizeOf(spec.shape);
    const data = alloc !== undefined ? alloc(spec.dtype, per * samples.length) : spec.dtype === 'int32' ? new Int32Array(per * samples.length) : new Float32Array(per * samples.length);
    for (let s = 0; s < samples.length; s++) {
      const f = samples[s][j];
      if (f === undefined) throw new RangeError(`collate: sample ${s} of the batch has ${samples[s].length} fields, expected ${fields.length}`);
      if (fieldLength(f) !== per) {
        throw new RangeError(
          `collate: field ${j} of sample ${s} of the batch has ${fieldLength(f)} values, expected ${per} (shape [${spec.shape.join(', ')}])`,
        );
      }
      if (typeof f === 'number') data[s] = f;
      else if (ArrayBuffer.isView(f)) data.set(f as unknown as ArrayLike<number>, s * per);
      else for (let k = 0; k < per; k++) data[s * per + k] = f[k];
    }
    return { data, shape: [samples.length, ...spec.shape], dtype: spec.dtype };
  });
}

/** True for a Promise or any other thenable (an object or function with a then method). */
export function isThenable<T>(v: unknown): v is PromiseLike<T> {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof (v as { then?: unknown }).then === 'function';
}

const ignore = (): void => undefined;

/**
 * The samples of indices, from get() per index. Synchronous samples come back as an array; where
 * any get() returns a thenable, a Promise of them all (the gets were all started first, so they
 * overlap; the order is the indices'). A get() that throws after earlier ones returned thenables
 * leaves none of those unhandled.
 */
export function getSamples(dataset: Dataset, indices: ArrayLike<number>): Sample[] | Promise<Sample[]> {
  const samples: Array<Sample | PromiseLike<Sample>> = new Array(indices.length);
  let pending = false;
  try {
    for (let k = 0; k < indices.length; k++) {
      const v = dataset.get(indices[k]);
      if (isThenable<Sample>(v)) pending = true;
      samples[k] = v;
    }
  } catch (e) {
    if (pending) for (const v of samples) if (isThenable(v)) Promise.resolve(v).then(ignore, ignore);
    throw e;
  }
  return pending ? Promise.all(samples) : (samples as Sample[]);
}

/**
 * Collates a batch of a dataset: its getBatch() where it has one, else get() per index. A
 * synchronous dataset gives the batch itself; an asynchronous one (a thenable from get() or
 * getBatch()) a Promise of it.
 */
export function collateIndices(dataset: Dataset, indices: ArrayLike<number>, alloc?: BufferAlloc): CollatedBatch | Promise<CollatedBatch> {
  if (typeof dataset.getBatch === 'function') {
    const b = dataset.getBatch(indices, alloc);
    return isThenable<CollatedBatch>(b) ? Promise.resolve(b) : b;
  }
  const specs = typeof dataset.fields === 'function' ? dataset.fields() : undefined;
  const samples = getSamples(dataset, indices);
  if (samples instanceof Promise) return samples.then((ss) => defaultCollate(ss, specs, alloc));
  return defaultCollate(samples, specs, alloc);
}

/** Where available, a typed array backed by a SharedArrayBuffer (so worker threads see it without a copy). */
export function sharedCopy<T extends Float32Array | Int32Array | Uint8Array>(src: T): T {
  if (src.buffer instanceof SharedArrayBuffer) return src;
  const Ctor = src.constructor as new (b: SharedArrayBuffer) => T;
  const out = new Ctor(new SharedArrayBuffer(src.byteLength));
  out.set(src as never);
  return out;
}

interface SharedField {
  data: Float32Array | Int32Array;
  sampleShape: number[];
  dtype: FieldDType;
}

/** State of a TensorDataset as it crosses into a worker: shared memory, no copy. */
export interface TensorDatasetState {
  fields: SharedField[];
  length: number;
}

/**
 * Samples are the rows (first dimension) of one or more tensors: TensorDataset(x, y)[i] = [x[i], y[i]].
 * The values are read once into shared host memory, so worker threads use them without a copy;
 * the tensors themselves stay owned by the caller. float16 tensors collate as float32.
 */
export class TensorDataset extends Dataset {
  private readonly state: TensorDatasetState;

  constructor(...tensors: Tensor[]) {
    super();
    if (tensors.length === 0) throw new TypeError('TensorDataset: needs at least one tensor');
    const fields: SharedField[] = [];
    let length = -1;
    tensors.forEach((t, j) => {
      if (t === null || typeof t !== 'object' || typeof (t as Tensor).dataSync !== 'function' || !Array.isArray(t.shape)) {
        throw new TypeError(`TensorDataset: argument ${j} must be a Tensor, got ${describe(t)}`);
      }
      if (t.shape.length === 0) throw new RangeError(`TensorDataset: tensor ${j} is a scalar; it needs a first (sample) dimension`);
      if (length >= 0 && t.shape[0] !== length) {
        throw new RangeError(`TensorDataset: tensor ${j} has ${t.shape[0]} rows, tensor 0 has ${length}; all need the same first dimension`);
      }
      length = t.shape[0];
      if (t.dtype === 'bool') throw new TypeError(`TensorDataset: tensor ${j} is bool; batches carry float32 or int32 (convert it with .to('int32'))`);
      const values = t.dataSync() as Float32Array | Int32Array;
      fields.push({
        data: sharedCopy(values),
        sampleShape: t.shape.slice(1),
        dtype: t.dtype === 'int32' ? 'int32' : 'float32',
      });
    });
    this.state = { fields, length };
  }

  /** @internal Rebuilds the dataset from its shared state (in a worker thread). */
  static fromShared(state: TensorDatasetState): TensorDataset {
    const d = Object.create(TensorDataset.prototype) as TensorDataset;
    (d as unknown as { state: TensorDatasetState }).state = state;
    return d;
  }

  get length(): number {
    return this.state.length;
  }

  override fields(): FieldSpec[] {
    return this.state.fields.map((f) => ({ shape: f.sampleShape.slice(), dtype: f.dtype }));
  }

  private check(i: number): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.state.length) {
      throw new RangeError(`TensorDataset: index ${describe(i)} is out of range for ${this.state.length} samples`);
    }
  }

  get(i: number): Sample {
    this.check(i);
    return this.state.fields.map((f) => {
      const per = sizeOf(f.sampleShape);
      return f.sampleShape.length === 0 ? f.data[i] : f.data.slice(i * per, (i + 1) * per);
    });
  }

  override getBatch(indices: ArrayLike<number>, alloc?: BufferAlloc): CollatedBatch {
    const n = indices.length;
    for (let k = 0; k < n; k++) this.check(indices[k]);
    return this.state.fields.map((f) => {
      const per = sizeOf(f.sampleShape);
      const data = alloc !== undefined ? alloc(f.dtype, n * per) : f.dtype === 'int32' ? new Int32Array(n * per) : new Float32Array(n * per);
      for (let k = 0; k < n; k++) {
        const i = indices[k];
        if (per === 1) data[k] = f.data[i];
        else data.set(f.data.subarray(i * per, (i + 1) * per), k * per);
      }
      return { data, shape: [n, ...f.sampleShape], dtype: f.dtype };
    });
  }

  override workerSource(): WorkerSource {
    return { modulePath: __filename, exportName: 'TensorDataset', factory: 'fromShared', args: [this.state] };
  }
}
