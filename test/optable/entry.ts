// The shape of one op-table entry (in the spirit of PyTorch's OpInfo) and the helpers the family
// files share. An entry says which public op it calls, which native ops and enum values that
// reaches, how to make inputs at each size, what the float64 oracle gives, how close a dtype must
// come, how the gradient is checked and which bad arguments must fail, and how.
import type { Device, DType, Tensor } from '../../lib/index';
import { roundToHalf } from '../reference/half';

export type FloatDType = 'float32' | 'float16';
export const FLOATS: FloatDType[] = ['float32', 'float16'];

/** The sizes every entry is sampled at; 'edge' asks for the family's edge cases. */
export type SampleSize = 1 | 7 | 33 | 1023 | 'edge';
export const SIZES: SampleSize[] = [1, 7, 33, 1023, 'edge'];

export interface Tol {
  rtol: number;
  atol: number;
}

/** A native op an entry reaches, with the enum values (of that op's enum field) it passes. */
export interface NativeUse {
  op: string;
  values?: string[];
}

/** One tensor argument: its values are rounded to its dtype by the driver before anything sees them. */
export interface InputSpec {
  shape: number[];
  values: number[];
  /** Default: the sample's dtype. */
  dtype?: DType;
  /** Default: true for floating inputs of a differentiable entry. */
  requiresGrad?: boolean;
}

/** One output of the oracle: values in float64 (rounded to the output dtype by the driver). */
export interface Expected {
  shape: number[];
  values: ArrayLike<number>;
  /** Default: the sample's dtype. */
  dtype?: DType;
}

export interface Sample<P> {
  label: string;
  inputs: InputSpec[];
  params: P;
  /** Multiplies the entry's atol for this sample (long sums, long dot products). */
  tolScale?: number;
}

export interface CallContext {
  device: Device;
  dtype: FloatDType;
}

export interface ErrorCase {
  label: string;
  run: () => unknown;
  cls: new (...a: never[]) => Error;
  pattern: RegExp;
  /** The op the message must start with; default the entry's errorName. */
  op?: string;
}

export interface GradSpec<P> {
  /**
   * Gradients of sum(w * out[0]) with respect to each input, in float64 (null for an input that
   * gets none). Inputs and w are the values the device sees.
   */
  oracle(x: number[][], params: P, w: ArrayLike<number>): (ArrayLike<number> | null)[];
  tol: Record<FloatDType, Tol>;
  /**
   * For an analytic oracle: also check it against central differences of the forward oracle,
   * on the samples where that is cheap. Default false (an oracle that already is differences).
   */
  checkOracle?: boolean;
}

export interface OpEntry<P = any> {
  name: string;
  /** The op name its error messages start with. */
  errorName: string;
  native: NativeUse[];
  /** A view sharing its input's storage (squeeze, unsqueeze): no kernel runs, so native is empty. */
  view?: true;
  dtypes: FloatDType[];
  /** The public function and how many positional arguments it takes (for a fuzz driver). */
  fn: (...args: never[]) => unknown;
  fuzzArity: number;
  sample(rng: () => number, size: SampleSize, dtype: FloatDType): Sample<P>[];
  call(inputs: Tensor[], params: P, ctx: CallContext): Tensor | Tensor[];
  oracle(x: number[][], params: P, dtype: FloatDType): Expected | Expected[];
  tol: Record<FloatDType, Tol>;
  /** Absent: not differentiable. */
  grad?: GradSpec<P>;
  errors(device: Device): ErrorCase[];
}

/** Widens a typed entry for the table's array. */
export function entry<P>(e: OpEntry<P>): OpEntry {
  return e as OpEntry;
}

export function roundTo(dtype: DType, v: number): number {
  if (dtype === 'float16') return roundToHalf(Math.fround(v));
  if (dtype === 'float32') return Math.fround(v);
  return v;
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function uniform(rng: () => number, n: number, lo = -1, hi = 1): number[] {
  return Array.from({ length: n }, () => lo + (hi - lo) * rng());
}

/** Values in [lo, hi] with every |v| below `gap` moved to +-gap: away from a kink at 0. */
export function awayFromZero(rng: () => number, n: number, lo: number, hi: number, gap: number): number[] {
  return uniform(rng, n, lo, hi).map((v) => (Math.abs(v) < gap ? (v < 0 ? -gap : gap) : v));
}

/** Integer class indices in [0, classes). */
export function classes(rng: () => number, n: number, count: number): number[] {
  return Array.from({ length: n }, () => Math.floor(rng() * count));
}

export const shapeLabel = (s: readonly number[]): string => `[${s.join(',')}]`;

/** Standard tolerances: forward and gradient, by dtype. */
export const ELEMENTWISE_TOL: Record<FloatDType, Tol> = { float32: { rtol: 1e-5, atol: 2e-6 }, float16: { rtol: 1e-2, atol: 2e-3 } };
export const GRAD_TOL: Record<FloatDType, Tol> = { float32: { rtol: 2e-4, atol: 2e-5 }, float16: { rtol: 3e-2, atol: 1e-2 } };
export const EXACT: Record<FloatDType, Tol> = { float32: { rtol: 0, atol: 0 }, float16: { rtol: 0, atol: 0 } };
