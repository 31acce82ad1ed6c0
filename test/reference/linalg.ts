// Float64 oracles of matmul and linear, forward and backward, written from the definitions with
// plain loops. The backward passes are the analytic ones (for C = A @ B and an upstream gradient
// G: dA = G @ B^T, dB = A^T @ G, summed over a broadcast batch); linalg.test.ts checks them
// against central differences of the forwards at small sizes, then uses them at every size.
import { numel } from './ops';

/** The 2-D (or batched) shapes PyTorch's 1-D rules give: a vector A is 1 x K, a vector B is K x 1. */
function promote(as: readonly number[], bs: readonly number[]) {
  const A = as.length === 1 ? [1, as[0]] : as;
  const B = bs.length === 1 ? [bs[0], 1] : bs;
  const M = A[A.length - 2];
  const K = A[A.length - 1];
  const N = B[B.length - 1];
  const batch = Math.max(numel(A.slice(0, -2)), numel(B.slice(0, -2)));
  // A batch stride of 0 broadcasts an unbatched operand over the other's batch.
  return { M, K, N, batch, sa: A.length > 2 ? M * K : 0, sb: B.length > 2 ? K * N : 0 };
}

/** float64 batched matmul with PyTorch's 1-D rules. */
export function matmul(a: ArrayLike<number>, as: readonly number[], b: ArrayLike<number>, bs: readonly number[]): Float64Array {
  const { M, K, N, batch, sa, sb } = promote(as, bs);
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

/**
 * Gradients of sum(g * matmul(a, b)) with respect to a and b: per batch item dA = G @ B^T and
 * dB = A^T @ G, accumulated over the batch where that operand is broadcast.
 */
export function matmulBackward(
  a: ArrayLike<number>, as: readonly number[], b: ArrayLike<number>, bs: readonly number[], g: ArrayLike<number>,
): { da: Float64Array; db: Float64Array } {
  const { M, K, N, batch, sa, sb } = promote(as, bs);
  const da = new Float64Array(numel(as));
  const db = new Float64Array(numel(bs));
  for (let p = 0; p < batch; p++) {
    const go = p * M * N;
    for (let i = 0; i < M; i++)
      for (let k = 0; k < K; k++) {
        let acc = 0;
        for (let j = 0; j < N; j++) acc += g[go + i * N + j] * b[p * sb + k * N + j];
        da[p * sa + i * K + k] += acc;
      }
    for (let k = 0; k < K; k++)
      for (let j = 0; j < N; j++) {
        let acc = 0;
        for (let i = 0; i < M; i++) acc += a[p * sa + i * K + k] * g[go + i * N + j];
        db[p * sb + k * N + j] += acc;
      }
  }
  return { da, db };
}

/** y = x @ W^T + bias for x: rows x inF, W: outF x inF, bias: outF. */
export function linear(x: ArrayLike<number>, w: ArrayLike<number>, bias: ArrayLike<number>, rows: number, inF: number, outF: number): Float64Array {
  const out = new Float64Array(rows * outF);
  for (let r = 0; r < rows; r++)
    for (let o = 0; o < outF; o++) {
      let acc = bias[o];
      for (let i = 0; i < inF; i++) acc += x[r * inF + i] * w[o * inF + i];
      out[r * outF + o] = acc;
    }
  return out;
}

/** Gradients of sum(g * linear(x, W, bias)): dx = G @ W, dW = G^T @ x, dbias = the column sums of G. */
export function linearBackward(
  x: ArrayLike<number>, w: ArrayLike<number>, g: ArrayLike<number>, rows: number, inF: number, outF: number,
): { dx: Float64Array; dw: Float64Array; dbias: Float64Array } {
  const dx = new Float64Array(rows * inF);
  const dw = new Float64Array(outF * inF);
  const dbias = new Float64Array(outF);
  for (let r = 0; r < rows; r++)
    for (let o = 0; o < outF; o++) {
      const go = g[r * outF + o];
      dbias[o] += go;
      for (let i = 0; i < inF; i++) {
        dx[r * inF + i] += go * w[o * inF + i];
        dw[o * inF + i] += go * x[r * inF + i];
      }
    }
  return { dx, dw, dbias };
}
