// Creation ops beyond tensor/zeros/ones/full/rand/randn: ranges (arange, linspace), eye, the *Like
// family, randint and randperm. Values are made on the target device by kernels (range, fill,
// strided copy, random), so nothing crosses the bus but randperm's permutation.
import { DType, isFloating } from './dtype';
import { stridedCopy } from './indexing';
import { native } from './native';
import { allocTensor, checkOptions, checkShape, countersFor, empty, full, ones, rand, randn, tensor, Tensor, TensorOptions, zeros } from './tensor';
import { checkDType, checkDevice } from './dtype';
import { fail, tensorArg } from './validate';

function numberArg(op: string, name: string, v: unknown): number {
  if (typeof v !== 'number') fail('type', op, name, 'a number', v);
  if (!Number.isFinite(v)) fail('range', op, name, 'a finite number', v);
  return v;
}

function creation(op: string, opts: unknown, dflt: DType): { dtype: DType; device: 'cpu' | 'cuda'; requiresGrad: boolean } {
  const o = checkOptions(op, opts, ['dtype', 'device', 'requiresGrad']);
  const dtype = o.dtype === undefined ? dflt : checkDType(op, o.dtype);
  const device = o.device === undefined ? 'cpu' : checkDevice(op, o.device);
  if (o.requiresGrad !== undefined && typeof o.requiresGrad !== 'boolean') fail('type', op, 'requiresGrad', 'a boolean', o.requiresGrad);
  if (o.requiresGrad === true && !isFloating(dtype)) throw new RangeError(`${op}: only floating-point tensors can require gradients, dtype is ${dtype}`);
  return { dtype, device, requiresGrad: o.requiresGrad === true };
}

function rangeTensor(op: string, n: number, dtype: DType, device: 'cpu' | 'cuda', start: number, step: number, end: number, split: number): Tensor {
  const t = allocTensor(op, [n], dtype, device);
  if (n > 0) native.run('range', { out: t.live(op), dtype, n, split, start, step, end });
  return t;
}

/**
 * [start, start + step, ...) up to (not including) end, as PyTorch's arange: arange(end),
 * arange(start, end) or arange(start, end, step). int32 when every argument is an integer and no
 * dtype is given, else float32.
 *
 * @example
 * ```ts
 * hy.arange(5); // int32 [0, 1, 2, 3, 4]
 * hy.arange(0, 1, 0.25); // float32 [0, 0.25, 0.5, 0.75]
 * ```
 */
export function arange(end: number, opts?: TensorOptions): Tensor;
export function arange(start: number, end: number, opts?: TensorOptions): Tensor;
export function arange(start: number, end: number, step: number, opts?: TensorOptions): Tensor;
export function arange(...args: (number | TensorOptions | undefined)[]): Tensor {
  const op = 'arange';
  const last = args[args.length - 1];
  const opts = last !== undefined && typeof last === 'object' ? (args.pop() as TensorOptions) : undefined;
  while (args.length > 0 && args[args.length - 1] === undefined) args.pop();
  if (args.length < 1 || args.length > 3) throw new TypeError(`${op}: expects (end), (start, end) or (start, end, step), got ${args.length} numbers`);
  const nums = args.map((v, i) => numberArg(op, ['start', 'end', 'step'][args.length === 1 ? 1 : i], v));
  const [start, end, step] = nums.length === 1 ? [0, nums[0], 1] : [nums[0], nums[1], nums[2] ?? 1];
  if (step === 0) fail('range', op, 'step', 'nonzero', step);
  if ((end - start) / step < 0) throw new RangeError(`${op}: the step ${step} moves away from end ${end} (start ${start})`);
  const allInt = nums.every((v) => Number.isInteger(v));
  const o = creation(op, opts, allInt ? 'int32' : 'float32');
  const n = Math.max(0, Math.ceil((end - start) / step));
  if (n > 2 ** 31) throw new RangeError(`${op}: ${n} elements are more than 2^31`);
  if (o.dtype === 'bool') fail('type', op, 'dtype', 'a numeric dtype', o.dtype);
  const t = rangeTensor(op, n, o.dtype, o.device, start, step, 0, n);
  t.requiresGrad = o.requiresGrad;
  return t;
}

/**
 * `steps` values evenly spaced from start to end, both included (float32 unless dtype says).
 *
 * @example
 * ```ts
 * hy.linspace(0, 1, 5); // [0, 0.25, 0.5, 0.75, 1]
 * ```
 */
export function linspace(start: number, end: number, steps: number, opts?: TensorOptions): Tensor {
  const op = 'linspace';
  const a = numberArg(op, 'start', start);
  const b = numberArg(op, 'end', end);
  if (typeof steps !== 'number' || !Number.isInteger(steps)) fail('type', op, 'steps', 'an integer', steps);
  if (steps < 0 || steps > 2 ** 31) fail('range', op, 'steps', 'an integer from 0 to 2^31', steps);
  const o = creation(op, opts, 'float32');
  if (o.dtype === 'bool') fail('type', op, 'dtype', 'a numeric dtype', o.dtype);
  const step = steps > 1 ? (b - a) / (steps - 1) : 0;
  // the first half counts up from start, the second down from end: both ends exact (PyTorch's form)
  const t = rangeTensor(op, steps, o.dtype, o.device, a, step, b, Math.floor(steps / 2));
  t.requiresGrad = o.requiresGrad;
  return t;
}

/**
 * The n x m identity (m defaults to n).
 *
 * @example
 * ```ts
 * hy.eye(3); // the 3 x 3 identity
 * hy.eye(2, 3, { dtype: 'int32' }); // [[1, 0, 0], [0, 1, 0]]
 * ```
 */
export function eye(n: number, m?: number | TensorOptions, opts?: TensorOptions): Tensor {
  const op = 'eye';
  if (typeof m === 'object') {
    opts = m;
    m = undefined;
  }
  const rows = checkShape(op, [n])[0];
  const cols = m === undefined ? rows : checkShape(op, [m])[0];
  const o = creation(op, opts, 'float32');
  const t = zeros([rows, cols], { dtype: o.dtype, device: o.device });
  const k = Math.min(rows, cols);
  if (k > 0) {
    const one = full([], 1, { dtype: t.dtype, device: t.device });
    try {
      stridedCopy(op, one, [k], [0], 0, { t, strides: [cols + 1], offset: 0 });
    } finally {
      one.dispose();
    }
  }
  t.requiresGrad = o.requiresGrad;
  return t;
}

/** x's shape and its dtype and device, overridden by opts (checked here so errors name op). */
function likeOptions(op: string, x: unknown, opts: unknown): [number[], TensorOptions] {
  const t = tensorArg(op, 'input', x);
  const o = creation(op, opts, t.dtype);
  const deviceGiven = opts !== undefined && (opts as { device?: unknown }).device !== undefined;
  return [t.shape.slice(), { dtype: o.dtype, device: deviceGiven ? o.device : t.device, requiresGrad: o.requiresGrad || undefined }];
}

/**
 * Zeros of x's shape, dtype and device (options override the dtype and device).
 *
 * @example
 * ```ts
 * const g = hy.zerosLike(weight);
 * ```
 */
export function zerosLike(x: Tensor, opts?: TensorOptions): Tensor {
  const [shape, o] = likeOptions('zerosLike', x, opts);
  return zeros(shape, o);
}
/** Ones like x. @example `hy.onesLike(x)` */
export function onesLike(x: Tensor, opts?: TensorOptions): Tensor {
  const [shape, o] = likeOptions('onesLike', x, opts);
  return ones(shape, o);
}
/** An uninitialised tensor like x. @example `hy.emptyLike(x)` */
export function emptyLike(x: Tensor, opts?: TensorOptions): Tensor {
  const [shape, o] = likeOptions('emptyLike', x, opts);
  return empty(shape, o);
}
/** `value` everywhere, like x. @example `hy.fullLike(x, 0.5)` */
export function fullLike(x: Tensor, value: number, opts?: TensorOptions): Tensor {
  const [shape, o] = likeOptions('fullLike', x, opts);
  return full(shape, value, o);
}
/** Uniform [0, 1) values like x (float32 when x is not floating). @example `hy.randLike(x)` */
export function randLike(x: Tensor, opts?: TensorOptions): Tensor {
  const [shape, o] = likeOptions('randLike', x, opts);
  if (!isFloating(o.dtype!)) o.dtype = 'float32';
  return rand(shape, o);
}
/** Standard normal values like x (float32 when x is not floating). @example `hy.randnLike(x)` */
export function randnLike(x: Tensor, opts?: TensorOptions): Tensor {
  const [shape, o] = likeOptions('randnLike', x, opts);
  if (!isFloating(o.dtype!)) o.dtype = 'float32';
  return randn(shape, o);
}

/**
 * Integers uniform in [low, high) of `shape`, int32, from the global generator: randint(high, shape) or randint(low, high, shape).
 *
 * @example
 * ```ts
 * hy.randint(10, [2, 3]); // int32 in [0, 10)
 * hy.randint(-5, 5, [4]); // int32 in [-5, 5)
 * ```
 */
export function randint(high: number, shape: number | number[], opts?: TensorOptions): Tensor;
export function randint(low: number, high: number, shape: number | number[], opts?: TensorOptions): Tensor;
export function randint(a: number, b: number | number[], c?: number | number[] | TensorOptions, d?: TensorOptions): Tensor {
  const op = 'randint';
  let low = 0;
  let high: number;
  let shape: unknown;
  let opts: unknown;
  if (typeof b === 'number' && (Array.isArray(c) || typeof c === 'number')) {
    low = a;
    high = b;
    shape = c;
    opts = d;
  } else {
    high = a;
    shape = b;
    opts = c;
  }
  for (const [name, v] of [['low', low], ['high', high]] as const) {
    if (typeof v !== 'number' || !Number.isInteger(v)) fail('type', op, name, 'an integer', v);
    if (v < -(2 ** 31) || v > 2 ** 31) fail('range', op, name, "an integer in int32's range", v);
  }
  if (!(high > low)) throw new RangeError(`${op}: high (${high}) must be greater than low (${low})`);
  if (high - low > 2 ** 31) throw new RangeError(`${op}: the range [${low}, ${high}) holds more than 2^31 values`);
  const s = checkShape(op, shape);
  const o = creation(op, opts, 'int32');
  if (o.dtype !== 'int32') fail('type', op, 'dtype', "'int32' (convert the result with .to() for another)", o.dtype);
  if (o.requiresGrad) throw new RangeError(`${op}: integer tensors cannot require gradients`);
  const t = allocTensor(op, s, 'int32', o.device);
  if (t.numel > 0) {
    const [seed, offset] = countersFor(t, op);
    native.run('random', { out: t.live(op), dtype: 'int32', n: t.numel, kind: 'integer', seed, offset, a: low, b: high });
  }
  return t;
}

/**
 * A random permutation of 0..n-1 (int32), from the global generator.
 *
 * @example
 * ```ts
 * hy.randperm(5); // a shuffle of [0, 1, 2, 3, 4], e.g. [3, 0, 4, 1, 2]
 * ```
 */
export function randperm(n: number, opts?: TensorOptions): Tensor {
  const op = 'randperm';
  if (typeof n !== 'number' || !Number.isInteger(n)) fail('type', op, 'n', 'an integer', n);
  if (n < 0 || n > 2 ** 27) fail('range', op, 'n', 'an integer from 0 to 2^27', n);
  const o = creation(op, opts, 'int32');
  if (o.dtype !== 'int32') fail('type', op, 'dtype', "'int32'", o.dtype);
  // Sort random keys on the host: ties (equal float keys) keep index order, so the result is a
  // permutation for any keys, and manualSeed makes it repeatable.
  const keys = rand([n]);
  let k: Float32Array;
  try {
    k = keys.dataSync() as Float32Array;
  } finally {
    keys.dispose();
  }
  const idx = Int32Array.from({ length: n }, (_, i) => i);
  idx.sort((x, y) => k[x] - k[y] || x - y);
  return tensor(idx, { dtype: 'int32', device: o.device });
}

