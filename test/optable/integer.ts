// Op-table entries of int32 arithmetic (ops/integer.h through add/sub/mul/floorDivide/remainder on
// int32 tensors) and the float forms of floorDivide and remainder. Oracle: BigInt arithmetic
// wrapped to 32 bits, and Python's floor division and modulo; exact.
import * as hy from '../../lib/index';
import type { DType, Tensor } from '../../lib/index';
import { EXACT, entry, FLOATS, GRAD_TOL, numel, OpEntry, SampleSize, shapeLabel, uniform } from './entry';

type IntOp = 'add' | 'sub' | 'mul' | 'floorDivide' | 'remainder';
const wrap = (v: bigint): number => Number(BigInt.asIntN(32, v));
const floorDiv = (a: number, b: number): number => wrap(BigInt(Math.floor(a / b)));
const mod = (a: number, b: number): number => ((a % b) + b) % b === 0 ? 0 : a - Math.floor(a / b) * b;
const INT: Record<IntOp, (a: number, b: number) => number> = {
  add: (a, b) => wrap(BigInt(a) + BigInt(b)),
  sub: (a, b) => wrap(BigInt(a) - BigInt(b)),
  mul: (a, b) => wrap(BigInt(a) * BigInt(b)),
  floorDivide: floorDiv,
  remainder: (a, b) => wrap(BigInt(mod(a, b))),
};
const FN: Record<IntOp, (a: Tensor | number, b: Tensor | number) => Tensor> = { add: hy.add, sub: hy.sub, mul: hy.mul, floorDivide: hy.floorDivide, remainder: hy.remainder };

interface P {
  shapes: [number[], number[]];
  scalar?: number;
}

const sized = (size: SampleSize): number => (size === 'edge' ? 3 : size);

function broadcastValues(f: (a: number, b: number) => number, a: number[], as: number[], b: number[], bs: number[]): { shape: number[]; values: number[] } {
  const n = Math.max(as.length, bs.length);
  const out = Array.from({ length: n }, (_, i) => {
    const x = as[as.length - n + i] ?? 1;
    const y = bs[bs.length - n + i] ?? 1;
    return x === 1 ? y : x;
  });
  const idx = (c: number[], s: number[]): number => {
    let k = 0;
    const off = out.length - s.length;
    s.forEach((d, i) => (k = k * d + (d === 1 ? 0 : c[i + off])));
    return k;
  };
  const values: number[] = [];
  for (let i = 0; i < numel(out); i++) {
    const c: number[] = [];
    let r = i;
    for (let d = out.length - 1; d >= 0; d--) {
      c[d] = r % out[d];
      r = Math.floor(r / out[d]);
    }
    values.push(f(a[idx(c, as)], b[idx(c, bs)]));
  }
  return { shape: out, values };
}

function intEntry(op: IntOp): OpEntry {
  const divides = op === 'floorDivide' || op === 'remainder';
  return entry<P>({
    name: `${op}(int32)`,
    errorName: op,
    native: [{ op: 'intBinary', values: [op] }],
    dtypes: FLOATS,
    fn: FN[op],
    fuzzArity: 2,
    sample(rng, size) {
      const n = sized(size);
      // large magnitudes reach the wrap; divisors avoid 0
      const ints = (k: number, big: boolean): number[] => uniform(rng, k, big ? -(2 ** 31) : -50, big ? 2 ** 31 - 1 : 50).map((v) => {
        const r = Math.round(v);
        return divides && r === 0 ? 3 : r;
      });
      const cases: P[] = [{ shapes: [[n, 3], [n, 3]] }, { shapes: [[n, 3], [3]] }, { shapes: [[n], []], scalar: divides ? -7 : 123456789 }];
      if (size === 'edge') cases.push({ shapes: [[0, 2], [1, 2]] }, { shapes: [[], []] });
      return cases.map((p, k) => ({
        label: `${shapeLabel(p.shapes[0])} ${p.scalar !== undefined ? p.scalar : shapeLabel(p.shapes[1])}`,
        inputs: p.scalar !== undefined
          ? [{ shape: p.shapes[0], values: ints(numel(p.shapes[0]), k === 0), dtype: 'int32' as DType }]
          : [
              { shape: p.shapes[0], values: ints(numel(p.shapes[0]), k === 0), dtype: 'int32' as DType },
              { shape: p.shapes[1], values: ints(numel(p.shapes[1]), k === 0), dtype: 'int32' as DType },
            ],
        params: p,
      }));
    },
    call: ([a, b], p) => FN[op](a, p.scalar !== undefined ? p.scalar : b),
    oracle: (x, p) => ({ ...broadcastValues(INT[op], x[0], p.shapes[0], p.scalar !== undefined ? [p.scalar] : x[1], p.scalar !== undefined ? [] : p.shapes[1]), dtype: 'int32' }),
    tol: EXACT,
    errors: (device) => [
      ...(divides
        ? [{ label: 'zero divisor (at the read)', run: () => FN[op](hy.tensor([4, 5], { dtype: 'int32', device }), hy.tensor([1, 0], { dtype: 'int32', device })).dataSync(), cls: RangeError, pattern: /^intBinary: integer division by zero at position 1 \(floorDivide and remainder of int32 need nonzero divisors\)$/, op: 'intBinary' }]
        : []),
      { label: 'shapes', run: () => FN[op](hy.zeros([2, 3], { dtype: 'int32', device }), hy.zeros([4], { dtype: 'int32', device })), cls: RangeError, pattern: new RegExp(`^${op}: shapes \\[2, 3\\] and \\[4\\] cannot be broadcast`) },
    ],
  });
}

function floatFloorEntry(op: 'floorDivide' | 'remainder'): OpEntry {
  const f = op === 'floorDivide' ? (a: number, b: number) => Math.floor(a / b) : (a: number, b: number) => a - Math.floor(a / b) * b;
  return entry<{ shape: number[] }>({
    name: `${op}(float)`,
    errorName: op,
    native: [{ op: 'unary', values: ['floor'] }],
    dtypes: ['float32'],
    fn: FN[op],
    fuzzArity: 2,
    sample(rng, size) {
      const n = sized(size);
      // away from exact multiples, where floor jumps
      const a = uniform(rng, n, -9, 9).map((v) => Math.fround(Math.abs(v / 1.5 - Math.round(v / 1.5)) < 0.05 ? v + 0.2 : v));
      return [{ label: `[${n}] / 1.5`, inputs: [{ shape: [n], values: a }, { shape: [], values: [1.5] }], params: { shape: [n] } }];
    },
    call: ([a, b]) => FN[op](a, b),
    oracle: (x, p) => ({ shape: p.shape, values: x[0].map((v) => f(v, x[1][0])) }),
    tol: { float32: { rtol: 1e-6, atol: 2e-6 }, float16: { rtol: 1e-3, atol: 1e-3 } },
    ...(op === 'remainder'
      ? { grad: { oracle: (x: number[][], _p: { shape: number[] }, w: ArrayLike<number>) => [Array.from(w), [x[0].reduce((acc, v, i) => acc - Math.floor(v / x[1][0]) * w[i], 0)]], tol: GRAD_TOL } }
      : {}),
    errors: (device) => [{ label: 'bool input', run: () => FN[op](hy.zeros([2], { dtype: 'bool', device }), 1), cls: TypeError, pattern: new RegExp(`^${op}: input must be a numeric tensor, got 'a bool tensor'$`) }],
  });
}

export const INTEGER: OpEntry[] = [...(['add', 'sub', 'mul', 'floorDivide', 'remainder'] as IntOp[]).map(intEntry), floatFloorEntry('floorDivide'), floatFloorEntry('remainder')];
