// hy.nn.functional against the float64 oracles of reference/nn.ts, every backend: forward values,
// backward against finite differences of the oracle (for a random upstream gradient; log-softmax and
// cross-entropy against their closed forms, which equal the differences where those are cheap), poisoned
// outputs, argument errors and live memory over repeated steps.
import * as assert from 'uvu/assert';

import * as hy from '../lib/index';
import type { Device, DType, Tensor } from '../lib/index';
import { assertClose, assertThrows, eachBackend, randomArray, rng, suite } from './harness';
import { roundToHalf } from './reference/half';
import * as ref from './reference/nn';
import { finiteDiff, numel } from './reference/ops';
import * as philox from './reference/philox';

const s = suite('nn-functional');
const F = hy.nn.functional;
const FLOATS: DType[] = ['float32', 'float16'];

const round = (dtype: DType) => (v: number): number => (dtype === 'float16' ? roundToHalf(Math.fround(v)) : Math.fround(v));
const fwdTol = (dtype: DType) => (dtype === 'float16' ? { rtol: 1e-2, atol: 2e-3 } : { rtol: 1e-5, atol: 1e-5 });

/** Gradient tolerance scaled to the gradient's size. */
function gradTol(dtype: DType, expected: ArrayLike<number>): { rtol: number; atol: number } {
  let m = 0;
  for (let i = 0; i < expected.length; i++) m = Math.max(m, Math.abs(expected[i]));
  return dtype === 'float16' ? { rtol: 3e-2, atol: 1e-2 * Math.max(m, 0.1) } : { rtol: 1e-4, atol: 1e-4 * Math.max(m, 0.1) };
}

/** Frees a block of the size the next op will take, filled with NaN: an unwritten element shows. */
function poison(shape: number[], device: Device, dtype: DType): void {
  hy.full(shape, NaN, { device, dtype }).dispose();
}

function input(shape: number[], seed: number, device: Device, dtype: DType, lo = -2, hi = 2, requiresGrad = true): [Tensor, number[]] {
  const vals = Array.from(randomArray(numel(shape), seed, lo, hi), round(dtype));
  return [hy.tensor(vals, { shape, device, dtype, requiresGrad }), vals];
}

function targets(rows: number, cols: number, seed: number, device: Device): [Tensor, Int32Array] {
  const r = rng(seed);
  const t = Int32Array.from({ length: rows }, () => Math.floor(r() * cols));
  return [hy.tensor(t, { device }), t];
}

/** Backward of sum(y * w) for a random w; returns w. */
function backwardWeighted(y: Tensor, seed: number, dtype: DType): number[] {
  const w = Array.from(randomArray(y.numel, seed, -1, 1), round(dtype));
  hy.sum(hy.mul(y, hy.tensor(w, { shape: y.shape.slice(), device: y.device, dtype: y.dtype }))).backward();
  return w;
}

/** A row-wise oracle applied along any dim: each input's [outer, C, inner] moved to rows of C and back. */
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

/** Oracle log-softmax along any dim. */
const logSoftmaxRef = (x: ArrayLike<number>, shape: number[], dim: number): Float64Array => alongDim(shape, dim, (r, c, v) => ref.logSoftmax(v, r, c), x);

/** Its gradient for the upstream gradient g, in closed form (reference/nn.ts; nn.test.ts checks it against differences). */
const logSoftmaxBackwardRef = (x: ArrayLike<number>, g: ArrayLike<number>, shape: number[], dim: number): Float64Array =>
  alongDim(shape, dim, (r, c, v, gv) => ref.logSoftmaxBackward(v, gv, r, c), x, g);

/** Where central differences over the whole input are cheap, the closed forms are checked against them too. */
const FD_MAX = 300;
const FD_TOL = { rtol: 1e-6, atol: 1e-8 };

eachBackend(s, 'logSoftmax along any dim matches the oracle, forward and backward', async (device) => {
  const cases: [number[], number][] = [[[7, 33], -1], [[3, 5, 4], 1], [[2, 3, 4], 0], [[1, 1], 0], [[3, 1025], 1], [[4, 7], 0], [[9], 0]];
  for (const dtype of FLOATS) {
    for (const [shape, dim] of cases) {
      const what = `${dtype} [${shape}] dim ${dim}`;
      const [x, xv] = input(shape, 3, device, dtype, -4, 4);
      poison(shape, device, dtype);
      const y = F.logSoftmax(x, dim);
      assert.equal(y.shape, shape, `${what} shape`);
      assertClose(await y.data(), Array.from(logSoftmaxRef(xv, shape, dim), round(dtype)), fwdTol(dtype), what);
      const w = backwardWeighted(y, 4, dtype);
      const expected = logSoftmaxBackwardRef(xv, w, shape, dim);
      if (xv.length <= FD_MAX) assertClose(expected, finiteDiff((v) => logSoftmaxRef(v, shape, dim), xv, w), FD_TOL, `${what} oracle`);
      assertClose(await x.grad!.data(), expected, gradTol(dtype, expected), `${what} grad`);
    }
  }
});

const LOSS_SHAPES: [number, number][] = [[7, 33], [1, 1], [33, 7], [3, 1025]];
const REDUCTIONS = ['mean', 'sum', 'none'] as const;
const CODE = { none: 0, mean: 1, sum: 2 } as const;

eachBackend(s, 'nllLoss and crossEntropy match the oracle for every reduction, forward and backward', async (device) => {
  for (const dtype of FLOATS) {
    for (const [N, C] of LOSS_SHAPES) {
      for (const reduction of REDUCTIONS) {
        const [t, tv] = targets(N, C, N + C, device);
        const outShape = reduction === 'none' ? [N] : [];
        // nllLoss on log-probabilities given directly (any values work for the gradient)
        const [lp, lpv] = input([N, C], 5, device, dtype, -4, 0);
        poison(outShape, device, 'float32');
        const l = F.nllLoss(lp, t, { reduction });
        const what = `nllLoss ${dtype} [${N}, ${C}] ${reduction}`;
        assert.equal(l.shape, outShape, `${what} shape`);
        assert.is(l.dtype, dtype, `${what} dtype`);
        const nllRef = (v: ArrayLike<number>): Float64Array => ref.nllLoss(v, tv, N, C, CODE[reduction]);
        assertClose(await l.data(), Array.from(nllRef(lpv), round(dtype)), fwdTol(dtype), what);
        poison([N, C], device, dtype);
        const w = backwardWeighted(l, 6, dtype);
        const fd = finiteDiff(nllRef, lpv, w);
        assertClose(await lp.grad!.data(), fd, gradTol(dtype, fd), `${what} grad`);

        const [x, xv] = input([N, C], 7, device, dtype, -4, 4);
        poison(outShape, device, 'float32');
        const ce = F.crossEntropy(x, t, { reduction });
        const cwhat = `crossEntropy ${dtype} [${N}, ${C}] ${reduction}`;
        assert.equal(ce.shape, outShape, `${cwhat} shape`);
        const ceRef = (v: ArrayLike<number>): Float64Array => ref.crossEntropy(v, tv, N, C, CODE[reduction]);
        const expected = Array.from(ceRef(xv), round(dtype));
        const ceTol = dtype === 'float16' ? { rtol: 1e-2, atol: 1e-2 } : { rtol: 1e-5, atol: 1e-5 };
        assertClose(await ce.data(), expected, ceTol, cwhat);
        poison([N, C], device, dtype);
        const cw = backwardWeighted(ce, 8, dtype);
        const cgrad = ref.crossEntropyBackward(xv, tv, N, C, CODE[reduction], cw);
        if (xv.length <= FD_MAX) assertClose(cgrad, finiteDiff(ceRef, xv, cw), FD_TOL, `${cwhat} oracle`);
        assertClose(await x.grad!.data(), cgrad, gradTol(dtype, cgrad), `${cwhat} grad`);
      }
    }
  }
  // crossEntropy equals nllLoss(logSoftmax(x)), gradients included
  const [x, xv] = input([5, 6], 9, device, 'float32');
  const [t] = targets(5, 6, 10, device);
  const a = F.crossEntropy(x, t);
  a.backward();
  const ga = await x.grad!.data();
  x.grad = null;
  const b = F.nllLoss(F.logSoftmax(x, 1), t);
  b.backward();
  assertClose([a.item()], [b.item()], { rtol: 1e-6, atol: 1e-6 }, 'composed loss');
  assertClose(await x.grad!.data(), ga, { rtol: 1e-5, atol: 1e-6 }, 'composed grad');
  assert.ok(xv.length === 30);
});

const POOLS: [number[], number | [number, number], hy.nn.MaxPool2dOptions][] = [
  [[2, 3, 7, 9], 3, { stride: 2, padding: 1 }],
  [[1, 1, 5, 5], 2, {}],
  [[1, 2, 4, 6], [2, 3], { stride: [1, 2], padding: [1, 1] }],
  [[3, 6, 6], 2, { stride: 1 }],
  [[1, 1, 1, 1], 1, {}],
];

eachBackend(s, 'maxPool2d matches the oracle: values, indices and gradient', async (device) => {
  for (const dtype of FLOATS) {
    for (const [shape, k, opts] of POOLS) {
      const [N, C, H, W] = shape.length === 4 ? shape : [1, ...shape];
      const [kH, kW] = typeof k === 'number' ? [k, k] : k;
      const st = opts.stride ?? k;
      const [sH, sW] = typeof st === 'number' ? [st, st] : st;
      const pd = opts.padding ?? 0;
      const [pH, pW] = typeof pd === 'number' ? [pd, pd] : pd;
      const g = ref.poolGeometry(N, C, H, W, kH, kW, sH, sW, pH, pW);
      const outShape = shape.length === 4 ? [N, C, g.outH, g.outW] : [C, g.outH, g.outW];
      const what = `${dtype} [${shape}] k ${k} ${JSON.stringify(opts)}`;
      // distinct values: no ties, so finite differences see one winner per window
      const perm = Array.from(randomArray(numel(shape), 11), (v, i) => [v, i] as const).sort((p, q) => p[0] - q[0]);
      const xv = new Array<number>(numel(shape));
      perm.forEach(([, i], rank) => (xv[i] = round(dtype)((rank - numel(shape) / 2) / 8)));
      const x = hy.tensor(xv, { shape, device, dtype, requiresGrad: true });
      poison(outShape, device, dtype);
      const [y, idx] = F.maxPool2dWithIndices(x, k, opts);
      assert.equal(y.shape, outShape, `${what} shape`);
      assert.is(idx.dtype, 'int32');
      const r = ref.maxPool2d(xv, g);
      assertClose(await y.data(), r.out, fwdTol(dtype), what);
      assert.equal(Array.from(await idx.data()), Array.from(r.indices), `${what} indices`);
      poison(shape, device, dtype);
      const w = backwardWeighted(y, 12, dtype);
      const fd = finiteDiff((v) => ref.maxPool2d(v, g).out, xv, w, 1e-3);
      assertClose(await x.grad!.data(), fd, gradTol(dtype, fd), `${what} grad`);
      const y2 = F.maxPool2d(x, k, opts);
      assertClose(await y2.data(), await y.data(), { rtol: 0, atol: 0 }, `${what} without indices`);
    }
  }
});

eachBackend(s, 'batchNorm in training and eval matches the oracle: output, running stats and gradients', async (device) => {
  for (const dtype of FLOATS) {
    for (const shape of [[5, 3], [2, 3, 4, 5], [4, 2, 3]]) {
      for (const training of [true, false]) {
        for (const affine of [true, false]) {
          const [N, C] = shape;
          const HW = numel(shape.slice(2));
          const what = `${dtype} [${shape}] ${training ? 'train' : 'eval'}${affine ? ' affine' : ''}`;
          const [x, xv] = input(shape, 13, device, dtype);
          const [wt, wv] = input([C], 14, device, 'float32', 0.5, 1.5);
          const [bt, bv] = input([C], 15, device, 'float32');
          const rmv = Array.from(randomArray(C, 16, -0.5, 0.5), Math.fround);
          const rvv = Array.from(randomArray(C, 17, 0.5, 2), Math.fround);
          const rm = hy.tensor(rmv, { device });
          const rv = hy.tensor(rvv, { device });
          const f = (xa: ArrayLike<number>, wa: ArrayLike<number> | null, ba: ArrayLike<number> | null): ref.BatchNormResult =>
            ref.batchNorm(xa, wa, ba, rmv, rvv, N, C, HW, training, 0.1, 1e-5);
          poison(shape, device, dtype);
          const y = F.batchNorm(x, rm, rv, { weight: affine ? wt : null, bias: affine ? bt : null, training });
          assert.equal(y.shape, shape);
          const r = f(xv, affine ? wv : null, affine ? bv : null);
          const tol = dtype === 'float16' ? { rtol: 1e-2, atol: 1e-2 } : { rtol: 1e-4, atol: 1e-4 };
          assertClose(await y.data(), r.out, tol, `${what} out`);
          assertClose(await rm.data(), r.runningMean, { rtol: 1e-4, atol: 1e-5 }, `${what} running mean`);
          assertClose(await rv.data(), r.runningVar, { rtol: 1e-4, atol: 1e-5 }, `${what} running var`);
          const w = backwardWeighted(y, 18, dtype);
          const fx = finiteDiff((v) => f(v, affine ? wv : null, affine ? bv : null).out, xv, w);
          assertClose(await x.grad!.data(), fx, gradTol(dtype, fx), `${what} grad x`);
          if (affine) {
            const fw = finiteDiff((v) => f(xv, v, bv).out, wv, w);
            const fb = finiteDiff((v) => f(xv, wv, v).out, bv, w);
            assert.is(wt.grad!.dtype, 'float32');
            assertClose(await wt.grad!.data(), fw, gradTol(dtype, fw), `${what} grad weight`);
            assertClose(await bt.grad!.data(), fb, gradTol(dtype, fb), `${what} grad bias`);
          } else {
            assert.is(wt.grad, null);
          }
        }
      }
    }
  }
  // float16 weights are cast for the kernel and get float16 gradients; no running stats in training
  const [x] = input([4, 3], 19, device, 'float16');
  const w16 = hy.ones([3], { device, dtype: 'float16', requiresGrad: true });
  const y = F.batchNorm(x, null, null, { weight: w16, training: true });
  hy.sum(hy.mul(y, y)).backward();
  assert.is(w16.grad!.dtype, 'float16');
  // sum(xhat^2) = N * C * var / (var + eps) ~ 12 per unit weight: d/dw sum((w xhat)^2) = 2 w sum(xhat^2) = 8 per channel
  assertClose(await w16.grad!.data(), [8, 8, 8], { rtol: 1e-2, atol: 1e-2 }, 'float16 weight grad');
});

eachBackend(s, 'dropout draws its mask from the global Philox generator, scales, and routes the gradient', async (device) => {
  for (const dtype of FLOATS) {
    for (const [n, p] of [[1, 0.5], [1023, 0.3], [33, 1]] as const) {
      const what = `${dtype} n=${n} p=${p}`;
      hy.manualSeed(77 + n);
      hy.rand([5]).dispose(); // move the offset off zero
      const { seed, offset } = hy.getGeneratorState();
      const [x, xv] = input([n], 20, device, dtype);
      poison([n], device, dtype);
      const y = F.dropout(x, { p });
      const keep = Array.from({ length: n }, (_, i) => (philox.uniform(seed, offset, i) >= Math.fround(p) ? 1 : 0));
      assert.is(hy.getGeneratorState().offset, offset + Math.ceil(n / 4), `${what} consumes ceil(n / 4) counters`);
      assertClose(await y.data(), Array.from(ref.dropout(xv, keep, p), round(dtype)), fwdTol(dtype), what);
      const w = backwardWeighted(y, 21, dtype);
      const fd = finiteDiff((v) => ref.dropout(v, keep, p), xv, w);
      assertClose(await x.grad!.data(), fd, gradTol(dtype, fd), `${what} grad`);
    }
  }
  const x = hy.ones([10], { device });
  assert.is(F.dropout(x, { training: false }), x, 'eval: the input itself');
  assert.is(F.dropout(x, { p: 0 }), x, 'p = 0: the input itself');
});

eachBackend(s, 'bad arguments are rejected with messages naming the op and the value', (device) => {
  const x = hy.ones([4, 3], { device });
  const t = hy.tensor(Int32Array.from([0, 1, 2, 0]), { device });
  assertThrows(() => F.logSoftmax(x, 2), RangeError, /^logSoftmax: dim 2 is out of range for a tensor of 2 dimensions$/);
  assertThrows(() => F.logSoftmax(x, 0.5), TypeError, /^logSoftmax: dim must be an integer, got 0\.5$/);
  assertThrows(() => F.logSoftmax(t, 0), TypeError, /^logSoftmax: input must be a float32 or float16 tensor \(convert with \.to\('float32'\)\), got an int32 tensor$/);
  assertThrows(() => F.nllLoss(x, t, { reduction: 'avg' as never }), RangeError, /^nllLoss: reduction must be 'mean', 'sum' or 'none', got 'avg'$/);
  assertThrows(() => F.nllLoss(x, x), TypeError, /^nllLoss: target must be an int32 tensor of class indices, got float32$/);
  assertThrows(() => F.crossEntropy(x, hy.tensor(Int32Array.from([0, 1]), { device })), RangeError, /^crossEntropy: target must have shape \[4\], got \[2\]$/);
  assertThrows(() => F.crossEntropy(hy.ones([4], { device }), t), RangeError, /^crossEntropy: input must be 2-D \[N, C\], got shape \[4\]$/);
  assertThrows(() => F.crossEntropy(x, t, { weight: 1 } as never), TypeError, /^crossEntropy: unknown option 'weight' \(expected reduction\)$/);
  {
    // An invalid target is found by the kernel, on the device's queue: the call returns and the
    // next read raises it, on the CPU as on CUDA.
    const bad = hy.tensor(Int32Array.from([0, 1, 3, 0]), { device });
    const loss = F.crossEntropy(x, bad);
    assertThrows(() => loss.item(), RangeError, /^crossEntropy: target 3 at row 2 is outside \[0, 3\)$/);
    loss.dispose();
    bad.dispose();
  }
  const img = hy.ones([1, 1, 4, 4], { device });
  assertThrows(() => F.maxPool2d(x, 2), RangeError, /^maxPool2d: input must be 3-D \[C, H, W\] or 4-D \[N, C, H, W\], got shape \[4, 3\]$/);
  assertThrows(() => F.maxPool2d(img, 0), RangeError, /^maxPool2d: kernelSize must be positive integers, got 0$/);
  assertThrows(() => F.maxPool2d(img, 2, { padding: 2 }), RangeError, /^maxPool2d: padding 2x2 must be at most half the kernel size 2x2$/);
  assertThrows(() => F.maxPool2d(img, 5), RangeError, /^maxPool2d: kernel 5x5 is larger than the padded input 4x4$/);
  assertThrows(() => F.maxPool2d(img, '2' as never), TypeError, /^maxPool2d: kernelSize must be a number or a pair of numbers, got '2'$/);
  const rm = hy.zeros([3], { device });
  const rv = hy.ones([3], { device });
  assertThrows(() => F.batchNorm(x, rm, hy.ones([2], { device })), RangeError, /^batchNorm: runningVar must have shape \[3\], got \[2\]$/);
  assertThrows(() => F.batchNorm(x, null, null), RangeError, /^batchNorm: eval mode \(training false\) needs runningMean and runningVar$/);
  assertThrows(() => F.batchNorm(hy.ones([1, 3], { device }), rm, rv, { training: true }), RangeError, /^batchNorm: training needs more than one value per channel, got input of shape \[1, 3\]$/);
  assertThrows(() => F.batchNorm(x, rm, rv, { eps: -1 }), RangeError, /^batchNorm: eps must be finite and non-negative, got -1$/);
  assertThrows(() => F.batchNorm(x, rm, rv, { training: 1 as never }), TypeError, /^batchNorm: training must be a boolean, got 1$/);
  assertThrows(() => F.dropout(x, { p: 1.5 }), RangeError, /^dropout: p must be in \[0, 1\], got 1\.5$/);
  assertThrows(() => F.dropout(x, { p: '0.5' as never }), TypeError, /^dropout: p must be a number, got '0\.5'$/);
  assertThrows(() => F.dropout(5 as never), TypeError, /^dropout: input must be a Tensor, got 5$/);
});

eachBackend(s, 'repeated forward and backward inside tidy leave live memory unchanged', (device) => {
  const pool = device;
  const w = hy.randn([6, 8], { device, requiresGrad: true });
  const gamma = hy.ones([6], { device, requiresGrad: true });
  const beta = hy.zeros([6], { device, requiresGrad: true });
  const rm = hy.zeros([6], { device });
  const rv = hy.ones([6], { device });
  const img = hy.randn([2, 3, 6, 6], { device, requiresGrad: true });
  const t = hy.tensor(Int32Array.from([1, 0, 5, 3, 2]), { device });
  const step = (): void => {
    hy.tidy(() => {
      const x = hy.randn([5, 8], { device });
      const h = F.dropout(hy.nn.functional.linear(x, w), { p: 0.2 });
      const bn = F.batchNorm(h, rm, rv, { weight: gamma, bias: beta, training: true });
      const loss = hy.add(F.crossEntropy(bn, t), F.nllLoss(F.logSoftmax(bn, 1), t, { reduction: 'sum' }));
      const pooled = F.maxPool2d(img, 3, { stride: 2, padding: 1 });
      hy.add(loss, hy.sum(F.logSoftmax(pooled, 1))).backward();
    });
    for (const p of [w, gamma, beta, img]) {
      p.grad?.dispose();
      p.grad = null;
    }
  };
  step();
  const before = hy.memory.stats(pool).liveBytes;
  for (let i = 0; i < 5; i++) step();
  assert.is(hy.memory.stats(pool).liveBytes, before, 'no tensor outlives its step');
  for (const p of [w, gamma, beta, rm, rv, img, t]) p.dispose();
});

s.run();
