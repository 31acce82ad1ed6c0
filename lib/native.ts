// The compiled addon and its typed surface. Everything above this file talks to the GPU and the
// CPU backend only through these functions; each one checks its own arguments as well.
import bindings from 'bindings';

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
}

export const native: NativeBinding = bindings('hayate');
