// Tensors made from nothing: full (the fill kernel) and rand / randn (the Philox generator, uniform
// and normal), 64M elements on the GPU and 4M on the CPU. bench/peers/generate.py times torch.full,
// torch.rand and torch.randn. Each call allocates its output, in both libraries.
import * as hy from '../lib/index';
import type { Device } from '../lib/index';
import { BenchRow, benchDtypes, caseName, ESIZE, PlannedCase, runAll, runAsMain } from './harness';

export const covers = ['fill', 'random'];

export function sizes(device: Device): [string, number][] {
  return device === 'cuda' ? [['64M', 64 << 20]] : [['4M', 4 << 20]];
}

export function plan(device: Device): PlannedCase[] {
  return sizes(device).flatMap(([label, n]) =>
    benchDtypes(device).flatMap((dtype): PlannedCase[] => {
      const opts = { device, dtype };
      const make = (name: string, fn: () => hy.Tensor): PlannedCase => ({
        case: caseName(device, `${name} ${label} ${dtype}`),
        bytes: n * ESIZE[dtype], // write the output
        setup: () => ({ fn: () => fn().dispose(), dispose: () => undefined }),
      });
      return [make('full', () => hy.full([n], 1.5, opts)), make('rand', () => hy.rand([n], opts)), make('randn', () => hy.randn([n], opts))];
    }),
  );
}

export function caseNames(device: Device): string[] {
  return plan(device).map((c) => c.case);
}

export const run = (): Promise<BenchRow[]> => runAll('generate', plan, (d) => ({ budgetMs: d === 'cuda' ? 300 : 800 }));

if (require.main === module) runAsMain(run);
