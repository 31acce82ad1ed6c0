// Adam and AdamW (torch.optim.Adam / AdamW semantics, amsgrad too), one fused multi-tensor launch
// per group (core/optim_math.h adamElement). AdamW decays the weights directly (decoupled).
import { betasOption, booleanOption, finiteOption, Optimizer } from './optimizer';
import type { NativeHyper, ParamGroup, ParamsInput } from './optimizer';

export interface AdamOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  amsgrad?: boolean;
  /** false: one launch per parameter (the per-tensor loop); default true. */
  foreach?: boolean;
}

type AdamGroup = Required<Omit<AdamOptions, 'foreach'>>;

function adamSpecs(weightDecay: number) {
  return {
    lr: { default: 1e-3, check: finiteOption(0) },
    betas: { default: [0.9, 0.999], check: betasOption },
    eps: { default: 1e-8, check: finiteOption(0) },
    weightDecay: { default: weightDecay, check: finiteOption(0) },
    amsgrad: { default: false, check: booleanOption },
  };
}

abstract class AdamBase extends Optimizer<AdamGroup> {
  protected abstract readonly decoupled: boolean;

  protected stateNames(g: ParamGroup<AdamGroup>): string[] {
    return g.amsgrad ? ['expAvg', 'expAvgSq', 'maxExpAvgSq'] : ['expAvg', 'expAvgSq'];
  }

  protected hyper(g: ParamGroup<AdamGroup>): NativeHyper {
    return { lr: g.lr, beta1: g.betas[0], beta2: g.betas[1], eps: g.eps, weightDecay: g.weightDecay, amsgrad: g.amsgrad, decoupled: this.decoupled };
  }
}

/**
 * Adam (torch.optim.Adam), amsgrad included; lr defaults to 1e-3 and weightDecay to 0.
 *
 * @example
 * ```ts
 * const opt = new hy.optim.Adam(model.parameters(), { lr: 1e-3, betas: [0.9, 0.999] });
 * const ams = new hy.optim.Adam(model.parameters(), { amsgrad: true });
 * ```
 */
export class Adam extends AdamBase {
  protected readonly decoupled = false;
  constructor(params: ParamsInput, opts: AdamOptions = {}) {
    super('Adam', 'adam', params, adamSpecs(0), opts);
  }
}

/**
 * Adam with decoupled weight decay (Loshchilov and Hutter): weights shrink by lr * weightDecay per step.
 *
 * @example
 * ```ts
 * const opt = new hy.optim.AdamW(model.parameters(), { lr: 1e-3, weightDecay: 0.05 });
 * ```
 */
export class AdamW extends AdamBase {
  protected readonly decoupled = true;
  constructor(params: ParamsInput, opts: AdamOptions = {}) {
    super('AdamW', 'adam', params, adamSpecs(1e-2), opts);
  }
}
