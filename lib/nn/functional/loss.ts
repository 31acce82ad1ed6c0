// Losses of hy.nn.functional. The kernels compute the loss in float32 whatever the input's dtype,
// and read the upstream gradient from the device, so a backward never waits on the host.
import { needsGrad, record } from '../../autograd';
import type { DType } from '../../dtype';
import { describe } from '../../errors';
import { native } from '../../native';
import { checkTensor } from '../../ops';
import { allocTensor, checkOptions } from '../../tensor';
import type { Tensor } from '../../tensor';
import { floatInput, inDtype, sameDevice, shapeStr } from './common';

export type Reduction = 'mean' | 'sum' | 'none';

export interface LossOptions {
  reduction?: Reduction;
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
  const loss32 = allocTensor(op, reduction === 'none' ? [N] : [], 'float32', logp.device);
  native.run('nllLoss', { logp: logp.live(op), target: target.live(op), loss: loss32.live(op), dtype: logp.dtype, rows: N, cols: C, reduction });
  const out = lossTensor(op, loss32, logp.dtype);
  if (needsGrad(logp)) {
    const st = target.saveForBackward();
    record(out, op, [logp, null], (gOut) => {
      // The upstream gradient stays on the device: the kernel reads it as a float32 storage.
      const g = inDtype(gOut, 'float32');
      const gi = allocTensor(op, [N, C], logp.dtype, logp.device);
      native.run('nllLossBackward', { target: st.live(op), gradIn: gi.live(op), dtype: logp.dtype, rows: N, cols: C, reduction, gradScale: 1, gradOut: g.live(op) });
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
  const loss32 = allocTensor(op, reduction === 'none' ? [N] : [], 'float32', logits.device);
  // The forward does not ask the fused kernel for its gradient. That gradient is for an upstream
  // gradient of 1 and would still need a scaling pass by the real one (which lives on the device),
  // so it costs an extra N x C write in the forward plus a read and a write in the backward, and
  // holds an N x C buffer from forward to backward. crossEntropyBackward instead re-derives the
  // row statistics from the saved logits (an alias: no copy, same memory held) and writes the
  // scaled gradient once: less memory traffic, and for float16 a single rounding.
  native.run('crossEntropy', { logits: logits.live(op), target: target.live(op), loss: loss32.live(op), gradLogits: null, dtype: logits.dtype, rows: N, cols: C, reduction });
  const out = lossTensor(op, loss32, logits.dtype);
  if (needsGrad(logits)) {
    const sx = logits.saveForBackward();
    const st = target.saveForBackward();
    record(out, op, [logits, null], (gOut) => {
      const g = inDtype(gOut, 'float32');
      const gi = allocTensor(op, [N, C], sx.dtype, sx.device);
      native.run('crossEntropyBackward', { logits: sx.live(op), target: st.live(op), gradLogits: gi.live(op), dtype: sx.dtype, rows: N, cols: C, reduction, gradScale: 1, gradOut: g.live(op) });
      if (g !== gOut) g.dispose();
      return [gi, null];
    }, [sx, st]);
  }
  return out;
}
