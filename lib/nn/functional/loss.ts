// Losses of hy.nn.functional. The kernels compute the loss in float32 whatever the input's dtype,
// and read the upstream gradient from the device, so a backward never waits on the host.
import { describe } from '../../errors';
import { native } from '../../native';
import { runOp } from '../../policy';
import { clamp, lt, square, where } from '../../compare';
import { abs, add, checkTensor, exp, log, mean, mul, neg, relu, sub, sum } from '../../ops';
import { allocTensor, checkOptions, tidy } from '../../tensor';
import type { Tensor } from '../../tensor';
import { sameDevice } from '../../validate';
import { floatInput, shapeStr } from './common';

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
  sameDevice(op, 'input', input, 'target', t);
  if (C === 0) throw new RangeError(`${op}: input has no classes (shape ${shapeStr(input)})`);
  return [N, C];
}

/**
 * The negative log-likelihood of target under log-probabilities logp [N, C] (target: int32 [N]).
 * The loss has the input's dtype: [N] for reduction 'none', a scalar otherwise.
 *
 * @example
 * ```ts
 * const logp = hy.nn.functional.logSoftmax(hy.randn([4, 10], { requiresGrad: true }), 1);
 * const loss = hy.nn.functional.nllLoss(logp, hy.tensor([1, 0, 9, 3], { dtype: 'int32' }));
 * loss.backward();
 * ```
 */
export function nllLoss(logp: Tensor, target: Tensor, opts?: LossOptions): Tensor {
  const op = 'nllLoss';
  floatInput(op, 'input', logp);
  const reduction = checkReduction(op, opts);
  const [N, C] = checkClassification(op, logp, target);
  return runOp({
    op,
    rule: 'input',
    inputs: [logp, target],
    outDtype: 'compute', // the input's dtype; float32 under autocast
    forward: ([lp, t]) => {
      const loss32 = allocTensor(op, reduction === 'none' ? [N] : [], 'float32', lp!.device);
      native.run('nllLoss', { logp: lp!.live(op), target: t!.live(op), loss: loss32.live(op), dtype: lp!.dtype, rows: N, cols: C, reduction });
      const dtype = lp!.dtype;
      return {
        out: loss32,
        save: [t!],
        // The upstream gradient (float32, the loss kernel's dtype) stays on the device: the kernel reads it.
        backward: (g, [st]) => {
          const gi = allocTensor(op, [N, C], dtype, g.device);
          native.run('nllLossBackward', { target: st.live(op), gradIn: gi.live(op), dtype, rows: N, cols: C, reduction, gradScale: 1, gradOut: g.live(op) });
          return [gi, null];
        },
      };
    },
  });
}

/**
 * Cross-entropy of logits [N, C] against int32 class indices [N]: logSoftmax and nllLoss fused in
 * one kernel, with one kernel for the backward.
 *
 * @example
 * ```ts
 * const logits = hy.randn([4, 10], { requiresGrad: true });
 * const loss = hy.nn.functional.crossEntropy(logits, hy.tensor([1, 0, 9, 3], { dtype: 'int32' }));
 * const perSample = hy.nn.functional.crossEntropy(logits, hy.randint(10, [4]), { reduction: 'none' }); // [4]
 * ```
 */
export function crossEntropy(logits: Tensor, target: Tensor, opts?: LossOptions): Tensor {
  const op = 'crossEntropy';
  floatInput(op, 'input', logits);
  const reduction = checkReduction(op, opts);
  const [N, C] = checkClassification(op, logits, target);
  // The forward does not ask the fused kernel for its gradient. That gradient is for an upstream
  // gradient of 1 and would still need a scaling pass by the real one (which lives on the device),
  // so it costs an extra N x C write in the forward plus a read and a write in the backward, and
  // holds an N x C buffer from forward to backward. crossEntropyBackward instead re-derives the
  // row statistics from the saved logits (an alias: no copy, same memory held) and writes the
  // scaled gradient once: less memory traffic, and for float16 a single rounding.
  return runOp({
    op,
    rule: 'input',
    inputs: [logits, target],
    outDtype: 'compute', // the input's dtype; float32 under autocast
    forward: ([x, t]) => {
      const loss32 = allocTensor(op, reduction === 'none' ? [N] : [], 'float32', x!.device);
      native.run('crossEntropy', { logits: x!.live(op), target: t!.live(op), loss: loss32.live(op), gradLogits: null, dtype: x!.dtype, rows: N, cols: C, reduction });
      return {
        out: loss32,
        save: [x!, t!],
        backward: (g, [sx, st]) => {
          const gi = allocTensor(op, [N, C], sx.dtype, sx.device);
          native.run('crossEntropyBackward', { logits: sx.live(op), target: st.live(op), gradLogits: gi.live(op), dtype: sx.dtype, rows: N, cols: C, reduction, gradScale: 1, gradOut: g.live(op) });
          return [gi, null];
        },
      };
    },
  });
}

// ---- regression and binary losses, composed from differentiable ops ----
// (autograd through the composition gives their gradients; each checks shapes and dtypes first)

function pairwise(op: string, input: unknown, target: unknown, opts: unknown): [Tensor, Tensor, Reduction] {
  const x = floatInput(op, 'input', input);
  const t = floatInput(op, 'target', target);
  sameDevice(op, 'input', x, 'target', t);
  if (x.ndim !== t.ndim || x.shape.some((d, i) => d !== t.shape[i])) {
    throw new RangeError(`${op}: target shape ${shapeStr(t)} must match input shape ${shapeStr(x)}`);
  }
  return [x, t, checkReduction(op, opts)];
}

function reduce(l: Tensor, r: Reduction): Tensor {
  if (r === 'none') return l;
  const out = r === 'mean' ? mean(l) : sum(l);
  l.dispose();
  return out;
}

/**
 * Mean squared error: (input - target)^2, reduced ('mean' by default).
 *
 * @example
 * ```ts
 * const loss = hy.nn.functional.mseLoss(hy.randn([8, 3]), hy.zeros([8, 3]));
 * const total = hy.nn.functional.mseLoss(hy.randn([8, 3]), hy.zeros([8, 3]), { reduction: 'sum' });
 * ```
 */
export function mseLoss(input: Tensor, target: Tensor, opts?: LossOptions): Tensor {
  const [x, t, r] = pairwise('mseLoss', input, target, opts);
  return reduce(tidy(() => square(sub(x, t))), r);
}

/**
 * Mean absolute error: |input - target|, reduced.
 *
 * @example
 * ```ts
 * const loss = hy.nn.functional.l1Loss(hy.randn([8, 3]), hy.zeros([8, 3]));
 * ```
 */
export function l1Loss(input: Tensor, target: Tensor, opts?: LossOptions): Tensor {
  const [x, t, r] = pairwise('l1Loss', input, target, opts);
  return reduce(tidy(() => abs(sub(x, t))), r);
}

export interface SmoothL1Options extends LossOptions {
  /** Where the loss turns from quadratic to linear (default 1). */
  beta?: number;
}

/**
 * Huber-like: 0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (d = input - target).
 *
 * @example
 * ```ts
 * const loss = hy.nn.functional.smoothL1Loss(hy.randn([8, 3]), hy.zeros([8, 3]), { beta: 0.5 });
 * ```
 */
export function smoothL1Loss(input: Tensor, target: Tensor, opts?: SmoothL1Options): Tensor {
  const op = 'smoothL1Loss';
  const o = checkOptions(op, opts, ['reduction', 'beta']);
  const beta = o.beta === undefined ? 1 : o.beta;
  if (typeof beta !== 'number' || !(beta >= 0) || !Number.isFinite(beta)) throw new RangeError(`${op}: beta must be a finite number >= 0, got ${describe(beta)}`);
  const [x, t, r] = pairwise(op, input, target, o.reduction === undefined ? undefined : { reduction: o.reduction });
  return reduce(tidy(() => {
    const d = abs(sub(x, t));
    if (beta === 0) return d;
    return where(lt(d, beta), mul(square(d), 0.5 / beta), sub(d, 0.5 * beta));
  }), r);
}

/**
 * -(t log p + (1 - t) log(1 - p)) for probabilities p in [0, 1]; logs clamped at -100, as PyTorch.
 *
 * @example
 * ```ts
 * const probs = hy.sigmoid(hy.randn([8]));
 * const loss = hy.nn.functional.binaryCrossEntropy(probs, hy.ones([8]));
 * ```
 */
export function binaryCrossEntropy(input: Tensor, target: Tensor, opts?: LossOptions): Tensor {
  const [p, t, r] = pairwise('binaryCrossEntropy', input, target, opts);
  return reduce(tidy(() => {
    const logP = clamp(log(p), -100);
    const log1mP = clamp(log(sub(1, p)), -100);
    return neg(add(mul(t, logP), mul(sub(1, t), log1mP)));
  }), r);
}

/**
 * binaryCrossEntropy(sigmoid(input), target) in the stable form max(x, 0) - x t + log(1 + exp(-|x|)).
 *
 * @example
 * ```ts
 * const loss = hy.nn.functional.binaryCrossEntropyWithLogits(hy.randn([8]), hy.ones([8]));
 * ```
 */
export function binaryCrossEntropyWithLogits(input: Tensor, target: Tensor, opts?: LossOptions): Tensor {
  const [x, t, r] = pairwise('binaryCrossEntropyWithLogits', input, target, opts);
  return reduce(tidy(() => add(sub(relu(x), mul(x, t)), log(add(exp(neg(abs(x))), 1)))), r);
}
