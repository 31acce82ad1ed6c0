// hy.cuda: availability and synchronisation.
import { native } from './native';
import { cudaState } from './tensor';

export function isAvailable(): boolean {
  return cudaState().available;
}

/** Blocks until every queued kernel and copy has finished. */
export function synchronize(): void {
  native.synchronize();
}
