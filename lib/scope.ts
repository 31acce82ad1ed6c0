// tidy(): tensors created inside a scope are disposed when it ends, except those it returns.
import { describe } from './errors';
import type { Tensor } from './tensor';

const scopes: Set<Tensor>[] = [];

/** Called by every new tensor. */
export function track(t: Tensor): void {
  const top = scopes[scopes.length - 1];
  if (top !== undefined) top.add(t);
}

/**
 * Keeps a tensor alive past the tidy() scopes that hold it.
 *
 * @example
 * ```ts
 * let x!: hy.Tensor;
 * const total = hy.tidy(() => hy.sum(hy.exp((x = hy.keep(hy.randn([3]))))));
 * // total and x outlive the scope; the hy.exp(x) in between was disposed
 * ```
 */
export function keep<T extends Tensor>(t: T): T {
  // The check is loaded at call time: tensor.ts imports this module, so a top-level import would see it half-loaded.
  if (!validateModule().isTensorValue(t)) throw new TypeError(`keep: tensor must be a Tensor, got ${describe(t)}`);
  for (const s of scopes) s.delete(t);
  return t;
}

let validateExports: typeof import('./validate') | undefined;
function validateModule(): typeof import('./validate') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (validateExports ??= require('./validate') as typeof import('./validate'));
}

/**
 * Finds the tensors in what a tidy() returned: in arrays, Sets, Maps (keys and values) and the own
 * enumerable properties of any other object (plain, null-prototype, class instances), at any depth
 * (an explicit stack: a deep structure does not overflow the call stack). Binary data (typed
 * arrays, ArrayBuffers) holds no tensors and is not walked element by element.
 */
function collect(root: unknown, into: Set<Tensor>, isTensor: (v: unknown) => v is Tensor): void {
  const seen = new Set<unknown>();
  const stack: unknown[] = [root];
  const push = (v: unknown): void => {
    if (v !== null && typeof v === 'object' && !seen.has(v)) stack.push(v);
  };
  while (stack.length > 0) {
    const value = stack.pop()!;
    if (value === null || typeof value !== 'object' || seen.has(value)) continue;
    seen.add(value);
    if (isTensor(value)) {
      into.add(value);
      continue;
    }
    if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer || (typeof SharedArrayBuffer !== 'undefined' && value instanceof SharedArrayBuffer)) continue;
    if (Array.isArray(value)) {
      for (const v of value) push(v);
    } else if (value instanceof Map) {
      for (const [k, v] of value) {
        push(k);
        push(v);
      }
    } else if (value instanceof Set) {
      for (const v of value) push(v);
    } else {
      for (const v of Object.values(value)) push(v);
    }
  }
}

/**
 * @internal Runs fn and returns the tensors it created (those still in the scope: keep() takes a
 * tensor out), left alive and handed to the enclosing tidy() scope as if made there.
 */
export function createdDuring<T>(fn: () => T): { result: T; created: Set<Tensor> } {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  try {
    return { result: fn(), created: scope };
  } finally {
    scopes.pop();
    const parent = scopes[scopes.length - 1];
    if (parent !== undefined) for (const t of scope) parent.add(t);
  }
}

export function runScoped<T>(fn: () => T, isTensor: (v: unknown) => v is Tensor): T {
  if (typeof fn !== 'function') throw new TypeError(`tidy: expected a function, got ${typeof fn}`);
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    scopes.pop();
    for (const t of scope) t.dispose();
    throw e;
  }
  scopes.pop();
  const kept = new Set<Tensor>();
  if (result instanceof Promise) {
    for (const t of scope) t.dispose();
    throw new TypeError('tidy: the function returned a Promise; tidy() is synchronous — dispose tensors in async code yourself');
  }
  try {
    collect(result, kept, isTensor);
  } catch (e) {
    // The result cannot be walked (a getter or a Proxy trap threw): free the scope, as when fn throws.
    for (const t of scope) t.dispose();
    throw e;
  }
  for (const t of scope) if (!kept.has(t)) t.dispose();
  const parent = scopes[scopes.length - 1];
  if (parent !== undefined) for (const t of kept) if (scope.has(t)) parent.add(t);
  return result;
}
