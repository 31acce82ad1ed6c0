import { describe } from './errors';

export type DType = 'float32' | 'float16' | 'int32';
export type Device = 'cpu' | 'cuda';

export const DTYPES: readonly DType[] = ['float32', 'float16', 'int32'];

/** The binding's numeric code for each dtype. */
export const DTYPE_CODE: Record<DType, number> = { float32: 0, float16: 1, int32: 2 };
export const DTYPE_BYTES: Record<DType, number> = { float32: 4, float16: 2, int32: 4 };

export function isFloating(d: DType): boolean {
  return d !== 'int32';
}

export function checkDType(op: string, v: unknown): DType {
  if (typeof v !== 'string') throw new TypeError(`${op}: dtype must be one of ${DTYPES.join(', ')}, got ${describe(v)}`);
  if (!(DTYPES as readonly string[]).includes(v)) {
    throw new RangeError(`${op}: dtype must be one of ${DTYPES.join(', ')}, got ${describe(v)}`);
  }
  return v as DType;
}

/** Accepts 'cpu', 'cuda' and 'cuda:0' (one GPU is supported). */
export function checkDevice(op: string, v: unknown): Device {
  if (typeof v !== 'string') throw new TypeError(`${op}: device must be 'cpu' or 'cuda', got ${describe(v)}`);
  if (v === 'cpu' || v === 'cuda') return v;
  if (v === 'cuda:0') return 'cuda';
  throw new RangeError(`${op}: device must be 'cpu', 'cuda' or 'cuda:0', got ${describe(v)}`);
}

export function isDType(v: unknown): v is DType {
  return typeof v === 'string' && (DTYPES as readonly string[]).includes(v);
}
