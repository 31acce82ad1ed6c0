// Adadelta (torch.optim.Adadelta semantics; the optimizer of the MNIST example the seed starts
// from), one fused multi-tensor launch per group (core/optim_math.h adadeltaElement).
import { finiteOption, fractionOption, Optimizer } from './optimizer';
import type { NativeHyper, ParamGroup, ParamsInput } from './optimizer';

export interface AdadeltaOptions {
  lr?: number;
  rho?: number;
  eps?: number;
  weightDecay?: number;
  /** false: one launch per parameter (the per-tensor loop); default true. */
  foreach?: boolean;
}

type AdadeltaGroup = Required<Omit<AdadeltaOptions, 'foreach'>>;

/**
 * Adadelta (torch.optim.Adadelta); lr defaults to 1, rho to 0.9, eps to 1e-6.
 *
 * @example
 * ```ts
 * const opt = new hy.optim.Adadelta(model.parameters(), { lr: 1, rho: 0.9 });
 * ```
 */
export class Adadelta extends Optimizer<AdadeltaGroup> {
  constructor(params: ParamsInput, opts: AdadeltaOptions = {}) {
    super('Adadelta', 'adadelta', params, {
      lr: { default: 1, check: finiteOption(0) },
      rho: { default: 0.9, check: fractionOption },
      eps: { default: 1e-6, check: finiteOption(0) },
      weightDecay: { default: 0, check: finiteOption(0) },
    }, opts);
  }

  protected stateNames(): string[] {
    return ['squareAvg', 'accDelta'];
  }

  protected hyper(g: ParamGroup<AdadeltaGroup>): NativeHyper {
    return { lr: g.lr, rho: g.rho, eps: g.eps, weightDecay: g.weightDecay };
  }
}
