// Log-softmax over the last dimension, forward and backward, at a wide activation (rows of 4096)
// and at the MNIST network's logits (64 x 10, where launch cost dominates). bench/peers/softmax.py
// times torch.nn.functional.log_softmax and its autograd backward at the same shapes.
import * as hy from '../lib/index';
import type { Device } from '../lib/index';
import { backwardOf, BenchRow, benchDtypes, caseName, disposeAll, ESIZE, PlannedCase, releaseGraph, runAll, runAsMain } from './harness';

export const covers = ['logSoftmax', 'logSoftmaxBackward'];

/** [rows, cols] per device: the wide shape is 128 MiB of float32 on the GPU, 16 MiB on the CPU. */
function shapes(device: Device): [number, number][] {
  return [device === 'cuda' ? [8192, 4096] : [1024, 4096], [64, 10]];
}

export function plan(device: Device): PlannedCase[] {
  return shapes(device).flatMap(([rows, cols]) =>
    benchDtypes(device).flatMap((dtype): PlannedCase[] => {
      const shape = [rows, cols];
      const n = rows * cols;
      const es = ESIZE[dtype];
      const opts = { device, dtype };
      const prefix = caseName(device, `logSoftmax ${rows}x${cols} ${dtype}`);
      return [
        {
          case: `${prefix} forward`,
          bytes: 2 * n * es, // read x, write out
          setup: () => {
            const x = hy.randn(shape, opts);
            return { fn: () => hy.nn.functional.logSoftmax(x).dispose(), dispose: () => x.dispose() };
          },
        },
        {
          case: `${prefix} backward`,
          bytes: 3 * n * es, // read gradOut and out, write gradIn
          setup: () => {
            const x = hy.randn(shape, { ...opts, requiresGrad: true });
            const y = hy.nn.functional.logSoftmax(x);
            const g = hy.randn(shape, opts);
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

export const run = (): Promise<BenchRow[]> => runAll('softmax', plan, (d) => ({ budgetMs: d === 'cuda' ? 300 : 1000 }));

if (require.main === module) runAsMain(run);
