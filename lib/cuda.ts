// hy.cuda: availability, synchronisation and timing events.
import { native } from './native';
import { cudaState } from './tensor';

export function isAvailable(): boolean {
  return cudaState().available;
}

/** Blocks until every queued kernel and copy has finished. */
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
 */
export class Event {
  private id = 0;

  /** Marks this point of the compute stream (re-recording replaces the mark). */
  record(): void {
    const id = native.eventRecord();
    this.release();
    this.id = id;
    released.register(this, id, this);
  }

  /** Blocks until the stream has passed the mark. */
  synchronize(): void {
    native.eventSynchronize(this.recorded('synchronize'));
  }

  /** Milliseconds from this event to `end`; waits for both. */
  elapsedTime(end: Event): number {
    if (!(end instanceof Event)) throw new TypeError(`cuda.Event.elapsedTime: end must be a cuda.Event, got ${typeof end}`);
    return native.eventElapsed(this.recorded('elapsedTime'), end.recorded('elapsedTime'));
  }

  /** Releases the native event now. */
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
