// Dropout of hy.nn.functional. The mask comes from the global Philox generator's counters, so a
// seeded run drops the same elements on every backend.
import { needsGrad, record } from '../../autograd';
import { describe } from '../../errors';
import { native } from '../../native';
import { takeCounters } from '../../random';
import { allocTensor, checkOptions } from '../../tensor';
import type { Tensor } from '../../tensor';
import { checkBoolean, checkNumber, floatInput, inDtype } from './common';

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
  const out = allocTensor(op, x.shape.slice(), x.dtype, x.device);
  // One uint8 per element; tensors have no uint8 dtype, so the mask is an opaque int32 buffer.
  const mask = allocTensor(op, [Math.max(1, Math.ceil(n / 4))], 'int32', x.device);
  const [seed, offset] = takeCounters(n);
  native.run('dropout', { x: x.live(op), out: out.live(op), mask: mask.live(op), dtype: x.dtype, n, p, seed, offset });
  if (needsGrad(x)) {
    const sm = mask.saveForBackward();
    record(out, op, [x], (gOut) => {
      const g = inDtype(gOut, x.dtype);
      const gi = allocTensor(op, x.shape.slice(), x.dtype, x.device);
      native.run('dropoutBackward', { gradOut: g.live(op), mask: sm.live(op), gradIn: gi.live(op), dtype: x.dtype, n, p });
      if (g !== gOut) g.dispose();
      return [gi];
    }, [sm]);
  }
  mask.dispose();
  return out;
}
