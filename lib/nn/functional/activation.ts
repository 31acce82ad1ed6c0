// Activations of hy.nn.functional: the elementwise ones live with the other elementwise ops in
// ops.ts and are re-exported here; softmax and logSoftmax, reductions along one dim, have kernels
// of their own.
import { describe } from '../../errors';
import { native } from '../../native';
import { runOp } from '../../policy';
import { allocTensor, numelOf } from '../../tensor';
import type { Tensor } from '../../tensor';
import { floatInput } from './common';

export { gelu, geluUnfused, relu } from '../../ops';
export type { GeluOptions } from '../../ops';

// ---- softmax and log-softmax ----

/**
 * Copies x, seen as [outer, a, b], into [outer, b, a] (a transpose of the two inner dimensions),
 * through the strided elementwise kernel: out = x + 0 with x read at transposed strides.
 */
function swapInner(op: string, x: Tensor, outer: number, a: number, b: number, outShape: number[]): Tensor {
  const out = allocTensor(op, outShape, x.dtype, x.device);
  const zero = allocTensor(op, [], x.dtype, x.device);
  native.run('fill', { out: zero.live(op), dtype: x.dtype, n: 1, value: 0 });
  native.run('binary', { op: 'add', a: x.live(op), b: zero.live(op), out: out.live(op), dtype: x.dtype, shape: [outer, b, a], stridesA: [a * b, 1, b], stridesB: [0, 0, 0] });
  zero.dispose();
  return out;
}

function checkDim(op: string, x: Tensor, dim: unknown): number {
  if (typeof dim !== 'number' || !Number.isInteger(dim)) throw new TypeError(`${op}: dim must be an integer, got ${describe(dim)}`);
  const nd = x.ndim;
  if (nd === 0 || dim < -nd || dim >= nd) {
    throw new RangeError(`${op}: dim ${dim} is out of range for a tensor of ${nd} dimensions`);
  }
  return dim < 0 ? dim + nd : dim;
}

/**
 * A row kernel (softmax, logSoftmax) along dim. A dim other than the last is moved last by a
 * transposing copy (and the result moved back), so the kernel always sees rows; the backward
 * kernel reads the saved output.
 */
function alongDim(op: 'softmax' | 'logSoftmax', x: Tensor, dim: unknown): Tensor {
  floatInput(op, 'input', x);
  const d = checkDim(op, x, dim);
  const C = x.shape[d];
  const outer = numelOf(x.shape.slice(0, d));
  const inner = numelOf(x.shape.slice(d + 1));
  const rows = outer * inner;
  // rowsShape: x with dim moved last (the kernel's layout)
  const rowsShape = [...x.shape.slice(0, d), ...x.shape.slice(d + 1), C];
  return runOp({
    op,
    rule: 'input',
    inputs: [x],
    forward: ([xi]) => {
      const xr = inner === 1 ? xi! : swapInner(op, xi!, outer, C, inner, rowsShape);
      const yr = allocTensor(op, rowsShape, xr.dtype, xr.device);
      native.run(op, { x: xr.live(op), out: yr.live(op), dtype: xr.dtype, rows, cols: C });
      if (xr !== xi) xr.dispose();
      const out = inner === 1 ? yr : swapInner(op, yr, outer, inner, C, x.shape.slice());
      return {
        out,
        save: [yr],
        temps: out === yr ? [] : [yr],
        backward: (g, [saved]) => {
          const gr = inner === 1 ? g : swapInner(op, g, outer, C, inner, rowsShape);
          const gi = allocTensor(op, rowsShape, saved.dtype, saved.device);
          native.run(`${op}Backward`, { gradOut: gr.live(op), out: saved.live(op), gradIn: gi.live(op), dtype: saved.dtype, rows, cols: C });
          if (gr !== g) gr.dispose();
          if (inner === 1) return [gi];
          const back = swapInner(op, gi, outer, inner, C, x.shape.slice());
          gi.dispose();
          return [back];
        },
      };
    },
  });
}

/**
 * log(softmax(x)) along dim (default the last), computed stably in one kernel.
 *
 * @example
 * ```ts
 * const logp = hy.nn.functional.logSoftmax(hy.randn([4, 10]), 1);
 * ```
 */
export function logSoftmax(x: Tensor, dim = -1): Tensor {
  return alongDim('logSoftmax', x, dim);
}

/**
 * softmax(x) along dim (default the last): exp(x - max) / sum(exp(x - max)), one kernel each way.
 *
 * @example
 * ```ts
 * const probs = hy.nn.functional.softmax(hy.randn([4, 10])); // each row sums to 1
 * ```
 */
export function softmax(x: Tensor, dim = -1): Tensor {
  return alongDim('softmax', x, dim);
}
