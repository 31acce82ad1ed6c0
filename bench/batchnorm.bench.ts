// Batch normalisation in training mode (batch statistics, running statistics updated) forward and
// backward (input, weight and bias gradients in one kernel), with float32 weight, bias and running
// statistics, at the MNIST network's first activation (64 x 32 x 26 x 26) and, on the GPU, at an
// ImageNet-sized one (32 x 256 x 56 x 56). bench/peers/batchnorm.py times
// torch.nn.functional.batch_norm(training=True) and its autograd backward at the same shapes.
import * as hy from '../lib/index';
import type { Device } from '../lib/index';
import { backwardOf, BenchRow, benchDtypes, caseName, disposeAll, ESIZE, PlannedCase, releaseGraph, runAll, runAsMain } from './harness';

export const covers = ['batchNormForward', 'batchNormBackward'];

function shapes(device: Device): number[][] {
  return device === 'cuda' ? [[64, 32, 26, 26], [32, 256, 56, 56]] : [[64, 32, 26, 26]];
}

export function plan(device: Device): PlannedCase[] {
  return shapes(device).flatMap((shape) =>
    benchDtypes(device).flatMap((dtype): PlannedCase[] => {
      const C = shape[1];
      const n = shape.reduce((a, b) => a * b, 1);
      const es = ESIZE[dtype];
      const prefix = caseName(device, `batchNorm train ${shape.join('x')} ${dtype}`);
      const make = (requiresGrad: boolean) => {
        const x = hy.randn(shape, { device, dtype, requiresGrad });
        const weight = hy.ones([C], { device, requiresGrad });
        const bias = hy.zeros([C], { device, requiresGrad });
        const runningMean = hy.zeros([C], { device });
        const runningVar = hy.ones([C], { device });
        const forward = () => hy.nn.functional.batchNorm(x, runningMean, runningVar, { weight, bias, training: true });
        return { x, forward, dispose: () => disposeAll(x, weight, bias, runningMean, runningVar) };
      };
      return [
        {
          case: `${prefix} forward`,
          bytes: 2 * n * es, // read x, write out (the per-channel statistics are negligible)
          setup: () => {
            const s = make(false);
            return { fn: () => s.forward().dispose(), dispose: s.dispose };
          },
        },
        {
          case: `${prefix} backward`,
          bytes: 3 * n * es, // read gradOut and x, write gradIn
          setup: () => {
            const s = make(true);
            const y = s.forward();
            const g = hy.randn(shape, { device, dtype });
            return { fn: backwardOf(y, g), dispose: () => (releaseGraph(y), g.dispose(), s.dispose()) };
          },
        },
      ];
    }),
  );
}

export function caseNames(device: Device): string[] {
  return plan(device).map((c) => c.case);
}

export const run = (): Promise<BenchRow[]> => runAll('batchnorm', plan, (d) => ({ budgetMs: d === 'cuda' ? 300 : 1000 }));

if (require.main === module) runAsMain(run);
