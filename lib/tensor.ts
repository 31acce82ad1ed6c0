// Tensor: a shape, a dtype, a device and a reference-counted native storage.
import { inspect } from 'node:util';

import { checkDevice, checkDType, Device, DType, DTYPE_BYTES, isDType, isFloating } from './dtype';
import { describe, DisposedError, isDetachedBuffer, viewBuffer } from './errors';
import { describeTensor, formatTensor, tensorJSON } from './format';
import type { TensorSummaryJSON } from './format';
import { native, StorageHandle } from './native';
import { takeCounters } from './random';
import type { GradNode } from './autograd';
import { keep, runScoped, track } from './scope';

export type TypedData = Float32Array | Float64Array | Int32Array | Int16Array | Int8Array | Uint8Array | Uint16Array | Uint32Array;
export type NestedNumbers = number | NestedNumbers[];
/** What a tensor's values read back as: float32 and float16 as Float32Array, int32 as Int32Array, bool as Uint8Array. */
export type ReadData = Float32Array | Int32Array | Uint8Array;
export type TensorData = NestedNumbers | TypedData;
export type NestedBooleans = boolean[] | NestedBooleans[];

export interface TensorOptions {
  dtype?: DType;
  device?: Device | 'cuda:0';
  requiresGrad?: boolean;
  /** Allocate page-locked host memory (cpu tensors only; ordinary memory where CUDA is absent). */
  pinMemory?: boolean;
}

export interface ToOptions {
  /** Copy asynchronously where the host side is pinned memory (see Tensor.pinMemory). */
  nonBlocking?: boolean;
}

/**
 * One storage (an allocation on one device), shared by a tensor and its views; `native` is the
 * binding's handle to it (hy::Storage in C++). Freed when the last tensor over it is disposed.
 */
export class Storage {
  refs = 1;
  /**
   * Bumped by every in-place write the library makes to existing values (an optimizer step, a
   * loaded state dict): backward compares it with the version a saved tensor was saved at.
   */
  version = 0;
  constructor(readonly native: StorageHandle) {}
  retain(): this {
    this.refs++;
    return this;
  }
  release(): void {
    if (--this.refs === 0) this.native.dispose();
  }
}

const MAX_ELEMENTS = 2 ** 48;

export function checkOptions(op: string, opts: unknown, allowed: readonly string[]): Record<string, unknown> {
  if (opts === undefined) return {};
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) {
    throw new TypeError(`${op}: options must be an object, got ${describe(opts)}`);
  }
  // Own properties only: options are plain objects, and inherited getters are not options.
  const own: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(opts)) {
    if (!allowed.includes(k)) throw new TypeError(`${op}: unknown option '${k}' (expected ${allowed.join(', ')})`);
    own[k] = v;
  }
  return own;
}

export function checkShape(op: string, shape: unknown): number[] {
  const dims = typeof shape === 'number' ? [shape] : shape;
  if (!Array.isArray(dims)) throw new TypeError(`${op}: shape must be an array of integers, got ${describe(shape)}`);
  let numel = 1;
  for (const d of dims) {
    if (typeof d !== 'number') throw new TypeError(`${op}: shape entries must be numbers, got ${describe(d)} in ${describe(shape)}`);
    if (!Number.isInteger(d) || d < 0) {
      throw new RangeError(`${op}: shape entries must be non-negative integers, got ${describe(d)} in ${describe(shape)}`);
    }
    numel *= d;
  }
  if (numel > MAX_ELEMENTS) throw new RangeError(`${op}: shape ${describe(shape)} has ${numel} elements, more than 2^48`);
  return dims.slice();
}

export function numelOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

let cudaInfoCache: { available: boolean; reason?: string } | undefined;
export function cudaState(): { available: boolean; reason?: string } {
  cudaInfoCache ??= native.info();
  return cudaInfoCache;
}

function requireDevice(op: string, device: Device): void {
  if (device === 'cuda' && !cudaState().available) {
    const e = new Error(`${op}: CUDA is not available (${cudaState().reason})`);
    (e as Error & { code: string }).code = 'ERR_CUDA_UNAVAILABLE';
    throw e;
  }
}

/** Allocates an uninitialised tensor. */
export function allocTensor(op: string, shape: number[], dtype: DType, device: Device, pinned = false): Tensor {
  requireDevice(op, device);
  const bytes = numelOf(shape) * DTYPE_BYTES[dtype];
  const storage = new Storage(native.alloc(device, bytes, pinned && device === 'cpu' && cudaState().available));
  return new Tensor(storage, shape, dtype, device);
}

/**
 * An n-dimensional array of one dtype on one device, with autograd; the factories make them
 * (hy.tensor, hy.zeros, hy.randn, ...).
 *
 * @example
 * ```ts
 * const x = hy.tensor([[1, 2], [3, 4]]);
 * x.shape; // [2, 2] (x.dtype 'float32', x.device 'cpu')
 * ```
 */
export class Tensor {
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly device: Device;
  requiresGrad = false;
  /** The accumulated gradient of a leaf tensor after backward(). */
  grad: Tensor | null = null;
  /** The autograd node that produced this tensor (null for leaves). */
  gradFn: GradNode | null = null;
  /** @internal */
  storage: Storage | null;

  /** Use hy.tensor / hy.zeros / ... to make tensors. */
  constructor(storage: Storage, shape: readonly number[], dtype: DType, device: Device, tracked = true) {
    if (!(storage instanceof Storage)) {
      throw new TypeError('Tensor: the constructor is internal; make tensors with hy.tensor, hy.zeros, hy.randn, ... (got ' + describe(storage) + ')');
    }
    this.storage = storage;
    this.shape = Object.freeze(shape.slice());
    this.dtype = dtype;
    this.device = device;
    if (tracked) track(this);
  }

  /** True for tensors not produced by a recorded op. */
  get isLeaf(): boolean {
    return this.gradFn === null;
  }

  /** @internal A tensor sharing this one's storage with another shape (a view). */
  aliasAs(shape: readonly number[], tracked = true): Tensor {
    const storage = this.storage;
    if (storage === null) throw new DisposedError("view");
    return new Tensor(storage.retain(), shape, this.dtype, this.device, tracked);
  }

  /** @internal The storage version a saveForBackward alias was taken at. */
  savedVersion = -1;

  /** @internal An untracked alias that keeps the storage alive for backward, and its version then. */
  saveForBackward(): Tensor {
    const a = this.aliasAs(this.shape, false);
    a.savedVersion = a.storage!.version;
    return a;
  }

  /** @internal Marks this tensor's values as changed in place (see Storage.version). */
  bumpVersion(): void {
    if (this.storage !== null) this.storage.version++;
  }

  get numel(): number {
    return numelOf(this.shape);
  }
  get ndim(): number {
    return this.shape.length;
  }
  get isDisposed(): boolean {
    return this.storage === null;
  }
  /** True when the tensor lives in page-locked host memory. */
  get isPinned(): boolean {
    return this.live('isPinned').pinned;
  }

  /** @internal The native storage, or a DisposedError naming op. */
  live(op: string): StorageHandle {
    if (this.storage === null) throw new DisposedError(op);
    return this.storage.native;
  }

  /**
   * Converts to another device or dtype; returns this tensor when nothing changes. Differentiable:
   * the gradient converts back.
   *
   * @example
   * ```ts
   * const x = hy.randn([2, 3]);
   * const h = x.to('float16'); // x.to('cuda') moves it to the GPU
   * ```
   */
  to(target: Device | DType | 'cuda:0', opts?: ToOptions): Tensor {
    return this.convert(target, opts);
  }

  /** @internal to() without autograd (ops.ts records it for the public method). */
  convert(target: Device | DType | 'cuda:0', opts?: ToOptions): Tensor {
    const o = checkOptions('to', opts, ['nonBlocking']);
    const nonBlocking = o.nonBlocking === undefined ? false : o.nonBlocking;
    if (typeof nonBlocking !== 'boolean') throw new TypeError(`to: nonBlocking must be a boolean, got ${describe(nonBlocking)}`);
    const src = this.live('to');
    if (isDType(target)) {
      if (target === this.dtype) return this;
      const out = allocTensor('to', this.shape.slice(), target, this.device);
      native.run('cast', { x: src, xDtype: this.dtype, out: out.live('to'), dtype: target, n: this.numel });
      return out;
    }
    if (typeof target !== 'string') throw new TypeError(`to: expected a device or dtype, got ${describe(target)}`);
    if (target !== 'cpu' && target !== 'cuda' && target !== 'cuda:0') {
      throw new RangeError(`to: expected a device ('cpu', 'cuda') or a dtype (float32, float16, int32), got ${describe(target)}`);
    }
    const device = checkDevice('to', target);
    if (device === this.device) return this;
    const bytes = this.numel * DTYPE_BYTES[this.dtype];
    if (device === 'cuda') {
      requireDevice('to', 'cuda');
      return new Tensor(new Storage(native.toDevice(src, bytes, nonBlocking)), this.shape, this.dtype, 'cuda');
    }
    // A non-blocking device-to-host copy lands in pinned memory, as in PyTorch; reading it waits.
    const out = allocTensor('to', this.shape.slice(), this.dtype, device, nonBlocking);
    native.copy(out.live('to'), src, bytes, nonBlocking);
    return out;
  }

  /**
   * A copy of this cpu tensor in page-locked memory (ordinary memory where CUDA is absent).
   *
   * @example
   * ```ts
   * const batch = hy.randn([64, 784]).pinMemory();
   * const onGpu = batch.to('cuda', { nonBlocking: true }); // an asynchronous copy
   * ```
   */
  pinMemory(): Tensor {
    const src = this.live('pinMemory');
    if (this.device !== 'cpu') throw new RangeError(`pinMemory: only cpu tensors can be pinned, this one is on ${this.device}`);
    if (src.pinned) return this;
    const out = allocTensor('pinMemory', this.shape.slice(), this.dtype, 'cpu', true);
    native.copy(out.live('pinMemory'), src, this.numel * DTYPE_BYTES[this.dtype], false);
    return out;
  }

  /**
   * A copy in new memory. Differentiable.
   *
   * @example
   * ```ts
   * const x = hy.ones([3], { requiresGrad: true });
   * const y = x.clone(); // new memory, same values; y.sum().backward() fills x.grad
   * ```
   */
  clone(): Tensor {
    return this.copy();
  }

  /** @internal clone() without autograd. */
  copy(): Tensor {
    const src = this.live('clone');
    const out = allocTensor('clone', this.shape.slice(), this.dtype, this.device, src.pinned);
    native.copy(out.live('clone'), src, this.numel * DTYPE_BYTES[this.dtype], false);
    return out;
  }

  /**
   * Reads the values without blocking the event loop. float16 reads back as float32.
   *
   * @example
   * ```ts
   * const values = await hy.randn([3]).data(); // Float32Array of 3
   * ```
   */
  data(): Promise<ReadData> {
    try {
      return native.readAsync(this.live('data'), this.dtype, this.numel);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Reads the values, blocking until the device has produced them.
   *
   * @example
   * ```ts
   * hy.tensor([1, 2, 3]).dataSync(); // Float32Array [1, 2, 3]
   * ```
   */
  dataSync(): ReadData {
    return native.read(this.live('dataSync'), this.dtype, this.numel);
  }

  /**
   * The value of a one-element tensor.
   *
   * @example
   * ```ts
   * hy.sum(hy.ones([4])).item(); // 4
   * ```
   */
  item(): number {
    if (this.numel !== 1) throw new RangeError(`item: the tensor has ${this.numel} elements, item() needs exactly one`);
    return this.dataSync()[0];
  }

  /**
   * Nested arrays of the values (blocking).
   *
   * @example
   * ```ts
   * hy.tensor([[1, 2], [3, 4]]).toArray(); // [[1, 2], [3, 4]]
   * ```
   */
  toArray(): NestedNumbers {
    const flat = Array.from(this.dataSync());
    const build = (dim: number, start: number): NestedNumbers => {
      if (dim === this.shape.length) return flat[start];
      const stride = numelOf(this.shape.slice(dim + 1));
      const out: NestedNumbers[] = [];
      for (let i = 0; i < this.shape[dim]; i++) out.push(build(dim + 1, start + i * stride));
      return out;
    };
    return build(0, 0);
  }

  /**
   * Frees the memory now. Safe to call more than once.
   *
   * @example
   * ```ts
   * const x = hy.randn([1024, 1024]);
   * x.dispose(); // x.isDisposed is now true
   * ```
   */
  dispose(): void {
    if (this.storage === null) return;
    this.storage.release();
    this.storage = null;
    if (this.grad !== null) {
      this.grad.dispose();
      this.grad = null;
    }
    // gradFn stays: the graph may still run backward through this tensor's node, which keeps
    // its saved tensors while an op built on this one can still reach it (GradNode.dropUse).
    if (this.gradFn !== null && !this.gradDropped) {
      this.gradDropped = true;
      this.gradFn.dropUse();
    }
  }

  /** @internal True once dispose() gave up this tensor's use of its node. */
  private gradDropped = false;

  /**
   * dispose(), for `using`: the tensor is freed at the end of the block.
   *
   * @example
   * ```ts
   * {
   *   using x = hy.randn([1024, 1024]);
   *   console.log(x.sum().item());
   * } // x.dispose() ran here
   * ```
   */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /**
   * The printed form, as PyTorch prints: `tensor([[ 0.1234, -1.0000]], device='cuda:0', requiresGrad=true)`. Never throws.
   *
   * @example
   * ```ts
   * String(hy.tensor([1.5, 2])); // 'tensor([1.5000, 2.0000])'
   * ```
   */
  toString(): string {
    if (this.storage === null) return 'tensor(<disposed>)';
    try {
      return formatTensor(describeTensor(this), () => this.dataSync());
    } catch (e) {
      return `tensor(<unreadable: ${e instanceof Error ? e.message : String(e)}>)`;
    }
  }

  /**
   * JSON.stringify's form: the nested values for a tensor of at most 1000 elements, else
   * {shape, dtype, device, summary} with summary the printed form (so is a disposed tensor).
   *
   * @example
   * ```ts
   * JSON.stringify({ w: hy.tensor([[1, 2]]) }); // '{"w":[[1,2]]}'
   * ```
   */
  toJSON(): NestedNumbers | TensorSummaryJSON {
    if (this.storage === null) return { shape: this.shape.slice(), dtype: this.dtype, device: this.device, summary: this.toString() };
    return tensorJSON(describeTensor(this), () => this.dataSync()) as NestedNumbers | TensorSummaryJSON;
  }

  /** @internal console.log and util.inspect print what String(tensor) does (kept out of the types: node:util). */
  [inspect.custom](): string {
    return this.toString();
  }
}

/** @internal t as dtype without autograd: t itself when it has that dtype, unless `copy`. */
export function convertRaw(t: Tensor, dtype: DType, copy: boolean): Tensor {
  if (t.dtype === dtype) return copy ? t.copy() : t;
  return t.convert(dtype);
}

/** @internal A 0-d tensor holding v (rounded to dtype as fill rounds), made without checks. */
export function scalarTensor(op: string, v: number, dtype: DType, device: Device): Tensor {
  const t = allocTensor(op, [], dtype, device);
  native.run('fill', { out: t.live(op), dtype, n: 1, value: v });
  return t;
}

/** @internal A copy without autograd. */
export function cloneRaw(t: Tensor): Tensor {
  return t.copy();
}

/**
 * True when v is a Tensor (a type guard).
 *
 * @example
 * ```ts
 * hy.isTensor(hy.zeros([2])); // true
 * hy.isTensor([0, 0]); // false
 * ```
 */
export function isTensor(v: unknown): v is Tensor {
  return v instanceof Tensor;
}

/**
 * Runs fn and disposes every tensor it created, except those it returns.
 *
 * @example
 * ```ts
 * const x = hy.randn([3]);
 * const y = hy.tidy(() => hy.exp(hy.neg(x)).add(1)); // the hy.neg and hy.exp results are disposed
 * ```
 */
export function tidy<T>(fn: () => T): T {
  return runScoped(fn, isTensor);
}

export { keep };

// ---- creation ----

function flatten(op: string, data: NestedNumbers, shape: number[], out: number[], depth: number, bools: { seen: boolean }): void {
  if (typeof data === 'number' || typeof data === 'boolean') {
    if (depth !== shape.length) throw new RangeError(`${op}: ragged nested array: a number at depth ${depth}, expected depth ${shape.length}`);
    if (typeof data === 'boolean') bools.seen = true;
    out.push(Number(data));
    return;
  }
  if (!Array.isArray(data)) throw new TypeError(`${op}: data must hold numbers, got ${describe(data)}`);
  if (depth === shape.length) throw new RangeError(`${op}: ragged nested array: an array at depth ${depth}`);
  if (data.length !== shape[depth]) {
    throw new RangeError(`${op}: ragged nested array: length ${data.length} at depth ${depth}, expected ${shape[depth]}`);
  }
  for (const d of data) flatten(op, d, shape, out, depth + 1, bools);
}

function inferShape(data: NestedNumbers): number[] {
  const shape: number[] = [];
  let cur: NestedNumbers = data;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    if (cur.length === 0) break;
    cur = cur[0];
  }
  return shape;
}

function creationOptions(op: string, opts: unknown, defaultDType: DType) {
  const o = checkOptions(op, opts, ['dtype', 'device', 'requiresGrad', 'pinMemory']);
  const dtype = o.dtype === undefined ? defaultDType : checkDType(op, o.dtype);
  const device = o.device === undefined ? 'cpu' : checkDevice(op, o.device);
  for (const k of ['requiresGrad', 'pinMemory'] as const) {
    if (o[k] !== undefined && typeof o[k] !== 'boolean') throw new TypeError(`${op}: ${k} must be a boolean, got ${describe(o[k])}`);
  }
  if (o.pinMemory === true && device !== 'cpu') throw new RangeError(`${op}: pinMemory applies to cpu tensors only, device is ${device}`);
  if (o.requiresGrad === true && !isFloating(dtype)) throw new RangeError(`${op}: only floating-point tensors can require gradients, dtype is ${dtype}`);
  return { dtype, device, requiresGrad: o.requiresGrad === true, pinMemory: o.pinMemory === true };
}

/**
 * A tensor from numbers, booleans, nested arrays of them or a typed array. Int32Array data defaults
 * to int32, booleans to bool, all else to float32.
 *
 * @example
 * ```ts
 * const a = hy.tensor([[1, 2], [3, 4]]); // float32, shape [2, 2]
 * const i = hy.tensor(new Int32Array([0, 2])); // int32
 * const w = hy.tensor([1, 2, 3, 4], { shape: [2, 2], requiresGrad: true });
 * ```
 */
export function tensor(data: TensorData | boolean | NestedBooleans, opts?: TensorOptions & { shape?: number[] }): Tensor {
  const rest = opts === undefined ? undefined : checkOptions('tensor', opts, ['dtype', 'device', 'requiresGrad', 'pinMemory', 'shape']);
  const shapeOpt = rest?.shape;
  if (rest !== undefined) delete rest.shape;
  let values: ArrayLike<number>;
  let shape: number[];
  let defaultDType: DType = 'float32';
  if (ArrayBuffer.isView(data)) {
    if (data instanceof DataView || typeof (data as unknown as { BYTES_PER_ELEMENT?: unknown }).BYTES_PER_ELEMENT !== 'number') {
      throw new TypeError(`tensor: data must be a numeric typed array, got ${describe(data)}`);
    }
    if (data instanceof BigInt64Array || data instanceof BigUint64Array) throw new TypeError('tensor: BigInt arrays are not supported');
    if (isDetachedBuffer(viewBuffer(data))) {
      // A transferred buffer's views read as empty: say why, rather than make an empty tensor.
      throw new TypeError(`tensor: data must be a typed array over a live buffer, got ${describe(data)} (it was transferred, by postMessage or structuredClone with transfer; copy the data before transferring it)`);
    }
    values = data as ArrayLike<number>;
    shape = [values.length];
    if (data instanceof Int32Array) defaultDType = 'int32';
  } else if (typeof data === 'number' || typeof data === 'boolean') {
    values = [Number(data)];
    shape = [];
    if (typeof data === 'boolean') defaultDType = 'bool';
  } else if (Array.isArray(data)) {
    shape = inferShape(data as NestedNumbers);
    const flat: number[] = [];
    const bools = { seen: false };
    flatten('tensor', data as NestedNumbers, shape, flat, 0, bools);
    values = flat;
    if (bools.seen) defaultDType = 'bool';
  } else {
    throw new TypeError(`tensor: data must be a number, a nested array of numbers or a typed array, got ${describe(data)}`);
  }
  const o = creationOptions('tensor', rest, defaultDType);
  if (shapeOpt !== undefined) {
    const s = checkShape('tensor', shapeOpt);
    if (numelOf(s) !== values.length) {
      throw new RangeError(`tensor: shape ${describe(s)} holds ${numelOf(s)} elements but the data has ${values.length}`);
    }
    shape = s;
  }
  let host: Float32Array | Int32Array | Uint8Array;
  if (o.dtype === 'bool') {
    host = new Uint8Array(values.length);
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (typeof v !== 'number') throw new TypeError(`tensor: ${describe(v)} at index ${i} is not a number or a boolean`);
      host[i] = v !== 0 ? 1 : 0; // nonzero (NaN included) is true, as in PyTorch
    }
  } else if (o.dtype === 'int32') {
    host = new Int32Array(values.length);
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (typeof v !== 'number' || !Number.isFinite(v) || v < -2147483648 || v > 2147483647) {
        throw new RangeError(`tensor: ${describe(v)} at index ${i} does not fit in int32`);
      }
      host[i] = Math.trunc(v);
    }
  } else {
    host = values instanceof Float32Array ? values : Float32Array.from(values);
  }
  const t = allocTensor('tensor', shape, o.dtype, o.device, o.pinMemory);
  try {
    native.write(t.live('tensor'), o.dtype, host);
  } catch (e) {
    t.dispose();
    throw e;
  }
  t.requiresGrad = o.requiresGrad;
  return t;
}

/**
 * A shape as the factories take it: an array (`zeros([2, 3])`), or the sizes as arguments
 * (`zeros(2, 3)`), either followed by options.
 */
export type ShapeArgs = [shape: number | readonly number[], opts?: TensorOptions] | number[] | [...sizes: number[], opts: TensorOptions];

function shapeAndOptions(op: string, args: readonly unknown[]): [unknown, TensorOptions | undefined] {
  if (args.length === 0) throw new TypeError(`${op}: expects a shape (an array of sizes, or sizes as arguments)`);
  if (Array.isArray(args[0])) {
    if (args.length > 2) throw new TypeError(`${op}: expects (shape, options), got ${args.length} arguments`);
    return [args[0], args[1] as TensorOptions | undefined];
  }
  const last = args[args.length - 1];
  const hasOpts = args.length > 1 && (last === undefined || (typeof last === 'object' && last !== null));
  const sizes = hasOpts ? args.slice(0, -1) : args.slice();
  return [sizes.length === 1 ? sizes[0] : sizes, (hasOpts ? last : undefined) as TensorOptions | undefined];
}

/**
 * An uninitialised tensor: its values are whatever the memory held.
 *
 * @example
 * ```ts
 * const out = hy.empty([2, 3]); // or hy.empty(2, 3); the values are arbitrary
 * ```
 */
export function empty(...args: ShapeArgs): Tensor {
  const [shape, opts] = shapeAndOptions('empty', args);
  const s = checkShape('empty', shape);
  const o = creationOptions('empty', opts, 'float32');
  const t = allocTensor('empty', s, o.dtype, o.device, o.pinMemory);
  t.requiresGrad = o.requiresGrad;
  return t;
}

function filled(op: string, shape: number | number[], value: number, opts: TensorOptions | undefined): Tensor {
  const s = checkShape(op, shape);
  if (typeof value !== 'number') throw new TypeError(`${op}: value must be a number, got ${describe(value)}`);
  const o = creationOptions(op, opts, 'float32');
  if (o.dtype === 'int32' && (!Number.isFinite(value) || value < -2147483648 || value > 2147483647)) {
    throw new RangeError(`${op}: ${describe(value)} does not fit in int32`);
  }
  const t = allocTensor(op, s, o.dtype, o.device, o.pinMemory);
  native.run('fill', { out: t.live(op), dtype: o.dtype, n: t.numel, value });
  t.requiresGrad = o.requiresGrad;
  return t;
}

/**
 * A tensor of `shape` with `value` everywhere.
 *
 * @example
 * ```ts
 * hy.full([2, 2], 0.5); // [[0.5, 0.5], [0.5, 0.5]]
 * ```
 */
export function full(shape: number | number[], value: number, opts?: TensorOptions): Tensor {
  return filled('full', shape, value, opts);
}

/**
 * Zeros: `zeros([2, 3])` or `zeros(2, 3)`, with options last.
 *
 * @example
 * ```ts
 * const z = hy.zeros(2, 3, { dtype: 'int32' }); // as hy.zeros([2, 3], { dtype: 'int32' })
 * ```
 */
export function zeros(...args: ShapeArgs): Tensor {
  const [shape, opts] = shapeAndOptions('zeros', args);
  return filled('zeros', shape as number[], 0, opts);
}

/**
 * Ones: `ones([2, 3])` or `ones(2, 3)`, with options last.
 *
 * @example
 * ```ts
 * const w = hy.ones([4], { requiresGrad: true });
 * ```
 */
export function ones(...args: ShapeArgs): Tensor {
  const [shape, opts] = shapeAndOptions('ones', args);
  return filled('ones', shape as number[], 1, opts);
}

/** @internal The Philox counters to fill t with (takeCounters); t is disposed when they are refused. */
export function countersFor(t: Tensor, op: string): [number, number] {
  try {
    return takeCounters(t.numel, op);
  } catch (e) {
    t.dispose();
    throw e;
  }
}

function randomTensor(op: string, kind: 'uniform' | 'normal', shape: number | number[], opts: TensorOptions | undefined, a: number, b: number): Tensor {
  const s = checkShape(op, shape);
  const o = creationOptions(op, opts, 'float32');
  if (!isFloating(o.dtype)) throw new RangeError(`${op}: dtype must be floating point, got ${o.dtype}`);
  const t = allocTensor(op, s, o.dtype, o.device, o.pinMemory);
  const [seed, offset] = countersFor(t, op);
  native.run('random', { out: t.live(op), dtype: o.dtype, n: t.numel, kind, seed, offset, a, b });
  t.requiresGrad = o.requiresGrad;
  return t;
}

/**
 * Uniform values in [0, 1) from the global Philox generator (see manualSeed).
 *
 * @example
 * ```ts
 * hy.manualSeed(0);
 * const u = hy.rand([2, 3]); // uniform in [0, 1), the same after every manualSeed(0)
 * ```
 */
export function rand(...args: ShapeArgs): Tensor {
  const [shape, opts] = shapeAndOptions('rand', args);
  return randomTensor('rand', 'uniform', shape as number[], opts, 0, 1);
}

/**
 * Standard normal values from the global Philox generator (see manualSeed).
 *
 * @example
 * ```ts
 * const w = hy.randn(784, 10, { requiresGrad: true });
 * ```
 */
export function randn(...args: ShapeArgs): Tensor {
  const [shape, opts] = shapeAndOptions('randn', args);
  return randomTensor('randn', 'normal', shape as number[], opts, 0, 1);
}
