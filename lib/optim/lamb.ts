// LAMB (You et al., arXiv 1904.00962) with NVIDIA apex FusedLAMB's semantics: the gradients
// clipped to a global norm of maxGradNorm, Adam moments with bias correction, decoupled weight
// decay in the update u, and each tensor's step scaled by the trust ratio ||w|| / ||u||. Per step:
// one multi-tensor norm launch, then per group the moments pass, a per-tensor norm reduction and
// the apply pass (core/optim_math.h lambMoments / lambDirection), all on the device.
import { betasOption, booleanOption, finiteOption, Optimizer } from './optimizer';
import type { NativeHyper, ParamGroup, ParamsInput } from './optimizer';

export interface LAMBOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  biasCorrection?: boolean;
  /** Clip every gradient so that their global L2 norm is at most this (0: no clipping). */
  maxGradNorm?: number;
  /** Apply the trust ratio even where weightDecay is 0 (NVLAMB). */
  useNvLamb?: boolean;
  /** false: one launch per parameter (the per-tensor loop); default true. */
  foreach?: boolean;
}

type LAMBGroup = Required<Omit<LAMBOptions, 'foreach'>>;

/**
 * LAMB with NVIDIA apex FusedLAMB's semantics: gradients clipped to a global norm of maxGradNorm,
 * Adam moments with bias correction, decoupled weight decay, and a per-tensor trust ratio.
 *
 * @example
 * ```ts
 * const opt = new hy.optim.LAMB(model.parameters(), { lr: 1e-3, weightDecay: 0.01, maxGradNorm: 1 });
 * ```
 */
export class LAMB extends Optimizer<LAMBGroup> {
  constructor(params: ParamsInput, opts: LAMBOptions = {}) {
    super('LAMB', 'lamb', params, {
      lr: { default: 1e-3, check: finiteOption(0) },
      betas: { default: [0.9, 0.999], check: betasOption },
      eps: { default: 1e-6, check: finiteOption(0) },
      weightDecay: { default: 0.01, check: finiteOption(0) },
      biasCorrection: { default: true, check: booleanOption },
      maxGradNorm: { default: 1, check: finiteOption(0) },
      useNvLamb: { default: false, check: booleanOption },
    }, opts);
  }

  protected stateNames(): string[] {
    return ['expAvg', 'expAvgSq'];
  }

  protected hyper(g: ParamGroup<LAMBGroup>): NativeHyper {
    return {
      lr: g.lr, beta1: g.betas[0], beta2: g.betas[1], eps: g.eps, weightDecay: g.weightDecay,
      biasCorrection: g.biasCorrection, maxGradNorm: g.maxGradNorm, nvLamb: g.useNvLamb,
    };
  }
}
