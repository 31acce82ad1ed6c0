// Convolution of hy.nn.functional: conv2d as torch.nn.functional.conv2d (NCHW, cross-correlation),
// forward and both backwards on the native conv ops, each direction's algorithm picked by the
// autotuner (lib/backends/autotune.ts) per shape.
import { autotune } from '../../backends/autotune';
import { describe } from '../../errors';
import { native } from '../../native';
import type { OpArgs } from '../../native';
import { overriddenDtype, runOp } from '../../policy';
import { allocTensor, checkOptions } from '../../tensor';
import type { Tensor } from '../../tensor';
import { fail, sameDevice } from '../../validate';
import { floatInput, shapeStr } from './common';

export interface Conv2dOptions {
  stride?: number | [number, number];
  /** Zero padding per side, or 'valid' (none) or 'same' (output as large as the input; stride 1). */
  padding?: number | [number, number] | 'same' | 'valid';
  dilation?: number | [number, number];
  groups?: number;
}

/** The geometry the native conv ops take. */
export interface ConvGeometry {
  N: number; C: number; H: number; W: number; K: number; R: number; S: number;
  strideH: number; strideW: number; padH: number; padW: number; dilationH: number; dilationW: number; groups: number;
}

function pair(op: string, name: string, v: unknown, min: number): [number, number] {
  const arr = typeof v === 'number' ? [v, v] : v;
  if (!Array.isArray(arr) || arr.length !== 2 || arr.some((e) => typeof e !== 'number')) {
    fail('type', op, name, 'a number or a pair of numbers', v);
  }
  for (const e of arr as number[]) {
    if (!Number.isInteger(e) || e < min) fail('range', op, name, min === 0 ? 'non-negative integers' : 'positive integers', v);
  }
  return [arr[0] as number, arr[1] as number];
}

/** conv2d's options as checked values; padding 'same' is resolved once the kernel is known (samePadding). */
export interface Conv2dOptionValues {
  stride: [number, number];
  dilation: [number, number];
  groups: number;
  padding: [number, number] | 'same';
}

/**
 * Checks the conv2d options that need no tensor (types, ranges, 'same' needs stride 1): conv2d
 * calls it with its name on each call, the Conv2d module with its own at construction.
 */
export function conv2dOptions(op: string, opts: unknown, allowed: readonly string[] = ['stride', 'padding', 'dilation', 'groups']): Conv2dOptionValues {
  const o = checkOptions(op, opts, allowed);
  const [stride, dilation] = [pair(op, 'stride', o.stride ?? 1, 1), pair(op, 'dilation', o.dilation ?? 1, 1)];
  const groups = o.groups ?? 1;
  if (typeof groups !== 'number' || !Number.isInteger(groups) || groups < 1) fail('range', op, 'groups', 'a positive integer', groups);
  let padding: [number, number] | 'same';
  const p = o.padding ?? 0;
  if (p === 'valid') {
    padding = [0, 0];
  } else if (p === 'same') {
    if (stride[0] !== 1 || stride[1] !== 1) throw new RangeError(`${op}: padding 'same' needs stride 1, got stride ${describe(o.stride)}`);
    padding = 'same';
  } else if (typeof p === 'string') {
    fail('range', op, 'padding', "a number, a pair, 'same' or 'valid'", p);
  } else {
    padding = pair(op, 'padding', p, 0);
  }
  return { stride, dilation, groups, padding };
}

/** The per-side padding of 'same' for an R x S kernel, or the RangeError when it would be uneven. */
export function samePadding(op: string, R: number, S: number, dilation: [number, number]): [number, number] {
  const [th, tw] = [dilation[0] * (R - 1), dilation[1] * (S - 1)];
  if (th % 2 !== 0 || tw % 2 !== 0) {
    throw new RangeError(`${op}: padding 'same' with kernel ${R}x${S} and dilation ${dilation.join('x')} needs uneven padding, which is not supported; pad explicitly`);
  }
  return [th / 2, tw / 2];
}

/**
 * Checks conv2d's arguments and derives its geometry; every error names conv2d, the argument and
 * the value. sameDtype false skips the check that weight and bias have the input's dtype (under
 * autocast, where runOp casts all three to the compute dtype first).
 */
export function conv2dGeometry(x: Tensor, w: Tensor, b: Tensor | null, opts: unknown, sameDtype = true): { g: ConvGeometry; P: number; Q: number; batched: boolean } {
  const op = 'conv2d';
  const o = checkOptions(op, opts, ['stride', 'padding', 'dilation', 'groups']);
  if (x.ndim !== 3 && x.ndim !== 4) throw new RangeError(`${op}: input must be 3-D [C, H, W] or 4-D [N, C, H, W], got shape ${shapeStr(x)}`);
  if (w.ndim !== 4) throw new RangeError(`${op}: weight must be 4-D [K, C / groups, R, S], got shape ${shapeStr(w)}`);
  for (const [name, t] of [['weight', w], ['bias', b]] as const) {
    if (t === null) continue;
    sameDevice(op, 'input', x, name, t);
    if (sameDtype && t.dtype !== x.dtype) throw new TypeError(`${op}: ${name} must have the input's dtype ${x.dtype}, got ${t.dtype}`);
  }
  const { stride, dilation, groups, padding: pad } = conv2dOptions(op, o);
  const batched = x.ndim === 4;
  const [N, C, H, W] = batched ? x.shape : [1, ...x.shape];
  const [K, Cg, R, S] = w.shape;
  if (C % groups !== 0) throw new RangeError(`${op}: input channels ${C} must be divisible by groups ${groups}`);
  if (K % groups !== 0) throw new RangeError(`${op}: output channels ${K} (weight's first dim) must be divisible by groups ${groups}`);
  if (Cg * groups !== C) throw new RangeError(`${op}: weight ${shapeStr(w)} expects ${Cg * groups} input channels with groups ${groups}, input ${shapeStr(x)} has ${C}`);
  if (R === 0 || S === 0) throw new RangeError(`${op}: weight ${shapeStr(w)} has an empty kernel`);
  if (b !== null && (b.ndim !== 1 || b.shape[0] !== K)) throw new RangeError(`${op}: bias must have shape [${K}], got ${shapeStr(b)}`);
  const padding = pad === 'same' ? samePadding(op, R, S, dilation) : pad;
  const spanH = dilation[0] * (R - 1) + 1;
  const spanW = dilation[1] * (S - 1) + 1;
  if (spanH > H + 2 * padding[0] || spanW > W + 2 * padding[1]) {
    throw new RangeError(`${op}: kernel ${R}x${S} (dilation ${dilation.join('x')}) is larger than the padded input ${H + 2 * padding[0]}x${W + 2 * padding[1]}`);
  }
  const P = Math.floor((H + 2 * padding[0] - spanH) / stride[0]) + 1;
  const Q = Math.floor((W + 2 * padding[1] - spanW) / stride[1]) + 1;
  const g: ConvGeometry = {
    N, C, H, W, K, R, S, strideH: stride[0], strideW: stride[1], padH: padding[0], padW: padding[1],
    dilationH: dilation[0], dilationW: dilation[1], groups,
  };
  return { g, P, Q, batched };
}

function keyOf(g: ConvGeometry, dtype: string): Record<string, string | number> {
  return {
    dtype, N: g.N, C: g.C, H: g.H, W: g.W, K: g.K, R: g.R, S: g.S,
    stride: `${g.strideH}x${g.strideW}`, pad: `${g.padH}x${g.padW}`, dilation: `${g.dilationH}x${g.dilationW}`, groups: g.groups,
  };
}

/** Runs one native conv op with the implementation the autotuner picks for its shape. */
export function runConv(op: 'conv2d' | 'conv2dBackwardData' | 'conv2dBackwardFilter', args: OpArgs, g: ConvGeometry, dtype: string, device: 'cpu' | 'cuda'): string {
  const impl = autotune.choose(op, args, keyOf(g, dtype), device);
  native.run(op, { ...args, impl });
  return impl;
}

/**
 * 2-D convolution over [N, C, H, W] (or [C, H, W]) with weight [K, C / groups, R, S] and optional
 * bias [K], as torch.nn.functional.conv2d. float32 or float16 (float32 accumulation); differentiable
 * in input, weight and bias. Input, weight and bias share one dtype, except under autocast (float16).
 *
 * @example
 * ```ts
 * const w = hy.randn([16, 3, 3, 3], { requiresGrad: true });
 * const y = hy.nn.functional.conv2d(hy.randn([8, 3, 32, 32]), w, null, { padding: 'same' }); // [8, 16, 32, 32]
 * const down = hy.nn.functional.conv2d(hy.randn([8, 3, 32, 32]), w, hy.zeros([16]), { stride: 2, padding: 1 }); // [8, 16, 16, 16]
 * ```
 */
export function conv2d(input: Tensor, weight: Tensor, bias?: Tensor | null, opts?: Conv2dOptions): Tensor {
  const op = 'conv2d';
  const x = floatInput(op, 'input', input);
  const w = floatInput(op, 'weight', weight);
  const b = bias === undefined || bias === null ? null : floatInput(op, 'bias', bias);
  // Under autocast the three are cast to its compute dtype before the kernel, so they may differ;
  // elsewhere a mismatch is the caller's error.
  const autocast = overriddenDtype(op, [x, w, b]) !== null;
  const { g, P, Q, batched } = conv2dGeometry(x, w, b, opts, !autocast);
  const outShape = batched ? [g.N, g.K, P, Q] : [g.K, P, Q];
  const geometry = { ...g };
  return runOp({
    op,
    rule: 'promote',
    inputs: [x, w, b],
    forward: ([xi, wi, bi], dtype) => {
      const y = allocTensor(op, outShape, dtype, x.device);
      runConv('conv2d', { x: xi!.live(op), w: wi!.live(op), bias: bi?.live(op) ?? null, y: y.live(op), dtype, ...geometry }, g, dtype, x.device);
      return {
        out: y,
        save: [xi!, wi!],
        backward: (gOut, [sx, sw]) => {
          let gx: Tensor | null = null;
          let gw: Tensor | null = null;
          let gb: Tensor | null = null;
          // Backward runs with gradients off, so ask the inputs themselves which gradients are wanted.
          if (x.requiresGrad) {
            gx = allocTensor(op, x.shape.slice(), dtype, x.device);
            runConv('conv2dBackwardData', { gradOut: gOut.live(op), w: sw.live(op), gradIn: gx.live(op), dtype, ...geometry }, g, dtype, x.device);
          }
          const wantB = b !== null && b.requiresGrad;
          if (w.requiresGrad || wantB) {
            gw = allocTensor(op, w.shape.slice(), dtype, x.device);
            if (wantB) gb = allocTensor(op, [g.K], dtype, x.device);
            runConv('conv2dBackwardFilter', { x: sx.live(op), gradOut: gOut.live(op), gradWeight: gw.live(op), gradBias: gb?.live(op) ?? null, dtype, ...geometry }, g, dtype, x.device);
            if (!w.requiresGrad) {
              gw.dispose();
              gw = null;
            }
          }
          return [gx, gw, gb];
        },
      };
    },
  });
}
