// Op-table entries of the GEMM family: matmul (1-D operands, batches, a 2-D operand shared by a
// batch, empty M and K) and linear (with and without bias, any leading dims). Oracles and their
// analytic backward passes: test/reference/linalg.ts (the backward needs the transposed GEMMs).
import * as hy from '../../lib/index';
import type { Tensor } from '../../lib/index';
import * as ref from '../reference/linalg';
import { commonErrors } from './elementwise';
import { entry, FloatDType, FLOATS, numel, OpEntry, Sample, shapeLabel, uniform } from './entry';

const TOL = { float32: { rtol: 1e-5, atol: 1e-5 }, float16: { rtol: 1e-2, atol: 1e-2 } };
const GRAD = { float32: { rtol: 1e-4, atol: 2e-5 }, float16: { rtol: 3e-2, atol: 1e-2 } };

interface MatmulParams {
  as: number[];
  bs: number[];
  outDtype?: FloatDType;
}

/** matmul's output shape under PyTorch's rules (1-D operands promoted, then their dim dropped). */
export function matmulShape(as: number[], bs: number[]): number[] {
  const A = as.length === 1 ? [1, as[0]] : as;
  const B = bs.length === 1 ? [bs[0], 1] : bs;
  const batch = A.length > 2 ? A.slice(0, -2) : B.slice(0, -2);
  const out = [...batch, A[A.length - 2], B[B.length - 1]];
  if (as.length === 1) out.splice(out.length - 2, 1);
  if (bs.length === 1) out.pop();
  return out;
}

const MATMUL_CASES: Record<string, [number[], number[]][]> = {
  1: [[[1], [1]], [[1, 1], [1, 1]]],
  7: [[[7, 5], [5, 3]], [[7], [7, 2]], [[3, 7], [7]]],
  33: [[[33, 33], [33, 7]], [[2, 33, 5], [5, 4]]],
  1023: [[[1023, 4], [4, 3]], [[2, 1023], [1023, 3]], [[1023], [1023]]],
  edge: [
    [[2, 3, 4], [2, 4, 5]],
    [[3, 4], [2, 4, 5]],
    [[2, 3, 4], [4]],
    [[4], [2, 4, 3]],
    [[2, 2, 3, 4], [2, 2, 4, 2]],
    [[3, 0], [0, 4]],
    [[0, 4], [4, 3]],
    [[3, 4], [4, 0]],
    [[2, 0, 3], [2, 3, 4]],
  ],
};

const MATMUL = entry<MatmulParams>({
  name: 'matmul',
  errorName: 'matmul',
  native: [{ op: 'gemm' }],
  dtypes: FLOATS,
  fn: hy.matmul,
  fuzzArity: 2,
  sample(rng, size, dtype) {
    const out: Sample<MatmulParams>[] = MATMUL_CASES[String(size)].map(([as, bs]) => ({
      label: `${shapeLabel(as)} @ ${shapeLabel(bs)}`,
      inputs: [{ shape: as, values: uniform(rng, numel(as)) }, { shape: bs, values: uniform(rng, numel(bs)) }],
      params: { as, bs },
      tolScale: Math.max(1, Math.sqrt(as[as.length - 1]) / 4),
    }));
    if (size === 'edge') {
      const other: FloatDType = dtype === 'float32' ? 'float16' : 'float32';
      out.push({
        label: `[3,5] ${dtype} @ [5,2] ${other}`,
        inputs: [{ shape: [3, 5], values: uniform(rng, 15) }, { shape: [5, 2], values: uniform(rng, 10), dtype: other }],
        params: { as: [3, 5], bs: [5, 2], outDtype: 'float32' },
      });
    }
    return out;
  },
  call: ([a, b]) => hy.matmul(a, b),
  oracle: (x, p) => ({ shape: matmulShape(p.as, p.bs), values: ref.matmul(x[0], p.as, x[1], p.bs), dtype: p.outDtype }),
  tol: TOL,
  grad: {
    oracle: (x, p, w) => {
      const { da, db } = ref.matmulBackward(x[0], p.as, x[1], p.bs, w);
      return [da, db];
    },
    tol: GRAD,
    checkOracle: true,
  },
  errors: (device) => [
    ...commonErrors('matmul', device, (t) => hy.matmul(t, t)),
    { label: 'inner dims differ', run: () => hy.matmul(hy.ones([2, 3], { device }), hy.ones([4, 2], { device })), cls: RangeError, pattern: /^matmul: shapes \[2, 3\] and \[4, 2\] cannot be multiplied \(3 != 4\)$/ },
    { label: 'a 0-d operand', run: () => hy.matmul(hy.ones([], { device }), hy.ones([2], { device })), cls: RangeError, pattern: /^matmul: both arguments need at least one dimension/ },
    { label: 'batch dims differ', run: () => hy.matmul(hy.ones([2, 3, 4], { device }), hy.ones([3, 4, 5], { device })), cls: RangeError, pattern: /^matmul: batch dimensions \[2\] and \[3\] differ/ },
  ],
});

interface LinearParams {
  xs: number[];
  outF: number;
  bias: boolean;
  outDtype?: FloatDType;
}

const LINEAR_CASES: Record<string, [number[], number, boolean][]> = {
  1: [[[1, 1], 1, true]],
  7: [[[7, 5], 4, true], [[7], 3, false]],
  33: [[[33, 33], 7, false], [[3, 11, 2], 33, true]],
  1023: [[[1023, 4], 3, true], [[2, 1023], 3, true]],
  edge: [[[2, 3, 5], 4, true], [[0, 5], 3, true], [[4, 3], 0, false], [[1, 2, 1, 6], 2, false]],
};

const LINEAR = entry<LinearParams>({
  name: 'linear',
  errorName: 'linear',
  native: [{ op: 'gemm' }, { op: 'binary', values: ['add'] }, { op: 'reduceSum' }],
  dtypes: FLOATS,
  fn: hy.linear,
  fuzzArity: 3,
  sample(rng, size, dtype) {
    const make = (xs: number[], outF: number, bias: boolean, wDtype?: FloatDType): Sample<LinearParams> => {
      const inF = xs[xs.length - 1];
      return {
        label: `x ${shapeLabel(xs)} weight [${outF},${inF}]${bias ? ' bias' : ''}${wDtype ? ` weight ${wDtype}` : ''}`,
        inputs: [
          { shape: xs, values: uniform(rng, numel(xs)) },
          { shape: [outF, inF], values: uniform(rng, outF * inF), dtype: wDtype },
          ...(bias ? [{ shape: [outF], values: uniform(rng, outF), dtype: wDtype }] : []),
        ],
        params: { xs, outF, bias, outDtype: wDtype && wDtype !== dtype ? 'float32' : undefined },
        tolScale: Math.max(1, Math.sqrt(inF) / 4),
      };
    };
    const out = LINEAR_CASES[String(size)].map(([xs, outF, bias]) => make(xs, outF, bias));
    if (size === 'edge') out.push(make([3, 5], 2, true, dtype === 'float32' ? 'float16' : 'float32'));
    return out;
  },
  call: ([x, w, b], p) => hy.linear(x, w, p.bias ? b : null),
  oracle: (x, p) => {
    const inF = p.xs[p.xs.length - 1];
    const rows = numel(p.xs.slice(0, -1));
    return {
      shape: [...p.xs.slice(0, -1), p.outF],
      values: ref.linear(x[0], x[1], p.bias ? x[2] : new Float64Array(p.outF), rows, inF, p.outF),
      dtype: p.outDtype,
    };
  },
  tol: TOL,
  grad: {
    oracle: (x, p, w) => {
      const inF = p.xs[p.xs.length - 1];
      const rows = numel(p.xs.slice(0, -1));
      const { dx, dw, dbias } = ref.linearBackward(x[0], x[1], w, rows, inF, p.outF);
      return p.bias ? [dx, dw, dbias] : [dx, dw];
    },
    tol: GRAD,
    checkOracle: true,
  },
  errors: (device) => {
    const x = (): Tensor => hy.ones([4, 3], { device });
    return [
      ...commonErrors('linear', device, (t) => hy.linear(t, hy.ones([2, 2], { device }))),
      { label: '1-D weight', run: () => hy.linear(x(), hy.ones([3], { device })), cls: RangeError, pattern: /^linear: weight must be 2-D \[out, in\], got shape \[3\]$/ },
      { label: 'in_features differ', run: () => hy.linear(x(), hy.ones([2, 5], { device })), cls: RangeError, pattern: /^linear: input's last dimension 3 does not match weight's in_features 5/ },
      { label: 'bias of the wrong shape', run: () => hy.linear(x(), hy.ones([2, 3], { device }), hy.ones([3], { device })), cls: RangeError, pattern: /^linear: bias must have shape \[2\], got \[3\]$/ },
      { label: 'a string weight', run: () => hy.linear(x(), 'w' as never), cls: TypeError, pattern: /^linear: weight must be a Tensor, got 'w'$/ },
    ];
  },
});

export const LINALG: OpEntry[] = [MATMUL, LINEAR];
