import type { NativeMemoryStats } from './native';

/** Thrown when an allocator stays short of memory after emptying its cache and retrying once. */
export class OutOfMemoryError extends Error {
  code = 'ERR_OUT_OF_MEMORY';
  /** The allocator's figures at the moment of failure. */
  stats!: NativeMemoryStats;
  constructor(message: string) {
    super(message);
    this.name = 'OutOfMemoryError';
  }
}

/** Raised when a disposed tensor is used. */
export class DisposedError extends Error {
  code = 'ERR_TENSOR_DISPOSED';
  constructor(op: string) {
    super(`${op}: the tensor was disposed`);
    this.name = 'DisposedError';
  }
}

/** Describes a value in an error message: short, and never throws. */
export function describe(v: unknown): string {
  if (typeof v === 'string') return `'${v.length > 40 ? v.slice(0, 40) + '...' : v}'`;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint' || v == null) return String(v);
  if (Array.isArray(v)) {
    if (v.length <= 8 && v.every((x) => typeof x === 'number')) return `[${v.join(', ')}]`;
    return `an array of length ${v.length}`;
  }
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name}`;
  if (typeof v === 'function') return 'a function';
  if (typeof v === 'symbol') return 'a symbol';
  return `an object (${Object.prototype.toString.call(v)})`;
}
