// Host<->device copy bandwidth: the floor under every data-loading figure. Without CUDA it
// measures the host-to-host copy (clone) instead, so a CPU machine still gets a labelled baseline.
//
// Case names are shared with bench/peers/copy.py: '<direction> <size> <host memory> <mode>'.
// For h2d the host memory is the source's; for d2h it is the destination's, which
// to('cpu', {nonBlocking: true}) allocates pinned (as PyTorch does), and to('cpu') pageable.
// Every GPU iteration ends with hy.cuda.synchronize(), so a nonBlocking figure counts the copy
// itself, not only its enqueue. Allocation of the output is timed too, as in PyTorch's .to():
// both come from caching allocators, warm after the first iterations.
import * as hy from '../lib/index';
import type { Tensor } from '../lib/index';
import { BenchCase, BenchRow, measureCases } from './harness';

/** Copies are not registered ops (they have their own binding entry), so no op is covered here. */
export const covers: string[] = [];

const MiB = 1024 * 1024;
const SIZES = [64 * MiB, 1 * MiB];

function sizeLabel(bytes: number): string {
  return `${bytes / MiB}MiB`;
}

/** Runs make() and disposes what it returned, so iterations do not pile up memory. */
function timed(make: () => Tensor): () => void {
  return () => {
    const out = make();
    hy.cuda.synchronize();
    out.dispose();
  };
}

function gpuCases(bytes: number, keep: Tensor[]): BenchCase[] {
  const size = sizeLabel(bytes);
  const pageable = hy.rand([bytes / 4]);
  const pinned = pageable.pinMemory();
  const onDevice = pageable.to('cuda');
  keep.push(pageable, pinned, onDevice);
  return [
    { case: `h2d ${size} pageable blocking`, bytes, fn: timed(() => pageable.to('cuda')) },
    { case: `h2d ${size} pageable nonBlocking`, bytes, fn: timed(() => pageable.to('cuda', { nonBlocking: true })) },
    { case: `h2d ${size} pinned blocking`, bytes, fn: timed(() => pinned.to('cuda')) },
    { case: `h2d ${size} pinned nonBlocking`, bytes, fn: timed(() => pinned.to('cuda', { nonBlocking: true })) },
    { case: `d2h ${size} pageable blocking`, bytes, fn: timed(() => onDevice.to('cpu')) },
    { case: `d2h ${size} pinned nonBlocking`, bytes, fn: timed(() => onDevice.to('cpu', { nonBlocking: true })) },
  ];
}

function cpuCases(bytes: number, keep: Tensor[]): BenchCase[] {
  const size = sizeLabel(bytes);
  const pageable = hy.rand([bytes / 4]);
  // Without CUDA pinMemory() gives ordinary memory; the case says so rather than pretend.
  const pinned = pageable.pinMemory();
  keep.push(pageable, pinned);
  const pinnedLabel = pinned.isPinned ? 'pinned' : 'pinned(=pageable, no CUDA)';
  return [
    { case: `h2h ${size} pageable clone`, bytes, fn: () => pageable.clone().dispose() },
    { case: `h2h ${size} ${pinnedLabel} clone`, bytes, fn: () => pinned.clone().dispose() },
  ];
}

export async function run(): Promise<BenchRow[]> {
  const keep: Tensor[] = [];
  try {
    const cuda = hy.cuda.isAvailable();
    const cases = SIZES.flatMap((bytes) => (cuda ? gpuCases(bytes, keep) : cpuCases(bytes, keep)));
    return await measureCases('copy', cuda ? 'cuda' : 'cpu', cases, { samples: 30, budgetMs: 1000 });
  } finally {
    for (const t of keep) t.dispose();
  }
}
