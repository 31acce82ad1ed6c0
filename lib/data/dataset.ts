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
 *
 * @example
 * ```ts
 * const pool = new hy.data.BufferPool();
 * const x = pool.alloc('float32', 64 * 784); // a Float32Array of 64 * 784 values
 * pool.give(x.buffer); // the next alloc of that size reuses it
 * ```
 */
export class BufferPool {
  private readonly free = new Map<number, ArrayBuffer[]>();
  private readonly mine = new WeakSet<ArrayBuffer>();
  constructor(private readonly perSize = 8) {}

  /**
   * A typed array of `length` values of `dtype`, on a free buffer of that size where the pool has one.
   *
   * @example
   * ```ts
   * const labels = new hy.data.BufferPool().alloc('int32', 64); // an Int32Array of 64 values
   * ```
   */
  readonly alloc: BufferAlloc = (dtype, length) => {
    const list = this.free.get(length * 4);
    const buf = list?.pop() ?? new ArrayBuffer(length * 4);
    this.mine.add(buf);
    return dtype === 'int32' ? new Int32Array(buf) : new Float32Array(buf);
  };

  /**
   * Takes a buffer back: one handed out by alloc, or (trusted) one transferred from another thread.
   *
   * @example
   * ```ts
   * const pool = new hy.data.BufferPool();
   * const y = pool.alloc('int32', 64);
   * pool.give(y.buffer); // a buffer the pool did not hand out is ignored
   * ```
   */
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
 *
 * @example
 * ```ts
 * class Squares extends hy.data.Dataset {
 *   get length() { return 100; }
 *   get(i: number) { return [i, i * i]; } // two fields: x and its square
 * }
 * ```
 */
export abstract class Dataset {
  abstract get length(): number;
  /**
   * The sample at index i (0 <= i < length), as a tuple of fields, or a Promise (thenable) of it.
   *
   * @example
   * ```ts
   * const ds: hy.data.Dataset = new hy.data.MNIST({ train: false });
   * const [image, label] = await ds.get(0); // a synchronous dataset's sample awaits as itself
   * ```
   */
  abstract get(index: number): Sample | PromiseLike<Sample>;
  /** Optional: collates several samples at once (faster than get() per sample). Where `alloc` is
   * given, take the batch's arrays from it: they are recycled buffers of earlier batches.
   *
   * @example
   * ```ts
   * const ds: hy.data.Dataset = new hy.data.MNIST({ train: false });
   * const batch = await ds.getBatch?.([0, 1, 2, 3]); // fields of shapes [4, 1, 28, 28] and [4]
   * ```
   */
  getBatch?(indices: ArrayLike<number>, alloc?: BufferAlloc): CollatedBatch | PromiseLike<CollatedBatch>;
  /**
   * Optional: declares each field's sample shape and dtype instead of inferring it.
   *
   * @example
   * ```ts
   * class Labels extends hy.data.Dataset {
   *   get length() { return 10; }
   *   get(i: number) { return [i % 3]; }
   *   override fields(): hy.data.FieldSpec[] { return [{ shape: [], dtype: 'int32' }]; } // int32, not float32
   * }
   * ```
   */
  fields?(): FieldSpec[];
  /**
   * Optional: how a worker thread rebuilds this dataset (see WorkerSource).
   *
   * @example
   * ```ts
   * export class Squares extends hy.data.Dataset {
   *   get length() { return 100; }
   *   get(i: number) { return [i, i * i]; }
   *   override workerSource() { return { modulePath: __filename, exportName: 'Squares' }; } // workers `new` it
   * }
   * ```
   */
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

/**
 * Stacks samples into one flat typed array per field (PyTorch's default_collate for tuples of numbers).
 *
 * @example
 * ```ts
 * const batch = hy.data.defaultCollate([[new Float32Array([1, 2]), 0], [new Float32Array([3, 4]), 1]]);
 * // batch[0]: { data: Float32Array [1, 2, 3, 4], shape: [2, 2], dtype: 'float32' }; batch[1]: shape [2]
 * const labelled = hy.data.defaultCollate([[0.5, 3]], [{ shape: [], dtype: 'float32' }, { shape: [], dtype: 'int32' }]);
 * ```
 */
export function defaultCollate(samples: readonly Sample[], specs?: FieldSpec[], alloc?: BufferAlloc): CollatedBatch {
  if (!Array.isArray(samples)) throw new TypeError(`collate: samples must be an array of samples, got ${describe(samples)}`);
  if (samples.length === 0) throw new RangeError('collate: a batch needs at least one sample');
  samples.forEach((s, i) => {
    if (!Array.isArray(s)) throw new TypeError(`collate: sample ${i} must be an array of fields (numbers or typed arrays), got ${describe(s)}`);
  });
  if (specs !== undefined) {
    if (!Array.isArray(specs)) throw new TypeError(`collate: specs must be an array of {shape, dtype}, got ${describe(specs)}`);
    specs.forEach((f, i) => {
      const ok = f !== null && typeof f === 'object' && Array.isArray((f as FieldSpec).shape) && ((f as FieldSpec).dtype === 'float32' || (f as FieldSpec).dtype === 'int32') &&
        (f as FieldSpec).shape.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 0);
      if (!ok) throw new TypeError(`collate: specs[${i}] must be {shape: non-negative integers, dtype: 'float32' | 'int32'}, got ${describe(f)}`);
    });
  }
  if (alloc !== undefined && typeof alloc !== 'function') throw new TypeError(`collate: alloc must be a function, got ${describe(alloc)}`);
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
 *
 * @example
 * ```ts
 * const ds = new hy.data.TensorDataset(hy.randn([100, 8]), hy.randint(0, 2, [100]));
 * const [x0, y0] = ds.get(0); // a Float32Array of 8 values and a class 0 or 1
 * const loader = new hy.data.DataLoader(ds, { batchSize: 10, shuffle: true });
 * ```
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

  /**
   * Each tensor's row shape and its dtype (int32 for int32 tensors, else float32).
   *
   * @example
   * ```ts
   * new hy.data.TensorDataset(hy.randn([100, 3, 4]), hy.randint(10, [100])).fields();
   * // [{ shape: [3, 4], dtype: 'float32' }, { shape: [], dtype: 'int32' }]
   * ```
   */
  override fields(): FieldSpec[] {
    return this.state.fields.map((f) => ({ shape: f.sampleShape.slice(), dtype: f.dtype }));
  }

  private check(i: number): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.state.length) {
      throw new RangeError(`TensorDataset: index ${describe(i)} is out of range for ${this.state.length} samples`);
    }
  }

  /**
   * Row i of every tensor: a number for a 1-D tensor, else an array of the row's values.
   *
   * @example
   * ```ts
   * const ds = new hy.data.TensorDataset(hy.tensor([[1, 2], [3, 4]]), hy.tensor([0, 1]));
   * ds.get(1); // [Float32Array [3, 4], 1]
   * ```
   */
  get(i: number): Sample {
    this.check(i);
    return this.state.fields.map((f) => {
      const per = sizeOf(f.sampleShape);
      return f.sampleShape.length === 0 ? f.data[i] : f.data.slice(i * per, (i + 1) * per);
    });
  }

  /**
   * The rows of indices, one collated field per tensor (the fast path the DataLoader takes).
   *
   * @example
   * ```ts
   * const ds = new hy.data.TensorDataset(hy.randn([100, 8]), hy.randint(10, [100]));
   * const [x, y] = ds.getBatch([0, 5, 9]); // x.shape [3, 8] float32, y.shape [3] int32
   * ```
   */
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

  /**
   * How a DataLoader worker rebuilds this dataset: from its shared memory, without a copy.
   *
   * @example
   * ```ts
   * const ds = new hy.data.TensorDataset(hy.randn([10000, 8]), hy.randint(10, [10000]));
   * const loader = new hy.data.DataLoader(ds, { batchSize: 256, numWorkers: 2 }); // workers use ds.workerSource()
   * ```
   */
  override workerSource(): WorkerSource {
    return { modulePath: __filename, exportName: 'TensorDataset', factory: 'fromShared', args: [this.state] };
  }
}
