// matmul and linear on the GEMM kernels (tiled fp32; WMMA tensor cores for fp16), with backward.
import { native } from './native';
import { checkFloat, checkTensor, sumDims } from './ops';
import { runOp } from './policy';
import { allocTensor, numelOf, Tensor } from './tensor';
import { sameDevice } from './validate';

interface GemmArgs {
  a: Tensor;
  b: Tensor;
  c: Tensor;
  M: number;
  N: number;
  K: number;
  transA?: boolean;
  transB?: boolean;
  beta?: number;
  batch?: number;
  strideA?: number;
  strideB?: number;
  strideC?: number;
}

function gemm(op: string, g: GemmArgs): void {
  native.run('gemm', {
    a: g.a.live(op), b: g.b.live(op), c: g.c.live(op), dtype: g.c.dtype, M: g.M, N: g.N, K: g.K,
    transA: g.transA ?? false, transB: g.transB ?? false, alpha: 1, beta: g.beta ?? 0, batch: g.batch ?? 1,
    strideA: g.strideA ?? 0, strideB: g.strideB ?? 0, strideC: g.strideC ?? 0,
  });
}

/**
 * Matrix product with PyTorch's rules for 1-D operands and batch dimensions. Batch dimensions must
 * match, or one operand is 2-D and is shared by every batch item.
 *
 * @example
 * ```ts
 * hy.matmul(hy.randn([2, 3]), hy.randn([3, 4])); // shape [2, 4]
 * hy.matmul(hy.randn([8, 2, 3]), hy.randn([3, 4])); // shape [8, 2, 4]: the matrix is shared
 * ```
 */
export function matmul(aIn: Tensor, bIn: Tensor): Tensor {
  const op = 'matmul';
  checkTensor(op, 'input', aIn);
  checkTensor(op, 'other', bIn);
  sameDevice(op, 'input', aIn, 'other', bIn);
  checkFloat(op, aIn);
  checkFloat(op, bIn, 'other');
  const a0 = aIn;
  const b0 = bIn;
  if (a0.ndim === 0 || b0.ndim === 0) throw new RangeError(`${op}: both arguments need at least one dimension, got shapes [${aIn.shape.join(', ')}] and [${bIn.shape.join(', ')}]`);
  const aShape = a0.ndim === 1 ? [1, a0.shape[0]] : a0.shape.slice();
  const bShape = b0.ndim === 1 ? [b0.shape[0], 1] : b0.shape.slice();
  const M = aShape[aShape.length - 2];
  const K = aShape[aShape.length - 1];
  const K2 = bShape[bShape.length - 2];
  const N = bShape[bShape.length - 1];
  if (K !== K2) throw new RangeError(`${op}: shapes [${aIn.shape.join(', ')}] and [${bIn.shape.join(', ')}] cannot be multiplied (${K} != ${K2})`);
  const aBatch = aShape.slice(0, -2);
  const bBatch = bShape.slice(0, -2);
  let batchShape: number[];
  if (bBatch.length === 0) batchShape = aBatch;
  else if (aBatch.length === 0) batchShape = bBatch;
  else if (aBatch.length === bBatch.length && aBatch.every((d, i) => d === bBatch[i])) batchShape = aBatch;
  else throw new RangeError(`${op}: batch dimensions [${aBatch.join(', ')}] and [${bBatch.join(', ')}] differ; broadcasting is supported only against a 2-D operand`);
  const batch = numelOf(batchShape);
  const outShape = [...batchShape, M, N];
  const strideA = aBatch.length === 0 ? 0 : M * K;
  const strideB = bBatch.length === 0 ? 0 : K * N;
  let finalShape = outShape;
  if (a0.ndim === 1) finalShape = finalShape.filter((_, i) => i !== finalShape.length - 2);
  if (b0.ndim === 1) finalShape = finalShape.slice(0, -1);
  return runOp({
    op,
    rule: 'promote',
    inputs: [aIn, bIn],
    forward: ([a, b]) => {
      const c = allocTensor(op, outShape, a!.dtype, a!.device);
      gemm(op, { a: a!, b: b!, c, M, N, K, batch, strideA, strideB, strideC: M * N });
      const out = finalShape.length === outShape.length ? c : reshaped(c, finalShape);
      return { out, save: [a!, b!], backward: (g, [sa, sb]) => matmulBackward(g, sa, sb) };
    },
  });

  function matmulBackward(g: Tensor, sa: Tensor, sb: Tensor): (Tensor | null)[] {
    let ga: Tensor | null = null;
    let gb: Tensor | null = null;
    if (aIn.requiresGrad) {
      // dA = dC @ B^T; a shared (2-D) A sums over the batch: one GEMM over the stacked rows.
      const full = allocTensor(op, [batch, M, K], sa.dtype, sa.device);
      gemm(op, { a: g, b: sb, c: full, M, N: K, K: N, transB: true, batch, strideA: M * N, strideB: strideB, strideC: M * K });
      if (aBatch.length === 0 && batch > 1) {
        ga = reshaped(sumRows(full, batch, [M, K]), aIn.shape);
        full.dispose();
      } else {
        ga = reshaped(full, aIn.shape);
      }
    }
    if (bIn.requiresGrad) {
      if (bBatch.length === 0) {
        // dB = sum_p A_p^T dC_p = A_stacked^T @ dC_stacked when A is batched; else per item.
        const gbm = allocTensor(op, [K, N], sb.dtype, sb.device);
        if (strideA === 0) {
          const gsum = batch > 1 ? sumRows(g, batch, [M, N]) : g;
          gemm(op, { a: sa, b: gsum, c: gbm, M: K, N, K: M, transA: true });
          if (gsum !== g) gsum.dispose();
        } else {
          gemm(op, { a: sa, b: g, c: gbm, M: K, N, K: batch * M, transA: true });
        }
        gb = reshaped(gbm, bIn.shape);
      } else {
        const full = allocTensor(op, [batch, K, N], sb.dtype, sb.device);
        gemm(op, { a: sa, b: g, c: full, M: K, N, K: M, transA: true, batch, strideA, strideB: M * N, strideC: K * N });
        gb = reshaped(full, bIn.shape);
      }
    }
    return [ga, gb];
  }
}

/** t with a new shape; t itself is disposed (the storage lives on in the result). */
function reshaped(t: Tensor, shape: readonly number[]): Tensor {
  const r = t.aliasAs(shape);
  t.dispose();
  return r;
}

/** Sum over the leading dimension of g seen as [rows, ...rest]. */
function sumRows(g: Tensor, rows: number, rest: number[]): Tensor {
  const view = g.aliasAs([rows, ...rest]);
  const s = sumDims(view, [0], 1);
  view.dispose();
  return reshaped(s, rest);
}

/**
 * y = x @ weight^T + bias, weight of shape [out, in], as torch.nn.functional.linear.
 *
 * @example
 * ```ts
 * const y = hy.linear(hy.randn([32, 784]), hy.randn([10, 784]), hy.zeros([10])); // shape [32, 10]
 * ```
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  const op = 'linear';
  checkTensor(op, 'input', x);
  checkTensor(op, 'weight', weight);
  if (bias !== undefined && bias !== null) checkTensor(op, 'bias', bias);
  checkFloat(op, x);
  if (weight.ndim !== 2) throw new RangeError(`${op}: weight must be 2-D [out, in], got shape [${weight.shape.join(', ')}]`);
  const [outF, inF] = weight.shape;
  if (x.ndim === 0 || x.shape[x.ndim - 1] !== inF) {
    throw new RangeError(`${op}: input's last dimension ${x.shape[x.ndim - 1]} does not match weight's in_features ${inF} (input [${x.shape.join(', ')}], weight [${weight.shape.join(', ')}])`);
  }
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== outF)) throw new RangeError(`${op}: bias must have shape [${outF}], got [${bias.shape.join(', ')}]`);
  sameDevice(op, 'input', x, 'weight', weight);
  checkFloat(op, weight, 'weight');
  if (bias) {
    sameDevice(op, 'input', x, 'bias', bias);
    checkFloat(op, bias, 'bias');
  }
  const rows = numelOf(x.shape.slice(0, -1)); // not numel / inF, which is 0/0 for in_features 0
  const outShape = [...x.shape.slice(0, -1), outF];
  return runOp({
    op,
    rule: 'promote',
    inputs: [x, weight, bias ?? null],
    forward: ([xs, ws, bs]) => {
      const y = allocTensor(op, outShape, xs!.dtype, xs!.device);
      gemm(op, { a: xs!, b: ws!, c: y, M: rows, N: outF, K: inF, transB: true });
      if (bs !== null) {
        // in place: each output element reads only itself and its bias entry
        native.run('binary', { op: 'add', a: y.live(op), b: bs.live(op), out: y.live(op), dtype: y.dtype, shape: [rows, outF], stridesA: [outF, 1], stridesB: [0, 1] });
      }
      return {
        out: y,
        save: [xs!, ws!],
        backward: (g, [sx, sw]) => {
          let gx: Tensor | null = null;
          let gw: Tensor | null = null;
          if (x.requiresGrad) {
            gx = allocTensor(op, x.shape.slice(), sx.dtype, sx.device);
            gemm(op, { a: g, b: sw, c: gx, M: rows, N: inF, K: outF }); // dX = dY @ W
          }
          if (weight.requiresGrad) {
            gw = allocTensor(op, [outF, inF], sw.dtype, sw.device);
            gemm(op, { a: g, b: sx, c: gw, M: outF, N: inF, K: rows, transA: true }); // dW = dY^T @ X
          }
          const gbias = bias && bias.requiresGrad ? sumRows(g, rows, [outF]) : null;
          return [gx, gw, gbias];
        },
      };
    },
  });
}


declare module './tensor' {
  interface Tensor {
    /**
     * The matrix product this @ other (see hy.matmul).
     *
     * @example
     * ```ts
     * hy.randn([2, 3]).matmul(hy.randn([3, 4])); // shape [2, 4]
     * ```
     */
    matmul(other: Tensor): Tensor;
  }
}
Tensor.prototype.matmul = function (other: Tensor): Tensor {
  return matmul(this, other);
};
