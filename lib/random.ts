// The global generator: a seed and an offset into the Philox counter space. Every random tensor
// consumes ceil(n / 4) counter blocks, so a seed gives the same values on every backend.
import { describe } from './errors';

export const DEFAULT_SEED = 67280421310721;

let seed = DEFAULT_SEED;
let offset = 0;

/** An integer from 0 to 2^53 - 1 (a seed, an offset), or the TypeError / RangeError naming op and name. */
function counterArg(op: string, name: string, v: unknown): number {
  if (typeof v !== 'number') throw new TypeError(`${op}: ${name} must be a number, got ${describe(v)}`);
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`${op}: ${name} must be an integer from 0 to 2^53 - 1, got ${describe(v)}`);
  return v;
}

/**
 * Seeds the generator (an integer from 0 to 2^53 - 1) and returns the seed.
 *
 * @example
 * ```ts
 * hy.manualSeed(0);
 * const a = hy.rand([3]);
 * hy.manualSeed(0);
 * const b = hy.rand([3]); // the same values as a, on every backend
 * ```
 */
export function manualSeed(n: number): number {
  seed = counterArg('manualSeed', 'seed', n);
  offset = 0;
  return n;
}

/**
 * Seeds the generator from the clock and returns the seed it chose.
 *
 * @example
 * ```ts
 * const seed = hy.seedFromTime();
 * console.log(`seed ${seed}`); // hy.manualSeed(seed) replays the run
 * ```
 */
export function seedFromTime(): number {
  return manualSeed(Math.floor(Date.now() * 1000 + Math.random() * 1000) % Number.MAX_SAFE_INTEGER);
}

/**
 * The seed the generator was last seeded with (by manualSeed, seedFromTime or setGeneratorState).
 *
 * @example
 * ```ts
 * hy.manualSeed(42);
 * hy.initialSeed(); // 42
 * ```
 */
export function initialSeed(): number {
  return seed;
}

/**
 * The dropout counter of the CUDA graph being captured: dropouts read {seed, base} from it when they
 * run and draw at base + their offset inside the graph; `used` counts the graph's counter blocks.
 */
interface GraphDraws {
  counter: unknown;
  used: number;
}
let graphDraws: GraphDraws | null = null;

/** @internal A CUDA-graph capture starts: dropouts draw relative to counter until endGraphDraws. */
export function beginGraphDraws(counter: unknown): void {
  graphDraws = { counter, used: 0 };
}

/** @internal The capture ended: returns the counter blocks one replay consumes. */
export function endGraphDraws(): number {
  const used = graphDraws?.used ?? 0;
  graphDraws = null;
  return used;
}

/** @internal Reserves the counter range of one replay: [seed, base] to write into its counter. */
export function takeReplayCounters(used: number): [number, number] {
  const start = offset;
  offset += used;
  if (offset > Number.MAX_SAFE_INTEGER) offset = 0;
  return [seed, start];
}

/**
 * Reserves the counter range for n values and returns [seed, offset] to generate them. Refused
 * during a CUDA-graph capture: the numbers would be baked into the graph and repeat on every replay.
 */
export function takeCounters(n: number, op = 'a random op'): [number, number] {
  if (graphDraws !== null) {
    throw new Error(`${op}: random numbers drawn while a CUDA graph is being captured would be the same on every replay; ` +
      'draw them before capture() (dropout is the graph-safe exception)');
  }
  const start = offset;
  offset += Math.ceil(n / 4);
  if (offset > Number.MAX_SAFE_INTEGER) offset = 0;
  return [seed, start];
}

/**
 * @internal Counters for one dropout: eager, [seed, offset, null]; while a CUDA graph is captured,
 * [0, the offset inside the graph, its counter], which each replay fills before it runs.
 */
export function takeDropoutCounters(n: number): [number, number, unknown] {
  if (graphDraws === null) return [...takeCounters(n), null];
  const start = graphDraws.used;
  graphDraws.used += Math.ceil(n / 4);
  return [0, start, graphDraws.counter];
}

/**
 * The generator's state: its seed and its offset into the counter space (see setGeneratorState).
 *
 * @example
 * ```ts
 * const state = hy.getGeneratorState();
 * const a = hy.rand([4]);
 * hy.setGeneratorState(state);
 * const b = hy.rand([4]); // the same values as a
 * ```
 */
export function getGeneratorState(): { seed: number; offset: number } {
  return { seed, offset };
}

/**
 * Restores a state from getGeneratorState(); the whole state is checked before anything changes.
 *
 * @example
 * ```ts
 * const state = hy.getGeneratorState();
 * const a = hy.randn([2, 2]);
 * hy.setGeneratorState(state);
 * const b = hy.randn([2, 2]); // the same values as a
 * ```
 */
export function setGeneratorState(state: { seed: number; offset: number }): void {
  const op = 'setGeneratorState';
  if (state === null || typeof state !== 'object') throw new TypeError(`${op}: state must be an object {seed, offset}, got ${describe(state)}`);
  const s = counterArg(op, 'seed', state.seed);
  const o = counterArg(op, 'offset', state.offset);
  seed = s;
  offset = o;
}
