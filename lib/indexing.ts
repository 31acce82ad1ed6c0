// Shape and indexing ops: permute/transpose, squeeze/unsqueeze, expand, narrow/slice/select,
// cat/stack/split/chunk, indexSelect/index/gather/scatterAdd. Every tensor here is contiguous, so
// the ops that are views in PyTorch (transpose, narrow, expand, ...) are copies made by one
// strided-copy kernel (ops/shape.h); reshape, squeeze and unsqueeze stay views sharing storage.
// Each is differentiable where PyTorch's is; the gradient of a copy is the copy back (or a
// scatter into zeros), recorded with record() since these ops keep their input's dtype.
import { needsGrad, record } from './autograd';
import { describe } from './errors';
import { native } from './native';
import { contiguousStrides, reshape, sumToShape } from './ops';
import { allocTensor, cloneRaw, convertRaw, numelOf, Tensor } from './tensor';
import { fail, integerArg, sameDevice, tensorArg } from './validate';

/** dim wrapped into [0, ndim) (ndim 0 accepts -1 and 0 where `allowScalar`), or a RangeError. */
export function dimArg(op: string, name: string, v: unknown, ndim: number, extra = 0): number {
  const d = integerArg(op, name, v);
  const n = Math.max(ndim + extra, 1);
  if (d < -n || d >= n) fail('range', op, name, `an integer from ${-n} to ${n - 1} for a tensor of ${ndim} dimensions`, d);
  return d < 0 ? d + n : d;
}

/** A new zero-filled tensor like `shape` of x's dtype and device. */
function zerosOf(op: string, shape: readonly number[], like: Tensor): Tensor {
  const t = allocTensor(op, shape.slice(), like.dtype, like.device);
  if (t.numel > 0) native.run('fill', { out: t.live(op), dtype: t.dtype, n: t.numel, value: 0 });
  return t;
}

/**
 * Copies the strided view (shape, strides, offset) of x's storage into `out` at its own
 * (strides, offset); default: a new contiguous tensor of `shape`.
 */
export function stridedCopy(
  op: string,
  x: Tensor,
  shape: readonly number[],
  strides: readonly number[],
  offset: number,
  out?: { t: Tensor; strides: readonly number[]; offset: number },
): Tensor {
  const dst = out?.t ?? allocTensor(op, shape.slice(), x.dtype, x.device);
  if (numelOf(shape) > 0) {
    // Merge dimensions both sides walk contiguously, and drop extents of 1: fewer index steps.
    const s: number[] = [];
    const sx: number[] = [];
    const so: number[] = [];
    const os = out?.strides ?? contiguousStrides(shape);
    for (let i = 0; i < shape.length; i++) {
      if (shape[i] === 1) continue;
      const k = s.length - 1;
      if (k >= 0 && sx[k] === strides[i] * shape[i] && so[k] === os[i] * shape[i]) {
        s[k] *= shape[i];
        sx[k] = strides[i];
        so[k] = os[i];
      } else {
        s.push(shape[i]);
        sx.push(strides[i]);
        so.push(os[i]);
      }
    }
    if (s.length > 8) throw new RangeError(`${op}: at most 8 dimensions that cannot be merged are supported, got ${s.length}`);
    native.run('stridedCopy', {
      x: x.live(op), out: dst.live(op), dtype: x.dtype, shape: s, stridesX: sx, offsetX: offset, stridesOut: so, offsetOut: out?.offset ?? 0,
    });
  }
  return dst;
}

// ---- permute, transpose ----

function permuteRaw(x: Tensor, dims: readonly number[]): Tensor {
  const st = contiguousStrides(x.shape);
  return stridedCopy('permute', x, dims.map((d) => x.shape[d]), dims.map((d) => st[d]), 0);
}

/**
 * x with its dimensions reordered: out.shape[i] = x.shape[dims[i]] (a copy).
 *
 * @example
 * ```ts
 * const y = hy.permute(hy.randn([2, 3, 4]), [2, 0, 1]); // shape [4, 2, 3]
 * ```
 */
export function permute(x: Tensor, dims: number[]): Tensor {
  const op = 'permute';
  tensorArg(op, 'input', x);
  if (!Array.isArray(dims)) fail('type', op, 'dims', 'an array of integers', dims);
  if (dims.length !== x.ndim) fail('range', op, 'dims', `${x.ndim} dimensions (one per input dimension)`, dims);
  const seen = new Set<number>();
  const norm = dims.map((d, i) => {
    const n = dimArg(op, `dims[${i}]`, d, x.ndim);
    if (seen.has(n)) fail('range', op, 'dims', 'a permutation (each dimension once)', dims);
    seen.add(n);
    return n;
  });
  const out = permuteRaw(x, norm);
  if (needsGrad(x)) {
    const inverse = new Array<number>(norm.length);
    norm.forEach((d, i) => (inverse[d] = i));
    record(out, op, [x], (g) => [permuteRaw(g, inverse)]);
  }
  return out;
}

/**
 * x with dimensions dim0 and dim1 swapped (a copy).
 *
 * @example
 * ```ts
 * hy.transpose(hy.randn([2, 3, 4]), 0, 2); // shape [4, 3, 2]
 * ```
 */
export function transpose(x: Tensor, dim0: number, dim1: number): Tensor {
  const op = 'transpose';
  tensorArg(op, 'input', x);
  const a = dimArg(op, 'dim0', dim0, x.ndim);
  const b = dimArg(op, 'dim1', dim1, x.ndim);
  if (x.ndim === 0) return x.aliasAs([]);
  const dims = x.shape.map((_, i) => (i === a ? b : i === b ? a : i));
  return permute(x, dims);
}

/**
 * The transpose of a matrix (0-d and 1-d tensors are returned as they are, as in PyTorch).
 *
 * @example
 * ```ts
 * hy.t(hy.randn([2, 3])); // shape [3, 2]
 * ```
 */
export function t(x: Tensor): Tensor {
  tensorArg('t', 'input', x);
  if (x.ndim > 2) throw new RangeError(`t: expects a tensor of at most 2 dimensions, got ${x.ndim} (use transpose or permute)`);
  return x.ndim < 2 ? reshape(x, x.shape.slice()) : transpose(x, 0, 1);
}

/**
 * x itself: every hayate tensor is contiguous (the ops PyTorch makes views copy instead).
 *
 * @example
 * ```ts
 * const x = hy.t(hy.randn([2, 3]));
 * hy.contiguous(x) === x; // true
 * ```
 */
export function contiguous(x: Tensor): Tensor {
  tensorArg('contiguous', 'input', x);
  return x;
}

// ---- squeeze, unsqueeze, expand ----

/**
 * x without its size-1 dimensions (or only `dim`, if it has size 1). A view.
 *
 * @example
 * ```ts
 * const x = hy.zeros([2, 1, 3, 1]);
 * hy.squeeze(x); // shape [2, 3]; hy.squeeze(x, 1) has shape [2, 3, 1]
 * ```
 */
export function squeeze(x: Tensor, dim?: number | number[]): Tensor {
  const op = 'squeeze';
  tensorArg(op, 'input', x);
  if (dim === undefined) return reshape(x, x.shape.filter((d) => d !== 1));
  const list = (Array.isArray(dim) ? dim : [dim]).map((d, i) => dimArg(op, Array.isArray(dim) ? `dim[${i}]` : 'dim', d, x.ndim));
  return reshape(x, x.shape.filter((d, i) => !(d === 1 && list.includes(i))));
}

/**
 * x with a size-1 dimension inserted at dim (from -ndim-1 to ndim). A view.
 *
 * @example
 * ```ts
 * hy.unsqueeze(hy.zeros([2, 3]), 0); // shape [1, 2, 3]; dim -1 gives [2, 3, 1]
 * ```
 */
export function unsqueeze(x: Tensor, dim: number): Tensor {
  const op = 'unsqueeze';
  tensorArg(op, 'input', x);
  const d = dimArg(op, 'dim', dim, x.ndim, 1);
  const shape = x.shape.slice();
  shape.splice(d, 0, 1);
  return reshape(x, shape);
}

/**
 * x repeated along its size-1 dimensions (and new leading ones) to `shape`; -1 keeps a size. A copy.
 *
 * @example
 * ```ts
 * hy.expand(hy.tensor([[1], [2]]), [2, 3]); // [[1, 1, 1], [2, 2, 2]]
 * ```
 */
export function expand(x: Tensor, shape: number[]): Tensor {
  const op = 'expand';
  tensorArg(op, 'input', x);
  if (!Array.isArray(shape)) fail('type', op, 'shape', 'an array of integers', shape);
  if (shape.length < x.ndim) fail('range', op, 'shape', `at least ${x.ndim} dimensions (the input's)`, shape);
  const off = shape.length - x.ndim;
  const own = contiguousStrides(x.shape);
  const target: number[] = [];
  const strides: number[] = [];
  shape.forEach((s, i) => {
    integerArg(op, `shape[${i}]`, s);
    const src = i < off ? undefined : x.shape[i - off];
    if (s === -1) {
      if (src === undefined) fail('range', op, `shape[${i}]`, 'a size (-1 only keeps an existing dimension)', s);
      target.push(src);
      strides.push(own[i - off]);
      return;
    }
    if (s < 0) fail('range', op, `shape[${i}]`, 'a non-negative size or -1', s);
    if (src !== undefined && src !== 1 && src !== s) {
      throw new RangeError(`${op}: the input's size ${src} at dimension ${i - off} cannot expand to ${s} (only size-1 dimensions expand)`);
    }
    target.push(s);
    strides.push(src === undefined || (src === 1 && s !== 1) ? 0 : own[i - off]);
  });
  const out = stridedCopy(op, x, target, strides, 0);
  if (needsGrad(x)) {
    const inShape = x.shape;
    record(out, op, [x], (g) => {
      const r = sumToShape(g, inShape);
      return [r === g ? cloneRaw(g) : r];
    });
  }
  return out;
}

// ---- narrow, slice, select ----

/** Copies elements [start, start + step * count) along dim of x (a slice with a step). */
function sliceRaw(x: Tensor, dim: number, start: number, count: number, step: number, keepDim: boolean): Tensor {
  const st = contiguousStrides(x.shape);
  const shape = x.shape.slice();
  shape[dim] = count;
  const strides = st.slice();
  strides[dim] = st[dim] * step;
  const out = stridedCopy('slice', x, shape, strides, start * st[dim]);
  if (keepDim) return out;
  const r = out.aliasAs(shape.filter((_, i) => i !== dim));
  out.dispose();
  return r;
}

/** The gradient of a slice: g copied into zeros of the input's shape at the slice's elements. */
function sliceBackward(op: string, g: Tensor, inShape: readonly number[], dim: number, start: number, count: number, step: number): Tensor {
  const out = zerosOf(op, inShape, g);
  const st = contiguousStrides(inShape);
  const shape = inShape.slice();
  shape[dim] = count;
  const strides = st.slice();
  strides[dim] = st[dim] * step;
  const gs = contiguousStrides(shape);
  return stridedCopy(op, g, shape, gs, 0, { t: out, strides, offset: start * st[dim] });
}

function recordSlice(op: string, out: Tensor, x: Tensor, dim: number, start: number, count: number, step: number): Tensor {
  if (needsGrad(x)) {
    const inShape = x.shape;
    const keptShape = inShape.slice();
    keptShape[dim] = count;
    record(out, op, [x], (g) => {
      const gk = g.aliasAs(keptShape, false);
      try {
        return [sliceBackward(op, gk, inShape, dim, start, count, step)];
      } finally {
        gk.dispose();
      }
    });
  }
  return out;
}

/**
 * Elements [start, start + length) along dim (a copy).
 *
 * @example
 * ```ts
 * hy.narrow(hy.arange(10), 0, 2, 3); // [2, 3, 4]
 * ```
 */
export function narrow(x: Tensor, dim: number, start: number, length: number): Tensor {
  const op = 'narrow';
  tensorArg(op, 'input', x);
  if (x.ndim === 0) throw new RangeError(`${op}: the input must have at least one dimension`);
  const d = dimArg(op, 'dim', dim, x.ndim);
  const size = x.shape[d];
  let s = integerArg(op, 'start', start);
  if (s < -size || s > size) fail('range', op, 'start', `an index from ${-size} to ${size} (dimension ${d} has size ${size})`, start);
  if (s < 0) s += size;
  const len = integerArg(op, 'length', length);
  if (len < 0 || s + len > size) fail('range', op, 'length', `from 0 to ${size - s} (start ${s} of size ${size})`, length);
  return recordSlice(op, sliceRaw(x, d, s, len, 1, true), x, d, s, len, 1);
}

export interface SliceOptions {
  start?: number;
  end?: number;
  step?: number;
}

/**
 * Python's x[..., start:end:step, ...] along dim: negative indices count from the end and
 * out-of-range bounds clamp, as in PyTorch; step is positive. A copy.
 *
 * @example
 * ```ts
 * hy.slice(hy.arange(10), 0, 1, -1, 3); // [1, 4, 7], as x[1:-1:3]
 * ```
 */
export function slice(x: Tensor, dim: number, start?: number | null, end?: number | null, step = 1): Tensor {
  const op = 'slice';
  tensorArg(op, 'input', x);
  if (x.ndim === 0) throw new RangeError(`${op}: the input must have at least one dimension`);
  const d = dimArg(op, 'dim', dim, x.ndim);
  const size = x.shape[d];
  const st = integerArg(op, 'step', step);
  if (st < 1) fail('range', op, 'step', 'a positive integer (negative steps are not supported, as in PyTorch)', step);
  const bound = (name: string, v: number | null | undefined, dflt: number): number => {
    if (v === undefined || v === null) return dflt;
    const i = integerArg(op, name, v);
    const w = i < 0 ? i + size : i;
    return Math.min(Math.max(w, 0), size);
  };
  const s = bound('start', start, 0);
  const e = Math.max(bound('end', end, size), s);
  const count = Math.ceil((e - s) / st);
  return recordSlice(op, sliceRaw(x, d, s, count, st, true), x, d, s, count, st);
}

/**
 * The slice at `index` along dim, without that dimension (x[..., index, ...]). A copy.
 *
 * @example
 * ```ts
 * hy.select(hy.tensor([[1, 2], [3, 4]]), 1, 0); // [1, 3], as x[:, 0]
 * ```
 */
export function select(x: Tensor, dim: number, index: number): Tensor {
  const op = 'select';
  tensorArg(op, 'input', x);
  if (x.ndim === 0) throw new RangeError(`${op}: the input must have at least one dimension`);
  const d = dimArg(op, 'dim', dim, x.ndim);
  const size = x.shape[d];
  const i = integerArg(op, 'index', index);
  if (i < -size || i >= size) fail('range', op, 'index', `an index from ${-size} to ${size - 1} (dimension ${d} has size ${size})`, index);
  const at = i < 0 ? i + size : i;
  return recordSlice(op, sliceRaw(x, d, at, 1, 1, false), x, d, at, 1, 1);
}

// ---- cat, stack, split, chunk ----

function tensorList(op: string, v: unknown): Tensor[] {
  if (!Array.isArray(v)) fail('type', op, 'tensors', 'an array of Tensors', v);
  if (v.length === 0) fail('range', op, 'tensors', 'a non-empty array', v);
  return v.map((t, i) => tensorArg(op, `tensors[${i}]`, t));
}

/**
 * The tensors joined along dim; all share dtype, device and every other size.
 *
 * @example
 * ```ts
 * hy.cat([hy.zeros([2, 3]), hy.ones([1, 3])]); // shape [3, 3]
 * hy.cat([hy.zeros([2, 3]), hy.ones([2, 1])], 1); // shape [2, 4]
 * ```
 */
export function cat(tensors: Tensor[], dim = 0): Tensor {
  const op = 'cat';
  const list = tensorList(op, tensors);
  const first = list[0];
  if (first.ndim === 0) throw new RangeError(`${op}: zero-dimensional tensors cannot be concatenated (use stack)`);
  const d = dimArg(op, 'dim', dim, first.ndim);
  list.forEach((t, i) => {
    sameDevice(op, 'tensors[0]', first, `tensors[${i}]`, t);
    if (t.dtype !== first.dtype) fail('type', op, `tensors[${i}]`, `of dtype ${first.dtype} like tensors[0]`, t.dtype);
    if (t.ndim !== first.ndim || t.shape.some((s, k) => k !== d && s !== first.shape[k])) {
      throw new RangeError(`${op}: tensors[${i}] has shape [${t.shape.join(', ')}], which does not match [${first.shape.join(', ')}] outside dimension ${d}`);
    }
  });
  const outShape = first.shape.slice();
  outShape[d] = list.reduce((a, t) => a + t.shape[d], 0);
  const out = allocTensor(op, outShape, first.dtype, first.device);
  const os = contiguousStrides(outShape);
  let at = 0;
  const starts: number[] = [];
  for (const t of list) {
    starts.push(at);
    stridedCopy(op, t, t.shape, contiguousStrides(t.shape), 0, { t: out, strides: os, offset: at * os[d] });
    at += t.shape[d];
  }
  if (needsGrad(...list)) {
    const sizes = list.map((t) => t.shape[d]);
    record(out, op, list, (g) => sizes.map((n, i) => (list[i].requiresGrad ? sliceRaw(g, d, starts[i], n, 1, true) : null)));
  }
  return out;
}

/**
 * The tensors (all of one shape) stacked along a new dimension dim.
 *
 * @example
 * ```ts
 * hy.stack([hy.zeros([3]), hy.ones([3])]); // shape [2, 3]; along dim 1: [3, 2]
 * ```
 */
export function stack(tensors: Tensor[], dim = 0): Tensor {
  const op = 'stack';
  const list = tensorList(op, tensors);
  const d = dimArg(op, 'dim', dim, list[0].ndim, 1);
  list.forEach((t, i) => {
    if (t.ndim !== list[0].ndim || t.shape.some((s, k) => s !== list[0].shape[k])) {
      throw new RangeError(`${op}: tensors[${i}] has shape [${t.shape.join(', ')}], all must have tensors[0]'s [${list[0].shape.join(', ')}]`);
    }
  });
  const views = list.map((t) => unsqueeze(t, d));
  try {
    return cat(views, d);
  } finally {
    for (const v of views) v.dispose();
  }
}

/**
 * x cut along dim into pieces of `splitSize` (the last may be smaller), or of the sizes listed
 * (which must sum to the dimension's size).
 *
 * @example
 * ```ts
 * hy.split(hy.arange(5), 2); // [0, 1], [2, 3], [4]
 * const [a, b] = hy.split(hy.arange(5), [2, 3]); // [0, 1] and [2, 3, 4]
 * ```
 */
export function split(x: Tensor, splitSize: number | number[], dim = 0): Tensor[] {
  const op = 'split';
  tensorArg(op, 'input', x);
  if (x.ndim === 0) throw new RangeError(`${op}: the input must have at least one dimension`);
  const d = dimArg(op, 'dim', dim, x.ndim);
  const size = x.shape[d];
  let sizes: number[];
  if (Array.isArray(splitSize)) {
    sizes = splitSize.map((s, i) => {
      const n = integerArg(op, `splitSize[${i}]`, s);
      if (n < 0) fail('range', op, `splitSize[${i}]`, 'a non-negative size', s);
      return n;
    });
    const total = sizes.reduce((a, b) => a + b, 0);
    if (total !== size) throw new RangeError(`${op}: the sizes ${describe(splitSize)} sum to ${total}, dimension ${d} has size ${size}`);
  } else {
    const n = integerArg(op, 'splitSize', splitSize);
    if (n < 1) fail('range', op, 'splitSize', 'a positive integer', splitSize);
    sizes = [];
    for (let s = 0; s < size; s += n) sizes.push(Math.min(n, size - s));
    if (sizes.length === 0) sizes.push(0);
  }
  const out: Tensor[] = [];
  let at = 0;
  for (const n of sizes) {
    out.push(narrow(x, d, at, n));
    at += n;
  }
  return out;
}

/**
 * x cut along dim into `chunks` pieces of ceil(size / chunks) (fewer when the size runs out).
 *
 * @example
 * ```ts
 * hy.chunk(hy.arange(5), 2); // [0, 1, 2], [3, 4]
 * ```
 */
export function chunk(x: Tensor, chunks: number, dim = 0): Tensor[] {
  const op = 'chunk';
  tensorArg(op, 'input', x);
  const n = integerArg(op, 'chunks', chunks);
  if (n < 1) fail('range', op, 'chunks', 'a positive integer', chunks);
  if (x.ndim === 0) throw new RangeError(`${op}: the input must have at least one dimension`);
  const d = dimArg(op, 'dim', dim, x.ndim);
  return split(x, Math.max(1, Math.ceil(x.shape[d] / n)), d);
}

// ---- indexSelect, index, gather, scatterAdd ----

function indexTensor(op: string, name: string, v: unknown, like: Tensor): Tensor {
  const idx = tensorArg(op, name, v);
  if (idx.dtype !== 'int32') fail('type', op, name, 'an int32 tensor of indices', `a ${idx.dtype} tensor`);
  sameDevice(op, 'input', like, name, idx);
  return idx;
}

function layout3(shape: readonly number[], d: number): { outer: number; size: number; inner: number } {
  return { outer: numelOf(shape.slice(0, d)), size: shape[d], inner: numelOf(shape.slice(d + 1)) };
}

/** g (shaped [outer, count, inner]) added into zeros of inShape at the indices: the gradient of a gather. */
function scatterBackward(op: string, g: Tensor, index: Tensor, inShape: readonly number[], d: number, perElement: boolean): Tensor {
  const { outer, size, inner } = layout3(inShape, d);
  const count = perElement ? index.shape[d] : index.numel;
  const acc = allocTensor(op, inShape.slice(), 'float32', g.device);
  if (acc.numel > 0) native.run('fill', { out: acc.live(op), dtype: 'float32', n: acc.numel, value: 0 });
  const src = convertRaw(g, 'float32', false);
  try {
    native.run('indexAdd', { src: src.live(op), index: index.live(op), out: acc.live(op), dtype: 'float32', outer, size, inner, count, perElement });
  } finally {
    if (src !== g) src.dispose();
  }
  if (g.dtype === 'float32') return acc;
  const r = convertRaw(acc, g.dtype, false);
  acc.dispose();
  return r;
}

/**
 * The slices of x along dim at the (int32, 1-d) indices, in their order.
 *
 * @example
 * ```ts
 * const rows = hy.tensor(new Int32Array([2, 0]));
 * hy.indexSelect(hy.tensor([[1, 2], [3, 4], [5, 6]]), 0, rows); // [[5, 6], [1, 2]]
 * ```
 */
export function indexSelect(x: Tensor, dim: number, index: Tensor): Tensor {
  const op = 'indexSelect';
  tensorArg(op, 'input', x);
  const d = dimArg(op, 'dim', dim, x.ndim);
  const idx = indexTensor(op, 'index', index, x);
  if (idx.ndim > 1) fail('range', op, 'index', 'a 0-d or 1-d tensor', `a tensor of shape [${idx.shape.join(', ')}]`);
  if (x.ndim === 0) throw new RangeError(`${op}: the input must have at least one dimension`);
  const outShape = x.shape.slice();
  outShape[d] = idx.numel;
  const out = gatherRaw(op, x, d, idx, false, outShape);
  return recordGather(op, out, x, d, idx, false);
}

function gatherRaw(op: string, x: Tensor, d: number, idx: Tensor, perElement: boolean, outShape: number[]): Tensor {
  const { outer, size, inner } = layout3(x.shape, d);
  const count = perElement ? idx.shape[d] : idx.numel;
  const out = allocTensor(op, outShape, x.dtype, x.device);
  native.run('indexSelect', { x: x.live(op), index: idx.live(op), out: out.live(op), dtype: x.dtype, outer, size, inner, count, perElement });
  return out;
}

function recordGather(op: string, out: Tensor, x: Tensor, d: number, idx: Tensor, perElement: boolean): Tensor {
  if (needsGrad(x)) {
    const inShape = x.shape;
    const savedIndex = idx.saveForBackward();
    record(out, op, [x], (g) => [scatterBackward(op, g, savedIndex, inShape, d, perElement)], [savedIndex]);
  }
  return out;
}

/**
 * x[index] along the first dimension for an int32 index tensor of any shape: the result has shape
 * index.shape + x.shape[1:], as PyTorch's advanced indexing on dim 0.
 *
 * @example
 * ```ts
 * const ids = hy.tensor(new Int32Array([3, 1, 4, 1]), { shape: [2, 2] });
 * hy.index(hy.randn([10, 16]), ids); // shape [2, 2, 16]
 * ```
 */
export function index(x: Tensor, indices: Tensor): Tensor {
  const op = 'index';
  tensorArg(op, 'input', x);
  const idx = indexTensor(op, 'indices', indices, x);
  if (x.ndim === 0) throw new RangeError(`${op}: a zero-dimensional tensor cannot be indexed`);
  const flat = idx.aliasAs([idx.numel], false);
  try {
    const picked = indexSelect(x, 0, flat);
    const out = reshape(picked, [...idx.shape, ...x.shape.slice(1)]);
    picked.dispose();
    return out;
  } finally {
    flat.dispose();
  }
}

/**
 * out[i][j][k] = x[index[i][j][k]][j][k] for dim 0 (and so on): index has x's shape except along dim.
 *
 * @example
 * ```ts
 * const x = hy.tensor([[1, 2], [3, 4]]);
 * hy.gather(x, 1, hy.tensor([[1], [0]], { dtype: 'int32' })); // [[2], [3]]
 * ```
 */
export function gather(x: Tensor, dim: number, index: Tensor): Tensor {
  const op = 'gather';
  tensorArg(op, 'input', x);
  const d = dimArg(op, 'dim', dim, x.ndim);
  const idx = indexTensor(op, 'index', index, x);
  if (x.ndim === 0) throw new RangeError(`${op}: the input must have at least one dimension`);
  checkGatherShape(op, x, d, idx, 'index');
  const out = gatherRaw(op, x, d, idx, true, idx.shape.slice());
  return recordGather(op, out, x, d, idx, true);
}

function checkGatherShape(op: string, x: Tensor, d: number, idx: Tensor, name: string): void {
  const ok = idx.ndim === x.ndim && idx.shape.every((s, k) => k === d || s === x.shape[k]);
  if (!ok) {
    throw new RangeError(`${op}: ${name} has shape [${idx.shape.join(', ')}]; it must match the input's [${x.shape.join(', ')}] outside dimension ${d}`);
  }
}

/**
 * A copy of x with src added at index along dim: out[index[i][j]][j] += src[i][j] for dim 0.
 *
 * @example
 * ```ts
 * const idx = hy.tensor(new Int32Array([0, 1, 0]));
 * hy.scatterAdd(hy.zeros([2]), 0, idx, hy.tensor([1, 2, 3])); // [4, 2]
 * ```
 */
export function scatterAdd(x: Tensor, dim: number, index: Tensor, src: Tensor): Tensor {
  const op = 'scatterAdd';
  tensorArg(op, 'input', x);
  const d = dimArg(op, 'dim', dim, x.ndim);
  const idx = indexTensor(op, 'index', index, x);
  const s = tensorArg(op, 'src', src);
  sameDevice(op, 'input', x, 'src', s);
  if (s.dtype !== x.dtype) fail('type', op, 'src', `of dtype ${x.dtype} like the input`, s.dtype);
  if (x.dtype !== 'float32' && x.dtype !== 'float16') fail('type', op, 'input', 'a float32 or float16 tensor', `a ${x.dtype} tensor`);
  if (x.ndim === 0) throw new RangeError(`${op}: the input must have at least one dimension`);
  checkGatherShape(op, x, d, idx, 'index');
  if (s.ndim !== idx.ndim || s.shape.some((n, k) => n !== idx.shape[k])) {
    throw new RangeError(`${op}: src has shape [${s.shape.join(', ')}]; it must match index's [${idx.shape.join(', ')}]`);
  }
  const { outer, size, inner } = layout3(x.shape, d);
  const acc = convertRaw(x, 'float32', true);
  const src32 = convertRaw(s, 'float32', false);
  try {
    native.run('indexAdd', { src: src32.live(op), index: idx.live(op), out: acc.live(op), dtype: 'float32', outer, size, inner, count: idx.shape[d], perElement: true });
  } finally {
    if (src32 !== s) src32.dispose();
  }
  let out = acc;
  if (x.dtype !== 'float32') {
    out = convertRaw(acc, x.dtype, false);
    acc.dispose();
  }
  if (needsGrad(x, s)) {
    const savedIndex = idx.saveForBackward();
    record(out, op, [x, s], (g) => [
      x.requiresGrad ? cloneRaw(g) : null,
      s.requiresGrad ? gatherRaw(op, g, d, savedIndex, true, savedIndex.shape.slice()) : null,
    ], [savedIndex]);
  }
  return out;
}
