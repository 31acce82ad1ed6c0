// The tensor-manipulation kernels (ops/shape.h) at memory-bound sizes: a transpose (the strided
// copy), cat, a row gather (indexSelect) and its gradient (indexAdd), argmax over rows, a
// comparison, where, arange and int32 arithmetic (ops/integer.h). bench/peers/shape.py times the same PyTorch calls.
import * as hy from '../lib/index';
import type { Device } from '../lib/index';
import { BenchRow, caseName, PlannedCase, runAll, runAsMain } from './harness';

export const covers = ['stridedCopy', 'indexSelect', 'indexAdd', 'argReduce', 'compare', 'where', 'range', 'intBinary'];

export function matrix(device: Device): [number, number] {
  return device === 'cuda' ? [8192, 8192] : [2048, 2048];
}

export function plan(device: Device): PlannedCase[] {
  const [R, C] = matrix(device);
  const n = R * C;
  const size = `${R}x${C}`;
  const picks = R / 2;
  const withX = (label: string, bytes: number, make: (x: hy.Tensor) => { fn: () => void; dispose?: () => void }): PlannedCase => ({
    case: caseName(device, `${label} ${size} float32`),
    bytes,
    setup: () => {
      const x = hy.randn([R, C], { device });
      const r = make(x);
      return { fn: r.fn, dispose: () => { r.dispose?.(); x.dispose(); } };
    },
  });
  return [
    withX('transpose', 2 * n * 4, (x) => ({ fn: () => hy.transpose(x, 0, 1).dispose() })),
    withX('cat halves', 2 * n * 4, (x) => {
      const [a, b] = hy.chunk(x, 2, 0);
      return { fn: () => hy.cat([a, b], 1).dispose(), dispose: () => { a.dispose(); b.dispose(); } };
    }),
    withX(`indexSelect ${picks} rows`, 2 * picks * C * 4, (x) => {
      const idx = hy.randint(R, [picks], { device });
      return { fn: () => hy.indexSelect(x, 0, idx).dispose(), dispose: () => idx.dispose() };
    }),
    withX(`scatterAdd ${picks} rows`, (n + 2 * picks * C) * 4, (x) => {
      const idx = hy.randint(R, [picks, 1], { device }).expand(picks, C);
      const src = hy.randn([picks, C], { device });
      return { fn: () => hy.scatterAdd(x, 0, idx, src).dispose(), dispose: () => { idx.dispose(); src.dispose(); } };
    }),
    withX('argmax dim -1', n * 4 + R * 4, (x) => ({ fn: () => hy.argmax(x, -1).dispose() })),
    withX('gt 0', n * 5, (x) => ({ fn: () => hy.gt(x, 0).dispose() })),
    withX('where(x > 0, x, 0)', n * 9, (x) => {
      const m = hy.gt(x, 0);
      return { fn: () => hy.where(m, x, 0).dispose(), dispose: () => m.dispose() };
    }),
    {
      case: caseName(device, `int32 add ${size}`),
      bytes: 3 * n * 4,
      setup: () => {
        const a = hy.randint(-1000, 1000, [R, C], { device });
        const b = hy.randint(-1000, 1000, [R, C], { device });
        return { fn: () => hy.add(a, b).dispose(), dispose: () => { a.dispose(); b.dispose(); } };
      },
    },
    { case: caseName(device, `arange ${n} int32`), bytes: n * 4, setup: () => ({ fn: () => hy.arange(n, { device }).dispose(), dispose: () => undefined }) },
  ];
}

export function caseNames(device: Device): string[] {
  return plan(device).map((c) => c.case);
}

export const run = (): Promise<BenchRow[]> => runAll('shape', plan, (d) => ({ budgetMs: d === 'cuda' ? 300 : 800 }));

if (require.main === module) runAsMain(run);
