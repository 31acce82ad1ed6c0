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

/** Live, reserved and peak bytes, allocation and cache-hit counts of one allocator. */
export function stats(device: MemoryPool | 'cuda:0' = 'cpu'): MemoryStats {
  return native.memoryStats(checkPool('memory.stats', device));
}

function pools(): MemoryPool[] {
  const info = native.info();
  return info.available ? ['cpu', 'cuda', 'pinned'] : ['cpu'];
}

/** Gives cached, unused memory back to the system (all allocators when no device is named). */
export function emptyCache(device?: MemoryPool | 'cuda:0'): void {
  for (const p of device === undefined ? pools() : [checkPool('memory.emptyCache', device)]) native.emptyCache(p);
}

/** Resets the peak figures to the current ones. */
export function resetPeakStats(device: MemoryPool | 'cuda:0' = 'cpu'): void {
  native.resetPeakStats(checkPool('memory.resetPeakStats', device));
}

/** Caps the bytes an allocator may reserve (0 removes the cap); past it, allocations raise OutOfMemoryError. */
export function setLimit(device: MemoryPool | 'cuda:0', bytes: number): void {
  native.setMemoryLimit(checkPool('memory.setLimit', device), bytes);
}
