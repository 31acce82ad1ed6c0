// LARS (You, Gitman and Ginsburg, arXiv 1708.03888): SGD with momentum whose update of each tensor
// is scaled by the local trust ratio trustCoefficient * ||w|| / (||g|| + weightDecay ||w|| + eps).
// Per group: a per-tensor norm pass, its reduction, and the update (core/optim_math.h larsTrust and
// sgdElement), all on the device. Exclude biases and norm layers by giving them their own group.
import { booleanOption, finiteOption, Optimizer } from './optimizer';
import type { NativeHyper, ParamGroup, ParamsInput } from './optimizer';

export interface LARSOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  trustCoefficient?: number;
  eps?: number;
  nesterov?: boolean;
  /** false: one launch per parameter (the per-tensor loop); default true. */
  foreach?: boolean;
}

type LARSGroup = Required<Omit<LARSOptions, 'foreach'>>;

/**
 * LARS: SGD with momentum whose update of each tensor is scaled by its trust ratio
 * trustCoefficient * ||w|| / (||g|| + weightDecay ||w|| + eps); lr is required.
 *
 * @example
 * ```ts
 * const opt = new hy.optim.LARS(model.parameters(), { lr: 0.1, momentum: 0.9, weightDecay: 1e-4 });
 * ```
 */
export class LARS extends Optimizer<LARSGroup> {
  constructor(params: ParamsInput, opts: LARSOptions) {
    super('LARS', 'lars', params, {
      lr: { check: finiteOption(0) },
      momentum: { default: 0.9, check: finiteOption(0) },
      dampening: { default: 0, check: finiteOption(0) },
      weightDecay: { default: 0, check: finiteOption(0) },
      trustCoefficient: { default: 0.001, check: finiteOption(0) },
      eps: { default: 1e-8, check: finiteOption(0) },
      nesterov: { default: false, check: booleanOption },
    }, opts);
  }

  protected override checkCombination(g: Record<string, unknown>): void {
    if (g.nesterov === true && (!((g.momentum as number) > 0) || g.dampening !== 0)) {
      throw new RangeError('LARS: nesterov needs momentum > 0 and dampening 0');
    }
  }

  protected stateNames(g: ParamGroup<LARSGroup>): string[] {
    return g.momentum !== 0 ? ['momentumBuffer'] : [];
  }

  protected hyper(g: ParamGroup<LARSGroup>): NativeHyper {
    return {
      lr: g.lr, momentum: g.momentum, dampening: g.dampening, weightDecay: g.weightDecay,
      trustCoefficient: g.trustCoefficient, eps: g.eps, nesterov: g.nesterov,
    };
  }
}
