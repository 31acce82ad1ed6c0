// Op-table entries of hy.nn.functional's kernels: softmax and logSoftmax along any dim, nllLoss and
// crossEntropy for every reduction, maxPool2d (odd geometry, padding, 3-D input, indices),
// batchNorm in training and eval (running statistics, no affine, no running buffers) and
// dropout (Philox mask), conv2d (stride, padding, dilation, groups, 'same'/'valid', 3-D input, N 0).
// Oracles: test/reference/nn.ts, philox.ts and conv.ts; gradients in closed form where the
// reference has one, else central differences of the float64 forward.
import * as hy from '../../lib/index';
import type { Tensor } from '../../lib/index';
import * as convRef from '../reference/conv';
import * as ref from '../reference/nn';
import * as philox from '../reference/philox';
import { finiteDiff } from '../reference/ops';
import { native } from '../../lib/native';
import { beginGraphDraws, endGraphDraws } from '../../lib/random';
import { commonErrors } from './elementwise';
import { classes, entry, ErrorCase, FLOATS, numel, OpEntry, Sample, SampleSize, shapeLabel, Tol, uniform } from './entry';

const F = hy.nn.functional;
const REDUCTIONS = ['none', 'mean', 'sum'] as const;
type Reduction = (typeof REDUCTIONS)[number];
const CODE: Record<Reduction, number> = { none: 0, mean: 1, sum: 2 };

const TOL: Record<'float32' | 'float16', Tol> = { float32: { rtol: 1e-5, atol: 1e-5 }, float16: { rtol: 1e-2, atol: 1e-2 } };
const GRAD: Record<'float32' | 'float16', Tol> = { float32: { rtol: 1e-4, atol: 2e-5 }, float16: { rtol: 3e-2, atol: 1e-2 } };

// ---- logSoftmax ----

/** A row-wise oracle applied along any dim: each input moved to rows of shape[dim] and back. */
function alongDim(shape: number[], dim: number, f: (rows: number, cols: number, ...xs: Float64Array[]) => Float64Array, ...xs: ArrayLike<number>[]): Float64Array {
  const d = dim < 0 ? dim + shape.length : dim;
  const C = shape[d];
  const outer = numel(shape.slice(0, d));
  const inner = numel(shape.slice(d + 1));
  const toRows = (x: ArrayLike<number>): Float64Array => {
    const rows = new Float64Array(x.length);
    for (let o = 0; o < outer; o++) for (let c = 0; c < C; c++) for (let i = 0; i < inner; i++) rows[(o * inner + i) * C + c] = x[(o * C + c) * inner + i];
    return rows;
  };
  const y = f(outer * inner, C, ...xs.map(toRows));
  const out = new Float64Array(y.length);
  for (let o = 0; o < outer; o++) for (let c = 0; c < C; c++) for (let i = 0; i < inner; i++) out[(o * C + c) * inner + i] = y[(o * inner + i) * C + c];
  return out;
}

interface SoftmaxParams {
  shape: number[];
  dim: number;
}

function rowEntry(name: 'logSoftmax' | 'softmax'): OpEntry {
  const fwd = name === 'softmax' ? ref.softmax : ref.logSoftmax;
  const bwd = name === 'softmax' ? ref.softmaxBackward : ref.logSoftmaxBackward;
  const fn = name === 'softmax' ? F.softmax : F.logSoftmax;
  return entry<SoftmaxParams>({
  name,
  errorName: name,
  native: [{ op: name }, { op: `${name}Backward` }, { op: 'binary', values: ['add'] }],
  dtypes: FLOATS,
  fn,
  fuzzArity: 2,
  sample(rng, size) {
    const cases: [number[], number, number][] =
      size === 'edge'
        ? [[[2, 3, 4], 1, 0], [[1, 1], 0, 0], [[4, 7], 0, 0], [[3, 5, 4], -2, 0], [[2, 5], 1, 1000], [[3, 6], -1, -1000], [[0, 5], 1, 0], [[2, 0, 3], 2, 0]]
        : [[[size], 0, 0], [[3, size], -1, 0], [[size, 3], 0, 0]];
    return cases.map(([shape, dim, offset]) => ({
      label: `${shapeLabel(shape)} dim=${dim}${offset ? ` offset ${offset}` : ''}`,
      inputs: [{ shape, values: uniform(rng, numel(shape), -4, 4).map((v) => v + offset) }],
      params: { shape, dim },
    }));
  },
  call: ([x], p) => fn(x, p.dim),
  oracle: (x, p) => ({ shape: p.shape, values: alongDim(p.shape, p.dim, (r, c, v) => fwd(v, r, c), x[0]) }),
  tol: { float32: { rtol: 1e-5, atol: 1e-5 }, float16: { rtol: 1e-2, atol: 2e-3 } },
  grad: {
    oracle: (x, p, w) => [alongDim(p.shape, p.dim, (r, c, v, g) => bwd(v, g, r, c), x[0], w)],
    tol: GRAD,
    checkOracle: true,
  },
  errors: (device) => [
    ...commonErrors(name, device, (t) => fn(t, 0)),
    { label: 'dim out of range', run: () => fn(hy.ones([4, 3], { device }), 2), cls: RangeError, pattern: new RegExp(`^${name}: dim 2 is out of range for a tensor of 2 dimensions$`) },
    { label: 'a 0-d input', run: () => fn(hy.ones([], { device }), 0), cls: RangeError, pattern: new RegExp(`^${name}: dim 0 is out of range for a tensor of 0 dimensions$`) },
    { label: 'fractional dim', run: () => fn(hy.ones([4, 3], { device }), 0.5), cls: TypeError, pattern: new RegExp(`^${name}: dim must be an integer, got 0\\.5$`) },
  ],
});
}

// ---- losses ----

interface LossParams {
  N: number;
  C: number;
  reduction: Reduction;
}

const LOSS_SHAPES: Record<string, [number, number][]> = {
  1: [[1, 1]],
  7: [[7, 5]],
  33: [[33, 7], [2, 33]],
  1023: [[3, 1023], [1023, 3]],
  edge: [[2, 1], [1, 9], [0, 3]],
};

function lossSamples(lo: number, hi: number, offsets: boolean) {
  return (rng: () => number, size: SampleSize): Sample<LossParams>[] => {
    const out: Sample<LossParams>[] = [];
    for (const [N, C] of LOSS_SHAPES[String(size)]) {
      for (const reduction of REDUCTIONS) {
        // the mean over zero rows is 0 / 0; PyTorch gives NaN there too, but it is not a case worth pinning
        if (N === 0 && reduction === 'mean') continue;
        out.push({
          label: `[${N},${C}] ${reduction}`,
          inputs: [{ shape: [N, C], values: uniform(rng, N * C, lo, hi) }, { shape: [N], values: classes(rng, N, C), dtype: 'int32' }],
          params: { N, C, reduction },
        });
      }
    }
    if (size === 'edge' && offsets) {
      out.push({
        label: '[4,6] mean, logits near 1000',
        inputs: [{ shape: [4, 6], values: uniform(rng, 24, -4, 4).map((v) => v + 1000) }, { shape: [4], values: classes(rng, 4, 6), dtype: 'int32' }],
        params: { N: 4, C: 6, reduction: 'mean' },
      });
    }
    return out;
  };
}

/** Weight of row r in the reduced loss, for an upstream gradient w. */
const rowScale = (p: LossParams, w: ArrayLike<number>, r: number): number => (p.reduction === 'none' ? w[r] : p.reduction === 'mean' ? w[0] / p.N : w[0]);

function lossErrors(op: 'nllLoss' | 'crossEntropy', call: (x: Tensor, t: Tensor, o?: hy.nn.LossOptions) => Tensor) {
  return (device: 'cpu' | 'cuda'): ErrorCase[] => {
    const x = (): Tensor => hy.ones([4, 3], { device });
    const t = (v = [0, 1, 2, 0]): Tensor => hy.tensor(Int32Array.from(v), { device });
    return [
      ...commonErrors(op, device, (v) => call(v, t())),
      { label: "reduction 'avg'", run: () => call(x(), t(), { reduction: 'avg' as never }), cls: RangeError, pattern: new RegExp(`^${op}: reduction must be 'mean', 'sum' or 'none', got 'avg'$`) },
      { label: 'float32 target', run: () => call(x(), x()), cls: TypeError, pattern: /target must be an int32 tensor of class indices, got float32$/ },
      { label: 'target of the wrong length', run: () => call(x(), t([0, 1])), cls: RangeError, pattern: /target must have shape \[4\], got \[2\]$/ },
      { label: '1-D input', run: () => call(hy.ones([4], { device }), t()), cls: RangeError, pattern: /input must be 2-D \[N, C\], got shape \[4\]$/ },
      { label: 'no classes', run: () => call(hy.ones([4, 0], { device }), t()), cls: RangeError, pattern: /input has no classes/ },
      { label: 'unknown option', run: () => call(x(), t(), { weight: 1 } as never), cls: TypeError, pattern: /unknown option 'weight' \(expected reduction\)$/ },
      // an invalid class index is found by the kernel: on the call or, for a queued op, on the next read
      { label: 'class index 3 of 3 classes', run: () => call(x(), t([0, 1, 3, 0]), { reduction: 'none' }).dataSync(), cls: RangeError, pattern: /3/ },
      { label: 'class index -1', run: () => call(x(), t([0, -1, 2, 0]), { reduction: 'sum' }).dataSync(), cls: RangeError, pattern: /-1/ },
    ];
  };
}

const NLL_LOSS = entry<LossParams>({
  name: 'nllLoss',
  errorName: 'nllLoss',
  native: [{ op: 'nllLoss', values: [...REDUCTIONS] }, { op: 'nllLossBackward', values: [...REDUCTIONS] }],
  dtypes: FLOATS,
  fn: F.nllLoss,
  fuzzArity: 3,
  sample: lossSamples(-4, 0, false),
  call: ([lp, t], p) => F.nllLoss(lp, t, { reduction: p.reduction }),
  oracle: (x, p) => ({ shape: p.reduction === 'none' ? [p.N] : [], values: ref.nllLoss(x[0], x[1], p.N, p.C, CODE[p.reduction]) }),
  tol: TOL,
  grad: {
    oracle: (x, p, w) => {
      const g = new Float64Array(p.N * p.C);
      for (let r = 0; r < p.N; r++) g[r * p.C + x[1][r]] = -rowScale(p, w, r);
      return [g, null];
    },
    tol: GRAD,
    checkOracle: true,
  },
  errors: lossErrors('nllLoss', F.nllLoss),
});

const CROSS_ENTROPY = entry<LossParams>({
  name: 'crossEntropy',
  errorName: 'crossEntropy',
  native: [{ op: 'crossEntropy', values: [...REDUCTIONS] }, { op: 'crossEntropyBackward', values: [...REDUCTIONS] }],
  dtypes: FLOATS,
  fn: F.crossEntropy,
  fuzzArity: 3,
  sample: lossSamples(-4, 4, true),
  call: ([x, t], p) => F.crossEntropy(x, t, { reduction: p.reduction }),
  oracle: (x, p) => ({ shape: p.reduction === 'none' ? [p.N] : [], values: ref.crossEntropy(x[0], x[1], p.N, p.C, CODE[p.reduction]) }),
  tol: TOL,
  grad: {
    oracle: (x, p, w) => {
      const up = p.reduction === 'none' ? w : [w[0]];
      return [ref.crossEntropyBackward(x[0], x[1], p.N, p.C, CODE[p.reduction], up), null];
    },
    tol: GRAD,
    checkOracle: true,
  },
  errors: lossErrors('crossEntropy', F.crossEntropy),
});

// ---- maxPool2d ----

interface PoolParams {
  shape: number[];
  k: number | [number, number];
  opts: hy.nn.MaxPool2dOptions;
  g: ref.Pool2d;
}

const POOLS: Record<string, [number[], number | [number, number], hy.nn.MaxPool2dOptions][]> = {
  1: [[[1, 1, 1, 1], 1, {}]],
  7: [[[1, 1, 7, 7], 3, { stride: 2, padding: 1 }], [[1, 1, 1, 7], [1, 3], {}]],
  33: [[[2, 3, 33, 5], [3, 2], { stride: [2, 1], padding: [1, 0] }]],
  1023: [[[1, 3, 11, 31], 2, {}], [[1, 1, 1, 1023], [1, 4], { stride: [1, 3], padding: [0, 2] }]],
  edge: [
    [[3, 6, 6], 2, { stride: 1 }],
    [[1, 2, 4, 6], [2, 3], { stride: [1, 2], padding: [1, 1] }],
    [[2, 3, 7, 9], 3, { stride: 2, padding: 1 }],
    [[1, 1, 5, 5], 5, {}],
    [[1, 1, 5, 5], 2, { stride: 3 }],
    [[0, 2, 4, 4], 2, {}],
  ],
};

function poolGeometry(shape: number[], k: number | [number, number], opts: hy.nn.MaxPool2dOptions): ref.Pool2d {
  const [N, C, H, W] = shape.length === 4 ? shape : [1, ...shape];
  const [kH, kW] = typeof k === 'number' ? [k, k] : k;
  const st = opts.stride ?? k;
  const [sH, sW] = typeof st === 'number' ? [st, st] : st;
  const pd = opts.padding ?? 0;
  const [pH, pW] = typeof pd === 'number' ? [pd, pd] : pd;
  return ref.poolGeometry(N, C, H, W, kH, kW, sH, sW, pH, pW);
}

function poolSamples(rng: () => number, size: SampleSize): Sample<PoolParams>[] {
  return POOLS[String(size)].map(([shape, k, opts]) => {
    const n = numel(shape);
    // distinct values, exact in float16: one winner per window, so the gradient is well defined
    const order = uniform(rng, n).map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
    const values = new Array<number>(n);
    order.forEach(([, i], rank) => (values[i] = (rank - n / 2) / 8));
    return { label: `${shapeLabel(shape)} k=${JSON.stringify(k)} ${JSON.stringify(opts)}`, inputs: [{ shape, values }], params: { shape, k, opts, g: poolGeometry(shape, k, opts) } };
  });
}

const poolOutShape = (p: PoolParams): number[] => [...p.shape.slice(0, -2), p.g.outH, p.g.outW];

function poolGrad(x: number[][], p: PoolParams, w: ArrayLike<number>): Float64Array[] {
  const { indices } = ref.maxPool2d(x[0], p.g);
  const plane = p.g.outH * p.g.outW;
  const g = new Float64Array(x[0].length);
  for (let o = 0; o < indices.length; o++) g[Math.floor(o / plane) * p.g.H * p.g.W + indices[o]] += w[o];
  return [g];
}

function poolErrors(op: string, call: (x: Tensor, k: number | [number, number], o?: hy.nn.MaxPool2dOptions) => unknown) {
  return (device: 'cpu' | 'cuda'): ErrorCase[] => {
    const img = (): Tensor => hy.ones([1, 1, 4, 4], { device });
    return [
      ...commonErrors(op, device, (t) => call(t, 2)),
      { label: '2-D input', run: () => call(hy.ones([4, 3], { device }), 2), cls: RangeError, pattern: new RegExp(`^${op}: input must be 3-D \\[C, H, W\\] or 4-D \\[N, C, H, W\\], got shape \\[4, 3\\]$`) },
      { label: 'kernel 0', run: () => call(img(), 0), cls: RangeError, pattern: /kernelSize must be positive integers, got 0$/ },
      { label: 'padding over half the kernel', run: () => call(img(), 2, { padding: 2 }), cls: RangeError, pattern: /padding 2x2 must be at most half the kernel size 2x2$/ },
      { label: 'kernel larger than the input', run: () => call(img(), 5), cls: RangeError, pattern: /kernel 5x5 is larger than the padded input 4x4$/ },
      { label: 'a string kernel', run: () => call(img(), '2' as never), cls: TypeError, pattern: /kernelSize must be a number or a pair of numbers, got '2'$/ },
      { label: 'stride 0', run: () => call(img(), 2, { stride: 0 }), cls: RangeError, pattern: /stride must be positive integers, got 0$/ },
    ];
  };
}

const MAX_POOL = entry<PoolParams>({
  name: 'maxPool2d',
  errorName: 'maxPool2d',
  native: [{ op: 'maxPool2d' }, { op: 'maxPool2dBackward' }],
  dtypes: FLOATS,
  fn: F.maxPool2d,
  fuzzArity: 3,
  sample: poolSamples,
  call: ([x], p) => F.maxPool2d(x, p.k, p.opts),
  oracle: (x, p) => ({ shape: poolOutShape(p), values: ref.maxPool2d(x[0], p.g).out }),
  tol: TOL,
  grad: { oracle: poolGrad, tol: GRAD, checkOracle: true },
  errors: poolErrors('maxPool2d', F.maxPool2d),
});

const MAX_POOL_INDICES = entry<PoolParams>({
  name: 'maxPool2dWithIndices',
  errorName: 'maxPool2dWithIndices',
  native: [{ op: 'maxPool2d' }, { op: 'maxPool2dBackward' }],
  dtypes: FLOATS,
  fn: F.maxPool2dWithIndices,
  fuzzArity: 3,
  sample: poolSamples,
  call: ([x], p) => F.maxPool2dWithIndices(x, p.k, p.opts),
  oracle: (x, p) => {
    const r = ref.maxPool2d(x[0], p.g);
    return [{ shape: poolOutShape(p), values: r.out }, { shape: poolOutShape(p), values: r.indices, dtype: 'int32' }];
  },
  tol: TOL,
  grad: { oracle: poolGrad, tol: GRAD, checkOracle: true },
  errors: poolErrors('maxPool2dWithIndices', F.maxPool2dWithIndices),
});

// ---- batchNorm ----

interface NormParams {
  shape: number[];
  training: boolean;
  affine: boolean;
  stats: boolean;
  momentum: number;
  eps: number;
}

const NORM_SHAPES: Record<string, number[][]> = {
  1: [[2, 1]],
  7: [[7, 3]],
  33: [[3, 11], [33, 2]],
  1023: [[3, 11, 31]],
  edge: [[2, 3, 4, 5], [4, 2, 3], [5, 1, 1, 1]],
};

function normSamples(training: boolean) {
  return (rng: () => number, size: SampleSize): Sample<NormParams>[] => {
    const variants: Omit<NormParams, 'shape'>[] =
      size === 'edge'
        ? [
            { training, affine: false, stats: true, momentum: 0.1, eps: 1e-5 },
            { training, affine: true, stats: true, momentum: 0.5, eps: 1e-3 },
            ...(training ? [{ training, affine: true, stats: false, momentum: 0.1, eps: 1e-5 }] : []),
          ]
        : [{ training, affine: true, stats: true, momentum: 0.1, eps: 1e-5 }];
    const out: Sample<NormParams>[] = [];
    for (const shape of NORM_SHAPES[String(size)]) {
      // eval of one value per channel is legal; training needs two
      const s = !training && size === 1 ? [1, 1] : shape;
      const C = s[1];
      for (const v of variants) {
        const p: NormParams = { shape: s, ...v };
        out.push({
          label: `${shapeLabel(s)}${v.affine ? ' affine' : ''}${v.stats ? '' : ' no running stats'} momentum ${v.momentum} eps ${v.eps}`,
          inputs: [
            { shape: s, values: uniform(rng, numel(s), -2, 2).map((x, i) => x + (i % C)) },
            ...(v.stats
              ? [
                  { shape: [C], values: uniform(rng, C, -0.5, 0.5), dtype: 'float32' as const, requiresGrad: false },
                  { shape: [C], values: uniform(rng, C, 0.5, 2), dtype: 'float32' as const, requiresGrad: false },
                ]
              : []),
            ...(v.affine
              ? [
                  { shape: [C], values: uniform(rng, C, 0.5, 1.5), dtype: 'float32' as const },
                  { shape: [C], values: uniform(rng, C, -1, 1), dtype: 'float32' as const },
                ]
              : []),
          ],
          params: p,
        });
      }
    }
    return out;
  };
}

/** The sample's inputs by role: [x, runningMean?, runningVar?, weight?, bias?]. */
function normRoles<T>(xs: T[], p: NormParams): { x: T; rm: T | null; rv: T | null; w: T | null; b: T | null } {
  const k = p.stats ? 3 : 1;
  return { x: xs[0], rm: p.stats ? xs[1] : null, rv: p.stats ? xs[2] : null, w: p.affine ? xs[k] : null, b: p.affine ? xs[k + 1] : null };
}

function normForward(x: number[][], p: NormParams): ref.BatchNormResult {
  const r = normRoles(x, p);
  const C = p.shape[1];
  const HW = numel(p.shape.slice(2));
  return ref.batchNorm(r.x, r.w, r.b, r.rm ?? new Array(C).fill(0), r.rv ?? new Array(C).fill(0), p.shape[0], C, HW, p.training, p.momentum, p.eps);
}

function normEntry(training: boolean): OpEntry {
  return entry<NormParams>({
    name: training ? 'batchNorm(training)' : 'batchNorm(eval)',
    errorName: 'batchNorm',
    native: training
      ? [{ op: 'batchNormForward' }, { op: 'batchNormBackward' }]
      : [{ op: 'batchNormForward' }, { op: 'binary', values: ['mul', 'sub'] }, { op: 'reduceSum' }],
    dtypes: FLOATS,
    fn: F.batchNorm,
    fuzzArity: 4,
    sample: normSamples(training),
    call: (ts, p) => {
      const r = normRoles(ts, p);
      const y = F.batchNorm(r.x, r.rm, r.rv, { weight: r.w, bias: r.b, training: p.training, momentum: p.momentum, eps: p.eps });
      // the running statistics are outputs too: updated in place in training, untouched in eval
      return r.rm && r.rv ? [y, r.rm, r.rv] : [y];
    },
    oracle: (x, p) => {
      const r = normForward(x, p);
      const C = p.shape[1];
      return [
        { shape: p.shape, values: r.out },
        ...(p.stats ? [{ shape: [C], values: r.runningMean, dtype: 'float32' as const }, { shape: [C], values: r.runningVar, dtype: 'float32' as const }] : []),
      ];
    },
    tol: { float32: { rtol: 1e-4, atol: 1e-4 }, float16: { rtol: 1e-2, atol: 1e-2 } },
    grad: {
      // central differences of the float64 forward, for x, weight and bias (not the running statistics)
      oracle: (x, p, w) => {
        const roles = normRoles(x.map((_, i) => i), p);
        return x.map((_, i) => {
          if (i === roles.rm || i === roles.rv) return null;
          return finiteDiff((v) => normForward(x.map((xi, j) => (j === i ? Array.from(v) : xi)), p).out, x[i], w);
        });
      },
      tol: { float32: { rtol: 1e-4, atol: 1e-4 }, float16: { rtol: 3e-2, atol: 1e-2 } },
    },
    errors: (device) => {
      const x = (): Tensor => hy.ones([4, 3], { device });
      const c = (n = 3): Tensor => hy.ones([n], { device });
      return [
        ...commonErrors('batchNorm', device, (t) => F.batchNorm(t, c(), c())),
        { label: 'running var of the wrong shape', run: () => F.batchNorm(x(), c(), c(2)), cls: RangeError, pattern: /^batchNorm: runningVar must have shape \[3\], got \[2\]$/ },
        { label: 'eval without running stats', run: () => F.batchNorm(x(), null, null), cls: RangeError, pattern: /^batchNorm: eval mode \(training false\) needs runningMean and runningVar$/ },
        { label: 'one running buffer', run: () => F.batchNorm(x(), c(), null, { training: true }), cls: TypeError, pattern: /^batchNorm: runningMean and runningVar must both be given or both be null$/ },
        { label: 'training on one value per channel', run: () => F.batchNorm(hy.ones([1, 3], { device }), c(), c(), { training: true }), cls: RangeError, pattern: /^batchNorm: training needs more than one value per channel, got input of shape \[1, 3\]$/ },
        { label: 'negative eps', run: () => F.batchNorm(x(), c(), c(), { eps: -1 }), cls: RangeError, pattern: /^batchNorm: eps must be finite and non-negative, got -1$/ },
        { label: 'infinite momentum', run: () => F.batchNorm(x(), c(), c(), { momentum: Infinity }), cls: RangeError, pattern: /^batchNorm: momentum must be finite, got Infinity$/ },
        { label: 'training 1', run: () => F.batchNorm(x(), c(), c(), { training: 1 as never }), cls: TypeError, pattern: /^batchNorm: training must be a boolean, got 1$/ },
        { label: '1-D input', run: () => F.batchNorm(c(), c(), c()), cls: RangeError, pattern: /^batchNorm: input must have at least 2 dimensions/ },
      ];
    },
  });
}

// ---- dropout ----

interface DropoutParams {
  shape: number[];
  p: number;
  training: boolean;
  seed: number;
}

/** The kept elements of the mask drawn at (seed, offset 0), as dropout draws it. */
function keepMask(n: number, p: DropoutParams): number[] {
  if (!p.training || p.p === 0) return new Array(n).fill(1);
  return Array.from({ length: n }, (_, i) => (philox.uniform(p.seed, 0, i) >= Math.fround(p.p) ? 1 : 0));
}

const scaleOf = (p: DropoutParams): number => (!p.training || p.p === 0 ? 1 : 1 / (1 - p.p));

const DROPOUT = entry<DropoutParams>({
  name: 'dropout',
  errorName: 'dropout',
  native: [{ op: 'dropout' }, { op: 'dropoutBackward' }],
  dtypes: FLOATS,
  fn: F.dropout,
  fuzzArity: 2,
  sample(rng, size) {
    const cases: [number[], number, boolean][] =
      size === 'edge'
        ? [[[2, 3, 5], 1, true], [[9], 0, true], [[9], 0.5, false], [[0], 0.5, true], [[], 0.25, true], [[4, 4], 0.999, true]]
        : [[[size], ({ 1: 0.5, 7: 0.3, 33: 0.9, 1023: 0.3 } as Record<number, number>)[size], true]];
    return cases.map(([shape, p, training], i) => ({
      label: `${shapeLabel(shape)} p=${p}${training ? '' : ' eval'}`,
      inputs: [{ shape, values: uniform(rng, numel(shape), -2, 2) }],
      params: { shape, p, training, seed: 1000 + 17 * i + numel(shape) },
    }));
  },
  call: ([x], p) => {
    hy.manualSeed(p.seed);
    return F.dropout(x, { p: p.p, training: p.training });
  },
  oracle: (x, p) => ({ shape: p.shape, values: ref.dropout(x[0], keepMask(x[0].length, p), !p.training ? 0 : p.p) }),
  tol: { float32: { rtol: 1e-5, atol: 1e-6 }, float16: { rtol: 1e-2, atol: 2e-3 } },
  grad: {
    oracle: (x, p, w) => {
      const keep = keepMask(x[0].length, p);
      return [x[0].map((_, i) => (keep[i] ? w[i] * scaleOf(p) : 0))];
    },
    tol: GRAD,
    checkOracle: true,
  },
  errors: (device) => [
    ...commonErrors('dropout', device, (t) => F.dropout(t)),
    { label: 'p 1.5', run: () => F.dropout(hy.ones([4], { device }), { p: 1.5 }), cls: RangeError, pattern: /^dropout: p must be in \[0, 1\], got 1\.5$/ },
    { label: 'p NaN', run: () => F.dropout(hy.ones([4], { device }), { p: NaN }), cls: RangeError, pattern: /^dropout: p must be in \[0, 1\], got NaN$/ },
    { label: "p '0.5'", run: () => F.dropout(hy.ones([4], { device }), { p: '0.5' as never }), cls: TypeError, pattern: /^dropout: p must be a number, got '0\.5'$/ },
  ],
});

// The dropout a CUDA graph captures: {seed, base} read from a counter storage that philoxCounter
// filled, here base 0, so the mask is the eager one's at (seed, offset 0). Runs on either backend
// (the CPU twin reads the same slot), through the same draw hook the capture uses.
const DROPOUT_COUNTER = entry<DropoutParams>({
  ...(DROPOUT as OpEntry<DropoutParams>),
  name: 'dropout (counter slot of a CUDA graph)',
  native: [{ op: 'philoxCounter' }, { op: 'dropout' }, { op: 'dropoutBackward' }],
  call: ([x], p) => {
    const counter = hy.zeros([4], { dtype: 'int32', device: x.device });
    try {
      native.run('philoxCounter', { counter: counter.live('philoxCounter'), seed: p.seed, base: 0 });
      hy.manualSeed(p.seed + 1); // the generator's own state must not matter
      beginGraphDraws(counter);
      try {
        return F.dropout(x, { p: p.p, training: p.training });
      } finally {
        endGraphDraws();
      }
    } finally {
      counter.dispose();
    }
  },
});

// ---- conv2d ----

interface ConvParams {
  x: number[];
  w: number[];
  bias: boolean;
  opts: hy.nn.Conv2dOptions;
  g: convRef.ConvGeometry;
}

// Small shapes throughout: the emulated CUDA device runs each kernel on the CPU, about a thousand
// times slower, and the autotuner times every implementation of each direction on first sight.
const CONVS: Record<string, [number[], number[], boolean, hy.nn.Conv2dOptions][]> = {
  1: [[[1, 1, 1, 1], [1, 1, 1, 1], true, {}]],
  7: [
    [[1, 2, 7, 7], [3, 2, 3, 3], true, { stride: 2, padding: 1 }],
    [[2, 7, 5], [2, 1, 2, 3], false, { groups: 2, dilation: [2, 1] }],
  ],
  33: [[[1, 2, 33, 4], [2, 2, 3, 1], true, { padding: [1, 0], dilation: [2, 1] }]],
  1023: [
    [[1, 3, 11, 31], [2, 3, 1, 1], true, {}],
    [[1, 1, 1, 1023], [1, 1, 1, 3], true, { stride: [1, 4], padding: [0, 1] }],
  ],
  edge: [
    [[2, 3, 5, 5], [3, 1, 3, 3], true, { groups: 3, padding: 'same' }],
    [[1, 2, 4, 6], [4, 2, 4, 6], true, { padding: 'valid' }],
    [[1, 1, 3, 3], [2, 1, 2, 2], true, { padding: 2 }],
    [[1, 4, 5, 6], [4, 2, 3, 3], false, { groups: 2, padding: [2, 1], stride: [1, 2] }],
    [[1, 2, 8, 7], [2, 2, 2, 1], true, { stride: 3 }],
    [[0, 2, 4, 4], [3, 2, 3, 3], true, { padding: 1 }],
  ],
};

function convGeometry(x: number[], w: number[], opts: hy.nn.Conv2dOptions): convRef.ConvGeometry {
  const [N, C, H, W] = x.length === 4 ? x : [1, ...x];
  const [K, , R, S] = w;
  const pair = (v: number | [number, number] | undefined, d: number): [number, number] => (v === undefined ? [d, d] : typeof v === 'number' ? [v, v] : v);
  const [strideH, strideW] = pair(opts.stride, 1);
  const [dilationH, dilationW] = pair(opts.dilation, 1);
  const p = opts.padding;
  const [padH, padW] = p === 'same' ? [(dilationH * (R - 1)) / 2, (dilationW * (S - 1)) / 2] : p === 'valid' ? [0, 0] : pair(p, 0);
  return { N, C, H, W, K, R, S, strideH, strideW, padH, padW, dilationH, dilationW, groups: opts.groups ?? 1 };
}

function convOutShape(p: ConvParams): number[] {
  const { P, Q } = convRef.outSize(p.g);
  return p.x.length === 4 ? [p.g.N, p.g.K, P, Q] : [p.g.K, P, Q];
}

const CONV2D = entry<ConvParams>({
  name: 'conv2d',
  errorName: 'conv2d',
  native: [{ op: 'conv2d' }, { op: 'conv2dBackwardData' }, { op: 'conv2dBackwardFilter' }],
  dtypes: FLOATS,
  fn: F.conv2d,
  fuzzArity: 4,
  sample(rng, size) {
    return CONVS[String(size)].map(([x, w, bias, opts]) => {
      const g = convGeometry(x, w, opts);
      return {
        label: `x ${shapeLabel(x)} w ${shapeLabel(w)}${bias ? ' bias' : ''} ${JSON.stringify(opts)}`,
        inputs: [
          { shape: x, values: uniform(rng, numel(x)) },
          { shape: w, values: uniform(rng, numel(w)) },
          ...(bias ? [{ shape: [w[0]], values: uniform(rng, w[0]) }] : []),
        ],
        params: { x, w, bias, opts, g },
        // sums of C / groups * R * S products
        tolScale: Math.max(1, Math.sqrt((g.C / g.groups) * g.R * g.S)),
      };
    });
  },
  call: ([x, w, b], p) => F.conv2d(x, w, p.bias ? b : null, p.opts),
  oracle: (x, p) => ({ shape: convOutShape(p), values: convRef.conv2d(x[0], x[1], p.bias ? x[2] : null, p.g) }),
  tol: { float32: { rtol: 1e-5, atol: 1e-5 }, float16: { rtol: 1e-2, atol: 1e-2 } },
  grad: {
    oracle: (x, p, w) => {
      const f = convRef.conv2dBackwardFilter(x[0], w, p.g);
      return [convRef.conv2dBackwardData(w, x[1], p.g), f.gradWeight, ...(p.bias ? [f.gradBias] : [])];
    },
    tol: GRAD,
    checkOracle: true,
  },
  errors: (device) => {
    const x = (shape = [1, 3, 5, 5], dtype: 'float32' | 'float16' = 'float32'): Tensor => hy.ones(shape, { device, dtype });
    const w = (shape = [2, 3, 3, 3], dtype: 'float32' | 'float16' = 'float32'): Tensor => hy.ones(shape, { device, dtype });
    return [
      ...commonErrors('conv2d', device, (t) => F.conv2d(t, w([1, 1, 1, 1]))),
      { label: '2-D input', run: () => F.conv2d(x([4, 3]), w()), cls: RangeError, pattern: /^conv2d: input must be 3-D \[C, H, W\] or 4-D \[N, C, H, W\], got shape \[4, 3\]$/ },
      { label: '3-D weight', run: () => F.conv2d(x(), w([2, 3, 3])), cls: RangeError, pattern: /^conv2d: weight must be 4-D \[K, C \/ groups, R, S\], got shape \[2, 3, 3\]$/ },
      { label: 'channels not divisible by groups', run: () => F.conv2d(x(), w([2, 1, 3, 3]), null, { groups: 2 }), cls: RangeError, pattern: /^conv2d: input channels 3 must be divisible by groups 2$/ },
      { label: 'kernel larger than the padded input', run: () => F.conv2d(x(), w([2, 3, 3, 7]), null, { padding: [1, 0] }), cls: RangeError, pattern: /^conv2d: kernel 3x7 \(dilation 1x1\) is larger than the padded input 7x5$/ },
      { label: 'stride 0', run: () => F.conv2d(x(), w(), null, { stride: 0 }), cls: RangeError, pattern: /^conv2d: stride must be positive integers, got 0$/ },
      { label: 'negative dilation', run: () => F.conv2d(x(), w(), null, { dilation: [1, -1] }), cls: RangeError, pattern: /^conv2d: dilation must be positive integers, got \[1, -1\]$/ },
      { label: 'negative padding', run: () => F.conv2d(x(), w(), null, { padding: -2 }), cls: RangeError, pattern: /^conv2d: padding must be non-negative integers, got -2$/ },
      { label: 'float16 weight, float32 input', run: () => F.conv2d(x(), w(undefined, 'float16')), cls: TypeError, pattern: /^conv2d: weight must have the input's dtype float32, got float16$/ },
      { label: 'bias of the wrong shape', run: () => F.conv2d(x(), w(), hy.ones([3], { device })), cls: RangeError, pattern: /^conv2d: bias must have shape \[2\], got \[3\]$/ },
    ];
  },
});

export const NN: OpEntry[] = [rowEntry('logSoftmax'), rowEntry('softmax'), NLL_LOSS, CROSS_ENTROPY, MAX_POOL, MAX_POOL_INDICES, normEntry(true), normEntry(false), DROPOUT, DROPOUT_COUNTER, CONV2D];
