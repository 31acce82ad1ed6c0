// hy.memory: the caching allocators' figures and controls. 'cpu' is host memory, 'cuda' device
// memory, 'pinned' page-locked host memory used for fast and asynchronous copies.
import { describe } from './errors';
import { MemoryPool, native, NativeMemoryStats } from './native';

export type MemoryStats = NativeMemoryStats;

function checkPool(op: string, device: unknown): MemoryPool {
  if (device === 'cpu' || device === 'cuda' || device === 'pinned') return device;
  if (device === 'cuda:0') return 'cuda';
  if (typeof device !== 'string') throw new TypeError(`${op}: device must be 'cpu', 'cuda' or 'pinned', got ${describe(device)}`);
  throw new RangeError(`${op}: device must be 'cpu', 'cuda' or 'pinned', got ${describe(device)}`);
}

/**
 * Live, reserved and peak bytes, allocation and cache-hit counts of one allocator.
 *
 * @example
 * ```ts
 * const s = hy.memory.stats('cuda');
 * console.log(`${s.liveBytes} bytes live, ${s.reservedBytes} reserved, peak ${s.peakLiveBytes}`);
 * ```
 */
export function stats(device: MemoryPool | 'cuda:0' = 'cpu'): MemoryStats {
  return native.memoryStats(checkPool('memory.stats', device));
}

function pools(): MemoryPool[] {
  const info = native.info();
  return info.available ? ['cpu', 'cuda', 'pinned'] : ['cpu'];
}

/**
 * Gives cached, unused memory back to the system (all allocators when no device is named).
 *
 * @example
 * ```ts
 * hy.memory.emptyCache('cuda'); // the device allocator only
 * hy.memory.emptyCache(); // every allocator
 * ```
 */
export function emptyCache(device?: MemoryPool | 'cuda:0'): void {
  for (const p of device === undefined ? pools() : [checkPool('memory.emptyCache', device)]) native.emptyCache(p);
}

/**
 * Resets the peak figures to the current ones.
 *
 * @example
 * ```ts
 * hy.memory.resetPeakStats('cuda');
 * const a = hy.randn([1024, 1024], { device: 'cuda' });
 * hy.matmul(a, a).dispose();
 * console.log(hy.memory.stats('cuda').peakLiveBytes); // the peak since the reset
 * ```
 */
export function resetPeakStats(device: MemoryPool | 'cuda:0' = 'cpu'): void {
  native.resetPeakStats(checkPool('memory.resetPeakStats', device));
}

/**
 * Caps the bytes an allocator may reserve (0 removes the cap); past it, allocations raise OutOfMemoryError.
 *
 * @example
 * ```ts
 * hy.memory.setLimit('cuda', 4 * 2 ** 30); // at most 4 GiB of device memory
 * hy.memory.setLimit('cuda', 0); // no cap
 * ```
 */
export function setLimit(device: MemoryPool | 'cuda:0', bytes: number): void {
  native.setMemoryLimit(checkPool('memory.setLimit', device), bytes);
}
