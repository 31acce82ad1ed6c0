// Sums of one large matrix (8192 x 8192 on the GPU, 2048 x 2048 on the CPU): over the last
// dimension (contiguous rows), over the first (strided columns) and over everything.
// bench/peers/reduce.py times torch.sum at the same shapes.
import * as hy from '../lib/index';
import type { Device } from '../lib/index';
import { BenchRow, benchDtypes, caseName, ESIZE, PlannedCase, runAll, runAsMain } from './harness';

export const covers = ['reduceSum'];

export function matrix(device: Device): [number, number] {
  return device === 'cuda' ? [8192, 8192] : [2048, 2048];
}

export function plan(device: Device): PlannedCase[] {
  const [R, C] = matrix(device);
  const n = R * C;
  const size = `${R}x${C}`;
  return benchDtypes(device).flatMap((dtype): PlannedCase[] => {
    const es = ESIZE[dtype];
    const sum = (label: string, outCount: number, dim?: number): PlannedCase => ({
      case: caseName(device, `sum ${label} ${size} ${dtype}`),
      bytes: (n + outCount) * es, // read x, write the sums
      setup: () => {
        const x = hy.randn([R, C], { device, dtype });
        return { fn: () => hy.sum(x, dim).dispose(), dispose: () => x.dispose() };
      },
    });
    return [sum('dim -1', R, -1), sum('dim 0', C, 0), sum('all', 1)];
  });
}

export function caseNames(device: Device): string[] {
  return plan(device).map((c) => c.case);
}

export const run = (): Promise<BenchRow[]> => runAll('reduce', plan, (d) => ({ budgetMs: d === 'cuda' ? 300 : 800 }));

if (require.main === module) runAsMain(run);
