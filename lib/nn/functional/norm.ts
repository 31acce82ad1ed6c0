// Normalisation of hy.nn.functional: batch norm. Statistics and parameters are float32 inside the
// kernels; values kept in another dtype are cast around them (and running statistics written back).
import { needsGrad, record } from '../../autograd';
import { describe } from '../../errors';
import { native } from '../../native';
import { rawBinary, sumDims } from '../../ops';
import { allocTensor, checkOptions, numelOf } from '../../tensor';
import type { Tensor } from '../../tensor';
import { castBack, checkBoolean, checkNumber, floatInput, inDtype, sameDevice, shapeStr } from './common';

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
  // float32 views of everything the kernel reads as float32; statistics without running buffers
  // (training only) go to scratch buffers that are dropped.
  const scratch = (): Tensor => {
    const t = allocTensor(op, [C], 'float32', x.device);
    native.run('fill', { out: t.live(op), dtype: 'float32', n: C, value: 0 });
    return t;
  };
  const rm32 = rm === null ? scratch() : f32(rm);
  const rv32 = rv === null ? scratch() : f32(rv);
  const w32 = weight === null ? null : f32(weight);
  const b32 = bias === null ? null : f32(bias);
  const out = allocTensor(op, x.shape.slice(), x.dtype, x.device);
  const saveMean = allocTensor(op, [C], 'float32', x.device);
  const saveInvStd = allocTensor(op, [C], 'float32', x.device);
  native.run('batchNormForward', {
    x: x.live(op), weight: w32?.live(op) ?? null, bias: b32?.live(op) ?? null, runningMean: rm32.live(op),
    runningVar: rv32.live(op), out: out.live(op), saveMean: saveMean.live(op), saveInvStd: saveInvStd.live(op),
    dtype: x.dtype, N, C, HW, training, momentum, eps,
  });
  // Running statistics kept in another dtype get the updated values written back in place.
  if (training && rm !== null && rm32 !== rm) native.run('cast', { x: rm32.live(op), xDtype: 'float32', out: rm.live(op), dtype: rm.dtype, n: C });
  if (training && rv !== null && rv32 !== rv) native.run('cast', { x: rv32.live(op), xDtype: 'float32', out: rv.live(op), dtype: rv.dtype, n: C });
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
        native.run('batchNormBackward', {
          gradOut: g.live(op), x: sx.live(op), weight: sw?.live(op) ?? null, saveMean: sMean.live(op),
          saveInvStd: sInvStd.live(op), gradIn: gx.live(op), gradWeight: gw?.live(op) ?? null,
          gradBias: gb?.live(op) ?? null, dtype: x.dtype, N, C, HW,
        });
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
