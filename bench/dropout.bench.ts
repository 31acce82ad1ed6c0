// Dropout with p = 0.5 in training mode, forward (mask drawn from the Philox generator, one byte an
// element) and backward (the mask applied to the gradient), at 64M elements on the GPU and 4M on
// the CPU. bench/peers/dropout.py times torch.nn.functional.dropout and its autograd backward.
import * as hy from '../lib/index';
import type { Device } from '../lib/index';
import { native } from '../lib/native';
import { beginGraphDraws, endGraphDraws } from '../lib/random';
import { backwardOf, BenchRow, benchDtypes, caseName, disposeAll, ESIZE, PlannedCase, releaseGraph, runAll, runAsMain } from './harness';

export const covers = ['dropout', 'dropoutBackward', 'philoxCounter'];

export function sizes(device: Device): [string, number][] {
  return device === 'cuda' ? [['64M', 64 << 20]] : [['4M', 4 << 20]];
}

export function plan(device: Device): PlannedCase[] {
  return sizes(device).flatMap(([label, n]) =>
    benchDtypes(device).flatMap((dtype): PlannedCase[] => {
      const es = ESIZE[dtype];
      const opts = { device, dtype };
      const prefix = caseName(device, `dropout p0.5 ${label} ${dtype}`);
      return [
        {
          case: `${prefix} forward`,
          bytes: 2 * n * es + n, // read x, write out and the mask
          setup: () => {
            const x = hy.randn([n], opts);
            return { fn: () => hy.nn.functional.dropout(x, { p: 0.5 }).dispose(), dispose: () => x.dispose() };
          },
        },
        {
          // A CUDA graph's dropout: the counter filled in stream order before each replay
          case: `${prefix} forward from a counter slot`,
          bytes: 2 * n * es + n,
          setup: () => {
            const x = hy.randn([n], opts);
            const counter = hy.zeros([4], { dtype: 'int32', device });
            return {
              fn: () => {
                native.run('philoxCounter', { counter: counter.live('bench'), seed: 7, base: 0 });
                beginGraphDraws(counter);
                try {
                  hy.nn.functional.dropout(x, { p: 0.5 }).dispose();
                } finally {
                  endGraphDraws();
                }
              },
              dispose: () => disposeAll(x, counter),
            };
          },
        },
        {
          case: `${prefix} backward`,
          bytes: 2 * n * es + n, // read gradOut and the mask, write gradIn
          setup: () => {
            const x = hy.randn([n], { ...opts, requiresGrad: true });
            const y = hy.nn.functional.dropout(x, { p: 0.5 });
            const g = hy.randn([n], opts);
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

export const run = (): Promise<BenchRow[]> => runAll('dropout', plan, (d) => ({ budgetMs: d === 'cuda' ? 300 : 1000 }));

if (require.main === module) runAsMain(run);
