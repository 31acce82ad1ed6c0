// The Tensor methods of the shape, indexing, comparison and conversion ops (the functions live in
// indexing.ts, compare.ts and nn/functional), so `x.argmax(1).eq(y).float().mean()` reads as in
// PyTorch; and the autograd of to() and clone(), recorded here over the tensor layer's raw forms.
import { isGradEnabled, needsGrad, record } from './autograd';
import * as cmp from './compare';
import type { ClampOptions, DimOptions, ValuesIndices } from './compare';
import { DTYPE_BYTES } from './dtype';
import type { Device, DType } from './dtype';
import { describe } from './errors';
import * as idx from './indexing';
import { logSoftmax, softmax } from './nn/functional/activation';
import { native } from './native';
import { floorDivide, remainder, sigmoid, tanh } from './ops';
import { checkOptions, Tensor } from './tensor';
import type { ToOptions } from './tensor';
import { dimArg } from './indexing';

declare module './tensor' {
  interface Tensor {
    /**
     * floorDivide(this, other): Python's //, int32 for int32 operands.
     *
     * @example
     * ```ts
     * hy.tensor([7, -7], { dtype: 'int32' }).floorDivide(2); // tensor([ 3, -4], dtype=int32)
     * ```
     */
    floorDivide(other: Tensor | number): Tensor;
    /**
     * remainder(this, other): Python's %, with the divisor's sign.
     *
     * @example
     * ```ts
     * hy.tensor([7, -7], { dtype: 'int32' }).remainder(3); // tensor([1, 2], dtype=int32)
     * ```
     */
    remainder(other: Tensor | number): Tensor;
    /**
     * The size of dimension dim, or the whole shape (a copy) without one.
     *
     * @example
     * ```ts
     * const x = hy.zeros([2, 3]);
     * x.size(); // [2, 3]; x.size(1) and x.size(-1) are 3
     * ```
     */
    size(): number[];
    size(dim: number): number;
    /**
     * The number of dimensions (ndim), as PyTorch's dim().
     *
     * @example
     * ```ts
     * hy.zeros([2, 3]).dim(); // 2
     * ```
     */
    dim(): number;
    /**
     * to('float32').
     *
     * @example
     * ```ts
     * hy.arange(3).float(); // float32 [0, 1, 2]
     * ```
     */
    float(): Tensor;
    /**
     * to('float16').
     *
     * @example
     * ```ts
     * hy.randn([2, 2]).half().dtype; // 'float16'
     * ```
     */
    half(): Tensor;
    /**
     * to('int32').
     *
     * @example
     * ```ts
     * hy.tensor([1.7, -1.7]).int(); // int32 [1, -1]
     * ```
     */
    int(): Tensor;
    /**
     * to('bool').
     *
     * @example
     * ```ts
     * hy.tensor([0, 2]).bool(); // [false, true]
     * ```
     */
    bool(): Tensor;
    /**
     * The transpose of a matrix (t()).
     *
     * @example
     * ```ts
     * hy.randn([2, 3]).T.shape; // [3, 2]
     * ```
     */
    readonly T: Tensor;
    /**
     * The transpose of a matrix (see hy.t).
     *
     * @example
     * ```ts
     * hy.randn([2, 3]).t(); // shape [3, 2]
     * ```
     */
    t(): Tensor;
    /**
     * The dimensions reordered, given as integers or as one array (see hy.permute).
     *
     * @example
     * ```ts
     * hy.randn([2, 3, 4]).permute(2, 0, 1); // shape [4, 2, 3]; .permute([2, 0, 1]) too
     * ```
     */
    permute(...dims: number[] | [number[]]): Tensor;
    /**
     * Dimensions dim0 and dim1 swapped (see hy.transpose).
     *
     * @example
     * ```ts
     * hy.randn([2, 3, 4]).transpose(0, 2); // shape [4, 3, 2]
     * ```
     */
    transpose(dim0: number, dim1: number): Tensor;
    /**
     * This tensor: every hayate tensor is contiguous (see hy.contiguous).
     *
     * @example
     * ```ts
     * const y = hy.randn([2, 3]).t().contiguous(); // y is the transpose itself
     * ```
     */
    contiguous(): Tensor;
    /**
     * Without its size-1 dimensions, or only those of dim (see hy.squeeze).
     *
     * @example
     * ```ts
     * hy.zeros([1, 3, 1]).squeeze(); // shape [3]; .squeeze(0) has shape [3, 1]
     * ```
     */
    squeeze(dim?: number | number[]): Tensor;
    /**
     * A size-1 dimension inserted at dim (see hy.unsqueeze).
     *
     * @example
     * ```ts
     * hy.zeros([3]).unsqueeze(1); // shape [3, 1]
     * ```
     */
    unsqueeze(dim: number): Tensor;
    /**
     * Repeated along its size-1 dimensions to the sizes given, as integers or one array (see hy.expand).
     *
     * @example
     * ```ts
     * hy.ones([3, 1]).expand(3, 4); // shape [3, 4]; -1 keeps a size: .expand(-1, 4)
     * ```
     */
    expand(...sizes: number[] | [number[]]): Tensor;
    /**
     * Elements [start, start + length) along dim (see hy.narrow).
     *
     * @example
     * ```ts
     * hy.arange(10).narrow(0, 2, 3); // [2, 3, 4]
     * ```
     */
    narrow(dim: number, start: number, length: number): Tensor;
    /**
     * Python's x[start:end:step] along dim (see hy.slice).
     *
     * @example
     * ```ts
     * hy.arange(10).slice(0, null, null, 2); // [0, 2, 4, 6, 8], as x[::2]
     * ```
     */
    slice(dim: number, start?: number | null, end?: number | null, step?: number): Tensor;
    /**
     * The slice at index along dim, without that dimension (see hy.select).
     *
     * @example
     * ```ts
     * hy.randn([4, 5]).select(0, -1); // the last row, shape [5]
     * ```
     */
    select(dim: number, index: number): Tensor;
    /**
     * Cut along dim into pieces of splitSize, or of the sizes listed (see hy.split).
     *
     * @example
     * ```ts
     * hy.arange(5).split(2); // [0, 1], [2, 3], [4]
     * ```
     */
    split(splitSize: number | number[], dim?: number): Tensor[];
    /**
     * Cut along dim into `chunks` pieces (see hy.chunk).
     *
     * @example
     * ```ts
     * hy.randn([6, 4]).chunk(3); // three tensors of shape [2, 4]
     * ```
     */
    chunk(chunks: number, dim?: number): Tensor[];
    /**
     * The slices along dim at the int32 indices, in their order (see hy.indexSelect).
     *
     * @example
     * ```ts
     * hy.tensor([[1, 2], [3, 4]]).indexSelect(1, hy.tensor(new Int32Array([1, 1]))); // [[2, 2], [4, 4]]
     * ```
     */
    indexSelect(dim: number, index: Tensor): Tensor;
    /**
     * this[indices] along the first dimension, for an int32 index tensor of any shape (see hy.index).
     *
     * @example
     * ```ts
     * hy.randn([10, 4]).index(hy.tensor(new Int32Array([9, 0]))); // rows 9 and 0, shape [2, 4]
     * ```
     */
    index(indices: Tensor): Tensor;
    /**
     * Values picked along dim at the int32 index, which has this shape except along dim (see hy.gather).
     *
     * @example
     * ```ts
     * const idx = hy.tensor(new Int32Array([1, 0]), { shape: [2, 1] });
     * hy.tensor([[1, 2], [3, 4]]).gather(1, idx); // [[2], [3]]
     * ```
     */
    gather(dim: number, index: Tensor): Tensor;
    /**
     * A copy with src added at index along dim (see hy.scatterAdd).
     *
     * @example
     * ```ts
     * hy.zeros([2]).scatterAdd(0, hy.tensor(new Int32Array([0, 1, 0])), hy.tensor([1, 2, 3])); // [4, 2]
     * ```
     */
    scatterAdd(dim: number, index: Tensor, src: Tensor): Tensor;
    /**
     * The int32 index of the largest element, or of each along dim (see hy.argmax).
     *
     * @example
     * ```ts
     * const labels = hy.tensor(new Int32Array([1, 0, 3]));
     * const accuracy = hy.randn([3, 4]).argmax(1).eq(labels).float().mean(); // the fraction right
     * ```
     */
    argmax(dim?: number, opts?: DimOptions): Tensor;
    /**
     * The int32 index of the smallest element, or of each along dim (see hy.argmin).
     *
     * @example
     * ```ts
     * hy.tensor([[1, 5], [7, 2]]).argmin(1); // int32 [0, 1]
     * ```
     */
    argmin(dim?: number, opts?: DimOptions): Tensor;
    /**
     * The largest element as a 0-d tensor, or {values, indices} along dim (see hy.max).
     *
     * @example
     * ```ts
     * const x = hy.tensor([[1, 5], [7, 2]]);
     * x.max().item(); // 7
     * const { values, indices } = x.max(1); // values [5, 7], indices [1, 0]
     * ```
     */
    max(): Tensor;
    max(dim: number, opts?: DimOptions): ValuesIndices;
    /**
     * The smallest element as a 0-d tensor, or {values, indices} along dim (see hy.min).
     *
     * @example
     * ```ts
     * const x = hy.tensor([[1, 5], [7, 2]]);
     * x.min().item(); // 1
     * const { values, indices } = x.min(1, { keepdim: true }); // values [[1], [2]], indices [[0], [1]]
     * ```
     */
    min(): Tensor;
    min(dim: number, opts?: DimOptions): ValuesIndices;
    /**
     * this == other elementwise, as a bool tensor (see hy.eq).
     *
     * @example
     * ```ts
     * hy.tensor([1, 2, 3]).eq(2); // [false, true, false]
     * ```
     */
    eq(other: Tensor | number): Tensor;
    /**
     * this != other elementwise, as a bool tensor (see hy.ne).
     *
     * @example
     * ```ts
     * hy.tensor([1, 2, 3]).ne(2); // [true, false, true]
     * ```
     */
    ne(other: Tensor | number): Tensor;
    /**
     * this < other elementwise, as a bool tensor (see hy.lt).
     *
     * @example
     * ```ts
     * hy.tensor([1, 2, 3]).lt(2); // [true, false, false]
     * ```
     */
    lt(other: Tensor | number): Tensor;
    /**
     * this <= other elementwise, as a bool tensor (see hy.le).
     *
     * @example
     * ```ts
     * hy.tensor([1, 2, 3]).le(2); // [true, true, false]
     * ```
     */
    le(other: Tensor | number): Tensor;
    /**
     * this > other elementwise, as a bool tensor (see hy.gt).
     *
     * @example
     * ```ts
     * hy.tensor([1, 2, 3]).gt(2); // [false, false, true]
     * ```
     */
    gt(other: Tensor | number): Tensor;
    /**
     * this >= other elementwise, as a bool tensor (see hy.ge).
     *
     * @example
     * ```ts
     * hy.tensor([1, 2, 3]).ge(2); // [false, true, true]
     * ```
     */
    ge(other: Tensor | number): Tensor;
    /**
     * Both true, as a bool tensor (see hy.logicalAnd).
     *
     * @example
     * ```ts
     * const x = hy.tensor([0.1, 0.5, 0.9]);
     * x.gt(0.25).logicalAnd(x.lt(0.75)); // [false, true, false]
     * ```
     */
    logicalAnd(other: Tensor | boolean): Tensor;
    /**
     * Either true, as a bool tensor (see hy.logicalOr).
     *
     * @example
     * ```ts
     * const x = hy.tensor([0.1, 0.5, 0.9]);
     * x.lt(0.25).logicalOr(x.gt(0.75)); // [true, false, true]
     * ```
     */
    logicalOr(other: Tensor | boolean): Tensor;
    /**
     * Exactly one true, as a bool tensor (see hy.logicalXor).
     *
     * @example
     * ```ts
     * hy.tensor([true, false]).logicalXor(true); // [false, true]
     * ```
     */
    logicalXor(other: Tensor | boolean): Tensor;
    /**
     * True where this is zero (false), as a bool tensor (see hy.logicalNot).
     *
     * @example
     * ```ts
     * hy.tensor([true, false]).logicalNot(); // [false, true]
     * ```
     */
    logicalNot(): Tensor;
    /**
     * Limited to [min, max]; either bound may be absent (see hy.clamp).
     *
     * @example
     * ```ts
     * hy.tensor([-2, 0.5, 3]).clamp(0, 1); // [0, 0.5, 1]; .clamp({ max: 1 }) gives [-2, 0.5, 1]
     * ```
     */
    clamp(bounds: ClampOptions): Tensor;
    clamp(min: number | null | undefined, max?: number | null): Tensor;
    /**
     * this * this (see hy.square).
     *
     * @example
     * ```ts
     * hy.tensor([2, -3]).square(); // [4, 9]
     * ```
     */
    square(): Tensor;
    /**
     * 1 / sqrt(this) (see hy.rsqrt).
     *
     * @example
     * ```ts
     * hy.tensor([4, 16]).rsqrt(); // [0.5, 0.25]
     * ```
     */
    rsqrt(): Tensor;
    /**
     * tanh elementwise (see hy.tanh).
     *
     * @example
     * ```ts
     * hy.zeros([2]).tanh(); // [0, 0]
     * ```
     */
    tanh(): Tensor;
    /**
     * 1 / (1 + exp(-this)) elementwise (see hy.sigmoid).
     *
     * @example
     * ```ts
     * hy.zeros([2]).sigmoid(); // [0.5, 0.5]
     * ```
     */
    sigmoid(): Tensor;
    /**
     * softmax along dim, the last by default (see hy.softmax).
     *
     * @example
     * ```ts
     * hy.randn([4, 10]).softmax(1); // each row sums to 1
     * ```
     */
    softmax(dim?: number): Tensor;
    /**
     * log(softmax) along dim, the last by default, computed stably (see hy.logSoftmax).
     *
     * @example
     * ```ts
     * const logp = hy.randn([4, 10]).logSoftmax(1);
     * ```
     */
    logSoftmax(dim?: number): Tensor;
    /**
     * Copies src's values into this tensor in place, as torch's copy_: the same shape; another
     * dtype is converted and another device copied across (nonBlocking from pinned memory). This
     * tensor keeps its storage, which is what a CUDA graph's static input needs. Not recorded by
     * autograd: a leaf that requires grad takes it only under hy.noGrad().
     *
     * @example
     * ```ts
     * const staticInput = hy.zeros([64, 784], { device: 'cuda' });
     * staticInput.copy_(batch, { nonBlocking: true }); // new data, same storage
     * ```
     */
    copy_(src: Tensor, opts?: { nonBlocking?: boolean }): Tensor;
  }
}

const listArgs = (op: string, args: unknown[]): number[] => {
  const list = args.length === 1 && Array.isArray(args[0]) ? (args[0] as unknown[]) : args;
  for (const v of list) if (typeof v !== 'number') throw new TypeError(`${op}: expects integers or one array of them, got ${describe(v)}`);
  return list as number[];
};

const proto = Tensor.prototype;

proto.size = function (this: Tensor, dim?: number): number & number[] {
  if (dim === undefined) return this.shape.slice() as number & number[];
  return this.shape[dimArg('size', 'dim', dim, this.ndim)] as number & number[];
} as Tensor['size'];
proto.dim = function () { return this.ndim; };
proto.floorDivide = function (o) { return floorDivide(this, o); };
proto.remainder = function (o) { return remainder(this, o); };
proto.float = function () { return this.to('float32'); };
proto.half = function () { return this.to('float16'); };
proto.int = function () { return this.to('int32'); };
proto.bool = function () { return this.to('bool'); };
Object.defineProperty(proto, 'T', {
  get(this: Tensor) { return idx.t(this); },
  configurable: true,
});
proto.t = function () { return idx.t(this); };
proto.permute = function (...d) { return idx.permute(this, listArgs('permute', d)); };
proto.transpose = function (a, b) { return idx.transpose(this, a, b); };
proto.contiguous = function () { return idx.contiguous(this); };
proto.squeeze = function (d) { return idx.squeeze(this, d); };
proto.unsqueeze = function (d) { return idx.unsqueeze(this, d); };
proto.expand = function (...s) { return idx.expand(this, listArgs('expand', s)); };
proto.narrow = function (d, s, l) { return idx.narrow(this, d, s, l); };
proto.slice = function (d, s, e, st) { return idx.slice(this, d, s, e, st); };
proto.select = function (d, i) { return idx.select(this, d, i); };
proto.split = function (s, d) { return idx.split(this, s, d); };
proto.chunk = function (c, d) { return idx.chunk(this, c, d); };
proto.indexSelect = function (d, i) { return idx.indexSelect(this, d, i); };
proto.index = function (i) { return idx.index(this, i); };
proto.gather = function (d, i) { return idx.gather(this, d, i); };
proto.scatterAdd = function (d, i, s) { return idx.scatterAdd(this, d, i, s); };
proto.argmax = function (d, o) { return cmp.argmax(this, d, o); };
proto.argmin = function (d, o) { return cmp.argmin(this, d, o); };
proto.max = function (this: Tensor, d?: number, o?: DimOptions) { return d === undefined ? cmp.max(this) : cmp.max(this, d, o); } as Tensor['max'];
proto.min = function (this: Tensor, d?: number, o?: DimOptions) { return d === undefined ? cmp.min(this) : cmp.min(this, d, o); } as Tensor['min'];
proto.eq = function (o) { return cmp.eq(this, o); };
proto.ne = function (o) { return cmp.ne(this, o); };
proto.lt = function (o) { return cmp.lt(this, o); };
proto.le = function (o) { return cmp.le(this, o); };
proto.gt = function (o) { return cmp.gt(this, o); };
proto.ge = function (o) { return cmp.ge(this, o); };
proto.logicalAnd = function (o) { return cmp.logicalAnd(this, o); };
proto.logicalOr = function (o) { return cmp.logicalOr(this, o); };
proto.logicalXor = function (o) { return cmp.logicalXor(this, o); };
proto.logicalNot = function () { return cmp.logicalNot(this); };
proto.clamp = function (this: Tensor, a?: number | null | ClampOptions, b?: number | null) {
  return a !== null && typeof a === 'object' ? cmp.clamp(this, a) : cmp.clamp(this, a, b);
} as Tensor['clamp'];
proto.square = function () { return cmp.square(this); };
proto.rsqrt = function () { return cmp.rsqrt(this); };
proto.tanh = function () { return tanh(this); };
proto.sigmoid = function () { return sigmoid(this); };
proto.softmax = function (d) { return softmax(this, d); };
proto.logSoftmax = function (d) { return logSoftmax(this, d); };

proto.copy_ = function (this: Tensor, src: Tensor, opts?: { nonBlocking?: boolean }): Tensor {
  const op = 'copy_';
  if (!(src instanceof Tensor)) throw new TypeError(`${op}: src must be a Tensor, got ${describe(src)}`);
  const o = checkOptions(op, opts, ['nonBlocking']);
  const nonBlocking = o.nonBlocking ?? false;
  if (typeof nonBlocking !== 'boolean') throw new TypeError(`${op}: nonBlocking must be a boolean, got ${describe(nonBlocking)}`);
  const dst = this.live(op);
  const from = src.live(op);
  if (src.shape.length !== this.shape.length || src.shape.some((d, i) => d !== this.shape[i])) {
    throw new RangeError(`${op}: src has shape [${src.shape.join(', ')}], this tensor's is [${this.shape.join(', ')}]`);
  }
  if (this.requiresGrad && this.isLeaf && isGradEnabled()) {
    throw new Error(`${op}: this tensor is a leaf that requires grad; copy into it under hy.noGrad()`);
  }
  if (this.numel === 0) return this;
  this.bumpVersion();
  if (src.dtype === this.dtype) {
    native.copy(dst, from, this.numel * DTYPE_BYTES[this.dtype], nonBlocking);
    return this;
  }
  const moved = src.convert(this.device, { nonBlocking });
  try {
    native.run('cast', { x: moved.live(op), xDtype: moved.dtype, out: dst, dtype: this.dtype, n: this.numel });
  } finally {
    if (moved !== src) moved.dispose();
  }
  return this;
};

// to() and clone() with autograd: the gradient of a conversion converts back (dtype and device);
// a clone's gradient passes through. Integer and bool results are cut from the graph, as in PyTorch.
proto.to = function (this: Tensor, target: Device | DType | 'cuda:0', opts?: ToOptions): Tensor {
  const out = this.convert(target, opts);
  if (out !== this && needsGrad(this) && (out.dtype === 'float32' || out.dtype === 'float16')) {
    const dtype = this.dtype;
    const device = this.device;
    record(out, 'to', [this], (g) => {
      let r = g.convert(dtype);
      if (r.device !== device) {
        const moved = r.convert(device);
        if (r !== g) r.dispose();
        r = moved;
      }
      return [r === g ? g.copy() : r];
    });
  }
  return out;
};
proto.clone = function (this: Tensor): Tensor {
  const out = this.copy();
  if (needsGrad(this)) record(out, 'clone', [this], (g) => [g.copy()]);
  return out;
};
