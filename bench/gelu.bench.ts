// GELU, the seed's tip 5: one fused kernel versus the five-kernel composition
// x*0.5*(1+erf(x/1.41421)), forward and backward, fp32 and fp16, at the seed's 2000x3000 tensor
// and at 64M elements. On the GPU the device-to-device copy bandwidth is measured as the ceiling.
import * as hy from '../lib/index';
import type { Device } from '../lib/index';
import { backwardOf, BenchRow, benchDevices, caseName, disposeAll, ESIZE, PlannedCase, releaseGraph, runAsMain, runPlan } from './harness';

/** gelu's forward is a unary kernel, its backward the fused unaryGrad kernel. */
export const covers = ['unary', 'unaryGrad'];

interface Item {
  /** '<size> <dtype>', with 'cpu ' in front on the CPU. */
  prefix: string;
  shape: number[];
  dtype: 'float32' | 'float16';
}

/** The tensors a device measures. */
function items(device: Device): Item[] {
  const out: Item[] = [];
  const sizes: [string, number[]][] = [['2000x3000', [2000, 3000]], ['64M', [64 << 20]]];
  for (const [label, shape] of sizes) {
    for (const dtype of ['float32', 'float16'] as const) {
      if (device === 'cpu' && dtype === 'float16' && label === '64M') continue; // minutes of scalar conversion on a small CPU
      out.push({ prefix: caseName(device, `${label} ${dtype}`), shape, dtype });
    }
  }
  return out;
}

const KIND = { fused: 'forward fused', unfused: 'forward unfused (5 kernels)', backward: 'backward fused', copy: 'device copy (ceiling)' };

export function plan(device: Device): PlannedCase[] {
  return items(device).flatMap(({ prefix, shape, dtype }): PlannedCase[] => {
    const opts = { device, dtype };
    const n = shape.reduce((a, b) => a * b, 1);
    const es = ESIZE[dtype];
    const cases: PlannedCase[] = [
      {
        case: `${prefix} ${KIND.fused}`,
        bytes: 2 * n * es,
        setup: () => {
          const x = hy.randn(shape, opts);
          return { fn: () => hy.gelu(x).dispose(), dispose: () => x.dispose() };
        },
      },
      {
        case: `${prefix} ${KIND.unfused}`,
        bytes: 2 * n * es,
        setup: () => {
          const x = hy.randn(shape, opts);
          return { fn: () => hy.geluUnfused(x).dispose(), dispose: () => x.dispose() };
        },
      },
      {
        case: `${prefix} ${KIND.backward}`,
        bytes: 3 * n * es,
        setup: () => {
          const x = hy.randn(shape, { ...opts, requiresGrad: true });
          const g = hy.randn(shape, opts);
          const y = hy.gelu(x);
          return { fn: backwardOf(y, g), dispose: () => (releaseGraph(y), disposeAll(x, g)) };
        },
      },
    ];
    if (device === 'cuda') {
      cases.push({
        case: `${prefix} ${KIND.copy}`,
        bytes: 2 * n * es,
        setup: () => {
          const x = hy.randn(shape, opts);
          return { fn: () => x.clone().dispose(), dispose: () => x.dispose() };
        },
      });
    }
    return cases;
  });
}

/** The case names of a device's rows, in the order run() gives them (bench/peers/gelu.py's for CUDA). */
export function caseNames(device: Device): string[] {
  return plan(device).map((c) => c.case);
}

export async function run(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const device of benchDevices()) {
    const r = await runPlan('gelu', device, plan(device), { budgetMs: device === 'cuda' ? 400 : 1000 });
    // The unfused rows say how much slower the composition is than the fused kernel it stands beside.
    for (const row of r) {
      if (!row.case.endsWith(KIND.unfused)) continue;
      const fused = r.find((f) => f.case === row.case.replace(KIND.unfused, KIND.fused));
      if (fused !== undefined) row.extra = { ...row.extra, unfusedOverFused: +(row.medianMs / fused.medianMs).toFixed(2) };
    }
    rows.push(...r);
  }
  return rows;
}

if (require.main === module) runAsMain(run);
