// The Tensor methods of the shape, indexing, comparison and conversion ops (the functions live in
// indexing.ts, compare.ts and nn/functional), so `x.argmax(1).eq(y).float().mean()` reads as in
// PyTorch; and the autograd of to() and clone(), recorded here over the tensor layer's raw forms.
import { needsGrad, record } from './autograd';
import * as cmp from './compare';
import type { ClampOptions, DimOptions, ValuesIndices } from './compare';
import type { Device, DType } from './dtype';
import { describe } from './errors';
import * as idx from './indexing';
import { logSoftmax, softmax } from './nn/functional/activation';
import { sigmoid, tanh } from './ops';
import { Tensor } from './tensor';
import type { ToOptions } from './tensor';
import { dimArg } from './indexing';

declare module './tensor' {
  interface Tensor {
    /** The size of dimension dim, or the whole shape (a copy) without one. */
    size(): number[];
    size(dim: number): number;
    /** The number of dimensions (ndim), as PyTorch's dim(). */
    dim(): number;
    /** to('float32'). */
    float(): Tensor;
    /** to('float16'). */
    half(): Tensor;
    /** to('int32'). */
    int(): Tensor;
    /** to('bool'). */
    bool(): Tensor;
    /** The transpose of a matrix (t()). */
    readonly T: Tensor;
    t(): Tensor;
    permute(...dims: number[] | [number[]]): Tensor;
    transpose(dim0: number, dim1: number): Tensor;
    contiguous(): Tensor;
    squeeze(dim?: number | number[]): Tensor;
    unsqueeze(dim: number): Tensor;
    expand(...sizes: number[] | [number[]]): Tensor;
    narrow(dim: number, start: number, length: number): Tensor;
    slice(dim: number, start?: number | null, end?: number | null, step?: number): Tensor;
    select(dim: number, index: number): Tensor;
    split(splitSize: number | number[], dim?: number): Tensor[];
    chunk(chunks: number, dim?: number): Tensor[];
    indexSelect(dim: number, index: Tensor): Tensor;
    index(indices: Tensor): Tensor;
    gather(dim: number, index: Tensor): Tensor;
    scatterAdd(dim: number, index: Tensor, src: Tensor): Tensor;
    argmax(dim?: number, opts?: DimOptions): Tensor;
    argmin(dim?: number, opts?: DimOptions): Tensor;
    max(): Tensor;
    max(dim: number, opts?: DimOptions): ValuesIndices;
    min(): Tensor;
    min(dim: number, opts?: DimOptions): ValuesIndices;
    eq(other: Tensor | number): Tensor;
    ne(other: Tensor | number): Tensor;
    lt(other: Tensor | number): Tensor;
    le(other: Tensor | number): Tensor;
    gt(other: Tensor | number): Tensor;
    ge(other: Tensor | number): Tensor;
    logicalAnd(other: Tensor | boolean): Tensor;
    logicalOr(other: Tensor | boolean): Tensor;
    logicalXor(other: Tensor | boolean): Tensor;
    logicalNot(): Tensor;
    clamp(bounds: ClampOptions): Tensor;
    clamp(min: number | null | undefined, max?: number | null): Tensor;
    square(): Tensor;
    rsqrt(): Tensor;
    tanh(): Tensor;
    sigmoid(): Tensor;
    softmax(dim?: number): Tensor;
    logSoftmax(dim?: number): Tensor;
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
