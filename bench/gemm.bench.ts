// GEMM throughput at the MNIST network's linear layers (forward and both backward products) and at
// one large square, per backend and dtype. bench/peers/gemm.py times torch.matmul at the same shapes.
import * as hy from '../lib/index';
import type { Device } from '../lib/index';
import { native, NativeStorage } from '../lib/native';

export interface Row {
  bench: string;
  case: string;
  device: string;
  medianMs: number;
  tflops?: number;
  extra?: Record<string, number | string>;
}

interface Shape {
  name: string;
  M: number;
  N: number;
  K: number;
  transA: boolean;
  transB: boolean;
}

// Linear y = x W^T with x: 64 x in, W: out x in. Forward is x @ W^T (transB), the input gradient
// dY @ W, the weight gradient dY^T @ x (transA): the three products one training step runs per layer.
function linearShapes(layer: string, batch: number, inF: number, outF: number): Shape[] {
  return [
    { name: `${layer} forward ${batch}x${inF} @ ${inF}x${outF}`, M: batch, N: outF, K: inF, transA: false, transB: true },
    { name: `${layer} grad input ${batch}x${outF} @ ${outF}x${inF}`, M: batch, N: inF, K: outF, transA: false, transB: false },
    { name: `${layer} grad weight ${outF}x${batch} @ ${batch}x${inF}`, M: outF, N: inF, K: batch, transA: true, transB: false },
  ];
}

function shapesFor(device: Device): Shape[] {
  // 4096^3 is 137 GFLOP: seconds per call on the CPU backend, so the CPU measures 512^3 instead.
  const n = device === 'cuda' ? 4096 : 512;
  const square = { name: device === 'cuda' ? '4096^3' : '512^3 (stand-in for 4096^3)', M: n, N: n, K: n, transA: false, transB: false };
  return [...linearShapes('fc1', 64, 9216, 128), ...linearShapes('fc2', 64, 128, 10), square];
}

/**
 * CPU cases are named 'cpu <shape> <dtype>': the CUDA rows carry the peer's names (bench/peers/gemm.py
 * times the GPU), so a CPU figure is never put next to PyTorch's GPU one, even by case name alone.
 */
const caseName = (device: Device, shape: Shape, dtype: string): string => `${device === 'cpu' ? 'cpu ' : ''}${shape.name} ${dtype}`;

const DTYPES = [
  { name: 'float32', code: 0, bytes: 4 },
  { name: 'float16', code: 1, bytes: 2 },
] as const;

/** The case names of a device's rows, in the order run() gives them (bench/peers/gemm.py's for CUDA). */
export function caseNames(device: Device): string[] {
  return shapesFor(device).flatMap((shape) => DTYPES.map((dtype) => caseName(device, shape, dtype.name)));
}

/** Median milliseconds per call: warm up, size a sample to about 20 ms, take the median of 11. */
function timeCall(fn: () => void, sync: () => void): number {
  fn();
  sync();
  let reps = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) fn();
    sync();
    const dt = performance.now() - t0;
    if (dt >= 20 || reps >= 1 << 16) break;
    reps *= dt < 2 ? 8 : 2;
  }
  const samples: number[] = [];
  for (let s = 0; s < 11; s++) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) fn();
    sync();
    samples.push((performance.now() - t0) / reps);
  }
  samples.sort((x, y) => x - y);
  return samples[samples.length >> 1];
}

export async function run(): Promise<Row[]> {
  const rows: Row[] = [];
  const sync = (): void => hy.cuda.synchronize();
  for (const device of hy.info().backends as Device[]) {
    const deviceName = device === 'cuda' ? (hy.info().cuda.device?.name ?? 'cuda') : 'cpu';
    for (const shape of shapesFor(device)) {
      for (const dtype of DTYPES) {
        const { M, N, K } = shape;
        const storages: NativeStorage[] = [M * K, K * N, M * N].map((n, i) => {
          const s = native.alloc(device, n * dtype.bytes);
          native.random(s, dtype.code, n, 0, 17 + i, 0, -1, 1);
          return s;
        });
        const [a, b, c] = storages;
        try {
          const ms = timeCall(() => native.gemm(a, b, c, dtype.code, M, N, K, shape.transA, shape.transB, 1, 0, 1, 0, 0, 0), sync);
          rows.push({
            bench: 'gemm',
            case: caseName(device, shape, dtype.name),
            device: deviceName,
            medianMs: ms,
            tflops: (2 * M * N * K) / (ms * 1e-3) / 1e12,
            extra: { M, N, K, transA: String(shape.transA), transB: String(shape.transB), dtype: dtype.name },
          });
        } finally {
          for (const s of storages) s.dispose();
        }
      }
    }
  }
  return rows;
}

if (require.main === module) {
  run().then(
    (rows) => {
      for (const r of rows) process.stdout.write(JSON.stringify(r) + '\n');
    },
    (e) => {
      console.error(e);
      process.exitCode = 1;
    },
  );
}
