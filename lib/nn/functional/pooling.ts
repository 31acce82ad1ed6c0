// Pooling of hy.nn.functional: 2-D max pooling, whose forward keeps the winners' indices so the
// backward is a gather with no search.
import { describe } from '../../errors';
import { native } from '../../native';
import { runOp } from '../../policy';
import { allocTensor, checkOptions } from '../../tensor';
import type { Tensor } from '../../tensor';
import { floatInput, shapeStr } from './common';

// ---- max pooling ----

export interface MaxPool2dOptions {
  /** Defaults to the kernel size. */
  stride?: number | [number, number];
  padding?: number | [number, number];
}

function pair(op: string, name: string, v: unknown, min: number): [number, number] {
  const arr = typeof v === 'number' ? [v, v] : v;
  if (!Array.isArray(arr) || arr.length !== 2 || arr.some((e) => typeof e !== 'number')) {
    throw new TypeError(`${op}: ${name} must be a number or a pair of numbers, got ${describe(v)}`);
  }
  for (const e of arr as number[]) {
    if (!Number.isInteger(e) || e < min) throw new RangeError(`${op}: ${name} must be ${min === 0 ? 'non-negative' : 'positive'} integers, got ${describe(v)}`);
  }
  return [arr[0] as number, arr[1] as number];
}

/** Max pooling's window: kernel, stride (default the kernel) and padding, checked without an input. */
export interface PoolWindow {
  kH: number; kW: number; sH: number; sW: number; pH: number; pW: number;
}

/**
 * Checks max pooling's kernelSize and options, which need no input: the functional ops call it
 * with their name on each call, the MaxPool2d module with its own at construction.
 */
export function maxPool2dWindow(op: string, kernelSize: unknown, opts: unknown): PoolWindow {
  const o = checkOptions(op, opts, ['stride', 'padding']);
  const [kH, kW] = pair(op, 'kernelSize', kernelSize, 1);
  const [sH, sW] = o.stride === undefined || o.stride === null ? [kH, kW] : pair(op, 'stride', o.stride, 1);
  const [pH, pW] = o.padding === undefined ? [0, 0] : pair(op, 'padding', o.padding, 0);
  if (pH > Math.floor(kH / 2) || pW > Math.floor(kW / 2)) {
    throw new RangeError(`${op}: padding ${pH}x${pW} must be at most half the kernel size ${kH}x${kW}`);
  }
  return { kH, kW, sH, sW, pH, pW };
}

function maxPool2dImpl(op: string, x: Tensor, kernelSize: unknown, opts: unknown, wantIndices: boolean): [Tensor, Tensor | null] {
  floatInput(op, 'input', x);
  const { kH, kW, sH, sW, pH, pW } = maxPool2dWindow(op, kernelSize, opts);
  if (x.ndim !== 3 && x.ndim !== 4) throw new RangeError(`${op}: input must be 3-D [C, H, W] or 4-D [N, C, H, W], got shape ${shapeStr(x)}`);
  const [N, C, H, W] = x.ndim === 4 ? x.shape : [1, ...x.shape];
  if (H + 2 * pH < kH || W + 2 * pW < kW) {
    throw new RangeError(`${op}: kernel ${kH}x${kW} is larger than the padded input ${H + 2 * pH}x${W + 2 * pW}`);
  }
  const outH = Math.floor((H + 2 * pH - kH) / sH) + 1;
  const outW = Math.floor((W + 2 * pW - kW) / sW) + 1;
  const outShape = x.ndim === 4 ? [N, C, outH, outW] : [C, outH, outW];
  const geom = { N, C, H, W, kH, kW, sH, sW, pH, pW, outH, outW };
  const indices = allocTensor(op, outShape.slice(), 'int32', x.device);
  const out = runOp({
    op,
    rule: 'input',
    inputs: [x],
    forward: ([xi]) => {
      const y = allocTensor(op, outShape, xi!.dtype, xi!.device);
      native.run('maxPool2d', { x: xi!.live(op), out: y.live(op), indices: indices.live(op), dtype: xi!.dtype, ...geom });
      return {
        out: y,
        save: [indices],
        backward: (g, [si]) => {
          // The backward gathers for every input element, so gradIn needs no zeroing.
          const gi = allocTensor(op, x.shape.slice(), g.dtype, g.device);
          native.run('maxPool2dBackward', { gradOut: g.live(op), indices: si.live(op), gradIn: gi.live(op), dtype: g.dtype, ...geom });
          return [gi];
        },
      };
    },
  });
  if (wantIndices) return [out, indices];
  indices.dispose();
  return [out, null];
}

/**
 * 2-D max pooling over [N, C, H, W] (or [C, H, W]) in floor mode, as torch.nn.functional.max_pool2d.
 * padding is at most half the kernel; padded positions never win.
 *
 * @example
 * ```ts
 * const y = hy.nn.functional.maxPool2d(hy.randn([8, 16, 32, 32]), 2); // [8, 16, 16, 16]
 * const z = hy.nn.functional.maxPool2d(hy.randn([8, 16, 32, 32]), 3, { stride: 1, padding: 1 }); // [8, 16, 32, 32]
 * ```
 */
export function maxPool2d(x: Tensor, kernelSize: number | [number, number], opts?: MaxPool2dOptions): Tensor {
  return maxPool2dImpl('maxPool2d', x, kernelSize, opts, false)[0];
}

/**
 * maxPool2d that also returns the int32 indices (h * W + w within each plane) of each maximum.
 *
 * @example
 * ```ts
 * const [out, indices] = hy.nn.functional.maxPool2dWithIndices(hy.randn([1, 1, 4, 4]), 2);
 * // out: [1, 1, 2, 2]; indices: int32 [1, 1, 2, 2], each in 0..15
 * ```
 */
export function maxPool2dWithIndices(x: Tensor, kernelSize: number | [number, number], opts?: MaxPool2dOptions): [Tensor, Tensor] {
  const [out, indices] = maxPool2dImpl('maxPool2dWithIndices', x, kernelSize, opts, true);
  return [out, indices!];
}
