// The global generator: a seed and an offset into the Philox counter space. Every random tensor
// consumes ceil(n / 4) counter blocks, so a seed gives the same values on every backend.
import { describe } from './errors';

export const DEFAULT_SEED = 67280421310721;

let seed = DEFAULT_SEED;
let offset = 0;

/** Seeds the generator (an integer from 0 to 2^53 - 1) and returns the seed. */
export function manualSeed(n: number): number {
  if (typeof n !== 'number') throw new TypeError(`manualSeed: seed must be a number, got ${describe(n)}`);
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new RangeError(`manualSeed: seed must be an integer from 0 to 2^53 - 1, got ${describe(n)}`);
  }
  seed = n;
  offset = 0;
  return n;
}

/** Seeds the generator from the clock and returns the seed it chose. */
export function seedFromTime(): number {
  return manualSeed(Math.floor(Date.now() * 1000 + Math.random() * 1000) % Number.MAX_SAFE_INTEGER);
}

export function initialSeed(): number {
  return seed;
}

/** Reserves the counter range for n values and returns [seed, offset] to generate them. */
export function takeCounters(n: number): [number, number] {
  const start = offset;
  offset += Math.ceil(n / 4);
  if (offset > Number.MAX_SAFE_INTEGER) offset = 0;
  return [seed, start];
}

export function getGeneratorState(): { seed: number; offset: number } {
  return { seed, offset };
}

export function setGeneratorState(state: { seed: number; offset: number }): void {
  manualSeed(state.seed);
  if (!Number.isSafeInteger(state.offset) || state.offset < 0) {
    throw new RangeError(`setGeneratorState: offset must be a non-negative integer, got ${describe(state.offset)}`);
  }
  offset = state.offset;
}
