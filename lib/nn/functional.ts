// hy.nn.functional: the functional forms of the layers, named as in torch.nn.functional.
// Each op checks its arguments (errors name the op and the value), calls one native kernel, and
// records a backward that calls the kernel's backward. Losses, batch-norm statistics and
// parameters are float32 inside the kernels; values given in another dtype are cast around them.
import { needsGrad, record } from '../autograd';
import { DTYPE_CODE } from '../dtype';
import type { DType } from '../dtype';
import { describe } from '../errors';
import { native } from '../native';
import { checkFloat, checkTensor, rawBinary, sumDims } from '../ops';
import { takeCounters } from '../random';
import { allocTensor, checkOptions, numelOf, Tensor } from '../tensor';

export { gelu, geluUnfused, relu } from '../ops';
export type { GeluOptions } from '../ops';
export { linear } from '../linalg';

export type Reduction = 'mean' | 'sum' | 'none';
const REDUCTION_CODE: Record<Reduction, number> = { none: 0, mean: 1, sum: 2 };

export interface LossOptions {
  reduction?: Reduction;
}

function floatInput(op: string, name: string, v: unknown): Tensor {
  const t = checkTensor(op, name, v);
  checkFloat(op, t);
  return t;
}

function shapeStr(t: Tensor): string {
  return `[${t.shape.join(', ')}]`;
}

/** g in dtype; g itself when it already is (the caller disposes the result only if it differs). */
function inDtype(g: Tensor, dtype: DType): Tensor {
  return g.dtype === dtype ? g : g.to(dtype);
}

/** g cast to like's dtype; g is disposed when a cast was needed. */
function castBack(g: Tensor | null, dtype: DType): Tensor | null {
  if (g === null || g.dtype === dtype) return g;
  const c = g.to(dtype);
  g.dispose();
  return c;
}

function checkBoolean(op: string, name: string, v: unknown, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw new TypeError(`${op}: ${name} must be a boolean, got ${describe(v)}`);
  return v;
}

function checkNumber(op: string, name: string, v: unknown, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number') throw new TypeError(`${op}: ${name} must be a number, got ${describe(v)}`);
  return v;
}

function sameDevice(op: string, x: Tensor, name: string, t: Tensor): void {
  if (t.device !== x.device) throw new TypeError(`${op}: ${name} is on ${t.device} but input is on ${x.device}`);
}

// ---- log-softmax ----

/**
 * Copies x, seen as [outer, a, b], into [outer, b, a] (a transpose of the two inner dimensions),
 * through the strided elementwise kernel: out = x + 0 with x read at transposed strides.
 */
function swapInner(op: string, x: Tensor, outer: number, a: number, b: number, outShape: number[]): Tensor {
  const out = allocTensor(op, outShape, x.dtype, x.device);
  const zero = allocTensor(op, [], x.dtype, x.device);
  native.fill(zero.live(op), DTYPE_CODE[x.dtype], 1, 0);
  native.binary(0, x.live(op), zero.live(op), out.live(op), DTYPE_CODE[x.dtype], [outer, b, a], [a * b, 1, b], [0, 0, 0]);
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
 * log(softmax(x)) along dim, computed stably in one kernel. A dim other than the last is moved
 * last by a transposing copy (and the result moved back), so the kernel always sees rows.
 */
export function logSoftmax(x: Tensor, dim = -1): Tensor {
  const op = 'logSoftmax';
  floatInput(op, 'input', x);
  const d = checkDim(op, x, dim);
  const C = x.shape[d];
  const outer = numelOf(x.shape.slice(0, d));
  const inner = numelOf(x.shape.slice(d + 1));
  const rows = outer * inner;
  const code = DTYPE_CODE[x.dtype];
  // rowsShape: x with dim moved last (the kernel's layout)
  const rowsShape = [...x.shape.slice(0, d), ...x.shape.slice(d + 1), C];
  const xr = inner === 1 ? x : swapInner(op, x, outer, C, inner, rowsShape);
  const yr = allocTensor(op, rowsShape, x.dtype, x.device);
  native.logSoftmax(xr.live(op), yr.live(op), code, rows, C);
  if (xr !== x) xr.dispose();
  let out = yr;
  if (inner !== 1) out = swapInner(op, yr, outer, inner, C, x.shape.slice());
  const saved = needsGrad(x) ? yr.saveForBackward() : null;
  if (out !== yr) yr.dispose();
  if (saved !== null) {
    record(out, op, [x], (gOut) => {
      const g = inDtype(gOut, saved.dtype);
      const gr = inner === 1 ? g : swapInner(op, g, outer, C, inner, rowsShape);
      const gi = allocTensor(op, rowsShape, saved.dtype, saved.device);
      native.logSoftmaxBackward(gr.live(op), saved.live(op), gi.live(op), code, rows, C);
      if (gr !== g) gr.dispose();
      if (g !== gOut) g.dispose();
      if (inner === 1) return [castBack(gi, x.dtype)];
      const back = swapInner(op, gi, outer, inner, C, x.shape.slice());
      gi.dispose();
      return [castBack(back, x.dtype)];
    }, [saved]);
  }
  return out;
}

// ---- losses ----

function checkReduction(op: string, opts: unknown): Reduction {
  const o = checkOptions(op, opts, ['reduction']);
  const r = o.reduction ?? 'mean';
  if (r !== 'mean' && r !== 'sum' && r !== 'none') {
    throw new RangeError(`${op}: reduction must be 'mean', 'sum' or 'none', got ${describe(r)}`);
  }
  return r;
}

/** Checks input [N, C] and an int32 target [N] on the same device; returns [N, C]. */
function checkClassification(op: string, input: Tensor, target: unknown): [number, number] {
  const t = checkTensor(op, 'target', target);
  if (input.ndim !== 2) throw new RangeError(`${op}: input must be 2-D [N, C], got shape ${shapeStr(input)}`);
  const [N, C] = input.shape;
  if (t.dtype !== 'int32') throw new TypeError(`${op}: target must be an int32 tensor of class indices, got ${t.dtype}`);
  if (t.ndim !== 1 || t.shape[0] !== N) throw new RangeError(`${op}: target must have shape [${N}], got ${shapeStr(t)}`);
  sameDevice(op, input, 'target', t);
  if (C === 0) throw new RangeError(`${op}: input has no classes (shape ${shapeStr(input)})`);
  return [N, C];
}

/** The kernel's float32 loss as a tensor of the input's dtype and the reduction's shape. */
function lossTensor(op: string, loss32: Tensor, dtype: DType): Tensor {
  if (dtype === 'float32') return loss32;
  const l = loss32.to(dtype);
  loss32.dispose();
  return l;
}

/**
 * The negative log-likelihood of target under log-probabilities logp [N, C] (target: int32 [N]).
 * The loss has the input's dtype: [N] for reduction 'none', a scalar otherwise.
 */
export function nllLoss(logp: Tensor, target: Tensor, opts?: LossOptions): Tensor {
  const op = 'nllLoss';
  floatInput(op, 'input', logp);
  const reduction = checkReduction(op, opts);
  const [N, C] = checkClassification(op, logp, target);
  const red = REDUCTION_CODE[reduction];
  const code = DTYPE_CODE[logp.dtype];
  const loss32 = allocTensor(op, reduction === 'none' ? [N] : [], 'float32', logp.device);
  native.nllLoss(logp.live(op), target.live(op), loss32.live(op), code, N, C, red);
  const out = lossTensor(op, loss32, logp.dtype);
  if (needsGrad(logp)) {
    const st = target.saveForBackward();
    record(out, op, [logp, null], (gOut) => {
      // The upstream gradient stays on the device: the kernel reads it as a float32 storage.
      const g = inDtype(gOut, 'float32');
      const gi = allocTensor(op, [N, C], logp.dtype, logp.device);
      native.nllLossBackward(st.live(op), gi.live(op), code, N, C, red, g.live(op));
      if (g !== gOut) g.dispose();
      return [gi, null];
    }, [st]);
  }
  return out;
}

/**
 * Cross-entropy of logits [N, C] against int32 class indices [N]: logSoftmax and nllLoss fused in
 * one kernel, with one kernel for the backward.
 */
export function crossEntropy(logits: Tensor, target: Tensor, opts?: LossOptions): Tensor {
  const op = 'crossEntropy';
  floatInput(op, 'input', logits);
  const reduction = checkReduction(op, opts);
  const [N, C] = checkClassification(op, logits, target);
  const red = REDUCTION_CODE[reduction];
  const code = DTYPE_CODE[logits.dtype];
  const loss32 = allocTensor(op, reduction === 'none' ? [N] : [], 'float32', logits.device);
  // The forward does not ask the fused kernel for its gradient. That gradient is for an upstream
  // gradient of 1 and would still need a scaling pass by the real one (which lives on the device),
  // so it costs an extra N x C write in the forward plus a read and a write in the backward, and
  // holds an N x C buffer from forward to backward. crossEntropyBackward instead re-derives the
  // row statistics from the saved logits (an alias: no copy, same memory held) and writes the
  // scaled gradient once: less memory traffic, and for float16 a single rounding.
  native.crossEntropy(logits.live(op), target.live(op), loss32.live(op), null, code, N, C, red);
  const out = lossTensor(op, loss32, logits.dtype);
  if (needsGrad(logits)) {
    const sx = logits.saveForBackward();
    const st = target.saveForBackward();
    record(out, op, [logits, null], (gOut) => {
      const g = inDtype(gOut, 'float32');
      const gi = allocTensor(op, [N, C], sx.dtype, sx.device);
      native.crossEntropyBackward(sx.live(op), st.live(op), gi.live(op), code, N, C, red, g.live(op));
      if (g !== gOut) g.dispose();
      return [gi, null];
    }, [sx, st]);
  }
  return out;
}

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

function maxPool2dImpl(op: string, x: Tensor, kernelSize: unknown, opts: unknown, wantIndices: boolean): [Tensor, Tensor | null] {
  floatInput(op, 'input', x);
  const o = checkOptions(op, opts, ['stride', 'padding']);
  const [kH, kW] = pair(op, 'kernelSize', kernelSize, 1);
  const [sH, sW] = o.stride === undefined || o.stride === null ? [kH, kW] : pair(op, 'stride', o.stride, 1);
  const [pH, pW] = o.padding === undefined ? [0, 0] : pair(op, 'padding', o.padding, 0);
  if (x.ndim !== 3 && x.ndim !== 4) throw new RangeError(`${op}: input must be 3-D [C, H, W] or 4-D [N, C, H, W], got shape ${shapeStr(x)}`);
  const [N, C, H, W] = x.ndim === 4 ? x.shape : [1, ...x.shape];
  if (pH > Math.floor(kH / 2) || pW > Math.floor(kW / 2)) {
    throw new RangeError(`${op}: padding ${pH}x${pW} must be at most half the kernel size ${kH}x${kW}`);
  }
  if (H + 2 * pH < kH || W + 2 * pW < kW) {
    throw new RangeError(`${op}: kernel ${kH}x${kW} is larger than the padded input ${H + 2 * pH}x${W + 2 * pW}`);
  }
  const outH = Math.floor((H + 2 * pH - kH) / sH) + 1;
  const outW = Math.floor((W + 2 * pW - kW) / sW) + 1;
  const outShape = x.ndim === 4 ? [N, C, outH, outW] : [C, outH, outW];
  const code = DTYPE_CODE[x.dtype];
  const out = allocTensor(op, outShape, x.dtype, x.device);
  const indices = allocTensor(op, outShape.slice(), 'int32', x.device);
  const geom = [N, C, H, W, kH, kW, sH, sW, pH, pW, outH, outW] as const;
  native.maxPool2d(x.live(op), out.live(op), indices.live(op), code, ...geom);
  if (needsGrad(x)) {
    const si = indices.saveForBackward();
    record(out, op, [x], (gOut) => {
      const g = inDtype(gOut, x.dtype);
      // The backward gathers for every input element, so gradIn needs no zeroing.
      const gi = allocTensor(op, x.shape.slice(), x.dtype, x.device);
      native.maxPool2dBackward(g.live(op), si.live(op), gi.live(op), code, ...geom);
      if (g !== gOut) g.dispose();
      return [gi];
    }, [si]);
  }
  if (wantIndices) return [out, indices];
  indices.dispose();
  return [out, null];
}

/**
 * 2-D max pooling over [N, C, H, W] (or [C, H, W]) in floor mode, as torch.nn.functional.max_pool2d.
 * padding is at most half the kernel; padded positions never win.
 */
export function maxPool2d(x: Tensor, kernelSize: number | [number, number], opts?: MaxPool2dOptions): Tensor {
  return maxPool2dImpl('maxPool2d', x, kernelSize, opts, false)[0];
}

/** maxPool2d that also returns the int32 indices (h * W + w within each plane) of each maximum. */
export function maxPool2dWithIndices(x: Tensor, kernelSize: number | [number, number], opts?: MaxPool2dOptions): [Tensor, Tensor] {
  const [out, indices] = maxPool2dImpl('maxPool2dWithIndices', x, kernelSize, opts, true);
  return [out, indices!];
}

// ---- batch norm ----

export interface BatchNormOptions {
  weight?: Tensor | null;
  bias?: Tensor | null;
  /** Normalise with the batch's statistics and update the running ones (default false, as PyTorch). */
  training?: boolean;
  momentum?: number;
  eps?: number;
}

/** t as float32 for the kernel: t itself when it already is, else a copy. */
function f32(t: Tensor): Tensor {
  return t.dtype === 'float32' ? t : t.to('float32');
}

/**
 * Batch normalisation over [N, C] or [N, C, ...spatial] (PyTorch's batch_norm argument order).
 * Training normalises with the batch statistics and updates runningMean / runningVar in place
 * (running = (1 - momentum) * running + momentum * batch, unbiased variance); eval uses them.
 * runningMean and runningVar may be null in training only. Gradients reach input, weight and bias.
 */
export function batchNorm(x: Tensor, runningMean: Tensor | null, runningVar: Tensor | null, opts?: BatchNormOptions): Tensor {
  const op = 'batchNorm';
  floatInput(op, 'input', x);
  const o = checkOptions(op, opts, ['weight', 'bias', 'training', 'momentum', 'eps']);
  const training = checkBoolean(op, 'training', o.training, false);
  const momentum = checkNumber(op, 'momentum', o.momentum, 0.1);
  const eps = checkNumber(op, 'eps', o.eps, 1e-5);
  if (!Number.isFinite(momentum)) throw new RangeError(`${op}: momentum must be finite, got ${describe(momentum)}`);
  if (!Number.isFinite(eps) || eps < 0) throw new RangeError(`${op}: eps must be finite and non-negative, got ${describe(eps)}`);
  if (x.ndim < 2) throw new RangeError(`${op}: input must have at least 2 dimensions [N, C, ...], got shape ${shapeStr(x)}`);
  const N = x.shape[0];
  const C = x.shape[1];
  const HW = numelOf(x.shape.slice(2));
  const channel = (name: string, v: unknown): Tensor | null => {
    if (v === undefined || v === null) return null;
    const t = floatInput(op, name, v);
    if (t.ndim !== 1 || t.shape[0] !== C) throw new RangeError(`${op}: ${name} must have shape [${C}], got ${shapeStr(t)}`);
    sameDevice(op, x, name, t);
    return t;
  };
  const rm = channel('runningMean', runningMean);
  const rv = channel('runningVar', runningVar);
  const weight = channel('weight', o.weight);
  const bias = channel('bias', o.bias);
  if ((rm === null) !== (rv === null)) throw new TypeError(`${op}: runningMean and runningVar must both be given or both be null`);
  if (!training && rm === null) throw new RangeError(`${op}: eval mode (training false) needs runningMean and runningVar`);
  if (training && N * HW <= 1) {
    throw new RangeError(`${op}: training needs more than one value per channel, got input of shape ${shapeStr(x)}`);
  }
  const code = DTYPE_CODE[x.dtype];
  // float32 views of everything the kernel reads as float32; statistics without running buffers
  // (training only) go to scratch buffers that are dropped.
  const scratch = (): Tensor => {
    const t = allocTensor(op, [C], 'float32', x.device);
    native.fill(t.live(op), 0, C, 0);
    return t;
  };
  const rm32 = rm === null ? scratch() : f32(rm);
  const rv32 = rv === null ? scratch() : f32(rv);
  const w32 = weight === null ? null : f32(weight);
  const b32 = bias === null ? null : f32(bias);
  const out = allocTensor(op, x.shape.slice(), x.dtype, x.device);
  const saveMean = allocTensor(op, [C], 'float32', x.device);
  const saveInvStd = allocTensor(op, [C], 'float32', x.device);
  native.batchNormForward(
    x.live(op), w32?.live(op) ?? null, b32?.live(op) ?? null, rm32.live(op), rv32.live(op), out.live(op),
    saveMean.live(op), saveInvStd.live(op), code, N, C, HW, training, momentum, eps,
  );
  // Running statistics kept in another dtype get the updated values written back in place.
  if (training && rm !== null && rm32 !== rm) native.cast(rm32.live(op), 0, rm.live(op), DTYPE_CODE[rm.dtype], C);
  if (training && rv !== null && rv32 !== rv) native.cast(rv32.live(op), 0, rv.live(op), DTYPE_CODE[rv.dtype], C);
  if (rm32 !== rm) rm32.dispose();
  if (rv32 !== rv) rv32.dispose();
  if (b32 !== null && b32 !== bias) b32.dispose();
  const grad = needsGrad(x, weight, bias);
  // Backward keeps untracked aliases only, so no tidy() scope can free what it reads.
  const sx = grad ? x.saveForBackward() : null;
  const sw = grad && w32 !== null ? w32.saveForBackward() : null;
  const sMean = grad ? saveMean.saveForBackward() : null;
  const sInvStd = grad ? saveInvStd.saveForBackward() : null;
  if (w32 !== null && w32 !== weight) w32.dispose();
  saveMean.dispose();
  saveInvStd.dispose();
  if (sx !== null && sMean !== null && sInvStd !== null) {
    record(out, op, [x, weight, bias], (gOut) => {
      const g = inDtype(gOut, x.dtype);
      let gx: Tensor | null = null;
      let gw: Tensor | null = null;
      let gb: Tensor | null = null;
      if (training) {
        // One kernel gives all three (the input gradient through the batch statistics).
        gx = allocTensor(op, x.shape.slice(), x.dtype, x.device);
        gw = weight === null ? null : allocTensor(op, [C], 'float32', x.device);
        gb = bias === null ? null : allocTensor(op, [C], 'float32', x.device);
        native.batchNormBackward(
          g.live(op), sx.live(op), sw?.live(op) ?? null, sMean.live(op), sInvStd.live(op), gx.live(op),
          gw?.live(op) ?? null, gb?.live(op) ?? null, code, N, C, HW,
        );
      } else {
        [gx, gw, gb] = evalBackward(g, sx, sw, sMean, sInvStd, N, C, HW, weight !== null, bias !== null);
      }
      if (g !== gOut) g.dispose();
      return [
        x.requiresGrad ? gx : (gx?.dispose(), null),
        weight !== null && weight.requiresGrad ? castBack(gw, weight.dtype) : (gw?.dispose(), null),
        bias !== null && bias.requiresGrad ? castBack(gb, bias.dtype) : (gb?.dispose(), null),
      ];
    }, sw === null ? [sx, sMean, sInvStd] : [sx, sw, sMean, sInvStd]);
  }
  return out;
}

/**
 * Eval-mode gradients (the statistics are constants, so the layer is affine per channel):
 * dx = g * w * invStd, dw = sum(g * (x - mean) * invStd), db = sum(g), sums over N and HW. In
 * float32 throughout; dx is cast back to g's dtype.
 */
function evalBackward(
  g: Tensor, x: Tensor, w: Tensor | null, mean: Tensor, invStd: Tensor, N: number, C: number, HW: number, wantW: boolean, wantB: boolean,
): [Tensor, Tensor | null, Tensor | null] {
  const g32 = f32(g);
  const g3 = g32.aliasAs([N, C, HW]);
  const chan = (t: Tensor): Tensor => t.aliasAs([1, C, 1]);
  const inv3 = chan(invStd);
  let scale = inv3;
  if (w !== null) {
    const w3 = chan(w);
    scale = rawBinary('mul', inv3, w3);
    w3.dispose();
  }
  const gx3 = rawBinary('mul', g3, scale);
  const gx = gx3.aliasAs(x.shape);
  gx3.dispose();
  const gxOut = castBack(gx, g.dtype)!;
  let gw: Tensor | null = null;
  if (wantW) {
    const x32 = f32(x);
    const x3 = x32.aliasAs([N, C, HW]);
    const mean3 = chan(mean);
    const centred = rawBinary('sub', x3, mean3);
    mean3.dispose();
    const xhat = rawBinary('mul', centred, inv3);
    const prod = rawBinary('mul', g3, xhat);
    const s = sumDims(prod, [0, 2], 1);
    gw = s.aliasAs([C]);
    for (const t of [s, prod, xhat, centred, x3]) t.dispose();
    if (x32 !== x) x32.dispose();
  }
  let gb: Tensor | null = null;
  if (wantB) {
    const s = sumDims(g3, [0, 2], 1);
    gb = s.aliasAs([C]);
    s.dispose();
  }
  if (scale !== inv3) scale.dispose();
  inv3.dispose();
  g3.dispose();
  if (g32 !== g) g32.dispose();
  return [gxOut, gw, gb];
}

// ---- dropout ----

export interface DropoutOptions {
  /** Probability of zeroing an element (default 0.5). */
  p?: number;
  /** Default true, as torch.nn.functional.dropout. */
  training?: boolean;
}

/**
 * Zeroes each element with probability p and scales the rest by 1 / (1 - p), with a mask drawn
 * from the global Philox generator. Returns x itself when not training or p = 0 (as PyTorch).
 */
export function dropout(x: Tensor, opts?: DropoutOptions): Tensor {
  const op = 'dropout';
  floatInput(op, 'input', x);
  const o = checkOptions(op, opts, ['p', 'training']);
  const p = checkNumber(op, 'p', o.p, 0.5);
  if (!(p >= 0 && p <= 1)) throw new RangeError(`${op}: p must be in [0, 1], got ${describe(p)}`);
  const training = checkBoolean(op, 'training', o.training, true);
  if (!training || p === 0) return x;
  const n = x.numel;
  const code = DTYPE_CODE[x.dtype];
  const out = allocTensor(op, x.shape.slice(), x.dtype, x.device);
  // One uint8 per element; tensors have no uint8 dtype, so the mask is an opaque int32 buffer.
  const mask = allocTensor(op, [Math.max(1, Math.ceil(n / 4))], 'int32', x.device);
  const [seed, offset] = takeCounters(n);
  native.dropout(x.live(op), out.live(op), mask.live(op), code, n, p, seed, offset);
  if (needsGrad(x)) {
    const sm = mask.saveForBackward();
    record(out, op, [x], (gOut) => {
      const g = inDtype(gOut, x.dtype);
      const gi = allocTensor(op, x.shape.slice(), x.dtype, x.device);
      native.dropoutBackward(g.live(op), sm.live(op), gi.live(op), code, n, p);
      if (g !== gOut) g.dispose();
      return [gi];
    }, [sm]);
  }
  mask.dispose();
  return out;
}
