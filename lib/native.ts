// The compiled addon and its typed surface. Everything above this file talks to the GPU and the
// CPU backend only through these functions; each one checks its own arguments as well.
import bindings from 'bindings';
import * as path from 'path';

export interface NativeStorage {
  readonly nbytes: number;
  readonly device: 'cpu' | 'cuda' | 'disposed';
  readonly pinned: boolean;
  readonly disposed: boolean;
  dispose(): void;
}

export interface NativeCudaInfo {
  compiled: boolean;
  available: boolean;
  /** True in the test build whose CUDA device is emulated on the CPU (HAYATE_CUDA_EMULATOR=1). */
  emulated: boolean;
  reason?: string;
  device?: { name: string; computeCapability: string; totalMemory: number; multiProcessors: number };
  driverVersion?: number;
  runtimeVersion?: number;
}

export interface NativeMemoryStats {
  liveBytes: number;
  requestedBytes: number;
  reservedBytes: number;
  peakLiveBytes: number;
  peakReservedBytes: number;
  allocations: number;
  frees: number;
  cacheHits: number;
  segmentAllocations: number;
  segmentReleases: number;
  oomRetries: number;
  pendingFrees: number;
  liveBlocks: number;
  segments: number;
  limitBytes: number;
}

export type MemoryPool = 'cpu' | 'cuda' | 'pinned';

export interface NativeBinding {
  Storage: new (...args: unknown[]) => NativeStorage;
  info(): NativeCudaInfo;
  alloc(device: 'cpu' | 'cuda', nbytes: number, pinned?: boolean): NativeStorage;
  fill(s: NativeStorage, dtype: number, n: number, value: number): void;
  random(s: NativeStorage, dtype: number, n: number, kind: 0 | 1, seed: number, offset: number, a: number, b: number): void;
  cast(src: NativeStorage, srcDtype: number, dst: NativeStorage, dstDtype: number, n: number): void;
  copy(dst: NativeStorage, src: NativeStorage, nbytes: number, nonBlocking: boolean): void;
  /** A new cuda storage holding src's first nbytes; from pinned memory with nonBlocking it overlaps compute. */
  toDevice(src: NativeStorage, nbytes: number, nonBlocking: boolean): NativeStorage;
  write(s: NativeStorage, dtype: number, data: Float32Array | Int32Array): void;
  read(s: NativeStorage, dtype: number, n: number): Float32Array | Int32Array;
  readAsync(s: NativeStorage, dtype: number, n: number): Promise<Float32Array | Int32Array>;
  memoryStats(pool: MemoryPool): NativeMemoryStats;
  emptyCache(pool: MemoryPool): void;
  resetPeakStats(pool: MemoryPool): void;
  setMemoryLimit(pool: MemoryPool, bytes: number): void;
  synchronize(): void;
  // elementwise family (binding/elementwise.cpp); op codes as in core/elementwise_math.h
  unary(op: number, x: NativeStorage, out: NativeStorage, dtype: number, n: number): void;
  unaryGrad(op: number, x: NativeStorage, gradOut: NativeStorage, gradIn: NativeStorage, dtype: number, n: number): void;
  scalarOp(op: number, x: NativeStorage, out: NativeStorage, dtype: number, n: number, s: number): void;
  binary(op: number, a: NativeStorage, b: NativeStorage, out: NativeStorage, dtype: number, shape: number[], stridesA: number[], stridesB: number[]): void;
  reduceSum(x: NativeStorage, out: NativeStorage, dtype: number, outer: number, reduce: number, inner: number, scale: number): void;
  /**
   * C[p] = alpha * op(A[p]) @ op(B[p]) + beta * C[p] for p < batch, row-major; op(A) is M x K (A stored
   * K x M when transA), op(B) is K x N (B stored N x K when transB). dtype 0 = float32, 1 = float16
   * (fp32 accumulation). Strides are elements between batch items (0 broadcasts A or B). beta 0 never
   * reads C. Enqueued on the device's stream; returns at once.
   */
  gemm(
    a: NativeStorage, b: NativeStorage, c: NativeStorage, dtype: number, M: number, N: number, K: number,
    transA: boolean, transB: boolean, alpha: number, beta: number, batch: number,
    strideA: number, strideB: number, strideC: number,
  ): void;
  setErrorClasses(classes: { OutOfMemoryError: new (message: string) => Error }): void;

  // Neural-network kernels (binding/nn.cpp documents each in full). dtype: 0 float32, 1 float16.
  // Targets and pooling indices are int32 storages; losses, batch-norm parameters and statistics
  // float32; dropout masks one uint8 per element. reduction: 0 none, 1 mean, 2 sum. gradScale is
  // the loss's upstream gradient: a number, or a float32 storage holding it (rows values for
  // reduction none, one otherwise). An invalid target throws a RangeError from the call on the
  // CPU, and from the next read / readAsync / synchronize on CUDA.
  logSoftmax(x: NativeStorage, out: NativeStorage, dtype: number, rows: number, cols: number): void;
  logSoftmaxBackward(gradOut: NativeStorage, out: NativeStorage, gradIn: NativeStorage, dtype: number, rows: number, cols: number): void;
  nllLoss(logp: NativeStorage, target: NativeStorage, loss: NativeStorage, dtype: number, rows: number, cols: number, reduction: number): void;
  nllLossBackward(target: NativeStorage, gradIn: NativeStorage, dtype: number, rows: number, cols: number, reduction: number,
    gradScale: number | NativeStorage): void;
  crossEntropy(logits: NativeStorage, target: NativeStorage, loss: NativeStorage, gradLogits: NativeStorage | null, dtype: number,
    rows: number, cols: number, reduction: number): void;
  crossEntropyBackward(logits: NativeStorage, target: NativeStorage, gradLogits: NativeStorage, dtype: number, rows: number,
    cols: number, reduction: number, gradScale: number | NativeStorage): void;
  maxPool2d(x: NativeStorage, out: NativeStorage, indices: NativeStorage, dtype: number, N: number, C: number, H: number, W: number,
    kH: number, kW: number, sH: number, sW: number, pH: number, pW: number, outH: number, outW: number): void;
  maxPool2dBackward(gradOut: NativeStorage, indices: NativeStorage, gradIn: NativeStorage, dtype: number, N: number, C: number,
    H: number, W: number, kH: number, kW: number, sH: number, sW: number, pH: number, pW: number, outH: number, outW: number): void;
  batchNormForward(x: NativeStorage, weight: NativeStorage | null, bias: NativeStorage | null, runningMean: NativeStorage,
    runningVar: NativeStorage, out: NativeStorage, saveMean: NativeStorage, saveInvStd: NativeStorage, dtype: number, N: number,
    C: number, HW: number, training: boolean, momentum: number, eps: number): void;
  batchNormBackward(gradOut: NativeStorage, x: NativeStorage, weight: NativeStorage | null, saveMean: NativeStorage,
    saveInvStd: NativeStorage, gradIn: NativeStorage, gradWeight: NativeStorage | null, gradBias: NativeStorage | null, dtype: number,
    N: number, C: number, HW: number): void;
  dropout(x: NativeStorage, out: NativeStorage, mask: NativeStorage, dtype: number, n: number, p: number, seed: number, offset: number): void;
  dropoutBackward(gradOut: NativeStorage, mask: NativeStorage, gradIn: NativeStorage, dtype: number, n: number, p: number): void;
}

/**
 * The addon `npm install` built, or with HAYATE_CUDA_EMULATOR=1 the test flavour whose CUDA
 * device is emulated on the CPU (`npm run build:emu`; HAYATE_EMULATOR_ASAN=1: its
 * AddressSanitizer build, `npm run build:asan`).
 */
function loadAddon(): NativeBinding {
  if (process.env.HAYATE_CUDA_EMULATOR === '1') {
    const dir = process.env.HAYATE_EMULATOR_ASAN === '1' ? 'build-asan' : 'build-emu';
    const file = path.join(__dirname, '..', '..', dir, 'Release', 'hayate.node');
    try {
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      return require(file) as NativeBinding;
    } catch (e) {
      throw new Error(`HAYATE_CUDA_EMULATOR=1: cannot load the emulated addon ${file} (build it with npm run build:emu): ${(e as Error).message}`);
    }
  }
  return bindings('hayate') as NativeBinding;
}

export const native: NativeBinding = loadAddon();
