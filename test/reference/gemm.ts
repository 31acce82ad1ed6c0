// Float64 GEMM oracle, written from the definition with plain loops: for each batch item p,
// C[p] = alpha * op(A[p]) @ op(B[p]) + beta * C[p], row-major, where op(A) is M x K (A stored K x M
// when transA) and op(B) is K x N (B stored N x K when transB). beta 0 ignores C's old values and
// alpha 0 ignores A and B (the BLAS rule), so NaN there does not reach C.
export interface GemmArgs {
  M: number;
  N: number;
  K: number;
  transA: boolean;
  transB: boolean;
  alpha: number;
  beta: number;
  batch: number;
  strideA: number;
  strideB: number;
  strideC: number;
}

/** Returns a copy of c with every batch item's M x N block replaced; elements between blocks keep their values. */
export function gemm(a: ArrayLike<number>, b: ArrayLike<number>, c: ArrayLike<number>, g: GemmArgs): Float64Array {
  const out = Float64Array.from(c);
  for (let p = 0; p < g.batch; p++) {
    for (let i = 0; i < g.M; i++) {
      for (let j = 0; j < g.N; j++) {
        let sum = 0;
        for (let k = 0; k < g.K; k++) {
          const av = a[p * g.strideA + (g.transA ? k * g.M + i : i * g.K + k)];
          const bv = b[p * g.strideB + (g.transB ? j * g.K + k : k * g.N + j)];
          sum += av * bv;
        }
        const idx = p * g.strideC + i * g.N + j;
        out[idx] = (g.alpha === 0 ? 0 : g.alpha * sum) + (g.beta === 0 ? 0 : g.beta * c[idx]);
      }
    }
  }
  return out;
}

