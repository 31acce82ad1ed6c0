// SGD with momentum, dampening, Nesterov and weight decay (torch.optim.SGD semantics), as one
// fused multi-tensor launch per group (core/optim_math.h sgdElement).
import { booleanOption, finiteOption, Optimizer } from './optimizer';
import type { NativeHyper, ParamGroup, ParamsInput } from './optimizer';

export interface SGDOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
  /** false: one launch per parameter (the per-tensor loop); default true. */
  foreach?: boolean;
}

type SGDGroup = Required<Omit<SGDOptions, 'foreach'>>;

/**
 * Stochastic gradient descent with momentum, dampening, Nesterov and weight decay (torch.optim.SGD);
 * lr is required.
 *
 * @example
 * ```ts
 * const opt = new hy.optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9, weightDecay: 5e-4 });
 * const nesterov = new hy.optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9, nesterov: true });
 * ```
 */
export class SGD extends Optimizer<SGDGroup> {
  constructor(params: ParamsInput, opts: SGDOptions) {
    super('SGD', 'sgd', params, {
      lr: { check: finiteOption(0) },
      momentum: { default: 0, check: finiteOption(0) },
      dampening: { default: 0, check: finiteOption(0) },
      weightDecay: { default: 0, check: finiteOption(0) },
      nesterov: { default: false, check: booleanOption },
    }, opts);
  }

  protected override checkCombination(g: Record<string, unknown>): void {
    if (g.nesterov === true && (!((g.momentum as number) > 0) || g.dampening !== 0)) {
      throw new RangeError('SGD: nesterov needs momentum > 0 and dampening 0');
    }
  }

  protected stateNames(g: ParamGroup<SGDGroup>): string[] {
    return g.momentum !== 0 ? ['momentumBuffer'] : [];
  }

  protected hyper(g: ParamGroup<SGDGroup>): NativeHyper {
    return { lr: g.lr, momentum: g.momentum, dampening: g.dampening, weightDecay: g.weightDecay, nesterov: g.nesterov };
  }
}
