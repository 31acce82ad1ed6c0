// Op-table entries of the losses composed from other ops (mseLoss, l1Loss, smoothL1Loss,
// binaryCrossEntropy and its logits form), every reduction. Oracle: the per-element formulas in
// float64; the gradient: central differences of that oracle.
import * as hy from '../../lib/index';
import type { Tensor } from '../../lib/index';
import { finiteDiff } from '../reference/ops';
import { entry, FLOATS, FloatDType, numel, OpEntry, SampleSize, shapeLabel, Tol, uniform } from './entry';

const F = hy.nn.functional;
type Reduction = 'mean' | 'sum' | 'none';
interface P {
  shape: number[];
  reduction: Reduction;
}

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));
const LOSSES: [string, (x: Tensor, t: Tensor, o: { reduction: Reduction }) => Tensor, (x: number, t: number) => number, [number, number], [number, number]][] = [
  ['mseLoss', F.mseLoss, (x, t) => (x - t) ** 2, [-2, 2], [-2, 2]],
  ['l1Loss', F.l1Loss, (x, t) => Math.abs(x - t), [-2, 2], [-2, 2]],
  ['smoothL1Loss', F.smoothL1Loss, (x, t) => (Math.abs(x - t) < 1 ? 0.5 * (x - t) ** 2 : Math.abs(x - t) - 0.5), [-3, 3], [-1, 1]],
  ['binaryCrossEntropy', F.binaryCrossEntropy, (p, t) => -(t * Math.log(p) + (1 - t) * Math.log(1 - p)), [0.05, 0.95], [0, 1]],
  ['binaryCrossEntropyWithLogits', F.binaryCrossEntropyWithLogits, (x, t) => -(t * Math.log(sigmoid(x)) + (1 - t) * Math.log(1 - sigmoid(x))), [-4, 4], [0, 1]],
];

const TOL: Record<FloatDType, Tol> = { float32: { rtol: 2e-5, atol: 2e-6 }, float16: { rtol: 2e-2, atol: 1e-2 } };
const GRAD: Record<FloatDType, Tol> = { float32: { rtol: 1e-3, atol: 1e-4 }, float16: { rtol: 5e-2, atol: 2e-2 } };

function reduce(v: number[], r: Reduction): number[] {
  if (r === 'none') return v;
  const s = v.reduce((a, b) => a + b, 0);
  return [r === 'mean' ? s / v.length : s];
}

function lossEntry([name, fn, f, xr, tr]: (typeof LOSSES)[number]): OpEntry {
  return entry<P>({
    name,
    errorName: name,
    native: [{ op: 'binary' }, { op: 'reduceSum' }],
    dtypes: FLOATS,
    fn,
    fuzzArity: 3,
    sample(rng, size: SampleSize) {
      const n = size === 'edge' ? 5 : size;
      const shapes = size === 'edge' ? [[2, 3, 2], [1]] : [[n]];
      const out = [];
      for (const shape of shapes) {
        for (const reduction of ['mean', 'sum', 'none'] as Reduction[]) {
          const k = numel(shape);
          const t = uniform(rng, k, tr[0], tr[1]);
          // away from |x - t| = 0 and 1: the kinks of l1 and smoothL1
          const x = uniform(rng, k, xr[0], xr[1]).map((v, i) => {
            const d = Math.abs(v - t[i]);
            if (!(d < 0.05 || Math.abs(d - 1) < 0.05)) return v;
            return v + 0.1 <= xr[1] ? v + 0.1 : v - 0.1; // stay inside the input's domain
          });
          out.push({ label: `${shapeLabel(shape)} ${reduction}`, inputs: [{ shape, values: x }, { shape, values: t, requiresGrad: false }], params: { shape, reduction }, tolScale: Math.max(1, Math.sqrt(k) / 8) });
        }
      }
      return out;
    },
    call: ([x, t], p) => fn(x, t, { reduction: p.reduction }),
    oracle: (x, p) => ({ shape: p.reduction === 'none' ? p.shape : [], values: reduce(x[0].map((v, i) => f(v, x[1][i])), p.reduction) }),
    tol: TOL,
    grad: {
      oracle: (x, p, w) => [finiteDiff((v) => Float64Array.from(reduce(Array.from(v, (xi, i) => f(xi, x[1][i])), p.reduction)), x[0], w), null],
      tol: GRAD,
    },
    errors: (device) => [
      { label: 'shape mismatch', run: () => fn(hy.zeros([2, 3], { device }), hy.zeros([3], { device }), { reduction: 'mean' }), cls: RangeError, pattern: new RegExp(`^${name}: target shape \\[3\\] must match input shape \\[2, 3\\]$`) },
      { label: 'bad reduction', run: () => fn(hy.zeros([2], { device }), hy.zeros([2], { device }), { reduction: 'avg' as never }), cls: RangeError, pattern: new RegExp(`^${name}: reduction must be 'mean', 'sum' or 'none', got 'avg'$`) },
    ],
  });
}

export const LOSS: OpEntry[] = LOSSES.map(lossEntry);
