// matmul and linear on every backend against the float64 oracles of reference/linalg.ts: forward
// values and the analytic gradients, each computed once per case and shared by the backends. The
// analytic gradients are checked against central differences first, at the sizes where those are cheap.
import * as assert from 'uvu/assert';

import * as hy from '../lib/index';
import type { Device, DType, Tensor } from '../lib/index';
import { assertClose, assertThrows, eachBackend, oracle, randomArray, suite } from './harness';
import { roundToHalf } from './reference/half';
import * as ref from './reference/linalg';
import { finiteDiff, numel } from './reference/ops';

const s = suite('linalg');
const round = (dtype: DType) => (v: number): number => (dtype === 'float16' ? roundToHalf(Math.fround(v)) : Math.fround(v));

/** The values a test's input holds: seeded, rounded to the dtype, the same on every backend. */
function values(shape: number[], seed: number, dtype: DType): number[] {
  return Array.from(randomArray(numel(shape), seed, -1, 1), round(dtype));
}

function input(shape: number[], seed: number, device: Device, dtype: DType): [Tensor, number[]] {
  const v = values(shape, seed, dtype);
  return [hy.tensor(v, { shape, device, dtype, requiresGrad: true }), v];
}

const CASES: [number[], number[]][] = [
  [[7, 33], [33, 5]],
  [[1, 1], [1, 1]],
  [[3, 7, 9], [3, 9, 4]],
  [[3, 7, 9], [9, 4]],
  [[7, 9], [2, 9, 4]],
  [[9], [9, 4]],
  [[7, 9], [9]],
  [[65, 130], [130, 33]],
];

/** Central differences in float64 (cheap only at small sizes) must equal the analytic gradients. */
const FD_TOL = { rtol: 1e-7, atol: 1e-7 };

s('float64 oracles: the analytic matmul and linear gradients equal finite differences', () => {
  for (const [as, bs] of CASES) {
    if (numel(as) * numel(bs) > 1e5) continue; // the 65 x 130 case: billions of products by differences
    const av = values(as, 3, 'float32');
    const bv = values(bs, 4, 'float32');
    const w = values([ref.matmul(av, as, bv, bs).length], 5, 'float32');
    const { da, db } = ref.matmulBackward(av, as, bv, bs, w);
    const what = `[${as}] @ [${bs}]`;
    assertClose(da, finiteDiff((x) => ref.matmul(x, as, bv, bs), av, w), FD_TOL, `${what} dA`);
    assertClose(db, finiteDiff((x) => ref.matmul(av, as, x, bs), bv, w), FD_TOL, `${what} dB`);
  }
  for (const [rows, inF, outF] of [[5, 33, 7], [6, 9, 4], [1, 1, 1]]) {
    const xv = values([rows, inF], 6, 'float32');
    const wv = values([outF, inF], 7, 'float32');
    const bv = values([outF], 8, 'float32');
    const g = values([rows, outF], 9, 'float32');
    const { dx, dw, dbias } = ref.linearBackward(xv, wv, g, rows, inF, outF);
    const what = `linear ${rows}x${inF} -> ${outF}`;
    assertClose(dx, finiteDiff((v) => ref.linear(v, wv, bv, rows, inF, outF), xv, g), FD_TOL, `${what} dx`);
    assertClose(dw, finiteDiff((v) => ref.linear(xv, v, bv, rows, inF, outF), wv, g), FD_TOL, `${what} dW`);
    assertClose(dbias, finiteDiff((v) => ref.linear(xv, wv, v, rows, inF, outF), bv, g), FD_TOL, `${what} dbias`);
  }
});

eachBackend(s, 'matmul matches the oracle with batch and 1-D rules, forward and backward', async (device) => {
  for (const dtype of ['float32', 'float16'] as DType[]) {
    for (const [as, bs] of CASES) {
      const [a, av] = input(as, 3, device, dtype);
      const [b, bv] = input(bs, 4, device, dtype);
      const y = hy.matmul(a, b);
      const what = `${dtype} [${as}] @ [${bs}]`;
      const expected = oracle(`matmul ${what}`, () => {
        const out = ref.matmul(av, as, bv, bs);
        const w = values([out.length], 5, dtype);
        return { out: Array.from(out, round(dtype)), w, ...ref.matmulBackward(av, as, bv, bs, w) };
      });
      const K = as[as.length - 1];
      const tol = dtype === 'float16' ? { rtol: 1e-2, atol: 1e-2 * Math.sqrt(K) } : { rtol: 1e-5, atol: 1e-6 * K };
      assert.is(y.numel, expected.out.length, `${what} numel`);
      assertClose(await y.data(), expected.out, tol, what);
      hy.sum(hy.mul(y, hy.tensor(expected.w, { shape: y.shape.slice(), device, dtype }))).backward();
      const gtol = dtype === 'float16' ? { rtol: 3e-2, atol: 3e-2 * Math.sqrt(K) } : { rtol: 1e-4, atol: 1e-5 * K };
      assertClose(await a.grad!.data(), expected.da, gtol, `${what} grad a`);
      assertClose(await b.grad!.data(), expected.db, gtol, `${what} grad b`);
    }
  }
});

eachBackend(s, 'linear = x @ W^T + b, with gradients for x, W and b', async (device) => {
  for (const dtype of ['float32', 'float16'] as DType[]) {
    for (const [xs, outF] of [[[5, 33], 7], [[2, 3, 9], 4], [[1, 1], 1]] as [number[], number][]) {
      const inF = xs[xs.length - 1];
      const [x, xv] = input(xs, 6, device, dtype);
      const [W, wv] = input([outF, inF], 7, device, dtype);
      const [b, bv] = input([outF], 8, device, dtype);
      const rows = numel(xs) / inF;
      const what = `linear ${dtype} [${xs}] -> ${outF}`;
      const expected = oracle(what, () => {
        const w = values([rows * outF], 9, dtype);
        return { out: Array.from(ref.linear(xv, wv, bv, rows, inF, outF), round(dtype)), w, ...ref.linearBackward(xv, wv, w, rows, inF, outF) };
      });
      const y = hy.nn.functional.linear(x, W, b);
      assert.equal(y.shape, [...xs.slice(0, -1), outF]);
      const tol = dtype === 'float16' ? { rtol: 1e-2, atol: 2e-2 } : { rtol: 1e-5, atol: 1e-5 };
      assertClose(await y.data(), expected.out, tol, what);
      hy.sum(hy.mul(y, hy.tensor(expected.w, { shape: y.shape.slice(), device, dtype }))).backward();
      const gtol = dtype === 'float16' ? { rtol: 3e-2, atol: 5e-2 } : { rtol: 1e-4, atol: 1e-4 };
      assertClose(await x.grad!.data(), expected.dx, gtol, `${what} grad x`);
      assertClose(await W.grad!.data(), expected.dw, gtol, `${what} grad W`);
      assertClose(await b.grad!.data(), expected.dbias, gtol, `${what} grad b`);
    }
  }
  const x = hy.ones([2, 3], { device });
  assertThrows(() => hy.nn.functional.linear(x, hy.ones([4, 5], { device })), RangeError, /linear: input's last dimension 3 does not match weight's in_features 5/);
  assertThrows(() => hy.matmul(x, hy.ones([4, 2], { device })), RangeError, /matmul: shapes \[2, 3\] and \[4, 2\] cannot be multiplied \(3 != 4\)/);
});

s.run();
