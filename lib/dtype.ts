
export type DType = 'float32' | 'float16' | 'int32' | 'bool';
export type Device = 'cpu' | 'cuda';

export const DTYPES: readonly DType[] = ['float32', 'float16', 'int32', 'bool'];

export const DTYPE_BYTES: Record<DType, number> = { float32: 4, float16: 2, int32: 4, bool: 1 };

export function isFloating(d: DType): boolean {
  return d === 'float32' || d === 'float16';
}

export { dtypeArg as checkDType, deviceArg as checkDevice } from './validate';

export function isDType(v: unknown): v is DType {
  return typeof v === 'string' && (DTYPES as readonly string[]).includes(v);
}
