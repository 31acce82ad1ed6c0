// GELU, the seed's tip 5: one fused kernel versus the five-kernel composition
// x*0.5*(1+erf(x/1.41421)), forward and backward, fp32 and fp16, at the seed's 2000x3000 tensor
// and at 64M elements. On the GPU the device-to-device copy bandwidth is measured as the ceiling.
import * as hy from '../lib/index';
import { native } from '../lib/native';
import { BenchRow, deviceName as benchDevice } from './harness';

type Row = BenchRow;

const UNARY_GELU = 5;
const UNARY_GRAD_GELU = 1;
const DTYPE_CODE = { float32: 0, float16: 1 } as const;

type GeluDevice = 'cpu' | 'cuda';

function deviceName(device: GeluDevice): string {
  return device === 'cuda' ? benchDevice() : 'cpu';
}

/** Median milliseconds per call of fn, timed in batches ended by a device synchronisation. */
function time(fn: () => void, device: GeluDevice, budgetMs: number): number {
  const sync = (): void => {
    if (device === 'cuda') hy.cuda.synchronize();
  };
  fn();
  sync();
  const t0 = performance.now();
  fn();
  sync();
  const one = Math.max(performance.now() - t0, 1e-3);
  const perBatch = Math.max(1, Math.min(200, Math.floor(20 / one)));
  const batches = Math.max(3, Math.min(15, Math.floor(budgetMs / (one * perBatch))));
  const samples: number[] = [];
  for (let b = 0; b < batches; b++) {
    const s = performance.now();
    for (let i = 0; i < perBatch; i++) fn();
    sync();
    samples.push((performance.now() - s) / perBatch);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
}

interface Item {
  /** '<size> <dtype>', with 'cpu ' in front on the CPU: CPU rows carry the device in their name, so
   * they never pair with the GPU peer's rows of the same work. */
  prefix: string;
  shape: number[];
  dtype: 'float32' | 'float16';
}

/** The tensors a device measures. */
function plan(device: GeluDevice): Item[] {
  const items: Item[] = [];
  const sizes: [string, number[]][] = [['2000x3000', [2000, 3000]], ['64M', [64 << 20]]];
  for (const [label, shape] of sizes) {
    for (const dtype of ['float32', 'float16'] as const) {
      if (device === 'cpu' && dtype === 'float16' && label === '64M') continue; // minutes of scalar conversion on a small CPU
      items.push({ prefix: `${device === 'cpu' ? 'cpu ' : ''}${label} ${dtype}`, shape, dtype });
    }
  }
  return items;
}

const KIND = { fused: 'forward fused', unfused: 'forward unfused (5 kernels)', backward: 'backward fused', copy: 'device copy (ceiling)' };

/** The case names of a device's rows, in the order run() gives them (bench/peers/gelu.py's for CUDA). */
export function caseNames(device: GeluDevice): string[] {
  const kinds = [KIND.fused, KIND.unfused, KIND.backward, ...(device === 'cuda' ? [KIND.copy] : [])];
  return plan(device).flatMap(({ prefix }) => kinds.map((k) => `${prefix} ${k}`));
}

export async function run(): Promise<Row[]> {
  const rows: Row[] = [];
  const devices: GeluDevice[] = hy.cuda.isAvailable() ? ['cuda', 'cpu'] : ['cpu'];
  for (const device of devices) {
    const name = deviceName(device);
    const budget = device === 'cuda' ? 400 : 1500;
    for (const { prefix: c, shape, dtype } of plan(device)) {
      const x = hy.randn(shape, { device, dtype });
      const g = hy.randn(shape, { device, dtype });
      const out = hy.empty(shape, { device, dtype });
      const n = x.numel;
      const esize = dtype === 'float16' ? 2 : 4;
      const xs = x.live('bench');
      const gs = g.live('bench');
      const os = out.live('bench');
      const fused = time(() => native.unary(UNARY_GELU, xs, os, DTYPE_CODE[dtype], n), device, budget);
      const unfused = time(() => hy.geluUnfused(x).dispose(), device, budget);
      const backward = time(() => native.unaryGrad(UNARY_GRAD_GELU, xs, gs, os, DTYPE_CODE[dtype], n), device, budget);
      const gb = (bytes: number, ms: number): number => bytes / ms / 1e6;
      rows.push({ bench: 'gelu', case: `${c} ${KIND.fused}`, device: name, medianMs: fused, gbps: gb(2 * n * esize, fused) });
      rows.push({
        bench: 'gelu',
        case: `${c} ${KIND.unfused}`,
        device: name,
        medianMs: unfused,
        gbps: gb(2 * n * esize, unfused),
        extra: { unfusedOverFused: +(unfused / fused).toFixed(2) },
      });
      rows.push({ bench: 'gelu', case: `${c} ${KIND.backward}`, device: name, medianMs: backward, gbps: gb(3 * n * esize, backward) });
      if (device === 'cuda') {
        const copy = time(() => native.copy(os, xs, n * esize, false), device, budget);
        rows.push({ bench: 'gelu', case: `${c} ${KIND.copy}`, device: name, medianMs: copy, gbps: gb(2 * n * esize, copy) });
      }
      x.dispose();
      g.dispose();
      out.dispose();
    }
  }
  return rows;
}

if (require.main === module) {
  run().then((rows) => console.table(rows.map((r) => ({ ...r, extra: r.extra ? JSON.stringify(r.extra) : '' }))));
}
