// Differentiable tensor ops: arithmetic with broadcasting, unary math, GELU, reductions and views.
// Each op checks its arguments (lib/validate.ts) and runs through runOp (lib/policy.ts), which
// applies its dtype rule and records its backward; the kernels are native.run calls.
import { needsGrad, noGrad, record, runBackward, setEngineOps, BackwardOptions } from './autograd';
import { describe } from './errors';
import { native } from './native';
import { runOp } from './policy';
import { keep } from './scope';
import { allocTensor, checkOptions, numelOf, scalarTensor, Tensor, tidy } from './tensor';
import { booleanArg, fail, floatTensor, integerArg, isTensorValue, sameDevice, tensorArg } from './validate';

// Op names as the native enum lists (core/enums.h) spell them; the binding maps them to codes.
type UnaryName = 'neg' | 'exp' | 'log' | 'erf' | 'relu' | 'gelu' | 'geluTanh' | 'tanh' | 'sigmoid' | 'sqrt' | 'abs' | 'rsqrt' | 'floor';
type UnaryGradName = 'relu' | 'gelu' | 'geluTanh' | 'abs';
type ScalarName = 'add' | 'mul' | 'rsub' | 'rdiv' | 'pow' | 'max' | 'min';
type BinaryName = 'add' | 'sub' | 'mul' | 'div';

export const checkTensor = tensorArg;

export function checkFloat(op: string, t: Tensor, name = 'input'): void {
  floatTensor(op, name, t);
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function contiguousStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    s[d] = acc;
    acc *= shape[d];
  }
  return s;
}

/**
 * The shape every given shape broadcasts to (NumPy rules), as torch.broadcast_shapes.
 *
 * @example
 * ```ts
 * hy.broadcastShapes([4, 1, 3], [2, 1]); // [4, 2, 3]
 * ```
 */
export function broadcastShapes(...shapes: number[][]): number[] {
  const op = 'broadcastShapes';
  let out: number[] = [];
  shapes.forEach((s, i) => {
    if (!Array.isArray(s)) fail('type', op, `shapes[${i}]`, 'an array of sizes', s);
    s.forEach((d, k) => {
      if (typeof d !== 'number' || !Number.isInteger(d) || d < 0) fail(typeof d === 'number' ? 'range' : 'type', op, `shapes[${i}][${k}]`, 'a non-negative integer', d);
    });
    out = broadcastPair(op, out, s);
  });
  return out;
}

/** The broadcast shape of a and b (NumPy rules), or a RangeError naming op. */
export function broadcastPair(op: string, a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new RangeError(`${op}: shapes [${a.join(', ')}] and [${b.join(', ')}] cannot be broadcast (dimension ${i}: ${da} vs ${db})`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Strides of `shape` seen as broadcast to `target` (0 along broadcast dimensions). */
export function broadcastStrides(shape: readonly number[], target: readonly number[]): number[] {
  const own = contiguousStrides(shape);
  const off = target.length - shape.length;
  return target.map((_, i) => (i < off || shape[i - off] === 1 ? 0 : own[i - off]));
}

/** Merges neighbouring dimensions that are contiguous in the output and in both inputs. */
export function collapse(shape: number[], sa: number[], sb: number[]): [number[], number[], number[]] {
  const rs: number[] = [];
  const ra: number[] = [];
  const rb: number[] = [];
  for (let i = 0; i < shape.length; i++) {
    if (shape[i] === 1) continue;
    const k = rs.length - 1;
    if (k >= 0 && ra[k] === sa[i] * shape[i] && rb[k] === sb[i] * shape[i]) {
      rs[k] *= shape[i];
      ra[k] = sa[i];
      rb[k] = sb[i];
    } else {
      rs.push(shape[i]);
      ra.push(sa[i]);
      rb.push(sb[i]);
    }
  }
  return [rs, ra, rb];
}

export function rawBinary(name: BinaryName, a: Tensor, b: Tensor, op = name): Tensor {
  const shape = broadcastPair(op, a.shape, b.shape);
  const out = allocTensor(op, shape, a.dtype, a.device);
  const [s, sa, sb] = collapse(shape, broadcastStrides(a.shape, shape), broadcastStrides(b.shape, shape));
  native.run('binary', { op: name, a: a.live(op), b: b.live(op), out: out.live(op), dtype: a.dtype, shape: s, stridesA: sa, stridesB: sb });
  return out;
}

export function rawScalar(op: ScalarName, x: Tensor, s: number, opName: string): Tensor {
  const out = allocTensor(opName, x.shape.slice(), x.dtype, x.device);
  native.run('scalar', { op, x: x.live(opName), out: out.live(opName), dtype: x.dtype, n: x.numel, s });
  return out;
}

function rawUnary(op: UnaryName, x: Tensor, opName: string): Tensor {
  const out = allocTensor(opName, x.shape.slice(), x.dtype, x.device);
  native.run('unary', { op, x: x.live(opName), out: out.live(opName), dtype: x.dtype, n: x.numel });
  return out;
}

/** The gradient of a broadcast input: sum over the dimensions it was broadcast along. */
export function sumToShape(g: Tensor, shape: readonly number[]): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const off = g.shape.length - shape.length;
  const dims: number[] = [];
  for (let i = 0; i < g.shape.length; i++) {
    if (i < off || (shape[i - off] === 1 && g.shape[i] !== 1)) dims.push(i);
  }
  const summed = sumDims(g, dims, 1);
  const r = reshapeRaw(summed, shape);
  summed.dispose(); // the view holds the storage; without this it stayed alive outside a tidy()
  return r;
}

function reshapeRaw(x: Tensor, shape: readonly number[]): Tensor {
  return x.aliasAs(shape.slice());
}

/** Sums x over `dims` (sorted, unique) with scale, keeping them as size-1 dimensions. */
export function sumDims(x: Tensor, dims: number[], scale: number): Tensor {
  if (dims.length === 0) return scale === 1 ? x.copy() : rawScalar('mul', x, scale, 'sum');
  // Reduce runs of consecutive dimensions in one pass each, innermost run first.
  const runs: [number, number][] = [];
  for (const d of dims) {
    const last = runs[runs.length - 1];
    if (last !== undefined && last[1] === d) last[1] = d + 1;
    else runs.push([d, d + 1]);
  }
  let cur = x;
  let curShape = x.shape.slice();
  for (let r = runs.length - 1; r >= 0; r--) {
    const [lo, hi] = runs[r];
    const outer = numelOf(curShape.slice(0, lo));
    const reduce = numelOf(curShape.slice(lo, hi));
    const inner = numelOf(curShape.slice(hi));
    const nextShape = curShape.map((d, i) => (i >= lo && i < hi ? 1 : d));
    const out = allocTensor('sum', nextShape, x.dtype, x.device);
    native.run('reduceSum', { x: cur.live('sum'), out: out.live('sum'), dtype: x.dtype, outer, reduce, inner, scale: r === 0 ? scale : 1 });
    if (cur !== x) cur.dispose();
    cur = out;
    curShape = nextShape;
  }
  return cur; // shaped as x with dims set to 1 already (a view of it left cur undisposed)
}

/** Repeats g (whose shape broadcasts to `shape`) into a tensor of `shape`. */
function expandTo(g: Tensor, shape: readonly number[]): Tensor {
  if (sameShape(g.shape, shape)) return g.copy();
  const zero = allocTensor('expand', [], g.dtype, g.device);
  native.run('fill', { out: zero.live('expand'), dtype: g.dtype, n: 1, value: 0 });
  const out = rawBinary('add', g, zero, 'add');
  zero.dispose();
  if (sameShape(out.shape, shape)) return out;
  const full = allocTensor('expand', shape.slice(), g.dtype, g.device);
  native.run('fill', { out: full.live('expand'), dtype: g.dtype, n: full.numel, value: 0 });
  const res = rawBinary('add', full, out, 'add');
  full.dispose();
  out.dispose();
  return res;
}

// ---- arithmetic ----

type IntName = 'add' | 'sub' | 'mul' | 'floorDivide' | 'remainder';

const isInt32Number = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31;

/** a (op) b in int32 arithmetic (both int32 tensors, or one an integer number). */
export function intArith(name: IntName, op: string, aIn: Tensor | number, bIn: Tensor | number): Tensor {
  const owned: Tensor[] = [];
  try {
    const like = (typeof aIn === 'number' ? bIn : aIn) as Tensor;
    const a = typeof aIn === 'number' ? scalarTensor(op, aIn, 'int32', like.device) : aIn;
    if (a !== aIn) owned.push(a);
    const b = typeof bIn === 'number' ? scalarTensor(op, bIn, 'int32', like.device) : bIn;
    if (b !== bIn) owned.push(b);
    sameDevice(op, 'input', a, 'other', b);
    const shape = broadcastPair(op, a.shape, b.shape);
    const out = allocTensor(op, shape, 'int32', a.device);
    if (out.numel > 0) {
      const [s, sa, sb] = collapse(shape, broadcastStrides(a.shape, shape), broadcastStrides(b.shape, shape));
      native.run('intBinary', { op: name, a: a.live(op), b: b.live(op), out: out.live(op), shape: s, stridesA: sa, stridesB: sb });
    }
    return out;
  } finally {
    for (const t of owned) t.dispose();
  }
}

/**
 * How an arithmetic op treats integer operands, as PyTorch: int32 with int32 (or an integer
 * number) stays int32 (div excepted: true division gives float32); int32 with a float tensor or a
 * fractional number computes in float. Returns the int32 result, or the operands to run in float.
 */
function integerOperands(name: BinaryName, aIn: Tensor | number, bIn: Tensor | number): Tensor | [Tensor | number, Tensor | number, Tensor[]] {
  const isInt = (v: Tensor | number): boolean => typeof v !== 'number' && v.dtype === 'int32';
  if (!isInt(aIn) && !isInt(bIn)) return [aIn, bIn, []];
  const other = isInt(aIn) ? bIn : aIn;
  const bothInt = typeof other === 'number' ? isInt32Number(other) : other.dtype === 'int32';
  if (bothInt && name !== 'div') return intArith(name, name, aIn, bIn);
  const owned: Tensor[] = [];
  const toFloat = (v: Tensor | number): Tensor | number => {
    if (typeof v === 'number' || v.dtype !== 'int32') return v;
    const f = v.convert('float32');
    owned.push(f);
    return f;
  };
  return [toFloat(aIn), toFloat(bIn), owned];
}

function binaryOp(name: BinaryName, aIn: Tensor | number, bIn: Tensor | number): Tensor {
  if (typeof aIn === 'number' && typeof bIn === 'number') throw new TypeError(`${name}: at least one argument must be a Tensor`);
  if ((typeof aIn === 'object' && isTensorValue(aIn) && aIn.dtype === 'int32' && !aIn.isDisposed) || (typeof bIn === 'object' && isTensorValue(bIn) && bIn.dtype === 'int32' && !bIn.isDisposed)) {
    if (typeof aIn !== 'number') checkTensor(name, 'input', aIn);
    if (typeof bIn !== 'number') checkTensor(name, 'other', bIn);
    const r = integerOperands(name, aIn, bIn);
    if (!Array.isArray(r)) return r;
    try {
      return binaryOp(name, r[0], r[1]);
    } finally {
      for (const t of r[2]) t.dispose();
    }
  }
  if (typeof bIn === 'number') {
    const a = checkTensor(name, 'input', aIn);
    checkFloat(name, a);
    const [op, s] = name === 'add' ? ['add', bIn] : name === 'sub' ? ['add', -bIn] : name === 'mul' ? ['mul', bIn] : ['mul', 1 / bIn];
    const out = rawScalar(op as ScalarName, a, s as number, name);
    if (needsGrad(a)) {
      record(out, name, [a], (g) => [op === 'add' ? g.copy() : rawScalar('mul', g, s as number, name)]);
    }
    return out;
  }
  if (typeof aIn === 'number') {
    const b = checkTensor(name, 'other', bIn);
    checkFloat(name, b);
    if (name === 'add' || name === 'mul') return binaryOp(name, b, aIn);
    if (name === 'sub') {
      const out = rawScalar('rsub', b, aIn, name);
      if (needsGrad(b)) record(out, name, [b], (g) => [rawScalar('mul', g, -1, name)]);
      return out;
    }
    // a / b: d/db = -a / b^2
    const out = rawScalar('rdiv', b, aIn, name);
    if (needsGrad(b)) {
      const saved = b.saveForBackward();
      record(out, name, [b], (g) => {
        const b2 = rawBinary('mul', saved, saved);
        const q = rawBinary('div', g, b2);
        b2.dispose();
        const r = rawScalar('mul', q, -aIn, name);
        q.dispose();
        return [r];
      }, [saved]);
    }
    return out;
  }
  const a0 = checkTensor(name, 'input', aIn);
  const b0 = checkTensor(name, 'other', bIn);
  sameDevice(name, 'input', a0, 'other', b0);
  checkFloat(name, a0);
  checkFloat(name, b0, 'other');
  const aShape = a0.shape;
  const bShape = b0.shape;
  // The gradient of a broadcast input sums over the dimensions it was broadcast along.
  const reduceTo = (g: Tensor, shape: readonly number[]): Tensor => {
    const r = sumToShape(g, shape);
    if (r !== g) g.dispose();
    return r;
  };
  return runOp({
    op: name,
    rule: 'promote',
    inputs: [a0, b0],
    forward: ([a, b]) => {
      const out = rawBinary(name, a!, b!);
      if (name === 'add' || name === 'sub') {
        return {
          out,
          backward: (g) => [
            a0.requiresGrad ? reduceTo(g.copy(), aShape) : null,
            b0.requiresGrad ? reduceTo(name === 'add' ? g.copy() : rawScalar('mul', g, -1, name), bShape) : null,
          ],
        };
      }
      return {
        out,
        save: [a!, b!],
        backward: (g, [A, B]) => {
          let ga: Tensor | null = null;
          let gb: Tensor | null = null;
          if (name === 'mul') {
            if (a0.requiresGrad) ga = reduceTo(rawBinary('mul', g, B), aShape);
            if (b0.requiresGrad) gb = reduceTo(rawBinary('mul', g, A), bShape);
          } else {
            if (a0.requiresGrad) ga = reduceTo(rawBinary('div', g, B), aShape);
            if (b0.requiresGrad) {
              // d(a/b)/db = -a / b^2
              const ga2 = rawBinary('mul', g, A);
              const q = rawBinary('div', ga2, B);
              ga2.dispose();
              const q2 = rawBinary('div', q, B);
              q.dispose();
              gb = reduceTo(rawScalar('mul', q2, -1, name), bShape);
              q2.dispose();
            }
          }
          return [ga, gb];
        },
      };
    },
  });
}

/**
 * a // b (floor division, rounding toward negative infinity, as Python and PyTorch): int32 for
 * int32 operands (a zero divisor is a RangeError), else floor(a / b) in float, not differentiable.
 *
 * @example
 * ```ts
 * hy.floorDivide(hy.tensor([7, -7], { dtype: 'int32' }), 2); // tensor([ 3, -4], dtype=int32)
 * ```
 */
export function floorDivide(a: Tensor | number, b: Tensor | number): Tensor {
  return floorOp('floorDivide', a, b);
}

/**
 * a mod b with the divisor's sign (Python's %, torch.remainder): int32 for int32 operands, else
 * a - floor(a / b) * b (differentiable in both).
 *
 * @example
 * ```ts
 * hy.remainder(hy.tensor([7.5, -7.5]), 2); // tensor([1.5000, 0.5000])
 * ```
 */
export function remainder(a: Tensor | number, b: Tensor | number): Tensor {
  return floorOp('remainder', a, b);
}

function floorOp(op: 'floorDivide' | 'remainder', aIn: unknown, bIn: unknown): Tensor {
  if (typeof aIn === 'number' && typeof bIn === 'number') throw new TypeError(`${op}: at least one argument must be a Tensor`);
  const a = typeof aIn === 'number' ? aIn : checkTensor(op, 'input', aIn);
  const b = typeof bIn === 'number' ? bIn : checkTensor(op, 'other', bIn);
  if (typeof a !== 'number' && typeof b !== 'number') sameDevice(op, 'input', a, 'other', b);
  const intOf = (v: Tensor | number): boolean => (typeof v === 'number' ? isInt32Number(v) : v.dtype === 'int32');
  for (const [n, v] of [['input', a], ['other', b]] as const) if (typeof v !== 'number' && v.dtype === 'bool') fail('type', op, n, 'a numeric tensor', 'a bool tensor');
  if (intOf(a) && intOf(b)) return intArith(op, op, a, b);
  return tidy(() => {
    const q = noGrad(() => {
      const d = div(a, b);
      const out = rawUnary('floor', d, op);
      return out;
    });
    return op === 'floorDivide' ? q : sub(a, mul(q, b));
  });
}

/**
 * a + b elementwise, broadcasting (NumPy rules); either may be a number.
 *
 * @example
 * ```ts
 * hy.add(hy.ones([2, 3]), hy.tensor([10, 20, 30])); // [[11, 21, 31], [11, 21, 31]]
 * ```
 */
export const add = (a: Tensor | number, b: Tensor | number): Tensor => binaryOp('add', a, b);
/**
 * a - b elementwise, broadcasting; either may be a number.
 *
 * @example
 * ```ts
 * hy.sub(1, hy.tensor([0.25, 0.5])); // [0.75, 0.5]
 * ```
 */
export const sub = (a: Tensor | number, b: Tensor | number): Tensor => binaryOp('sub', a, b);
/**
 * a * b elementwise, broadcasting; either may be a number.
 *
 * @example
 * ```ts
 * hy.mul(hy.tensor([1, 2, 3]), 2); // [2, 4, 6]
 * ```
 */
export const mul = (a: Tensor | number, b: Tensor | number): Tensor => binaryOp('mul', a, b);
/**
 * a / b elementwise, broadcasting; either may be a number.
 *
 * @example
 * ```ts
 * hy.div(hy.tensor([1, 2]), hy.tensor([4, 8])); // [0.25, 0.25]
 * ```
 */
export const div = (a: Tensor | number, b: Tensor | number): Tensor => binaryOp('div', a, b);

/**
 * x ** p for a number p.
 *
 * @example
 * ```ts
 * hy.pow(hy.tensor([1, 2, 3]), 2); // [1, 4, 9]
 * ```
 */
export function pow(x: Tensor, p: number): Tensor {
  checkTensor('pow', 'input', x);
  checkFloat('pow', x);
  if (typeof p !== 'number') throw new TypeError(`pow: exponent must be a number, got ${describe(p)}`);
  return runOp({
    op: 'pow',
    rule: 'input',
    inputs: [x],
    forward: ([xi]) => ({
      out: rawScalar('pow', xi!, p, 'pow'),
      save: [xi!],
      backward: (g, [saved]) => {
        const d = rawScalar('pow', saved, p - 1, 'pow');
        const d2 = rawScalar('mul', d, p, 'pow');
        d.dispose();
        const r = rawBinary('mul', g, d2);
        d2.dispose();
        return [r];
      },
    }),
  });
}

// ---- unary ----

// These have a one-kernel backward (unaryGrad); the others are composed from other ops.
const FUSED_GRAD: ReadonlySet<UnaryName> = new Set<UnaryName>(['relu', 'gelu', 'geluTanh', 'abs']);

function unaryBackward(name: UnaryName, opName: string, g: Tensor, savedX: Tensor, savedOut: Tensor): Tensor[] {
  if (FUSED_GRAD.has(name)) {
    const gi = allocTensor(opName, g.shape.slice(), g.dtype, g.device);
    native.run('unaryGrad', { op: name as UnaryGradName, x: savedX.live(opName), gradOut: g.live(opName), gradIn: gi.live(opName), dtype: g.dtype, n: g.numel });
    return [gi];
  }
  switch (name) {
    case 'neg': return [rawScalar('mul', g, -1, opName)];
    case 'exp': return [rawBinary('mul', g, savedOut)];
    case 'log': return [rawBinary('div', g, savedX)];
    case 'sqrt': {
      const q = rawBinary('div', g, savedOut);
      const r = rawScalar('mul', q, 0.5, opName);
      q.dispose();
      return [r];
    }
    case 'tanh': {
      const sq = rawBinary('mul', savedOut, savedOut);
      const d = rawScalar('rsub', sq, 1, opName);
      sq.dispose();
      const r = rawBinary('mul', g, d);
      d.dispose();
      return [r];
    }
    case 'sigmoid': {
      const one = rawScalar('rsub', savedOut, 1, opName);
      const d = rawBinary('mul', savedOut, one);
      one.dispose();
      const r = rawBinary('mul', g, d);
      d.dispose();
      return [r];
    }
    case 'erf': {
      // d/dx erf(x) = 2/sqrt(pi) * exp(-x^2)
      const x2 = rawBinary('mul', savedX, savedX);
      const nx2 = rawScalar('mul', x2, -1, opName);
      x2.dispose();
      const e = rawUnary('exp', nx2, opName);
      nx2.dispose();
      const d = rawScalar('mul', e, 1.1283791670955126, opName);
      e.dispose();
      const r = rawBinary('mul', g, d);
      d.dispose();
      return [r];
    }
    default:
      throw new Error(`${opName}: no backward`);
  }
}

function unaryOp(name: UnaryName, x: Tensor, opName: string = name): Tensor {
  checkTensor(opName, 'input', x);
  checkFloat(opName, x);
  return runOp({
    op: opName,
    rule: 'input',
    inputs: [x],
    forward: ([xi]) => {
      const out = rawUnary(name, xi!, opName);
      return { out, save: [xi!, out], backward: (g, [savedX, savedOut]) => unaryBackward(name, opName, g, savedX, savedOut) };
    },
  });
}

/**
 * -x elementwise.
 *
 * @example
 * ```ts
 * hy.neg(hy.tensor([1, -2])); // [-1, 2]
 * ```
 */
export const neg = (x: Tensor): Tensor => unaryOp('neg', x);
/**
 * e ** x elementwise.
 *
 * @example
 * ```ts
 * hy.exp(hy.zeros([3])); // [1, 1, 1]
 * ```
 */
export const exp = (x: Tensor): Tensor => unaryOp('exp', x);
/**
 * The natural logarithm elementwise.
 *
 * @example
 * ```ts
 * hy.log(hy.tensor([1, Math.E])); // [0, 1]
 * ```
 */
export const log = (x: Tensor): Tensor => unaryOp('log', x);
/**
 * The error function elementwise.
 *
 * @example
 * ```ts
 * hy.erf(hy.tensor([0, 10])); // [0, 1]
 * ```
 */
export const erf = (x: Tensor): Tensor => unaryOp('erf', x);
/**
 * The square root elementwise.
 *
 * @example
 * ```ts
 * hy.sqrt(hy.tensor([4, 9])); // [2, 3]
 * ```
 */
export const sqrt = (x: Tensor): Tensor => unaryOp('sqrt', x);
/**
 * tanh(x) elementwise.
 *
 * @example
 * ```ts
 * hy.tanh(hy.zeros([2])); // [0, 0]
 * ```
 */
export const tanh = (x: Tensor): Tensor => unaryOp('tanh', x);
/**
 * 1 / (1 + exp(-x)) elementwise.
 *
 * @example
 * ```ts
 * hy.sigmoid(hy.tensor([0])); // [0.5]
 * ```
 */
export const sigmoid = (x: Tensor): Tensor => unaryOp('sigmoid', x);
/**
 * |x|; its gradient is sign(x), 0 at 0 (as PyTorch).
 *
 * @example
 * ```ts
 * hy.abs(hy.tensor([-1.5, 2])); // [1.5, 2]
 * ```
 */
export const abs = (x: Tensor): Tensor => unaryOp('abs', x);
/**
 * max(x, 0) elementwise.
 *
 * @example
 * ```ts
 * hy.relu(hy.tensor([-1, 0, 2])); // [0, 0, 2]
 * ```
 */
export const relu = (x: Tensor): Tensor => unaryOp('relu', x);

export interface GeluOptions {
  approximate?: 'none' | 'tanh';
}

/**
 * GELU in one fused kernel (forward) and one fused kernel (backward).
 *
 * @example
 * ```ts
 * const y = hy.gelu(hy.randn([4, 8])); // exact (erf) form
 * const z = hy.gelu(hy.randn([4, 8]), { approximate: 'tanh' });
 * ```
 */
export function gelu(x: Tensor, opts?: GeluOptions): Tensor {
  const o = checkOptions('gelu', opts, ['approximate']);
  const approximate = o.approximate ?? 'none';
  if (approximate !== 'none' && approximate !== 'tanh') {
    throw new RangeError(`gelu: approximate must be 'none' or 'tanh', got ${describe(approximate)}`);
  }
  return unaryOp(approximate === 'tanh' ? 'geluTanh' : 'gelu', x, 'gelu');
}

/**
 * The unfused composition x * 0.5 * (1 + erf(x / 1.41421)): five elementwise kernels, as the seed starts from.
 *
 * @example
 * ```ts
 * const y = hy.geluUnfused(hy.randn([4, 8])); // hy.gelu's values, up to rounding
 * ```
 */
export function geluUnfused(x: Tensor): Tensor {
  return tidy(() => mul(mul(x, 0.5), add(erf(div(x, 1.41421)), 1)));
}

// ---- reductions ----

function normDims(op: string, x: Tensor, dim: number | number[] | undefined): number[] {
  if (dim === undefined) return x.shape.map((_, i) => i);
  const list = typeof dim === 'number' ? [dim] : dim;
  if (!Array.isArray(list)) throw new TypeError(`${op}: dim must be an integer or an array of integers, got ${describe(dim)}`);
  const out = new Set<number>();
  for (const d of list) {
    if (typeof d !== 'number' || !Number.isInteger(d)) throw new TypeError(`${op}: dim must be an integer, got ${describe(d)}`);
    const nd = Math.max(x.shape.length, 1);
    if (d < -nd || d >= nd) throw new RangeError(`${op}: dim ${d} is out of range for a tensor of ${x.shape.length} dimensions`);
    const n = d < 0 ? d + nd : d;
    if (out.has(n)) throw new RangeError(`${op}: dim must not repeat a dimension, got ${describe(list)} (dim ${n} appears twice)`);
    out.add(n);
  }
  return [...out].filter((d) => d < x.shape.length).sort((a, b) => a - b);
}

/**
 * sum of a bool tensor: the count of true elements, as int32 (PyTorch counts in int64). Summed in
 * float32, which holds every count below 2^24 exactly; larger tensors are refused rather than
 * miscounted.
 */
function countTrue(x: Tensor, dim: number | number[] | undefined, opts: ReduceOptions | undefined): Tensor {
  if (x.numel >= 2 ** 24) throw new RangeError(`sum: a bool tensor of ${x.numel} elements (2^24 or more) cannot be counted exactly in float32; count slices of it (each below 2^24 elements) instead`);
  return noGrad(() => {
    const f = x.convert('float32');
    try {
      const s = reduceOp('sum', f, dim, opts);
      const r = s.convert('int32');
      if (r !== s) s.dispose();
      return r;
    } finally {
      f.dispose();
    }
  });
}

export interface ReduceOptions {
  keepdim?: boolean;
}

function reduceOp(op: 'sum' | 'mean', x: Tensor, dim: number | number[] | undefined, opts: ReduceOptions | undefined): Tensor {
  checkTensor(op, 'input', x);
  if (op === 'sum' && x.dtype === 'bool') return countTrue(x, dim, opts);
  checkFloat(op, x);
  const o = checkOptions(op, opts, ['keepdim']);
  const keepdim = booleanArg(op, 'keepdim', o.keepdim, false);
  const dims = normDims(op, x, dim);
  const count = dims.reduce((acc, d) => acc * x.shape[d], 1);
  const scale = op === 'mean' ? 1 / count : 1;
  const keptShape = x.shape.map((d, i) => (dims.includes(i) ? 1 : d));
  const outShape = keepdim ? keptShape : x.shape.filter((_, i) => !dims.includes(i));
  const inShape = x.shape;
  return runOp({
    op,
    rule: 'input',
    inputs: [x],
    forward: ([xi]) => {
      const kept = sumDims(xi!, dims, scale);
      const out = keepdim ? kept : reshapeRaw(kept, outShape);
      if (out !== kept) kept.dispose();
      return {
        out,
        backward: (g) => {
          const gk = reshapeRaw(g, keptShape);
          const e = expandTo(gk, inShape);
          gk.dispose();
          if (scale === 1) return [e];
          const r = rawScalar('mul', e, scale, op);
          e.dispose();
          return [r];
        },
      };
    },
  });
}

/**
 * The sum of all elements, or over dim (one or a list), dropping the summed dimensions unless keepdim.
 *
 * @example
 * ```ts
 * const x = hy.ones([2, 3]);
 * hy.sum(x); // 0-d: 6; hy.sum(x, 1) is [3, 3]; hy.sum(x, 1, { keepdim: true }) has shape [2, 1]
 * ```
 */
export const sum = (x: Tensor, dim?: number | number[], opts?: ReduceOptions): Tensor => reduceOp('sum', x, dim, opts);
/**
 * The mean of all elements, or over dim (one or a list), dropping those dimensions unless keepdim.
 *
 * @example
 * ```ts
 * hy.mean(hy.tensor([[1, 2], [3, 4]]), 0); // [2, 3]
 * ```
 */
export const mean = (x: Tensor, dim?: number | number[], opts?: ReduceOptions): Tensor => reduceOp('mean', x, dim, opts);

// ---- shape ----

/**
 * A view with a new shape (one dimension may be -1). Shares storage with x.
 *
 * @example
 * ```ts
 * hy.reshape(hy.arange(6), [2, -1]); // shape [2, 3]
 * ```
 */
export function reshape(x: Tensor, shape: number[]): Tensor {
  checkTensor('reshape', 'input', x);
  if (!Array.isArray(shape)) throw new TypeError(`reshape: shape must be an array, got ${describe(shape)}`);
  let infer = -1;
  let known = 1;
  shape.forEach((d, i) => {
    if (typeof d !== 'number' || !Number.isInteger(d)) throw new TypeError(`reshape: shape entries must be integers, got ${describe(d)}`);
    if (d === -1) {
      if (infer >= 0) throw new RangeError('reshape: only one dimension can be -1');
      infer = i;
    } else if (d < 0) {
      throw new RangeError(`reshape: invalid dimension ${d}`);
    } else {
      known *= d;
    }
  });
  const resolved = shape.slice();
  if (infer >= 0) {
    if (known === 0 || x.numel % known !== 0) throw new RangeError(`reshape: shape [${shape.join(', ')}] is invalid for a tensor of ${x.numel} elements`);
    resolved[infer] = x.numel / known;
  }
  if (numelOf(resolved) !== x.numel) throw new RangeError(`reshape: shape [${shape.join(', ')}] is invalid for a tensor of ${x.numel} elements`);
  const out = x.aliasAs(resolved);
  if (needsGrad(x)) {
    const inShape = x.shape;
    record(out, 'reshape', [x], (g) => [g.aliasAs(inShape)]);
  }
  return out;
}

/**
 * Flattens dimensions startDim..endDim into one (PyTorch's flatten).
 *
 * @example
 * ```ts
 * hy.flatten(hy.zeros([8, 1, 28, 28]), 1); // shape [8, 784]
 * ```
 */
export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  const op = 'flatten';
  checkTensor(op, 'input', x);
  const nd = x.shape.length;
  // A 0-d tensor is flattened as if it had one dimension (dims -1 and 0), as in PyTorch.
  const dim = (name: string, v: unknown): number => {
    const d = integerArg(op, name, v);
    const n = Math.max(nd, 1);
    if (d < -n || d >= n) fail('range', op, name, `an integer from ${-n} to ${n - 1} for a tensor of ${nd} dimensions`, d);
    return d < 0 ? d + n : d;
  };
  const s = dim('startDim', startDim);
  const e = dim('endDim', endDim);
  if (s > e) throw new RangeError(`${op}: startDim (${startDim}) must not come after endDim (${endDim}) for a tensor of ${nd} dimensions`);
  if (nd === 0) return reshape(x, [1]);
  const shape = [...x.shape.slice(0, s), numelOf(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)];
  return reshape(x, shape);
}

/**
 * A tensor sharing storage with x but cut from the graph.
 *
 * @example
 * ```ts
 * const w = hy.randn([3], { requiresGrad: true });
 * const frozen = hy.detach(w); // shares w's memory; frozen.requiresGrad is false
 * ```
 */
export function detach(x: Tensor): Tensor {
  checkTensor('detach', 'input', x);
  return x.aliasAs(x.shape);
}

// ---- engine hooks and Tensor methods ----

setEngineOps({
  onesLike: (t) => {
    const o = allocTensor('backward', t.shape.slice(), t.dtype, t.device);
    native.run('fill', { out: o.live('backward'), dtype: t.dtype, n: o.numel, value: 1 });
    return o;
  },
  add: (a, b) => rawBinary('add', a, b),
  addInto: (target, g) => {
    const src = g.dtype === target.dtype ? g : g.convert(target.dtype);
    const shape = target.shape.slice();
    const [s, sa, sb] = collapse(shape, contiguousStrides(shape), broadcastStrides(src.shape, shape));
    native.run('binary', { op: 'add', a: target.live('backward'), b: src.live('backward'), out: target.live('backward'), dtype: target.dtype, shape: s, stridesA: sa, stridesB: sb });
    if (src !== g) src.dispose();
  },
  keep: (t) => keep(t),
});

declare module './tensor' {
  interface Tensor {
    /**
     * this + other, broadcasting (see hy.add).
     *
     * @example
     * ```ts
     * hy.ones([2, 3]).add(hy.tensor([1, 2, 3])); // [[2, 3, 4], [2, 3, 4]]
     * ```
     */
    add(other: Tensor | number): Tensor;
    /**
     * this - other, broadcasting (see hy.sub).
     *
     * @example
     * ```ts
     * hy.tensor([3, 4]).sub(1); // [2, 3]
     * ```
     */
    sub(other: Tensor | number): Tensor;
    /**
     * this * other, broadcasting (see hy.mul).
     *
     * @example
     * ```ts
     * hy.tensor([1, 2]).mul(hy.tensor([3, 4])); // [3, 8]
     * ```
     */
    mul(other: Tensor | number): Tensor;
    /**
     * this / other, broadcasting (see hy.div).
     *
     * @example
     * ```ts
     * hy.tensor([1, 2]).div(4); // [0.25, 0.5]
     * ```
     */
    div(other: Tensor | number): Tensor;
    /**
     * -this (see hy.neg).
     *
     * @example
     * ```ts
     * hy.tensor([1, -2]).neg(); // [-1, 2]
     * ```
     */
    neg(): Tensor;
    /**
     * e ** this elementwise (see hy.exp).
     *
     * @example
     * ```ts
     * hy.zeros([2]).exp(); // [1, 1]
     * ```
     */
    exp(): Tensor;
    /**
     * The natural logarithm elementwise (see hy.log).
     *
     * @example
     * ```ts
     * hy.ones([2]).log(); // [0, 0]
     * ```
     */
    log(): Tensor;
    /**
     * The square root elementwise (see hy.sqrt).
     *
     * @example
     * ```ts
     * hy.tensor([4, 9]).sqrt(); // [2, 3]
     * ```
     */
    sqrt(): Tensor;
    /**
     * |this| elementwise (see hy.abs).
     *
     * @example
     * ```ts
     * hy.tensor([-1.5, 2]).abs(); // [1.5, 2]
     * ```
     */
    abs(): Tensor;
    /**
     * this ** p for a number p (see hy.pow).
     *
     * @example
     * ```ts
     * hy.tensor([2, 3]).pow(2); // [4, 9]
     * ```
     */
    pow(p: number): Tensor;
    /**
     * max(this, 0) elementwise (see hy.relu).
     *
     * @example
     * ```ts
     * hy.tensor([-1, 2]).relu(); // [0, 2]
     * ```
     */
    relu(): Tensor;
    /**
     * The sum of all elements, or over dim (see hy.sum).
     *
     * @example
     * ```ts
     * const x = hy.ones([2, 3]);
     * x.sum().item(); // 6; x.sum(1) is [3, 3]; x.sum(1, { keepdim: true }) has shape [2, 1]
     * ```
     */
    sum(dim?: number | number[], opts?: ReduceOptions): Tensor;
    /**
     * The mean of all elements, or over dim (see hy.mean).
     *
     * @example
     * ```ts
     * hy.tensor([[1, 2], [3, 4]]).mean(1); // [1.5, 3.5]
     * ```
     */
    mean(dim?: number | number[], opts?: ReduceOptions): Tensor;
    /**
     * A view with a new shape, given as sizes or as one array; one size may be -1 (see hy.reshape).
     *
     * @example
     * ```ts
     * hy.arange(6).reshape(2, -1); // shape [2, 3]; .reshape([2, -1]) too
     * ```
     */
    reshape(...shape: number[] | [number[]]): Tensor;
    /**
     * reshape(), as PyTorch names it for a view: shares storage.
     *
     * @example
     * ```ts
     * hy.arange(6).view(3, 2); // shape [3, 2]
     * ```
     */
    view(...shape: number[] | [number[]]): Tensor;
    /**
     * Flattens dimensions startDim..endDim into one (see hy.flatten).
     *
     * @example
     * ```ts
     * hy.zeros([8, 1, 28, 28]).flatten(1); // shape [8, 784]
     * ```
     */
    flatten(startDim?: number, endDim?: number): Tensor;
    /**
     * A tensor sharing this one's storage, cut from the graph (see hy.detach).
     *
     * @example
     * ```ts
     * const w = hy.randn([3], { requiresGrad: true });
     * const target = w.mul(2).detach(); // target.requiresGrad is false
     * ```
     */
    detach(): Tensor;
    /**
     * Computes gradients of this tensor with respect to the leaves that require them.
     *
     * @example
     * ```ts
     * const w = hy.tensor([1, 2, 3], { requiresGrad: true });
     * w.square().sum().backward(); // w.grad is [2, 4, 6]
     * ```
     */
    backward(gradient?: Tensor, opts?: BackwardOptions): void;
    /**
     * Sets requiresGrad in place (leaves only) and returns this tensor.
     *
     * @example
     * ```ts
     * const w = hy.randn([3, 3]).requiresGrad_(); // w.requiresGrad is true
     * ```
     */
    requiresGrad_(value?: boolean): Tensor;
  }
}

const shapeArgs = (args: number[] | [number[]]): number[] => (Array.isArray(args[0]) ? (args[0] as number[]) : (args as number[]));
const proto = Tensor.prototype;
proto.add = function (o) { return add(this, o); };
proto.sub = function (o) { return sub(this, o); };
proto.mul = function (o) { return mul(this, o); };
proto.div = function (o) { return div(this, o); };
proto.neg = function () { return neg(this); };
proto.exp = function () { return exp(this); };
proto.log = function () { return log(this); };
proto.sqrt = function () { return sqrt(this); };
proto.abs = function () { return abs(this); };
proto.pow = function (p) { return pow(this, p); };
proto.relu = function () { return relu(this); };
proto.sum = function (dim, opts) { return sum(this, dim, opts); };
proto.mean = function (dim, opts) { return mean(this, dim, opts); };
proto.reshape = function (...s) { return reshape(this, shapeArgs(s)); };
proto.view = function (...s) { return reshape(this, shapeArgs(s)); };
proto.flatten = function (a, b) { return flatten(this, a, b); };
proto.detach = function () { return detach(this); };
proto.backward = function (gradient, opts) { runBackward(this, gradient, opts); };
proto.requiresGrad_ = function (value = true) {
  if (typeof value !== 'boolean') throw new TypeError(`requiresGrad_: expected a boolean, got ${describe(value)}`);
  if (!this.isLeaf) throw new RangeError('requiresGrad_: only leaf tensors can change requiresGrad');
  if (value && this.dtype === 'int32') throw new RangeError('requiresGrad_: only floating-point tensors can require gradients');
  this.requiresGrad = value;
  return this;
};

export { noGrad };
