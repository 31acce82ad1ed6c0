// hy.cuda: availability, synchronisation, timing events and graphs (cuda_graph.ts).
import { native } from './native';
import { cudaState } from './tensor';

export { CUDAGraph, isCapturing } from './cuda_graph';

/**
 * True when a CUDA device is present and usable.
 *
 * @example
 * ```ts
 * const device = hy.cuda.isAvailable() ? 'cuda' : 'cpu';
 * const x = hy.randn([64, 784], { device });
 * ```
 */
export function isAvailable(): boolean {
  return cudaState().available;
}

/**
 * Blocks until every queued kernel and copy has finished.
 *
 * @example
 * ```ts
 * const a = hy.randn([4096, 4096], { device: 'cuda' });
 * const t0 = performance.now();
 * hy.matmul(a, a).dispose();
 * hy.cuda.synchronize(); // the product has been computed: performance.now() - t0 is its time
 * ```
 */
export function synchronize(): void {
  native.synchronize();
}

// Events nobody destroyed are released when collected.
const released = new FinalizationRegistry<number>((id) => {
  try {
    native.eventDestroy(id);
  } catch {
    // the addon is shutting down
  }
});

/**
 * A timing event on the compute stream, as torch.cuda.Event(enable_timing=True): `record()` marks
 * the point in the stream, `elapsedTime(end)` gives the milliseconds between two recorded events.
 *
 * @example
 * ```ts
 * const a = hy.randn([4096, 4096], { device: 'cuda' });
 * const start = new hy.cuda.Event(), end = new hy.cuda.Event();
 * start.record(); hy.matmul(a, a).dispose(); end.record();
 * console.log(`${start.elapsedTime(end).toFixed(3)} ms`);
 * ```
 */
export class Event {
  private id = 0;

  /**
   * Marks this point of the compute stream (re-recording replaces the mark).
   *
   * @example
   * ```ts
   * const start = new hy.cuda.Event();
   * start.record(); // work queued from here on comes after the mark
   * ```
   */
  record(): void {
    const id = native.eventRecord();
    this.release();
    this.id = id;
    released.register(this, id, this);
  }

  /**
   * Blocks until the stream has passed the mark.
   *
   * @example
   * ```ts
   * const done = new hy.cuda.Event();
   * done.record();
   * done.synchronize(); // everything queued before record() has finished
   * ```
   */
  synchronize(): void {
    native.eventSynchronize(this.recorded('synchronize'));
  }

  /**
   * Milliseconds from this event to `end`; waits for both.
   *
   * @example
   * ```ts
   * const start = new hy.cuda.Event(), end = new hy.cuda.Event();
   * start.record(); hy.randn([1024, 1024], { device: 'cuda' }).dispose(); end.record();
   * const ms = start.elapsedTime(end);
   * ```
   */
  elapsedTime(end: Event): number {
    if (!(end instanceof Event)) throw new TypeError(`cuda.Event.elapsedTime: end must be a cuda.Event, got ${typeof end}`);
    return native.eventElapsed(this.recorded('elapsedTime'), end.recorded('elapsedTime'));
  }

  /**
   * Releases the native event now.
   *
   * @example
   * ```ts
   * const e = new hy.cuda.Event();
   * e.record();
   * e.dispose(); // without it, the event is released once collected
   * ```
   */
  dispose(): void {
    this.release();
  }

  private recorded(op: string): number {
    if (this.id === 0) throw new RangeError(`cuda.Event.${op}: the event must be recorded first`);
    return this.id;
  }

  private release(): void {
    if (this.id === 0) return;
    released.unregister(this);
    native.eventDestroy(this.id);
    this.id = 0;
  }
}
