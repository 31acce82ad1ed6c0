// The elementwise kernels at one large matrix (8192 x 8192 on the GPU, 2000 x 3000 on the CPU, the
// size the CPU's targets are set at):
// tensor + tensor of the same shape, tensor + row vector (broadcast along the rows), tensor times a
// number, exp, and the dtype casts float32 -> float16 -> float32. bench/peers/elementwise.py times
// the same PyTorch expressions. Each call allocates its output, as both libraries' operators do.
// One more row adds two 64-element vectors 256 times a sample: the per-op overhead of a call
// (one synchronisation a sample, so the row times the calls, not the wait for the queue).
import * as hy from '../lib/index';
import type { Device } from '../lib/index';
import { BenchRow, benchDtypes, caseName, disposeAll, ESIZE, PlannedCase, runAll, runAsMain } from './harness';

/** Calls per sample of the per-op overhead row. */
export const OVERHEAD_CALLS = 256;

export const covers = ['binary', 'scalar', 'unary', 'cast'];

export function matrix(device: Device): [number, number] {
  return device === 'cuda' ? [8192, 8192] : [2000, 3000];
}

export function plan(device: Device): PlannedCase[] {
  const [R, C] = matrix(device);
  const n = R * C;
  const size = `${R}x${C}`;
  const cases = benchDtypes(device).flatMap((dtype): PlannedCase[] => {
    const es = ESIZE[dtype];
    const opts = { device, dtype };
    const one = (name: string, bytes: number, op: (x: hy.Tensor) => hy.Tensor): PlannedCase => ({
      case: caseName(device, `${name} ${size} ${dtype}`),
      bytes,
      setup: () => {
        const x = hy.randn([R, C], opts);
        return { fn: () => op(x).dispose(), dispose: () => x.dispose() };
      },
    });
    return [
      {
        case: caseName(device, `add ${size} + ${size} ${dtype}`),
        bytes: 3 * n * es,
        setup: () => {
          const a = hy.randn([R, C], opts);
          const b = hy.randn([R, C], opts);
          return { fn: () => hy.add(a, b).dispose(), dispose: () => disposeAll(a, b) };
        },
      },
      {
        case: caseName(device, `add ${size} + ${C} (broadcast) ${dtype}`),
        bytes: 2 * n * es + C * es,
        setup: () => {
          const a = hy.randn([R, C], opts);
          const b = hy.randn([C], opts);
          return { fn: () => hy.add(a, b).dispose(), dispose: () => disposeAll(a, b) };
        },
      },
      one('mul scalar', 2 * n * es, (x) => hy.mul(x, 2.5)),
      one('exp', 2 * n * es, (x) => hy.exp(x)),
      // The cost of one small op from TypeScript to a kernel and back to the allocator: a sample
      // is 256 calls, so 256 * 1000 / medianMs is the calls a second.
      {
        case: caseName(device, `add 64 + 64 x256 (per-op overhead) ${dtype}`),
        bytes: OVERHEAD_CALLS * 3 * 64 * es,
        setup: () => {
          const a = hy.randn([64], opts);
          const b = hy.randn([64], opts);
          return {
            fn: () => {
              for (let i = 0; i < OVERHEAD_CALLS; i++) hy.add(a, b).dispose();
            },
            dispose: () => disposeAll(a, b),
          };
        },
      },
    ];
  });
  const cast = (from: 'float32' | 'float16', to: 'float32' | 'float16'): PlannedCase => ({
    case: caseName(device, `cast ${size} ${from}->${to}`),
    bytes: n * (ESIZE[from] + ESIZE[to]),
    setup: () => {
      const x = hy.randn([R, C], { device, dtype: from });
      return { fn: () => x.to(to).dispose(), dispose: () => x.dispose() };
    },
  });
  return [...cases, cast('float32', 'float16'), cast('float16', 'float32')];
}

export function caseNames(device: Device): string[] {
  return plan(device).map((c) => c.case);
}

export const run = (): Promise<BenchRow[]> => runAll('elementwise', plan, (d) => ({ budgetMs: d === 'cuda' ? 300 : 800 }));

if (require.main === module) runAsMain(run);
