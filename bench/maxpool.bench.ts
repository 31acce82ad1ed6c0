// 2-D max pooling, kernel 2 stride 2, forward (which also writes the int32 argmax indices the
// backward reads) and backward, at the MNIST network's pooled activation (64 x 64 x 24 x 24) and,
// on the GPU, at an ImageNet-sized one (32 x 64 x 112 x 112). bench/peers/maxpool.py times
// torch.nn.functional.max_pool2d and its autograd backward at the same shapes.
import * as hy from '../lib/index';
import type { Device } from '../lib/index';
import { backwardOf, BenchRow, benchDtypes, caseName, disposeAll, ESIZE, PlannedCase, releaseGraph, runAll, runAsMain } from './harness';

export const covers = ['maxPool2d', 'maxPool2dBackward'];

function shapes(device: Device): number[][] {
  return device === 'cuda' ? [[64, 64, 24, 24], [32, 64, 112, 112]] : [[64, 64, 24, 24]];
}

export function plan(device: Device): PlannedCase[] {
  return shapes(device).flatMap((shape) =>
    benchDtypes(device).flatMap((dtype): PlannedCase[] => {
      const [N, C, H, W] = shape;
      const n = N * C * H * W;
      const m = N * C * Math.floor(H / 2) * Math.floor(W / 2);
      const es = ESIZE[dtype];
      const opts = { device, dtype };
      const prefix = caseName(device, `maxPool2d k2 s2 ${shape.join('x')} ${dtype}`);
      return [
        {
          case: `${prefix} forward`,
          bytes: n * es + m * (es + 4), // read x, write out and the int32 indices
          setup: () => {
            const x = hy.randn(shape, opts);
            return { fn: () => hy.nn.functional.maxPool2d(x, 2).dispose(), dispose: () => x.dispose() };
          },
        },
        {
          case: `${prefix} backward`,
          bytes: m * (es + 4) + n * es, // read gradOut and indices, write gradIn
          setup: () => {
            const x = hy.randn(shape, { ...opts, requiresGrad: true });
            const y = hy.nn.functional.maxPool2d(x, 2);
            const g = hy.randn(y.shape.slice(), opts);
            return { fn: backwardOf(y, g), dispose: () => (releaseGraph(y), disposeAll(x, g)) };
          },
        },
      ];
    }),
  );
}

export function caseNames(device: Device): string[] {
  return plan(device).map((c) => c.case);
}

export const run = (): Promise<BenchRow[]> => runAll('maxpool', plan, (d) => ({ budgetMs: d === 'cuda' ? 300 : 1000 }));

if (require.main === module) runAsMain(run);
