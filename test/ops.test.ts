import * as assert from 'uvu/assert';

import * as hy from '../lib/index';
import type { Device, DType, Tensor } from '../lib/index';
import { assertClose, assertThrows, eachBackend, randomArray, skipPart, suite } from './harness';
import { native, StorageHandle } from '../lib/native';
import { roundToHalf } from './reference/half';
import * as ref from './reference/ops';

const s = suite('ops');

const round = (dtype: DType) => (v: number): number => (dtype === 'float16' ? roundToHalf(Math.fround(v)) : Math.fround(v));
const fwdTol = (dtype: DType) => (dtype === 'float16' ? { rtol: 1e-2, atol: 2e-3 } : { rtol: 1e-5, atol: 2e-6 });
const gradTol = (dtype: DType) => (dtype === 'float16' ? { rtol: 3e-2, atol: 1e-2 } : { rtol: 2e-4, atol: 2e-5 });

/** Frees a block of the size the next op will take, filled with NaN: an unwritten element shows. */
function poison(shape: number[], device: Device, dtype: DType): void {
  hy.full(shape, NaN, { device, dtype }).dispose();
}

function input(shape: number[], seed: number, device: Device, dtype: DType, lo = -2, hi = 2): [Tensor, number[]] {
  const n = ref.numel(shape);
  const vals = Array.from(randomArray(n, seed, lo, hi), round(dtype));
  return [hy.tensor(vals, { shape, device, dtype, requiresGrad: true }), vals];
}

const BROADCAST_CASES: [number[], number[]][] = [
  [[7], [7]],
  [[3, 1], [1, 4]],
  [[2, 3, 33], [33]],
  [[5, 1, 7], [1, 3, 1]],
  [[], [3]],
  [[1023], [1]],
  [[4, 1], [4, 6]],
];

const BINARY: [string, (a: Tensor, b: Tensor) => Tensor, (x: number, y: number) => number][] = [
  ['add', hy.add, (x, y) => x + y],
  ['sub', hy.sub, (x, y) => x - y],
  ['mul', hy.mul, (x, y) => x * y],
  ['div', hy.div, (x, y) => x / y],
];

eachBackend(s, 'add/sub/mul/div broadcast like the float64 oracle, forward and backward', async (device) => {
  for (const dtype of ['float32', 'float16'] as DType[]) {
    for (const [as, bs] of BROADCAST_CASES) {
      for (const [name, op, f] of BINARY) {
        const [a, av] = input(as, 11, device, dtype);
        // divisors kept away from zero
        const [b, bv] = name === 'div' ? input(bs, 12, device, dtype, 0.5, 2) : input(bs, 12, device, dtype);
        const outShape = ref.broadcastShape(as, bs);
        poison(outShape, device, dtype);
        const y = op(a, b);
        assert.equal(y.shape, outShape, `${name} shape`);
        const what = `${name} ${dtype} [${as}] with [${bs}]`;
        assertClose(await y.data(), Array.from(ref.binary(f, av, as, bv, bs), round(dtype)), fwdTol(dtype), what);
        const w = randomArray(ref.numel(outShape), 3, -1, 1).map(round(dtype));
        const wt = hy.tensor(Array.from(w), { shape: outShape, device, dtype });
        hy.sum(hy.mul(y, wt)).backward();
        const ga = ref.finiteDiff((x) => ref.binary(f, x, as, bv, bs), av, w);
        const gb = ref.finiteDiff((x) => ref.binary(f, av, as, x, bs), bv, w);
        assertClose(await a.grad!.data(), ga, gradTol(dtype), `${what} grad a`);
        assertClose(await b.grad!.data(), gb, gradTol(dtype), `${what} grad b`);
      }
    }
  }
});

eachBackend(s, 'scalar arithmetic on either side', async (device) => {
  const [x, xv] = input([33], 5, device, 'float32', 0.5, 2);
  const cases: [Tensor, (v: number) => number][] = [
    [hy.add(x, 2.5), (v) => v + 2.5],
    [hy.sub(x, 2.5), (v) => v - 2.5],
    [hy.sub(2.5, x), (v) => 2.5 - v],
    [hy.mul(3, x), (v) => 3 * v],
    [hy.div(x, 4), (v) => v / 4],
    [hy.div(2, x), (v) => 2 / v],
    [hy.pow(x, 3), (v) => v ** 3],
  ];
  for (const [i, [t, f]] of cases.entries()) {
    assertClose(await t.data(), xv.map((v) => Math.fround(f(v))), { rtol: 2e-6, atol: 1e-6 }, `case ${i}`);
    x.grad = null;
    hy.sum(t).backward();
    assertClose(await x.grad!.data(), ref.finiteDiff((a) => a.map(f), xv, new Array(33).fill(1)), { rtol: 1e-4, atol: 1e-5 }, `grad case ${i}`);
  }
});

const UNARY: [string, (x: Tensor) => Tensor, (v: number) => number, number, number][] = [
  ['neg', hy.neg, (v) => -v, -3, 3],
  ['exp', hy.exp, Math.exp, -3, 3],
  ['log', hy.log, Math.log, 0.1, 5],
  ['sqrt', hy.sqrt, Math.sqrt, 0.1, 5],
  ['tanh', hy.tanh, Math.tanh, -3, 3],
  ['sigmoid', hy.sigmoid, (v) => 1 / (1 + Math.exp(-v)), -5, 5],
  ['erf', hy.erf, ref.erf, -3, 3],
  ['relu', hy.relu, (v) => Math.max(v, 0), -3, 3],
  ['gelu', (x) => hy.nn.functional.gelu(x), ref.gelu, -6, 6],
  ['gelu tanh', (x) => hy.nn.functional.gelu(x, { approximate: 'tanh' }), ref.geluTanh, -6, 6],
  ['gelu unfused', hy.geluUnfused, (v) => v * 0.5 * (1 + ref.erf(v / 1.41421)), -6, 6],
];

s('float64 oracles: elementwise differences equal the whole-vector finiteDiff bit for bit', () => {
  for (const [name, , f, lo, hi] of UNARY) {
    const xv = randomArray(33, name.length, lo, hi);
    const w = randomArray(33, 9, -1, 1);
    assert.equal(Array.from(ref.finiteDiffElementwise(f, xv, w)), Array.from(ref.finiteDiff((a) => a.map(f), xv, w)), name);
  }
});

eachBackend(s, 'unary math and the fused GELU match the oracle, forward and backward, at odd sizes', async (device) => {
  for (const dtype of ['float32', 'float16'] as DType[]) {
    for (const n of [1, 7, 33, 1023]) {
      for (const [name, op, f, lo, hi] of UNARY) {
        const [x, xv] = input([n], n + name.length, device, dtype, lo, hi);
        if (name === 'relu') xv.forEach((v, i) => Math.abs(v) < 1e-3 && (xv[i] = 0)); // kink: checked separately
        poison([n], device, dtype);
        const y = op(x);
        const what = `${name} ${dtype} n=${n}`;
        const tol = dtype === 'float32' ? { rtol: 1e-5, atol: 2e-6 } : fwdTol(dtype);
        assertClose(await y.data(), xv.map((v) => round(dtype)(f(v))), tol, what);
        const w = Array.from(randomArray(n, 9, -1, 1), round(dtype));
        hy.sum(hy.mul(y, hy.tensor(w, { device, dtype }))).backward();
        assertClose(await x.grad!.data(), ref.finiteDiffElementwise(f, xv, w), gradTol(dtype), `${what} grad`);
      }
    }
  }
});

eachBackend(s, 'fused and unfused GELU agree; bad options are rejected', async (device) => {
  const [x] = input([4099], 77, device, 'float32', -8, 8);
  assertClose(await hy.nn.functional.gelu(x).data(), await hy.geluUnfused(x).data(), { rtol: 2e-5, atol: 2e-6 }, 'fused vs unfused');
  assertThrows(() => hy.nn.functional.gelu(x, { approximate: 'fast' as never }), RangeError, /gelu: approximate must be 'none' or 'tanh', got 'fast'/);
  assertThrows(() => hy.nn.functional.gelu(hy.tensor([1], { dtype: 'int32', device })), TypeError, /^gelu: input must be a float32 or float16 tensor/);
});

eachBackend(s, 'sum and mean over dims, keepdim, negative dims, and their gradients', async (device) => {
  for (const dtype of ['float32', 'float16'] as DType[]) {
    const shape = [3, 5, 7, 2];
    for (const dims of [[0], [1], [3], [1, 2], [0, 3], [-1], [0, 1, 2, 3]]) {
      for (const keepdim of [false, true]) {
        for (const op of ['sum', 'mean'] as const) {
          const [x, xv] = input(shape, 21, device, dtype);
          const nd = dims.map((d) => (d < 0 ? d + shape.length : d));
          const count = nd.reduce((a, d) => a * shape[d], 1);
          const f = (v: ArrayLike<number>): Float64Array => ref.sumDims(v, shape, nd).map((t) => (op === 'mean' ? t / count : t));
          const y = op === 'sum' ? hy.sum(x, dims, { keepdim }) : hy.mean(x, dims, { keepdim });
          const expectShape = keepdim ? shape.map((d, i) => (nd.includes(i) ? 1 : d)) : shape.filter((_, i) => !nd.includes(i));
          assert.equal(y.shape, expectShape, `${op} ${dims} shape`);
          const tol = dtype === 'float16' ? { rtol: 1e-2, atol: 1e-2 } : { rtol: 1e-5, atol: 1e-5 };
          assertClose(await y.data(), Array.from(f(xv), round(dtype)), tol, `${op} ${dtype} dims=${dims}`);
          const w = Array.from(randomArray(y.numel, 4, -1, 1), round(dtype));
          hy.sum(hy.mul(y, hy.tensor(w, { shape: expectShape, device, dtype }))).backward();
          assertClose(await x.grad!.data(), ref.finiteDiff(f, xv, w), gradTol(dtype), `${op} ${dtype} dims=${dims} grad`);
        }
      }
    }
  }
  const x = hy.tensor([[1, 2], [3, 4]], { device });
  assert.is(hy.sum(x).item(), 10);
  assert.equal(hy.sum(x).shape, []);
  assert.is(x.mean().item(), 2.5);
  assertThrows(() => hy.sum(x, 2), RangeError, /sum: dim 2 is out of range for a tensor of 2 dimensions/);
});

// Long reductions: 10^6 additions of 0.1 in float accumulate an error of about 1%; every backend
// must stay inside the float32 tolerance. The shapes also select the sliced (two-pass) GPU paths:
// a whole-tensor sum, a few long rows, a few long columns, and a reduced middle dimension.
eachBackend(s, 'long sums stay within float32 tolerance (whole tensor, long rows, long columns, middle dim)', async (device) => {
  const n = 1_000_000;
  const tenth = Math.fround(0.1);
  const ones = hy.tensor(new Float32Array(n).fill(tenth), { device });
  const total = hy.sum(ones).item();
  assert.ok(Math.abs(total - n * tenth) <= 1e-6 * n * tenth, `sum of 10^6 x 0.1: got ${total}, expected ${n * tenth}`);
  const cases: { shape: number[]; dims: number[] }[] = [
    { shape: [3, 300_001], dims: [1] },
    { shape: [100_003, 3], dims: [0] },
    { shape: [2, 50_001, 3], dims: [1] },
  ];
  for (const { shape, dims } of cases) {
    for (const dtype of ['float32', 'float16'] as DType[]) {
      const count = shape.reduce((a, b) => a * b, 1);
      const xv = Array.from(randomArray(count, 77, -1, 1), round(dtype));
      const x = hy.tensor(xv, { shape, device, dtype });
      const expected = Array.from(ref.sumDims(xv, shape, dims), round(dtype));
      const tol = dtype === 'float16' ? { rtol: 1e-3, atol: 0.5 } : { rtol: 1e-6, atol: 1e-3 };
      assertClose(await hy.sum(x, dims).data(), expected, tol, `sum ${dtype} [${shape}] over ${dims}`);
    }
  }
});

eachBackend(s, 'reshape, view and flatten share storage and pass gradients through', async (device) => {
  const [x, xv] = input([2, 3, 4], 8, device, 'float32');
  const r = x.reshape(6, -1);
  assert.equal(r.shape, [6, 4]);
  assert.equal(hy.flatten(x, 1).shape, [2, 12]);
  assert.equal(x.view([24]).shape, [24]);
  assertClose(await r.data(), xv, { rtol: 0, atol: 0 }, 'same values');
  hy.sum(hy.mul(r, 2)).backward();
  assertClose(await x.grad!.data(), new Array(24).fill(2), { rtol: 0, atol: 0 }, 'grad');
  assertThrows(() => x.reshape(5, 5), RangeError, /reshape: shape \[5, 5\] is invalid for a tensor of 24 elements/);
  assertThrows(() => x.reshape(-1, -1), RangeError, /only one dimension can be -1/);
});

// Large sums take the split paths: a contiguous run cut into pieces whose partials add in order,
// and a strided reduction whose columns are cut into slices. Both accumulate in double.
eachBackend(s, 'sum over 1.2 million contiguous elements and over a strided dim with 1500 columns match the float64 oracle', (device) => {
  const n = 1_200_001;
  const values = Float32Array.from(randomArray(n, 77));
  let expected = 0;
  for (let i = 0; i < n; i++) expected += values[i];
  const x = hy.tensor(values, { device });
  const total = hy.sum(x);
  assertClose([total.dataSync()[0]], [expected], { rtol: 1e-6, atol: 1e-3 }, 'contiguous sum');
  const [A, B, C] = [3, 700, 1500];
  const y = hy.tensor(Float32Array.from(randomArray(A * B * C, 78)), { device }).reshape([A, B, C]);
  const yv = y.dataSync();
  const bySum = hy.sum(y, 1);
  const got = bySum.dataSync();
  let worst = 0;
  for (let a = 0; a < A; a++) {
    for (let c = 0; c < C; c++) {
      let e = 0;
      for (let b = 0; b < B; b++) e += yv[(a * B + b) * C + c];
      worst = Math.max(worst, Math.abs(got[a * C + c] - e) / Math.max(1, Math.abs(e)));
    }
  }
  assert.ok(worst < 1e-6, `strided sum: worst relative error ${worst}`);
  for (const t of [x, total, y, bySum]) t.dispose();
});

// The accuracy the CPU's vectorised GELU and tanh promise, over a dense float32 grid: GELU within
// 4e-7 absolute of the float64 formula everywhere on [-10, 10] (PyTorch's F.gelu reaches 3.8e-7
// there) with the right sign in the negative tail, its gradient within 4e-7, and tanh within 2.5e-7
// relative, exactly +-1 far out, NaN kept.
eachBackend(s, 'gelu, its gradient and tanh are accurate to a few float32 ulps over [-10, 10]', (device) => {
  const n = 200_001;
  const grid = new Float32Array(n);
  for (let i = 0; i < n; i++) grid[i] = -10 + (20 * i) / (n - 1);
  const x = hy.tensor(grid, { device, requiresGrad: true });
  const y = hy.gelu(x);
  const yv = y.dataSync();
  hy.sum(y).backward();
  const gv = x.grad!.dataSync();
  let geluErr = 0;
  let gradErr = 0;
  let wrongSign = 0;
  for (let i = 0; i < n; i++) {
    const v = grid[i];
    geluErr = Math.max(geluErr, Math.abs(yv[i] - ref.gelu(v)));
    if (v < 0 && yv[i] > 0) wrongSign++;
    const dgelu = 0.5 * (1 + ref.erf(v / Math.SQRT2)) + (v * Math.exp(-0.5 * v * v)) / Math.sqrt(2 * Math.PI);
    gradErr = Math.max(gradErr, Math.abs(gv[i] - dgelu));
  }
  assert.ok(geluErr <= 4e-7, `gelu: max abs error ${geluErr}`);
  assert.is(wrongSign, 0, 'gelu of a negative x is never positive');
  assert.ok(gradErr <= 4e-7, `gelu gradient: max abs error ${gradErr}`);
  const t = hy.tanh(hy.tensor(grid, { device }));
  const tv = t.dataSync();
  let tanhRel = 0;
  for (let i = 0; i < n; i++) {
    const r = Math.tanh(grid[i]);
    if (r !== 0) tanhRel = Math.max(tanhRel, Math.abs(tv[i] - r) / Math.abs(r));
  }
  assert.ok(tanhRel <= 2.5e-7, `tanh: max relative error ${tanhRel}`);
  const edges = hy.tanh(hy.tensor([1e-30, -1e-20, 20, -50, Infinity, -Infinity, NaN], { device }));
  const ev = Array.from(edges.dataSync());
  assert.equal(ev.slice(2, 6), [1, -1, 1, -1], 'exactly +-1 far out and at infinity');
  assert.ok(Math.abs(ev[0] - 1e-30) <= 1e-37 && Math.abs(ev[1] + 1e-20) <= 1e-27, `tiny inputs keep their value: ${ev.slice(0, 2)}`);
  assert.ok(Number.isNaN(ev[6]), 'NaN stays NaN');
  for (const tt of [x.grad!, x, y, t, edges]) tt.dispose();
});

// exp over the whole float range: 1 ulp in the normal range, subnormal results, +inf from 88.73 up
// (and not before), 0 below -104; sigmoid through it within 1e-7.
eachBackend(s, 'exp is accurate to an ulp from subnormal results to the overflow, and sigmoid follows', (device) => {
  const n = 200_001;
  const grid = new Float32Array(n);
  for (let i = 0; i < n; i++) grid[i] = -110 + (200 * i) / (n - 1);
  const e = hy.exp(hy.tensor(grid, { device }));
  const ev = e.dataSync();
  let rel = 0;
  let sub = 0;
  for (let i = 0; i < n; i++) {
    const r = Math.exp(grid[i]);
    const rf = Math.fround(r);
    if (rf === Infinity) {
      assert.is(ev[i], Infinity, `exp(${grid[i]}) overflows`);
    } else if (rf < 1.1754944e-38) {
      sub = Math.max(sub, Math.abs(ev[i] - rf) / 1.401298464324817e-45);
    } else {
      rel = Math.max(rel, Math.abs(ev[i] - r) / r);
    }
  }
  assert.ok(rel <= 1.2e-7, `exp: max relative error ${rel} in the normal range`);
  assert.ok(sub <= 2, `exp: subnormal results within ${sub} units of 2^-149`);
  const edge = hy.exp(hy.tensor([88.72, 88.7228, 89, -104.5, -Infinity, Infinity, NaN], { device }));
  const xv = Array.from(edge.dataSync());
  assert.ok(Number.isFinite(xv[0]) && Number.isFinite(xv[1]), `exp(88.72) and exp(88.7228) are finite: ${xv.slice(0, 2)}`);
  assert.equal(xv.slice(2, 6), [Infinity, 0, 0, Infinity]);
  assert.ok(Number.isNaN(xv[6]));
  const sg = hy.sigmoid(hy.tensor(grid, { device }));
  const sv = sg.dataSync();
  let sErr = 0;
  for (let i = 0; i < n; i++) sErr = Math.max(sErr, Math.abs(sv[i] - 1 / (1 + Math.exp(-grid[i]))));
  assert.ok(sErr <= 1e-7, `sigmoid: max abs error ${sErr}`);
  for (const tt of [e, edge, sg]) tt.dispose();
});

// log over every float magnitude, subnormals included: within 1.2e-7 relative (4e-8 absolute near
// 1, where log is small), and its special values.
eachBackend(s, 'log is accurate to an ulp from subnormals to the largest float, with its special values', (device) => {
  const n = 100_001;
  const grid = new Float32Array(n);
  for (let i = 0; i < n; i++) grid[i] = Math.fround(10 ** (-44 + (82 * i) / (n - 1)));
  const l = hy.log(hy.tensor(grid, { device }));
  const lv = l.dataSync();
  let rel = 0;
  let nearOne = 0;
  for (let i = 0; i < n; i++) {
    const r = Math.log(grid[i]);
    if (Math.abs(r) > 0.7) rel = Math.max(rel, Math.abs(lv[i] - r) / Math.abs(r));
    else nearOne = Math.max(nearOne, Math.abs(lv[i] - r));
  }
  assert.ok(rel <= 1.2e-7, `log: max relative error ${rel}`);
  assert.ok(nearOne <= 6e-8, `log near 1: max absolute error ${nearOne}`);
  const edge = hy.log(hy.tensor([1, 0, -1, Infinity, -Infinity, NaN], { device }));
  const ev = Array.from(edge.dataSync());
  assert.equal(ev.slice(0, 2), [0, -Infinity]);
  assert.ok(Number.isNaN(ev[2]) && ev[3] === Infinity && Number.isNaN(ev[4]) && Number.isNaN(ev[5]), `special values: ${ev}`);
  for (const tt of [l, edge]) tt.dispose();
});

// Large enough that the CPU splits the outermost dimension over the pool: same shape, a row
// broadcast, and a broadcast in the outer dimensions, each element against the float64 oracle.
eachBackend(s, 'add over large and broadcast operands that split over the pool matches the oracle', (device) => {
  const cases: [number[], number[]][] = [[[400, 1500], [400, 1500]], [[700, 1500], [1500]], [[3, 1, 500, 90], [7, 500, 1]]];
  let seed = 91;
  for (const [sa, sb] of cases) {
    const va = Float32Array.from(randomArray(sa.reduce((x, y) => x * y, 1), seed++));
    const vb = Float32Array.from(randomArray(sb.reduce((x, y) => x * y, 1), seed++));
    const flatA = hy.tensor(va, { device });
    const flatB = hy.tensor(vb, { device });
    const a = flatA.reshape(sa);
    const b = flatB.reshape(sb);
    const c = hy.add(a, b);
    const expected = ref.binary((x, y) => x + y, va, sa, vb, sb);
    const got = c.dataSync();
    assert.is(got.length, expected.length, `[${sa}] + [${sb}]: length`);
    let worst = 0;
    for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - Math.fround(expected[i])));
    assert.is(worst, 0, `[${sa}] + [${sb}]: every element is the rounded float64 sum`);
    for (const t of [a, b, c, flatA, flatB]) t.dispose();
  }
});

s('bad operands are rejected with the op named', () => {
  const a = hy.ones([2, 3]);
  assertThrows(() => hy.add(a, hy.ones([4])), RangeError, /add: shapes \[2, 3\] and \[4\] cannot be broadcast/);
  assertThrows(() => hy.mul(a, 'x' as never), TypeError, /mul: other must be a Tensor, got 'x'/);
  assertThrows(() => hy.add(1, 2 as never), TypeError, /add: at least one argument must be a Tensor/);
  assertThrows(() => hy.div(hy.tensor([true, false, true]), a), TypeError, /^div: input must be a float32 or float16 tensor/); // int32 divides (as float32); bool does not
  const d = hy.ones([2]);
  d.dispose();
  assertThrows(() => hy.sub(d, 1), hy.DisposedError, /sub: the tensor was disposed/);
  if (hy.cuda.isAvailable()) {
    assertThrows(() => hy.add(a, hy.ones([2, 3], { device: 'cuda' })), RangeError, /^add: other must be on cpu like input, got 'cuda'$/);
  }
});

eachBackend(s, 'float16 with float32 computes in float32', async (device) => {
  const a = hy.tensor([1, 2, 3], { dtype: 'float16', device });
  const b = hy.tensor([0.5, 0.25, 0.125], { device });
  const y = hy.add(a, b);
  assert.is(y.dtype, 'float32');
  assert.equal(Array.from(await y.data()), [1.5, 2.25, 3.125]);
});

eachBackend(s, 'gelu keeps its sign in the negative tail, forward and backward', (device) => {
  // 4001 points of [-10, 0): gelu(x) = x * Phi(x) is negative there (or -0 where Phi underflows).
  const n = 4001;
  const xs = Float32Array.from({ length: n }, (_, i) => -10 + (10 * i) / n);
  const x = hy.tensor(xs, { device, requiresGrad: true });
  const y = hy.nn.functional.gelu(x);
  const v = y.dataSync();
  let positive = 0;
  for (let i = 0; i < n; i++) if (v[i] > 0) positive++;
  assert.is(positive, 0, 'no positive gelu(x) for x < 0');
  const at = hy.nn.functional.gelu(hy.tensor([-5.643], { device }));
  assert.ok(at.item() <= 0 && at.item() > -1e-6, `gelu(-5.643) = ${at.item()}, exactly -5.643 * Phi(-5.643) = -4.7e-8`);
  hy.sum(y).backward();
  const g = x.grad!.dataSync();
  // gelu'(x) = Phi(x) + x * phi(x): at least -0.1700 (its minimum, near x = -0.75), below 0.5 on
  // [-10, 0), and vanishing (not negative-signed noise of the wrong size) far out in the tail.
  for (let i = 0; i < n; i++) {
    assert.ok(g[i] >= -0.1701 && g[i] < 0.5, `gelu'(${xs[i]}) = ${g[i]} lies in [-0.1701, 0.5)`);
    if (xs[i] < -6) assert.ok(Math.abs(g[i]) < 1e-6, `gelu'(${xs[i]}) = ${g[i]} vanishes in the tail`);
  }
  for (const t of [x, y, at, x.grad!]) t.dispose();
});

// gelu and g * gelu' of xs by one named CPU implementation (the unary and unaryGrad ops run
// directly), or null where that implementation does not apply on this CPU.
function geluByImpl(impl: string, xs: ArrayLike<number>, gs: ArrayLike<number>): [Float32Array, Float32Array] | null {
  const n = xs.length;
  const x = hy.tensor(Float32Array.from(xs));
  const g = hy.tensor(Float32Array.from(gs));
  const y = hy.empty([n]);
  const dx = hy.empty([n]);
  try {
    const common = { op: 'gelu', x: x.live('t'), dtype: 'float32', n, impl };
    try {
      native.run('unary', { ...common, out: y.live('t') });
    } catch (e) {
      if (!(e instanceof RangeError) || !/does not apply/.test(e.message)) throw e;
      return null;
    }
    native.run('unaryGrad', { ...common, gradOut: g.live('t'), gradIn: dx.live('t') });
    return [y.dataSync() as Float32Array, dx.dataSync() as Float32Array];
  } finally {
    for (const t of [x, g, y, dx]) t.dispose();
  }
}

// Each CPU implementation of GELU's forward and backward (the AVX-512 and AVX2 vector kernels of
// cpu/gelu_vec.h, and the compiler-vectorised loop they fall back to) against the float64 formula,
// at lengths that select each path: 1, a vector's tail (7, 9, 15, 17, 33), and past the pool's
// split (2^17 + 1 elements and more), with one grid value placed in every position so a tail lane
// must compute what a full vector's lane does.
s('every CPU gelu implementation matches the float64 formula at its vector and split edges', () => {
  const implsOf = (name: string) => native.ops().find((o) => o.name === name)!.impls.cpu;
  const known = process.arch === 'x64' ? ['avx512', 'avx2', 'vectorized'] : ['vectorized']; // the vector kernels are x86-64's
  assert.equal(implsOf('unary'), known, 'the unary implementations this test knows');
  assert.equal(implsOf('unaryGrad'), known, 'the unaryGrad implementations this test knows');
  const dgelu = (v: number) => 0.5 * (1 + ref.erf(v / Math.SQRT2)) + (v * Math.exp(-0.5 * v * v)) / Math.sqrt(2 * Math.PI);
  let ran = 0;
  for (const impl of implsOf('unary')) {
    for (const n of [1, 7, 9, 15, 17, 33, (1 << 17) + 1, 3 * (1 << 17) + 13]) {
      const xs = new Float32Array(n);
      for (let i = 0; i < n; i++) xs[i] = -10 + ((i * 7919) % 4001) * 0.005; // [-10, 10] in every lane
      const gs = new Float32Array(n).map((_, i) => 1 - (i % 3) * 0.75);
      const result = geluByImpl(impl, xs, gs);
      if (result === null) {
        skipPart(`ops > every CPU gelu implementation: '${impl}' does not apply on this CPU`);
        break;
      }
      const [yv, dv] = result;
      for (let i = 0; i < n; i++) {
        const v = xs[i];
        const fwd = Math.abs(yv[i] - ref.gelu(v));
        const bwd = Math.abs(dv[i] - gs[i] * dgelu(v));
        if (!(fwd <= 4e-7) || !(bwd <= 4e-7) || (v < 0 && yv[i] > 0)) {
          assert.unreachable(`${impl} n=${n} at ${i}: gelu(${v}) = ${yv[i]} (error ${fwd}), ${gs[i]} * gelu'(${v}) = ${dv[i]} (error ${bwd})`);
        }
      }
      ran++;
    }
  }
  assert.ok(ran >= 8, `the compiler-vectorised implementation ran at every length (${ran} runs)`);
  // Past the grid: the exponential's clamp (|x| >= 13), infinities, NaN, signed zeros and
  // subnormals, each lane position once; every implementation gives the compiler-vectorised loop's
  // values (NaN where it gives NaN: gelu(-inf) = -inf * 0), within the same 4e-7.
  const special = [NaN, Infinity, -Infinity, 0, -0, 1e-40, -1e-40, -13.5, -20, -100, 13.5, 100, 3e38, -3e38, 5.5, -5.5, 1];
  const outputs = new Map<string, [Float32Array, Float32Array]>();
  for (const impl of implsOf('unary')) {
    const result = geluByImpl(impl, special, special.map(() => 1));
    if (result !== null) outputs.set(impl, result); // one that does not apply is named above
  }
  const [baseY, baseD] = outputs.get('vectorized')!;
  for (const [impl, [yv, dv]] of outputs) {
    special.forEach((v, i) => {
      for (const [what, got, want] of [['gelu', yv[i], baseY[i]], ["gelu'", dv[i], baseD[i]]] as const) {
        const same = Number.isNaN(want) ? Number.isNaN(got) : got === want || Math.abs(got - want) <= 4e-7 * Math.max(1, Math.abs(want));
        assert.ok(same, `${impl}: ${what}(${v}) = ${got}, the compiler-vectorised loop gives ${want}`);
      }
    });
  }
  assert.ok(Object.is(baseY[4], -0) || baseY[4] === 0, 'gelu(-0) is a zero');
  assert.is(baseY[2] < 0 || Number.isNaN(baseY[2]), true, 'gelu(-inf) is not positive');
  assert.is(baseY[1], Infinity, 'gelu(inf) = inf');
  // Another op or float16 does not select a vector kernel by name: it says so.
  const h = hy.tensor([1, 2], { dtype: 'float16' });
  assertThrows(
    () => native.run('unary', { op: 'gelu', x: h.live('t'), out: h.live('t'), dtype: 'float16', n: 2, impl: 'avx2' }),
    RangeError,
    /^unary: impl 'avx2' does not apply to these arguments$/,
  );
  h.dispose();
});

s('run sends the fields positionally (runAt) and keeps the named errors', () => {
  const x = hy.tensor([1, 2, 3]);
  const out = hy.empty([3]);
  const args = { op: 'mul', x: x.live('t'), out: out.live('t'), dtype: 'float32', n: 3, s: 2, extra: 'ignored' };
  native.run('scalar', args);
  assert.equal(Array.from(out.dataSync()), [2, 4, 6]);
  native.run('scalar', { ...args, s: 3, impl: 'vectorized' });
  assert.equal(Array.from(out.dataSync()), [3, 6, 9]);
  assertThrows(() => native.run('scalar', { ...args, impl: 'nope' }), RangeError, /^scalar: impl must be one of the cpu implementations .*, got 'nope'$/);
  assertThrows(() => native.run('scalar', { ...args, dtype: 'float64' }), RangeError, /^scalar: dtype must be one of 'float32', 'float16', got 'float64'$/);
  assertThrows(() => native.run('scalar', { ...args, op: 1 }), TypeError, /^scalar: op must be one of .*, got 1$/);
  assertThrows(() => native.run('scalar', { ...args, n: -1 }), RangeError, /^scalar: n must be a non-negative integer below 2\^53, got -1$/);
  assertThrows(() => native.run('scalar', { ...args, x: undefined }), TypeError, /^scalar: x must be a Storage, got undefined$/);
  assertThrows(() => native.run('nope', args), RangeError, /^run: op must be the name of a registered op, got 'nope'$/);
  assertThrows(() => native.run('scalar', [] as never), TypeError, /^scalar: arguments must be an object of named fields/);
  // dims fields go flat (a count, then the sizes); their errors are the named path's
  const y = hy.tensor([[1, 2], [3, 4]]);
  const z = hy.empty([2, 2]);
  const bin: Record<string, unknown> = { op: 'add', a: y.live('t'), b: x.live('t'), out: z.live('t'), dtype: 'float32', shape: [2, 2], stridesA: [2, 1], stridesB: [0, 1] };
  native.run('binary', { ...bin, b: y.live('t'), stridesB: [2, 1] });
  assert.equal(Array.from(z.dataSync()), [2, 4, 6, 8]);
  const row = hy.tensor([10, 20]);
  native.run('binary', { ...bin, b: row.live('t') });
  assert.equal(Array.from(z.dataSync()), [11, 22, 13, 24], 'a broadcast row through the flat strides');
  assertThrows(() => native.run('binary', { ...bin, shape: [2, 'x'] as never }), TypeError, /^binary: shape\[1\] must be a number, got 'x'$/);
  assertThrows(() => native.run('binary', { ...bin, shape: [2, -1] }), RangeError, /^binary: shape\[1\] must be an integer in \[0, 2\^32\], got -1$/);
  assertThrows(() => native.run('binary', { ...bin, shape: 4 }), TypeError, /^binary: shape must be an array of sizes, got 4$/);
  assertThrows(() => native.run('binary', { ...bin, shape: new Array(9).fill(1) }), RangeError, /^binary: shape must be at most 8 sizes/);
  // runAt is the binding's own: it takes storage ids, as the run wrapper sends them.
  const runAt = (native as unknown as { runAt: (...a: unknown[]) => void }).runAt;
  const binaryIndex = native.ops().findIndex((o) => o.name === 'binary');
  assertThrows(() => runAt.call(native, binaryIndex, undefined, 0, ...[y, y, z].map((t) => StorageHandle.toBinding(t.live('t'))), 0, 'two'), RangeError, /^binary: field 'shape' must come as a count of at most 8 and then the sizes, got 'two'$/);
  for (const t of [y, z, row]) t.dispose();
  assertThrows(() => runAt.call(native, 1e9), RangeError, /^runAt: index must be an op's position in ops\(\), got 1000000000$/);
  assertThrows(() => runAt.call(native, -1), RangeError, /^runAt: index must be/);
  x.dispose();
  out.dispose();
});

s.run();
