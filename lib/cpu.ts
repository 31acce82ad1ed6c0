// hy.cpu: the CPU device's queue. CPU ops run in order on native threads, so JavaScript returns at
// once; reads wait for the queue to reach them.
import { native } from './native';

/**
 * Resolves once every CPU op enqueued so far has run, without blocking the event loop; rejects with
 * the first error a queued op raised (as hy.cuda.synchronize() throws a kernel's error).
 *
 * @example
 * ```ts
 * const y = hy.matmul(hy.randn([1024, 1024]), hy.randn([1024, 1024]));
 * await hy.cpu.synchronize(); // y has been computed; the event loop kept running meanwhile
 * ```
 */
export function synchronize(): Promise<void> {
  return native.cpuSynchronizeAsync();
}

/**
 * As synchronize(), blocking the calling thread.
 *
 * @example
 * ```ts
 * const t0 = performance.now();
 * hy.matmul(hy.randn([1024, 1024]), hy.randn([1024, 1024]));
 * hy.cpu.synchronizeSync(); // performance.now() - t0 now includes the product's computation
 * ```
 */
export function synchronizeSync(): void {
  native.cpuSynchronize();
}
