// Softmax and log-softmax over the last dimension, forward and backward, at a wide activation (rows
// of 4096 on the GPU, 3000 on the CPU) and at the MNIST network's logits (64 x 10, where launch cost
// dominates). bench/peers/softmax.py times torch.nn.functional.softmax / log_softmax and their
// autograd backward at the same shapes.
import * as hy from '../lib/index';
import type { Device } from '../lib/index';
import { backwardOf, BenchRow, benchDtypes, caseName, disposeAll, ESIZE, PlannedCase, releaseGraph, runAll, runAsMain } from './harness';

export const covers = ['logSoftmax', 'logSoftmaxBackward', 'softmax', 'softmaxBackward'];

/**
 * [rows, cols] per device: the wide shape is 128 MiB of float32 on the GPU, 24 MB on the CPU
 * (2000 x 3000, the size the CPU's targets are set at).
 */
function shapes(device: Device): [number, number][] {
  return [device === 'cuda' ? [8192, 4096] : [2000, 3000], [64, 10]];
}

export function plan(device: Device): PlannedCase[] {
  const F = hy.nn.functional;
  return (['logSoftmax', 'softmax'] as const).flatMap((name) => shapes(device).flatMap(([rows, cols]) =>
    benchDtypes(device).flatMap((dtype): PlannedCase[] => {
      const f = name === 'softmax' ? F.softmax : F.logSoftmax;
      const shape = [rows, cols];
      const n = rows * cols;
      const es = ESIZE[dtype];
      const opts = { device, dtype };
      const prefix = caseName(device, `${name} ${rows}x${cols} ${dtype}`);
      return [
        {
          case: `${prefix} forward`,
          bytes: 2 * n * es, // read x, write out
          setup: () => {
            const x = hy.randn(shape, opts);
            return { fn: () => f(x).dispose(), dispose: () => x.dispose() };
          },
        },
        {
          case: `${prefix} backward`,
          bytes: 3 * n * es, // read gradOut and out, write gradIn
          setup: () => {
            const x = hy.randn(shape, { ...opts, requiresGrad: true });
            const y = f(x);
            const g = hy.randn(shape, opts);
            return { fn: backwardOf(y, g), dispose: () => (releaseGraph(y), disposeAll(x, g)) };
          },
        },
      ];
    }),
  ));
}

export function caseNames(device: Device): string[] {
  return plan(device).map((c) => c.case);
}

export const run = (): Promise<BenchRow[]> => runAll('softmax', plan, (d) => ({ budgetMs: d === 'cuda' ? 300 : 1000 }));

if (require.main === module) runAsMain(run);
