// Op-table entries of the reductions: sum and mean over all dims, one dim, several dims, negative
// dims, keepdim, 0-d and empty inputs. Oracle: sumDims of test/reference/ops.ts; the gradient is
// the upstream gradient broadcast back over the reduced dims (times 1 / count for mean).
import * as hy from '../../lib/index';
import type { Tensor } from '../../lib/index';
import * as ref from '../reference/ops';
import { binaryRef, commonErrors } from './elementwise';
import { entry, FLOATS, GRAD_TOL, numel, OpEntry, Sample, SampleSize, shapeLabel, uniform } from './entry';

interface ReduceParams {
  shape: number[];
  dim?: number | number[];
  keepdim: boolean;
}

/** The reduced dims as the library normalises them: negatives wrapped, sorted (a repeated dim is an error). */
function dimsOf(p: ReduceParams): number[] {
  if (p.dim === undefined) return p.shape.map((_, i) => i);
  const list = typeof p.dim === 'number' ? [p.dim] : p.dim;
  const nd = Math.max(p.shape.length, 1);
  return [...new Set(list.map((d) => (d < 0 ? d + nd : d)))].filter((d) => d < p.shape.length).sort((a, b) => a - b);
}

function reduceOracle(op: 'sum' | 'mean', x: ArrayLike<number>, p: ReduceParams) {
  const dims = dimsOf(p);
  const count = dims.reduce((a, d) => a * p.shape[d], 1);
  const kept = p.shape.map((d, i) => (dims.includes(i) ? 1 : d));
  const s = ref.sumDims(x, p.shape, dims);
  return { shape: p.keepdim ? kept : p.shape.filter((_, i) => !dims.includes(i)), kept, values: op === 'mean' ? s.map((v) => v / count) : s, count };
}

function samples(rng: () => number, size: SampleSize): Sample<ReduceParams>[] {
  const cases: ReduceParams[] =
    size === 'edge'
      ? [
          { shape: [3, 5, 7, 2], dim: [1, 2], keepdim: false },
          { shape: [3, 5, 7, 2], dim: [0, 3], keepdim: true },
          { shape: [3, 5, 7, 2], dim: -1, keepdim: false },
          { shape: [3, 5, 7, 2], dim: [1, -2], keepdim: false },
          { shape: [3, 5, 7, 2], dim: [0, 1, 2, 3], keepdim: true },
          { shape: [3, 5, 7, 2], dim: [], keepdim: false },
          { shape: [], keepdim: false },
          { shape: [], dim: 0, keepdim: true },
          { shape: [0, 3], dim: 0, keepdim: false },
          { shape: [0, 3], keepdim: false },
          { shape: [3, 0], dim: 1, keepdim: true },
          { shape: [1, 1, 1], dim: 1, keepdim: false },
        ]
      : [
          { shape: [size], keepdim: false },
          { shape: [size], dim: 0, keepdim: true },
          { shape: [3, size], dim: 1, keepdim: false },
          { shape: [size, 3], dim: 0, keepdim: false },
          { shape: [2, size, 3], dim: 1, keepdim: true },
        ];
  return cases.map((p) => {
    const count = reduceOracle('sum', new Float64Array(numel(p.shape)), p).count;
    return {
      label: `${shapeLabel(p.shape)} dim=${JSON.stringify(p.dim)}${p.keepdim ? ' keepdim' : ''}`,
      inputs: [{ shape: p.shape, values: uniform(rng, numel(p.shape), -1, 1) }],
      params: p,
      // a sum of n values carries about sqrt(n) roundings
      tolScale: Math.max(1, Math.sqrt(count) / 8),
    };
  });
}

function reduceEntry(op: 'sum' | 'mean', fn: (x: Tensor, dim?: number | number[], opts?: hy.ReduceOptions) => Tensor): OpEntry {
  return entry<ReduceParams>({
    name: op,
    errorName: op,
    native: [{ op: 'reduceSum' }],
    dtypes: FLOATS,
    fn,
    fuzzArity: 3,
    sample: samples,
    call: ([x], p) => fn(x, p.dim, { keepdim: p.keepdim }),
    oracle: (x, p) => {
      const r = reduceOracle(op, x[0], p);
      return { shape: r.shape, values: r.values };
    },
    tol: { float32: { rtol: 1e-5, atol: 1e-5 }, float16: { rtol: 1e-2, atol: 1e-2 } },
    grad: {
      oracle: (x, p, w) => {
        const r = reduceOracle(op, x[0], p);
        const scale = op === 'mean' ? 1 / r.count : 1;
        // w (laid out like the kept shape) broadcast to the input's shape
        return [binaryRef((_, g) => g * scale, new Float64Array(x[0].length), p.shape, w, r.kept)];
      },
      tol: GRAD_TOL,
      checkOracle: true,
    },
    errors: (device) => {
      const x = (): Tensor => hy.ones([2, 3], { device });
      return [
        ...commonErrors(op, device, (t) => fn(t)),
        { label: 'dim out of range', run: () => fn(x(), 2), cls: RangeError, pattern: new RegExp(`^${op}: dim 2 is out of range for a tensor of 2 dimensions$`) },
        { label: 'negative dim out of range', run: () => fn(x(), [0, -3]), cls: RangeError, pattern: /dim -3 is out of range/ },
        { label: 'fractional dim', run: () => fn(x(), 0.5), cls: TypeError, pattern: /dim must be an integer, got 0\.5/ },
        { label: 'string dim', run: () => fn(x(), '0' as never), cls: TypeError, pattern: /dim must be an integer or an array of integers, got '0'/ },
        { label: 'unknown option', run: () => fn(x(), 0, { keepDim: true } as never), cls: TypeError, pattern: /unknown option 'keepDim'/ },
        { label: 'repeated dim', run: () => fn(x(), [1, -1]), cls: RangeError, pattern: new RegExp(`^${op}: dim must not repeat a dimension, got \\[1, -1\\] \\(dim 1 appears twice\\)$`) },
        { label: 'keepdim not a boolean', run: () => fn(x(), 0, { keepdim: 1 } as never), cls: TypeError, pattern: new RegExp(`^${op}: keepdim must be a boolean, got 1$`) },
      ];
    },
  });
}

export const REDUCTION: OpEntry[] = [reduceEntry('sum', hy.sum), reduceEntry('mean', hy.mean)];
