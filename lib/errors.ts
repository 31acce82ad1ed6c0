import type { NativeMemoryStats } from './native';

/**
 * Thrown when an allocator stays short of memory after emptying its cache and retrying once.
 *
 * @example
 * ```ts
 * hy.memory.setLimit('cuda', 2 ** 30);
 * try { hy.empty([2 ** 29], { device: 'cuda' }); } // 2 GiB of float32
 * catch (e) { if (!(e instanceof hy.OutOfMemoryError)) throw e; console.log(e.stats.limitBytes); }
 * ```
 */
export class OutOfMemoryError extends Error {
  code = 'ERR_OUT_OF_MEMORY';
  /** The allocator's figures at the moment of failure. */
  stats!: NativeMemoryStats;
  constructor(message: string) {
    super(message);
    this.name = 'OutOfMemoryError';
  }
}

/**
 * Raised when a disposed tensor is used.
 *
 * @example
 * ```ts
 * const x = hy.ones([2]);
 * x.dispose();
 * try { x.dataSync(); } catch (e) { console.log(e instanceof hy.DisposedError); } // true
 * ```
 */
export class DisposedError extends Error {
  code = 'ERR_TENSOR_DISPOSED';
  constructor(op: string) {
    super(`${op}: the tensor was disposed`);
    this.name = 'DisposedError';
  }
}

// Intrinsic getters, called on the value: they read internal slots, so no user code runs (a
// getter the value overrides, a Proxy's traps) and they work across realms.
const getter = (proto: object, key: PropertyKey): ((this: unknown) => unknown) | undefined =>
  Object.getOwnPropertyDescriptor(proto, key)?.get as ((this: unknown) => unknown) | undefined;
const typedArrayProto = Object.getPrototypeOf(Uint8Array.prototype) as object;
const bufferByteLength = getter(ArrayBuffer.prototype, 'byteLength')!;
const bufferDetached = getter(ArrayBuffer.prototype, 'detached'); // Node 22+
const typedArrayTag = getter(typedArrayProto, Symbol.toStringTag)!;
const typedArrayBuffer = getter(typedArrayProto, 'buffer')!;
const dataViewBuffer = getter(DataView.prototype, 'buffer')!;

/**
 * True when buf is an ArrayBuffer that was detached (transferred by postMessage or by
 * structuredClone's `transfer`): its views then read as empty. Never throws.
 */
export function isDetachedBuffer(buf: unknown): boolean {
  let bytes: unknown;
  try {
    bytes = bufferByteLength.call(buf); // throws for anything but an ArrayBuffer (a SharedArrayBuffer cannot be detached)
  } catch {
    return false;
  }
  if (bufferDetached !== undefined) return bufferDetached.call(buf) === true;
  if (bytes !== 0) return false;
  try {
    new Uint8Array(buf as ArrayBuffer); // the platform refuses a view over a detached buffer
    return false;
  } catch {
    return true;
  }
}

/** The buffer under a typed array or DataView, read without running user code. */
export function viewBuffer(v: ArrayBufferView): ArrayBufferLike {
  return (typedArrayTag.call(v) === undefined ? dataViewBuffer.call(v) : typedArrayBuffer.call(v)) as ArrayBufferLike;
}

/**
 * Describes a value in an error message: short, and never throws, whatever the value (a revoked
 * Proxy, a Proxy whose traps throw, throwing getters, toString or Symbol.toPrimitive): a step that
 * throws falls back to what `typeof` says, which cannot throw.
 */
export function describe(v: unknown): string {
  try {
    return describeUnchecked(v);
  } catch {
    return typeof v === 'function' ? 'a function' : 'an object';
  }
}

function describeUnchecked(v: unknown): string {
  if (typeof v === 'string') return `'${v.length > 40 ? v.slice(0, 40) + '...' : v}'`;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint' || v == null) return String(v);
  if (typeof v === 'symbol') return 'a symbol';
  if (typeof v === 'function') return 'a function';
  // Proxies are objects here; Array.isArray throws on a revoked one (caught by describe).
  if (Array.isArray(v)) {
    const n = v.length;
    if (n <= 8) {
      const items: string[] = [];
      for (let i = 0; i < n; i++) {
        const x: unknown = v[i];
        if (typeof x !== 'number') return `an array of length ${n}`;
        items.push(String(x));
      }
      return `[${items.join(', ')}]`;
    }
    return `an array of length ${n}`;
  }
  if (ArrayBuffer.isView(v)) {
    // The class from an internal slot, not a `constructor` the value may override.
    const tag = typedArrayTag.call(v);
    const name = typeof tag === 'string' ? tag : 'DataView';
    return isDetachedBuffer(viewBuffer(v)) ? `a ${name} over a detached ArrayBuffer` : `a ${name}`;
  }
  return `an object (${Object.prototype.toString.call(v)})`;
}
