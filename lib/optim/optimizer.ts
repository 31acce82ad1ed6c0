// The base of every optimizer: what they all share, so a new one (Adam, the fused multi-tensor
// family) writes only its update rule. It holds the checked parameter list and the learning rate,
// zeroGrad() that sets gradients to none (PyTorch's set_to_none=True, the seed's tip 6.1) so the
// next backward writes them instead of accumulating into zeros, and the per-parameter state that
// outlives tidy() scopes until dispose().
import { describe } from '../errors';
import { finiteAtLeast } from '../validate';
import { Tensor } from '../tensor';

/** v checked as a finite number >= min; errors name the optimizer and the option. */
export const checkHyperparameter = finiteAtLeast;

export abstract class Optimizer {
  readonly params: Tensor[];
  lr: number;
  /** Per-parameter state (momentum buffers, moments), kept out of tidy() scopes; freed by dispose(). */
  protected readonly state = new Map<Tensor, Tensor>();

  /** name prefixes the errors; params must be leaf tensors that require grad; lr must be >= 0. */
  protected constructor(name: string, params: Iterable<Tensor>, lr: unknown) {
    this.params = [...params];
    for (const [i, p] of this.params.entries()) {
      if (!(p instanceof Tensor)) throw new TypeError(`${name}: parameter ${i} is not a Tensor, got ${describe(p)}`);
      if (!p.requiresGrad || !p.isLeaf) throw new RangeError(`${name}: parameter ${i} must be a leaf tensor that requires grad`);
    }
    this.lr = checkHyperparameter(name, 'lr', lr, 0);
  }

  /** One update of every parameter that has a gradient. */
  abstract step(): void;

  /** Frees the gradients and sets them to null (PyTorch's set_to_none=True). */
  zeroGrad(): void {
    for (const p of this.params) {
      if (p.grad !== null) {
        p.grad.dispose();
        p.grad = null;
      }
    }
  }

  /** Frees the optimizer's state. */
  dispose(): void {
    for (const b of this.state.values()) b.dispose();
    this.state.clear();
  }
}
