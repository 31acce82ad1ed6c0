// hy.cpu: the CPU device's queue. CPU ops run in order on native threads, so JavaScript returns at
// once; reads wait for the queue to reach them.
import { native } from './native';

/**
 * Resolves once every CPU op enqueued so far has run, without blocking the event loop; rejects with
 * the first error a queued op raised (as hy.cuda.synchronize() throws a kernel's error).
 */
export function synchronize(): Promise<void> {
  return native.cpuSynchronizeAsync();
}

/** As synchronize(), blocking the calling thread. */
export function synchronizeSync(): void {
  native.cpuSynchronize();
}
