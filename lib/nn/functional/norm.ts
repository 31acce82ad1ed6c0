// Normalisation of hy.nn.functional: batch norm. Statistics and parameters are float32 inside the
// kernels: runOp casts weight and bias, and running statistics kept in another dtype are read as
// float32 copies and written back.
import { describe } from '../../errors';
import { native } from '../../native';
import { runOp } from '../../policy';
import { rawBinary, sumDims } from '../../ops';
import { allocTensor, checkOptions, numelOf } from '../../tensor';
import type { Tensor } from '../../tensor';
import { sameDevice } from '../../validate';
import { checkBoolean, checkNumber, floatInput, shapeStr } from './common';

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
  return t.dtype === 'float32' ? t : t.convert('float32');
}

/**
 * Batch normalisation over [N, C] or [N, C, ...spatial] (PyTorch's batch_norm argument order).
 * Training normalises with the batch statistics and updates runningMean / runningVar in place
 * (running = (1 - momentum) * running + momentum * batch, unbiased variance); eval uses them.
 * runningMean and runningVar may be null in training only. Gradients reach input, weight and bias.
 *
 * @example
 * ```ts
 * const runningMean = hy.zeros([16]);
 * const runningVar = hy.ones([16]);
 * const y = hy.nn.functional.batchNorm(hy.randn([8, 16, 4, 4]), runningMean, runningVar, { training: true });
 * const z = hy.nn.functional.batchNorm(hy.randn([8, 16, 4, 4]), runningMean, runningVar); // eval: the running statistics
 * ```
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
    sameDevice(op, 'input', x, name, t);
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
  // Statistics without running buffers (training only) go to scratch buffers that are dropped;
  // running buffers kept in another dtype are read as float32 copies and written back.
  const scratch = (): Tensor => {
    const t = allocTensor(op, [C], 'float32', x.device);
    native.run('fill', { out: t.live(op), dtype: 'float32', n: C, value: 0 });
    return t;
  };
  return runOp({
    op,
    rule: 'input',
    inputs: [x, weight, bias],
    float32: [1, 2], // weight and bias: the kernels read parameters as float32
    forward: ([xi, w32, b32]) => {
      const rm32 = rm === null ? scratch() : f32(rm);
      const rv32 = rv === null ? scratch() : f32(rv);
      const out = allocTensor(op, x.shape.slice(), xi!.dtype, x.device);
      const saveMean = allocTensor(op, [C], 'float32', x.device);
      const saveInvStd = allocTensor(op, [C], 'float32', x.device);
      native.run('batchNormForward', {
        x: xi!.live(op), weight: w32?.live(op) ?? null, bias: b32?.live(op) ?? null, runningMean: rm32.live(op),
        runningVar: rv32.live(op), out: out.live(op), saveMean: saveMean.live(op), saveInvStd: saveInvStd.live(op),
        dtype: xi!.dtype, N, C, HW, training, momentum, eps,
      });
      if (training && rm !== null && rm32 !== rm) native.run('cast', { x: rm32.live(op), xDtype: 'float32', out: rm.live(op), dtype: rm.dtype, n: C });
      if (training && rv !== null && rv32 !== rv) native.run('cast', { x: rv32.live(op), xDtype: 'float32', out: rv.live(op), dtype: rv.dtype, n: C });
      if (rm32 !== rm) rm32.dispose();
      if (rv32 !== rv) rv32.dispose();
      return {
        out,
        save: w32 === null ? [xi!, saveMean, saveInvStd] : [xi!, saveMean, saveInvStd, w32],
        temps: [saveMean, saveInvStd],
        backward: (g, [sx, sMean, sInvStd, sw]) => {
          const sw32 = sw ?? null;
          if (!training) return evalBackward(g, sx, sw32, sMean, sInvStd, N, C, HW, weight !== null, bias !== null);
          // One kernel gives all three (the input gradient through the batch statistics).
          const gx = allocTensor(op, x.shape.slice(), g.dtype, x.device);
          const gw = weight === null ? null : allocTensor(op, [C], 'float32', x.device);
          const gb = bias === null ? null : allocTensor(op, [C], 'float32', x.device);
          native.run('batchNormBackward', {
            gradOut: g.live(op), x: sx.live(op), weight: sw32?.live(op) ?? null, saveMean: sMean.live(op),
            saveInvStd: sInvStd.live(op), gradIn: gx.live(op), gradWeight: gw?.live(op) ?? null,
            gradBias: gb?.live(op) ?? null, dtype: g.dtype, N, C, HW,
          });
          return [gx, gw, gb];
        },
      };
    },
  });
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
  const gxOut = gx.dtype === g.dtype ? gx : (() => {
    const c = gx.convert(g.dtype);
    gx.dispose();
    return c;
  })();
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
