// Comparisons (eq, ne, lt, le, gt, ge) and logical ops giving bool tensors, where, the
// arg-reductions (argmax, argmin, and max/min with or without a dim), clamp, square and rsqrt.
// Comparisons broadcast as arithmetic does and compare in the inputs' common dtype (int32 with a
// float promotes to float32, float16 with float32 to float32), exactly, on either device.
import { needsGrad, record } from './autograd';
import { isFloating } from './dtype';
import type { DType } from './dtype';
import { dimArg } from './indexing';
import { native } from './native';
import { broadcastPair, broadcastStrides, collapse, mul, rawBinary, rawScalar, sumToShape } from './ops';
import { runOp } from './policy';
import { allocTensor, checkOptions, convertRaw, numelOf, scalarTensor, Tensor } from './tensor';
import { booleanArg, fail, floatTensor, sameDevice, tensorArg } from './validate';

type CompareName = 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge' | 'and' | 'or' | 'xor';

/** The dtype two operands compare in. */
function commonDtype(a: DType, b: DType): DType {
  if (a === b) return a;
  if (a === 'bool') return b;
  if (b === 'bool') return a;
  if (isFloating(a) && isFloating(b)) return 'float32';
  if (isFloating(a)) return a;
  if (isFloating(b)) return b;
  return 'int32';
}

/** A 0-d tensor holding v, on like's device, of a dtype that holds v exactly where it can. */
function scalarLike(op: string, v: number, like: Tensor): Tensor {
  const dtype: DType = like.dtype === 'bool' || like.dtype === 'int32' ? (Number.isInteger(v) && Math.abs(v) < 2 ** 31 ? 'int32' : 'float32') : like.dtype === 'float16' ? 'float32' : like.dtype;
  return scalarTensor(op, v, dtype, like.device);
}

function operand(op: string, name: string, v: unknown, like: Tensor | null): Tensor | number {
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  const t = tensorArg(op, name, v);
  if (like !== null) sameDevice(op, 'input', like, name, t);
  return t;
}

function compareOp(name: CompareName, op: string, aIn: unknown, bIn: unknown): Tensor {
  const a0 = operand(op, 'input', aIn, null);
  if (typeof a0 === 'number') fail('type', op, 'input', 'a Tensor', aIn);
  const b0 = operand(op, 'other', bIn, a0);
  const owned: Tensor[] = [];
  try {
    const b1 = typeof b0 === 'number' ? scalarLike(op, b0, a0) : b0;
    if (b1 !== b0) owned.push(b1);
    const dtype = commonDtype(a0.dtype, b1.dtype);
    const a = convertRaw(a0, dtype, false);
    if (a !== a0) owned.push(a);
    const b = convertRaw(b1, dtype, false);
    if (b !== b1) owned.push(b);
    const shape = broadcastPair(op, a.shape, b.shape);
    const out = allocTensor(op, shape, 'bool', a.device);
    if (out.numel > 0) {
      const [s, sa, sb] = collapse(shape, broadcastStrides(a.shape, shape), broadcastStrides(b.shape, shape));
      native.run('compare', { op: name, a: a.live(op), b: b.live(op), out: out.live(op), dtype, shape: s, stridesA: sa, stridesB: sb });
    }
    return out;
  } finally {
    for (const t of owned) t.dispose();
  }
}

/**
 * a == b elementwise, as a bool tensor (b a Tensor or a number; broadcasts).
 *
 * @example
 * ```ts
 * hy.eq(hy.tensor([1, 2, 3]), 2); // [false, true, false]
 * ```
 */
export const eq = (a: Tensor, b: Tensor | number): Tensor => compareOp('eq', 'eq', a, b);
/**
 * a != b elementwise (NaN != NaN is true).
 *
 * @example
 * ```ts
 * hy.ne(hy.tensor([1, NaN]), hy.tensor([1, NaN])); // [false, true]
 * ```
 */
export const ne = (a: Tensor, b: Tensor | number): Tensor => compareOp('ne', 'ne', a, b);
/**
 * a < b elementwise, as a bool tensor (b a Tensor or a number; broadcasts).
 *
 * @example
 * ```ts
 * hy.lt(hy.tensor([1, 3, 5]), 3); // [true, false, false]
 * ```
 */
export const lt = (a: Tensor, b: Tensor | number): Tensor => compareOp('lt', 'lt', a, b);
/**
 * a <= b elementwise, as a bool tensor (b a Tensor or a number; broadcasts).
 *
 * @example
 * ```ts
 * hy.le(hy.tensor([1, 3, 5]), 3); // [true, true, false]
 * ```
 */
export const le = (a: Tensor, b: Tensor | number): Tensor => compareOp('le', 'le', a, b);
/**
 * a > b elementwise, as a bool tensor (b a Tensor or a number; broadcasts).
 *
 * @example
 * ```ts
 * hy.gt(hy.tensor([1, 3, 5]), 3); // [false, false, true]
 * ```
 */
export const gt = (a: Tensor, b: Tensor | number): Tensor => compareOp('gt', 'gt', a, b);
/**
 * a >= b elementwise, as a bool tensor (b a Tensor or a number; broadcasts).
 *
 * @example
 * ```ts
 * hy.ge(hy.tensor([1, 3, 5]), 3); // [false, true, true]
 * ```
 */
export const ge = (a: Tensor, b: Tensor | number): Tensor => compareOp('ge', 'ge', a, b);
/**
 * Both true (nonzero, NaN included, is true), as a bool tensor.
 *
 * @example
 * ```ts
 * hy.logicalAnd(hy.tensor([true, true, false]), hy.tensor([true, false, false])); // [true, false, false]
 * ```
 */
export const logicalAnd = (a: Tensor, b: Tensor | boolean): Tensor => compareOp('and', 'logicalAnd', a, b);
/**
 * Either true (nonzero is true), as a bool tensor.
 *
 * @example
 * ```ts
 * hy.logicalOr(hy.tensor([true, true, false]), hy.tensor([true, false, false])); // [true, true, false]
 * ```
 */
export const logicalOr = (a: Tensor, b: Tensor | boolean): Tensor => compareOp('or', 'logicalOr', a, b);
/**
 * Exactly one true (nonzero is true), as a bool tensor.
 *
 * @example
 * ```ts
 * hy.logicalXor(hy.tensor([true, true, false]), hy.tensor([true, false, false])); // [false, true, false]
 * ```
 */
export const logicalXor = (a: Tensor, b: Tensor | boolean): Tensor => compareOp('xor', 'logicalXor', a, b);
/**
 * True where x is zero (false), as a bool tensor.
 *
 * @example
 * ```ts
 * hy.logicalNot(hy.tensor([1, 0, 2])); // [false, true, false]
 * ```
 */
export function logicalNot(x: Tensor): Tensor {
  tensorArg('logicalNot', 'input', x);
  return compareOp('eq', 'logicalNot', x, 0);
}

// ---- where ----

function whereRaw(op: string, cond: Tensor, a: Tensor, b: Tensor, shape: number[]): Tensor {
  const out = allocTensor(op, shape, a.dtype, a.device);
  if (out.numel > 0) {
    const strides = [cond, a, b].map((t) => broadcastStrides(t.shape, shape));
    // drop extents of 1; the kernels index the rest
    const keep = shape.map((s) => s !== 1);
    native.run('where', {
      cond: cond.live(op), a: a.live(op), b: b.live(op), out: out.live(op), dtype: a.dtype,
      shape: shape.filter((_, i) => keep[i]),
      stridesCond: strides[0].filter((_, i) => keep[i]),
      stridesA: strides[1].filter((_, i) => keep[i]),
      stridesB: strides[2].filter((_, i) => keep[i]),
    });
  }
  return out;
}

/**
 * a where cond is true, else b (cond a bool tensor; a and b tensors or numbers; all broadcast).
 * Differentiable in a and b.
 *
 * @example
 * ```ts
 * const x = hy.tensor([-1, 2, -3]);
 * hy.where(hy.gt(x, 0), x, 0); // [0, 2, 0]
 * ```
 */
export function where(cond: Tensor, a: Tensor | number, b: Tensor | number): Tensor {
  const op = 'where';
  const c = tensorArg(op, 'condition', cond);
  if (c.dtype !== 'bool') fail('type', op, 'condition', 'a bool tensor (from a comparison such as gt)', `a ${c.dtype} tensor`);
  const ta = operand(op, 'input', a, c);
  const tb = operand(op, 'other', b, c);
  if (typeof ta === 'number' && typeof tb === 'number') {
    const t = scalarTensor(op, ta, 'float32', c.device);
    const u = scalarTensor(op, tb, 'float32', c.device);
    try {
      return whereRaw(op, c, t, u, broadcastPair(op, c.shape, []));
    } finally {
      t.dispose();
      u.dispose();
    }
  }
  const like = typeof ta === 'number' ? (tb as Tensor) : ta;
  const owned: Tensor[] = [];
  const A = typeof ta === 'number' ? scalarOf(op, ta, like, owned) : ta;
  const B = typeof tb === 'number' ? scalarOf(op, tb, like, owned) : tb;
  try {
    if (A.dtype !== B.dtype) {
      throw new TypeError(`${op}: input and other must have one dtype, got ${A.dtype} and ${B.dtype} (convert one with .to())`);
    }
    const shape = broadcastPair(op, broadcastPair(op, c.shape, A.shape), B.shape);
    const out = whereRaw(op, c, A, B, shape);
    if (isFloating(out.dtype) && needsGrad(A, B)) {
      const savedCond = c.saveForBackward();
      const aShape = A.shape;
      const bShape = B.shape;
      const aGrad = A.requiresGrad;
      const bGrad = B.requiresGrad;
      record(out, op, [A, B], (g) => {
        const zero = scalarTensor(op, 0, g.dtype, g.device);
        try {
          const pick = (first: boolean, shape: readonly number[]): Tensor => {
            const w = first ? whereRaw(op, savedCond, g, zero, g.shape.slice()) : whereRaw(op, savedCond, zero, g, g.shape.slice());
            const r = sumToShape(w, shape);
            if (r !== w) w.dispose();
            return r;
          };
          return [aGrad ? pick(true, aShape) : null, bGrad ? pick(false, bShape) : null];
        } finally {
          zero.dispose();
        }
      }, [savedCond]);
    }
    return out;
  } finally {
    for (const t of owned) t.dispose();
  }
}

function scalarOf(op: string, v: number, like: Tensor, owned: Tensor[]): Tensor {
  const t = scalarTensor(op, v, like.dtype, like.device);
  owned.push(t);
  return t;
}

// ---- argmax, argmin, max, min ----

export interface DimOptions {
  keepdim?: boolean;
}

/** The values and (int32) indices of a max or min over one dimension. */
export interface ValuesIndices {
  values: Tensor;
  indices: Tensor;
}

function argReduce(op: string, kind: 'max' | 'min', x: Tensor, dim: number | undefined, keepdim: boolean, wantValues: boolean): ValuesIndices | Tensor {
  if (x.dtype === 'bool') fail('type', op, 'input', 'a float32, float16 or int32 tensor', 'a bool tensor');
  const whole = dim === undefined;
  const d = whole ? 0 : dimArg(op, 'dim', dim, x.ndim);
  const shape = whole || x.ndim === 0 ? [x.numel] : x.shape;
  const dd = whole || x.ndim === 0 ? 0 : d;
  if (shape[dd] === 0) throw new RangeError(`${op}: cannot take the ${kind} over an empty dimension (dimension ${dd} of [${x.shape.join(', ')}] has size 0)`);
  const outer = numelOf(shape.slice(0, dd));
  const inner = numelOf(shape.slice(dd + 1));
  const outShape = whole ? (keepdim ? x.shape.map(() => 1) : []) : x.ndim === 0 ? [] : keepdim ? x.shape.map((s, i) => (i === d ? 1 : s)) : x.shape.filter((_, i) => i !== d);
  const indices = allocTensor(op, outShape, 'int32', x.device);
  const values = wantValues ? allocTensor(op, outShape.slice(), x.dtype, x.device) : null;
  if (indices.numel > 0) {
    native.run('argReduce', { op: kind, x: x.live(op), values: values?.live(op), indices: indices.live(op), dtype: x.dtype, outer, size: shape[dd], inner });
  }
  if (!wantValues) return indices;
  if (needsGrad(x)) {
    const inShape = x.shape;
    const saved = indices.saveForBackward();
    record(values!, op, [x], (g) => {
      // g lands at each index: an index-add of g into zeros over [outer, size, inner]
      const acc = allocTensor(op, inShape.slice(), 'float32', g.device);
      native.run('fill', { out: acc.live(op), dtype: 'float32', n: acc.numel, value: 0 });
      const g32 = convertRaw(g, 'float32', false);
      try {
        native.run('indexAdd', { src: g32.live(op), index: saved.live(op), out: acc.live(op), dtype: 'float32', outer, size: shape[dd], inner, count: 1, perElement: true });
      } finally {
        if (g32 !== g) g32.dispose();
      }
      if (g.dtype === 'float32') return [acc];
      const r = convertRaw(acc, g.dtype, false);
      acc.dispose();
      return [r];
    }, [saved]);
  }
  return { values: values!, indices };
}

function dimOptions(op: string, opts: unknown): boolean {
  const o = checkOptions(op, opts, ['keepdim']);
  return booleanArg(op, 'keepdim', o.keepdim, false);
}

/**
 * The int32 index of the largest element (of the flattened tensor, or along dim); the first on ties; NaN is largest.
 *
 * @example
 * ```ts
 * hy.argmax(hy.tensor([[1, 5], [7, 2]]), 1); // int32 [1, 0]; with no dim: 2 (of the flattened 4)
 * ```
 */
export function argmax(x: Tensor, dim?: number, opts?: DimOptions): Tensor {
  tensorArg('argmax', 'input', x);
  return argReduce('argmax', 'max', x, dim, dimOptions('argmax', opts), false) as Tensor;
}

/**
 * The int32 index of the smallest element (of the flattened tensor, or along dim).
 *
 * @example
 * ```ts
 * hy.argmin(hy.tensor([3, 1, 2])); // a 0-d int32 tensor: 1
 * ```
 */
export function argmin(x: Tensor, dim?: number, opts?: DimOptions): Tensor {
  tensorArg('argmin', 'input', x);
  return argReduce('argmin', 'min', x, dim, dimOptions('argmin', opts), false) as Tensor;
}

/**
 * max(x): the largest element as a 0-d tensor; max(x, dim): {values, indices} along dim. Differentiable.
 *
 * @example
 * ```ts
 * const x = hy.tensor([[1, 5], [7, 2]]);
 * hy.max(x).item(); // 7
 * const { values, indices } = hy.max(x, 1); // values [5, 7], indices [1, 0]
 * ```
 */
export function max(x: Tensor): Tensor;
export function max(x: Tensor, dim: number, opts?: DimOptions): ValuesIndices;
export function max(x: Tensor, dim?: number, opts?: DimOptions): Tensor | ValuesIndices {
  return extreme('max', x, dim, opts);
}

/**
 * min(x): the smallest element as a 0-d tensor; min(x, dim): {values, indices} along dim. Differentiable.
 *
 * @example
 * ```ts
 * const x = hy.tensor([[1, 5], [7, 2]]);
 * hy.min(x).item(); // 1
 * const { values, indices } = hy.min(x, 0); // values [1, 2], indices [0, 1]
 * ```
 */
export function min(x: Tensor): Tensor;
export function min(x: Tensor, dim: number, opts?: DimOptions): ValuesIndices;
export function min(x: Tensor, dim?: number, opts?: DimOptions): Tensor | ValuesIndices {
  return extreme('min', x, dim, opts);
}

function extreme(kind: 'max' | 'min', x: Tensor, dim: number | undefined, opts: unknown): Tensor | ValuesIndices {
  tensorArg(kind, 'input', x);
  const keepdim = dimOptions(kind, opts);
  if (dim === undefined) {
    if (opts !== undefined) fail('type', kind, 'dim', 'an integer when options are given', dim);
    const r = argReduce(kind, kind, x, undefined, false, true) as ValuesIndices;
    r.indices.dispose();
    return r.values;
  }
  return argReduce(kind, kind, x, dim, keepdim, true) as ValuesIndices;
}

// ---- clamp, square, rsqrt ----

export interface ClampOptions {
  min?: number;
  max?: number;
}

/**
 * x limited to [min, max] (either bound may be absent; NaN stays NaN). The gradient passes where
 * min <= x <= max, as PyTorch's.
 *
 * @example
 * ```ts
 * hy.clamp(hy.tensor([-2, 0.5, 3]), 0, 1); // [0, 0.5, 1]
 * hy.clamp(hy.tensor([-2, 0.5, 3]), { min: 0 }); // [0, 0.5, 3]
 * ```
 */
export function clamp(x: Tensor, bounds: ClampOptions): Tensor;
export function clamp(x: Tensor, min: number | null | undefined, max?: number | null): Tensor;
export function clamp(x: Tensor, a?: number | null | ClampOptions, b?: number | null): Tensor {
  const op = 'clamp';
  floatTensor(op, 'input', x);
  let lo: number | undefined;
  let hi: number | undefined;
  if (a !== null && typeof a === 'object') {
    const o = checkOptions(op, a, ['min', 'max']);
    lo = o.min as number | undefined;
    hi = o.max as number | undefined;
  } else {
    lo = a ?? undefined;
    hi = b ?? undefined;
  }
  for (const [name, v] of [['min', lo], ['max', hi]] as const) {
    if (v !== undefined && typeof v !== 'number') fail('type', op, name, 'a number', v);
  }
  if (lo === undefined && hi === undefined) throw new RangeError(`${op}: at least one of min and max must be given`);
  return runOp({
    op,
    rule: 'input',
    inputs: [x],
    forward: ([xi]) => {
      let out = xi!;
      if (lo !== undefined) out = rawScalar('max', out, lo, op);
      if (hi !== undefined) {
        const next = rawScalar('min', out, hi, op);
        if (out !== xi) out.dispose();
        out = next;
      }
      return {
        out,
        save: [xi!],
        backward: (g, [sx]) => {
          // pass where lo <= x <= hi
          let mask: Tensor | null = null;
          if (lo !== undefined) mask = compareOp('ge', op, sx, lo);
          if (hi !== undefined) {
            const m2 = compareOp('le', op, sx, hi);
            if (mask === null) mask = m2;
            else {
              const both = compareOp('and', op, mask, m2);
              mask.dispose();
              m2.dispose();
              mask = both;
            }
          }
          const zero = scalarTensor(op, 0, g.dtype, g.device);
          const r = whereRaw(op, mask!, g, zero, g.shape.slice());
          zero.dispose();
          mask!.dispose();
          return [r];
        },
      };
    },
  });
}

/**
 * x * x.
 *
 * @example
 * ```ts
 * hy.square(hy.tensor([2, -3])); // [4, 9]
 * ```
 */
export function square(x: Tensor): Tensor {
  floatTensor('square', 'input', x);
  return mul(x, x);
}

/**
 * 1 / sqrt(x); its gradient is -0.5 * x^-1.5.
 *
 * @example
 * ```ts
 * hy.rsqrt(hy.tensor([4, 16])); // [0.5, 0.25]
 * ```
 */
export function rsqrt(x: Tensor): Tensor {
  const op = 'rsqrt';
  floatTensor(op, 'input', x);
  return runOp({
    op,
    rule: 'input',
    inputs: [x],
    forward: ([xi]) => {
      const out = allocTensor(op, xi!.shape.slice(), xi!.dtype, xi!.device);
      native.run('unary', { op: 'rsqrt', x: xi!.live(op), out: out.live(op), dtype: xi!.dtype, n: out.numel });
      return {
        out,
        save: [out],
        backward: (g, [y]) => {
          // d/dx x^-1/2 = -0.5 y^3
          const y2 = mulRaw(y, y);
          const y3 = mulRaw(y2, y);
          y2.dispose();
          const gy = mulRaw(g, y3);
          y3.dispose();
          const r = rawScalar('mul', gy, -0.5, op);
          gy.dispose();
          return [r];
        },
      };
    },
  });
}

function mulRaw(a: Tensor, b: Tensor): Tensor {
  return rawBinary('mul', a, b);
}
