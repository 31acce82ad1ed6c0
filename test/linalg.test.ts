import * as assert from 'uvu/assert';

import * as hy from '../lib/index';
import type { Device, DType, Tensor } from '../lib/index';
import { assertClose, assertThrows, eachBackend, randomArray, suite } from './harness';
import { roundToHalf } from './reference/half';
import { finiteDiff, numel } from './reference/ops';

const s = suite('linalg');
const round = (dtype: DType) => (v: number): number => (dtype === 'float16' ? roundToHalf(Math.fround(v)) : Math.fround(v));

/** float64 batched matmul with PyTorch's 1-D rules (oracle). */
function matmulRef(a: ArrayLike<number>, as: number[], b: ArrayLike<number>, bs: number[]): Float64Array {
  const A = as.length === 1 ? [1, as[0]] : as;
  const B = bs.length === 1 ? [bs[0], 1] : bs;
  const M = A[A.length - 2], K = A[A.length - 1], N = B[B.length - 1];
  const batch = Math.max(numel(A.slice(0, -2)), numel(B.slice(0, -2)));
  const sa = A.length > 2 ? M * K : 0;
  const sb = B.length > 2 ? K * N : 0;
  const out = new Float64Array(batch * M * N);
  for (let p = 0; p < batch; p++)
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        let acc = 0;
        for (let k = 0; k < K; k++) acc += a[p * sa + i * K + k] * b[p * sb + k * N + j];
        out[p * M * N + i * N + j] = acc;
      }
  return out;
}

function input(shape: number[], seed: number, device: Device, dtype: DType): [Tensor, number[]] {
  const v = Array.from(randomArray(numel(shape), seed, -1, 1), round(dtype));
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

eachBackend(s, 'matmul matches the oracle with batch and 1-D rules, forward and backward', async (device) => {
  for (const dtype of ['float32', 'float16'] as DType[]) {
    for (const [as, bs] of CASES) {
      const [a, av] = input(as, 3, device, dtype);
      const [b, bv] = input(bs, 4, device, dtype);
      const y = hy.matmul(a, b);
      const expected = matmulRef(av, as, bv, bs);
      const K = as[as.length - 1];
      const tol = dtype === 'float16' ? { rtol: 1e-2, atol: 1e-2 * Math.sqrt(K) } : { rtol: 1e-5, atol: 1e-6 * K };
      const what = `${dtype} [${as}] @ [${bs}]`;
      assert.is(y.numel, expected.length, `${what} numel`);
      assertClose(await y.data(), Array.from(expected, round(dtype)), tol, what);
      const w = Array.from(randomArray(y.numel, 5, -1, 1), round(dtype));
      hy.sum(hy.mul(y, hy.tensor(w, { shape: y.shape.slice(), device, dtype }))).backward();
      const gtol = dtype === 'float16' ? { rtol: 3e-2, atol: 3e-2 * Math.sqrt(K) } : { rtol: 1e-4, atol: 1e-5 * K };
      assertClose(await a.grad!.data(), finiteDiff((x) => matmulRef(x, as, bv, bs), av, w), gtol, `${what} grad a`);
      assertClose(await b.grad!.data(), finiteDiff((x) => matmulRef(av, as, x, bs), bv, w), gtol, `${what} grad b`);
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
      const f = (xa: ArrayLike<number>, wa: ArrayLike<number>, ba: ArrayLike<number>): Float64Array => {
        const out = new Float64Array(rows * outF);
        for (let r = 0; r < rows; r++)
          for (let o = 0; o < outF; o++) {
            let acc = ba[o];
            for (let i = 0; i < inF; i++) acc += xa[r * inF + i] * wa[o * inF + i];
            out[r * outF + o] = acc;
          }
        return out;
      };
      const y = hy.nn.functional.linear(x, W, b);
      assert.equal(y.shape, [...xs.slice(0, -1), outF]);
      const tol = dtype === 'float16' ? { rtol: 1e-2, atol: 2e-2 } : { rtol: 1e-5, atol: 1e-5 };
      assertClose(await y.data(), Array.from(f(xv, wv, bv), round(dtype)), tol, `linear ${dtype} [${xs}]`);
      const w = Array.from(randomArray(y.numel, 9, -1, 1), round(dtype));
      hy.sum(hy.mul(y, hy.tensor(w, { shape: y.shape.slice(), device, dtype }))).backward();
      const gtol = dtype === 'float16' ? { rtol: 3e-2, atol: 5e-2 } : { rtol: 1e-4, atol: 1e-4 };
      assertClose(await x.grad!.data(), finiteDiff((v) => f(v, wv, bv), xv, w), gtol, 'grad x');
      assertClose(await W.grad!.data(), finiteDiff((v) => f(xv, v, bv), wv, w), gtol, 'grad W');
      assertClose(await b.grad!.data(), finiteDiff((v) => f(xv, wv, v), bv, w), gtol, 'grad b');
    }
  }
  const x = hy.ones([2, 3], { device });
  assertThrows(() => hy.nn.functional.linear(x, hy.ones([4, 5], { device })), RangeError, /linear: input's last dimension 3 does not match weight's in_features 5/);
  assertThrows(() => hy.matmul(x, hy.ones([4, 2], { device })), RangeError, /matmul: shapes \[2, 3\] and \[4, 2\] cannot be multiplied \(3 != 4\)/);
});

s.run();
