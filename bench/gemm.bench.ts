// GEMM throughput at the MNIST network's linear layers (forward and both backward products) and at
// squares (4096^3 on the GPU; 256^3 to 2048^3, float32 only, on the CPU), per backend and dtype.
// bench/peers/gemm.py times torch.matmul at the same shapes. A CPU row's extra.peakFraction is its
// GFLOP/s over the machine's fp32 FMA peak (native.cpuPeakGflops) measured in the same run.
//
// The three products of a linear layer go through hy.linear and the backward it records: the
// forward x @ W^T, the input gradient dY @ W (only x requires grad) and the weight gradient
// dY^T @ x (only W requires grad), so each case is one gemm launch plus its output's allocation.
import * as hy from '../lib/index';
import type { Device, Tensor } from '../lib/index';
import { native } from '../lib/native';
import { backwardOf, BenchRow, benchDevices, caseName as named, disposeAll, PlannedCase, releaseGraph, runAsMain, runPlan } from './harness';

export const covers = ['gemm'];

type Kind = 'forward' | 'grad input' | 'grad weight' | 'square';

interface Shape {
  name: string;
  kind: Kind;
  M: number;
  N: number;
  K: number;
  transA: boolean;
  transB: boolean;
}

// Linear y = x W^T with x: batch x in, W: out x in. Forward is x @ W^T (transB), the input gradient
// dY @ W, the weight gradient dY^T @ x (transA): the three products one training step runs per layer.
function linearShapes(layer: string, batch: number, inF: number, outF: number): Shape[] {
  return [
    { name: `${layer} forward ${batch}x${inF} @ ${inF}x${outF}`, kind: 'forward', M: batch, N: outF, K: inF, transA: false, transB: true },
    { name: `${layer} grad input ${batch}x${outF} @ ${outF}x${inF}`, kind: 'grad input', M: batch, N: inF, K: outF, transA: false, transB: false },
    { name: `${layer} grad weight ${outF}x${batch} @ ${batch}x${inF}`, kind: 'grad weight', M: outF, N: inF, K: batch, transA: true, transB: false },
  ];
}

function square(n: number): Shape {
  return { name: `${n}^3`, kind: 'square', M: n, N: n, K: n, transA: false, transB: false };
}

function shapesFor(device: Device): Shape[] {
  const seed = [...linearShapes('fc1', 64, 9216, 128), ...linearShapes('fc2', 64, 128, 10)];
  if (device === 'cuda') return [...seed, square(4096)];
  // 4096^3 is 137 GFLOP: seconds per call on the CPU backend, so the CPU measures a ladder of
  // squares up to 2048^3 (17 GFLOP), from one that fits in L2 to one the packing must stream.
  return [...seed, ...[256, 512, 1024, 2048].map(square)];
}

const DTYPES = ['float32', 'float16'] as const;

/** The dtypes a device measures: both on the GPU, float32 on the CPU (as the harness's benchDtypes). */
function dtypesFor(device: Device): readonly (typeof DTYPES)[number][] {
  return device === 'cuda' ? DTYPES : ['float32'];
}

interface CpuPeak {
  gflops: number;
  threads: number;
  isa: string;
}

/**
 * The CPU's measured fp32 peak (native.cpuPeakGflops: the FMA loop of every pool thread together),
 * the best of a few calls (one call is a few tens of milliseconds, so anything else running reads
 * as a lower peak), or undefined where the addon has no such function.
 */
function cpuPeak(): CpuPeak | undefined {
  const probe = (native as unknown as { cpuPeakGflops?: () => CpuPeak }).cpuPeakGflops;
  if (typeof probe !== 'function') return undefined;
  let best: CpuPeak | undefined;
  for (let i = 0; i < 5; i++) {
    const p = probe.call(native);
    if (best === undefined || p.gflops > best.gflops) best = p;
  }
  return best;
}

/** One timed gemm of `shape`: its operands are made in setup. */
function setupCase(device: Device, shape: Shape, dtype: (typeof DTYPES)[number]): { fn: () => void; dispose(): void } {
  const opts = { device, dtype };
  const { M, N, K } = shape;
  if (shape.kind === 'square') {
    const a = hy.rand([M, K], opts);
    const b = hy.rand([K, N], opts);
    return { fn: () => hy.matmul(a, b).dispose(), dispose: () => disposeAll(a, b) };
  }
  // The layer of this shape: batch rows, inF inputs, outF outputs.
  const [batch, inF, outF] = shape.kind === 'forward' ? [M, K, N] : shape.kind === 'grad input' ? [M, N, K] : [K, N, M];
  const x = hy.rand([batch, inF], opts);
  const w = hy.rand([outF, inF], opts);
  if (shape.kind === 'forward') return { fn: () => hy.linear(x, w).dispose(), dispose: () => disposeAll(x, w) };
  (shape.kind === 'grad input' ? x : w).requiresGrad_();
  const y: Tensor = hy.linear(x, w);
  const g = hy.rand([batch, outF], opts);
  return { fn: backwardOf(y, g), dispose: () => (releaseGraph(y), disposeAll(x, w, g)) };
}

export function plan(device: Device): PlannedCase[] {
  return shapesFor(device).flatMap((shape) =>
    dtypesFor(device).map((dtype) => ({
      case: named(device, `${shape.name} ${dtype}`),
      flops: 2 * shape.M * shape.N * shape.K,
      extra: { M: shape.M, N: shape.N, K: shape.K, transA: String(shape.transA), transB: String(shape.transB), dtype },
      setup: () => setupCase(device, shape, dtype),
    })),
  );
}

/**
 * The case names of a device's rows, in the order run() gives them (bench/peers/gemm.py's for CUDA).
 * CPU cases are named 'cpu <shape> <dtype>', so a CPU figure is never put next to PyTorch's GPU one.
 */
export function caseNames(device: Device): string[] {
  return plan(device).map((c) => c.case);
}

export async function run(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const device of benchDevices()) {
    const r = await runPlan('gemm', device, plan(device), { budgetMs: device === 'cuda' ? 300 : 1000 });
    // A CPU row says how much of the machine's fp32 peak it reached, measured in the same run.
    const peak = device === 'cpu' ? cpuPeak() : undefined;
    if (peak !== undefined && peak.gflops > 0) {
      for (const row of r) {
        if (row.tflops === undefined) continue;
        row.extra = { ...row.extra, peakFraction: +((row.tflops * 1e3) / peak.gflops).toFixed(3), peakGflops: +peak.gflops.toFixed(1), peakThreads: peak.threads, peakIsa: peak.isa };
      }
    }
    rows.push(...r);
  }
  return rows;
}

if (require.main === module) runAsMain(run);
