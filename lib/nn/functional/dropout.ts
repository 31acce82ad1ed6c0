// Dropout of hy.nn.functional. The mask comes from the global Philox generator's counters, so a
// seeded run drops the same elements on every backend.
import { describe } from '../../errors';
import { native } from '../../native';
import { runOp } from '../../policy';
import { takeDropoutCounters } from '../../random';
import { allocTensor, checkOptions } from '../../tensor';
import type { Tensor } from '../../tensor';
import { checkBoolean, checkNumber, floatInput } from './common';

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
 *
 * @example
 * ```ts
 * const y = hy.nn.functional.dropout(hy.randn([4, 8]), { p: 0.2 });
 * const same = hy.nn.functional.dropout(hy.randn([4, 8]), { p: 0.2, training: false }); // its input
 * ```
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
  // One uint8 per element; tensors have no uint8 dtype, so the mask is an opaque int32 buffer.
  const mask = allocTensor(op, [Math.max(1, Math.ceil(n / 4))], 'int32', x.device);
  const [seed, offset, counter] = takeDropoutCounters(n);
  return runOp({
    op,
    rule: 'input',
    inputs: [x],
    forward: ([xi]) => {
      const out = allocTensor(op, x.shape.slice(), xi!.dtype, xi!.device);
      native.run('dropout', { x: xi!.live(op), out: out.live(op), mask: mask.live(op), dtype: xi!.dtype, n, p, seed, offset, counter: (counter as Tensor | null)?.live(op) ?? null });
      return {
        out,
        save: [mask],
        temps: [mask],
        backward: (g, [sm]) => {
          const gi = allocTensor(op, x.shape.slice(), g.dtype, g.device);
          native.run('dropoutBackward', { gradOut: g.live(op), mask: sm.live(op), gradIn: gi.live(op), dtype: g.dtype, n, p });
          return [gi];
        },
      };
    },
  });
}
