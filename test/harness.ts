// Test helpers: the backend matrix, named skips, poisoned outputs and tolerances by dtype.
import * as assert from 'uvu/assert';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { suite as uvuSuite, Test } from 'uvu';

import * as hy from '../lib/index';
import type { Device, DType } from '../lib/index';

/** Every test that touches a device runs once per backend; absent backends are skipped by name. */
export const ALL_BACKENDS: Device[] = ['cpu', 'cuda'];
export const presentBackends: Device[] = hy.info().backends;

/**
 * HY_BACKENDS=cuda (a comma list) runs only the named backends' cases of eachBackend; the others
 * are skipped by name. Unset or empty means every backend. Tests that are not per-backend run either way.
 */
export const selectedBackends: Device[] = parseBackends(process.env.HY_BACKENDS);

function parseBackends(value: string | undefined): Device[] {
  const names = (value ?? '')
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
  if (names.length === 0) return [...ALL_BACKENDS];
  for (const n of names) {
    if (!(ALL_BACKENDS as string[]).includes(n)) {
      throw new RangeError(`HY_BACKENDS: unknown backend '${n}' in '${value}' (known: ${ALL_BACKENDS.join(', ')})`);
    }
  }
  return names as Device[];
}

/** Names of every skipped case, printed and counted by the runner. */
export const skipped: string[] = [];

/** In-test skips: the parts of a running case that do not apply here (a kernel for an instruction set
 * this CPU lacks), named like the skipped cases and counted with them by the runner. */
export const partSkips = { count: 0 };
export function skipPart(label: string): void {
  skipped.push(label);
  partSkips.count++;
}

const suiteNames = new WeakMap<Test, string>();

export function suite(name: string): Test {
  const s = uvuSuite(name);
  suiteNames.set(s, name);
  return s;
}

/** Registers fn as one case per backend: "name [cpu]", "name [cuda]". */
export function eachBackend(s: Test, name: string, fn: (device: Device) => void | Promise<void>): void {
  for (const device of ALL_BACKENDS) {
    const caseName = `${name} [${device}]`;
    const why = !selectedBackends.includes(device)
      ? 'deselected by HY_BACKENDS'
      : !presentBackends.includes(device)
        ? `${device} not available`
        : undefined;
    if (why === undefined) {
      s(caseName, () => fn(device));
    } else {
      const suiteName = suiteNames.get(s) ?? '';
      skipped.push(`${suiteName}${suiteName ? ' > ' : ''}${caseName}: ${why}`);
      s.skip(caseName, () => undefined);
    }
  }
}

/** Registers fn as "name [cuda]" alone, for what exists on the GPU only; skipped by name elsewhere. */
export function cudaOnly(s: Test, name: string, fn: () => void | Promise<void>): void {
  const caseName = `${name} [cuda]`;
  const why = !selectedBackends.includes('cuda') ? 'deselected by HY_BACKENDS' : !presentBackends.includes('cuda') ? 'cuda not available' : undefined;
  if (why === undefined) {
    s(caseName, fn);
    return;
  }
  const suiteName = suiteNames.get(s) ?? '';
  skipped.push(`${suiteName}${suiteName ? ' > ' : ''}${caseName}: ${why}`);
  s.skip(caseName, () => undefined);
}

const oracles = new Map<string, unknown>();

/**
 * A float64 oracle computed once and shared by every backend's run of the same case: the key must
 * name everything the result depends on (op, dtype, shapes, seeds). Inputs are seeded, so the cpu
 * and cuda cases of one test ask for the same keys.
 */
export function oracle<T>(key: string, compute: () => T): T {
  if (!oracles.has(key)) oracles.set(key, compute());
  return oracles.get(key) as T;
}

export function tolerance(dtype: DType): { rtol: number; atol: number } {
  return dtype === 'float16' ? { rtol: 1e-2, atol: 1e-3 } : dtype === 'float32' ? { rtol: 1e-5, atol: 1e-6 } : { rtol: 0, atol: 0 };
}

export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: { rtol: number; atol: number }, what = ''): void {
  assert.is(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (Number.isNaN(e)) {
      assert.ok(Number.isNaN(a), `${what}[${i}]: expected NaN, got ${a}`);
      continue;
    }
    if (!Number.isFinite(e)) {
      assert.is(a, e, `${what}[${i}]`);
      continue;
    }
    const err = Math.abs(a - e);
    if (!(err <= tol.atol + tol.rtol * Math.abs(e))) {
      assert.unreachable(`${what}[${i}]: got ${a}, expected ${e} (|diff| ${err} > atol ${tol.atol} + rtol ${tol.rtol}·|expected|)`);
    }
  }
}

/** Asserts fn throws an error of the given class whose message matches. */
export function assertThrows(fn: () => unknown, cls: new (...a: never[]) => Error, pattern: RegExp, what = ''): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  assert.ok(thrown !== undefined, `${what}: expected ${cls.name} matching ${pattern}, nothing was thrown`);
  assert.ok(thrown instanceof cls, `${what}: expected ${cls.name}, got ${(thrown as Error)?.constructor?.name}: ${(thrown as Error)?.message}`);
  assert.match((thrown as Error).message, pattern, what);
}

/** Seeded random numbers for test inputs (independent of the library's generator). */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

export function randomArray(n: number, seed: number, lo = -1, hi = 1): Float64Array {
  const r = rng(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * r();
  return out;
}

// V8's gc(), without --expose-gc on the command line: the flag is set at run time and the function
// read from a fresh context.
setFlagsFromString('--expose-gc');
const runGc = runInNewContext('gc') as () => void;

/**
 * Collects garbage and lets the finalizers run, so that a memory baseline taken next does not
 * include tensors an earlier test dropped without disposing (which a collection during the test
 * would free, moving the baseline under it).
 */
export async function collectGarbage(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    runGc();
    await new Promise((resolve) => setImmediate(resolve));
  }
}
