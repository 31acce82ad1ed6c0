// tidy(): tensors created inside a scope are disposed when it ends, except those it returns.
import type { Tensor } from './tensor';

const scopes: Set<Tensor>[] = [];

/** Called by every new tensor. */
export function track(t: Tensor): void {
  const top = scopes[scopes.length - 1];
  if (top !== undefined) top.add(t);
}

/** Keeps a tensor alive past the tidy() scopes that hold it. */
export function keep<T extends Tensor>(t: T): T {
  for (const s of scopes) s.delete(t);
  return t;
}

function collect(value: unknown, into: Set<Tensor>, seen: Set<unknown>, isTensor: (v: unknown) => v is Tensor): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if (isTensor(value)) {
    into.add(value);
    return;
  }
  if (Array.isArray(value)) {
    for (const v of value) collect(v, into, seen, isTensor);
  } else if (value instanceof Map) {
    for (const v of value.values()) collect(v, into, seen, isTensor);
  } else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collect(v, into, seen, isTensor);
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
  collect(result, kept, new Set(), isTensor);
  for (const t of scope) if (!kept.has(t)) t.dispose();
  const parent = scopes[scopes.length - 1];
  if (parent !== undefined) for (const t of kept) if (scope.has(t)) parent.add(t);
  return result;
}
