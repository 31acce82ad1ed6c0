// Printing tensors as PyTorch does (torch/_tensor_str.py, 1.13): one notation for the whole tensor
// (fixed with 4 digits, integer-valued floats as `1.`, or scientific `1.0000e+10`), chosen from the
// largest and smallest magnitudes shown; right-aligned columns; rows wrapped at 80 characters;
// nested brackets indented under `tensor(`; tensors of more than 1000 elements summarised to 3
// items at each edge of every dimension; suffixes for what is not the default (device, dtype,
// size of an empty tensor, requiresGrad / gradFn). Pure functions over a shape, the values in
// row-major order and the tensor's description: testable without tensors.

/** torch.set_printoptions' defaults. */
export interface PrintOptions {
  /** Digits after the point (fixed) or after the first digit (scientific). */
  precision: number;
  /** Tensors with more elements than this are summarised. */
  threshold: number;
  /** Items shown at each edge of a summarised dimension. */
  edgeitems: number;
  /** Characters per line for wrapping the rows of the last dimension (and placing suffixes). */
  linewidth: number;
}

export const PRINT_OPTIONS: Readonly<PrintOptions> = Object.freeze({ precision: 4, threshold: 1000, edgeitems: 3, linewidth: 80 });

/** What printing needs to know about a tensor besides its values. */
export interface TensorDescription {
  shape: readonly number[];
  /** 'float32' (the default, printed without a suffix), 'float16', 'int32', 'bool'. */
  dtype: string;
  /** 'cpu' (printed without a suffix) or 'cuda' (printed as device='cuda:0'). */
  device: string;
  requiresGrad?: boolean;
  /** The name of the autograd node that made the tensor (GradNode.name), or null for a leaf. */
  gradFn?: string | null;
}

/** A tensor's description (structurally: hy.Tensor, without importing it). */
export function describeTensor(t: {
  readonly shape: readonly number[];
  readonly dtype: string;
  readonly device: string;
  readonly requiresGrad: boolean;
  readonly gradFn: { readonly name: string } | null;
}): TensorDescription {
  return { shape: t.shape, dtype: t.dtype, device: t.device, requiresGrad: t.requiresGrad, gradFn: t.gradFn === null ? null : t.gradFn.name };
}

/** The values in row-major order, or a function that reads them (called only when some are shown). */
export type Values = ArrayLike<number> | (() => ArrayLike<number>);

const PREFIX = 'tensor(';

/** The element count of a shape; stops at the first zero, so [2**32, 0] costs nothing. */
export function numelOfShape(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (d === 0) return 0;
    n *= d;
  }
  return n;
}

/** The gradFn suffix's label for an autograd node name: 'mul' -> 'Mul', 'logSoftmax' -> 'LogSoftmax'. */
export function gradFnLabel(name: string): string {
  return name.length === 0 ? name : name[0].toUpperCase() + name.slice(1);
}

/** How a dtype's values print: floats in torch's notations, integers as they are, bools as True/False. */
function valueKind(dtype: string): boolean | 'bool' {
  return dtype === 'bool' ? 'bool' : dtype !== 'int32';
}

/** The printed form: `tensor([...], <suffixes>)`. Reads the values only when the tensor is non-empty. */
export function formatTensor(desc: TensorDescription, values: Values, options: Partial<PrintOptions> = {}): string {
  const o: PrintOptions = { ...PRINT_OPTIONS, ...options };
  const indent = PREFIX.length;
  const suffixes: string[] = [];
  if (desc.device !== 'cpu') suffixes.push(`device='${desc.device === 'cuda' ? 'cuda:0' : desc.device}'`);
  let body: string;
  if (numelOfShape(desc.shape) === 0) {
    // As NumPy and PyTorch: the shape is shown unless it is [0]; no values are read.
    if (desc.shape.length !== 1) suffixes.push(`size=[${desc.shape.join(', ')}]`);
    if (desc.dtype !== 'float32') suffixes.push(`dtype=${desc.dtype}`);
    body = '[]';
  } else {
    if (desc.dtype !== 'float32' && desc.dtype !== 'bool') suffixes.push(`dtype=${desc.dtype}`);
    body = formatValues(desc.shape, typeof values === 'function' ? values() : values, valueKind(desc.dtype), indent, o);
  }
  if (desc.gradFn !== undefined && desc.gradFn !== null) suffixes.push(`gradFn=<${gradFnLabel(desc.gradFn)}>`);
  else if (desc.requiresGrad === true) suffixes.push('requiresGrad=true');
  return addSuffixes(PREFIX + body, suffixes, indent, o.linewidth);
}

/** torch's _add_suffixes: `, suffix` on the last line while it fits in linewidth, else on a new line under the values. */
function addSuffixes(tensorStr: string, suffixes: string[], indent: number, linewidth: number): string {
  let out = tensorStr;
  let lastLineLen = tensorStr.length - tensorStr.lastIndexOf('\n') + 1;
  for (const suffix of suffixes) {
    if (lastLineLen + suffix.length + 2 > linewidth) {
      out += ',\n' + ' '.repeat(indent) + suffix;
      lastLineLen = indent + suffix.length;
    } else {
      out += ', ' + suffix;
      lastLineLen += suffix.length + 2;
    }
  }
  return out + ')';
}

/**
 * The bracketed values of a non-empty tensor (torch's _tensor_str): `indent` is the column the
 * opening bracket is at. A 0-d tensor gives the bare number.
 */
export function formatValues(
  shape: readonly number[],
  values: ArrayLike<number>,
  floating: boolean | 'bool',
  indent = PREFIX.length,
  options: Partial<PrintOptions> = {},
): string {
  const o: PrintOptions = { ...PRINT_OPTIONS, ...options };
  const ndim = shape.length;
  const numel = numelOfShape(shape);
  if (numel === 0) return '[]';
  if (values.length < numel) throw new RangeError(`formatValues: shape [${shape.join(', ')}] needs ${numel} values, got ${values.length}`);
  const summarize = numel > o.threshold;
  const strides = new Array<number>(ndim);
  for (let d = ndim - 1, s = 1; d >= 0; d--) {
    strides[d] = s;
    s *= shape[d];
  }
  // The indices shown along one dimension; -1 marks the `...` of a summarised one.
  const shown = (size: number): number[] => {
    const e = o.edgeitems;
    if (summarize && size > 2 * e) {
      const idx: number[] = [];
      for (let i = 0; i < e; i++) idx.push(i);
      idx.push(-1);
      for (let i = size - e; i < size; i++) idx.push(i);
      return idx;
    }
    return Array.from({ length: size }, (_, i) => i);
  };
  const shownByDim = shape.map(shown);
  // The formatter sees only the values that are printed (torch's get_summarized_data).
  const printed: number[] = [];
  const collect = (dim: number, offset: number): void => {
    if (dim === ndim) {
      printed.push(values[offset]);
      return;
    }
    for (const i of shownByDim[dim]) if (i >= 0) collect(dim + 1, offset + i * strides[dim]);
  };
  collect(0, 0);
  const fmt = new Formatter(printed, floating, o.precision);

  const render = (dim: number, offset: number, ind: number): string => {
    if (dim === ndim) return fmt.format(values[offset]);
    if (dim === ndim - 1) {
      const items = shownByDim[dim].map((i) => (i < 0 ? ' ...' : fmt.format(values[offset + i])));
      const perLine = Math.max(1, Math.floor((o.linewidth - ind) / (fmt.width + 2)));
      const lines: string[] = [];
      for (let i = 0; i < items.length; i += perLine) lines.push(items.slice(i, i + perLine).join(', '));
      return '[' + lines.join(',\n' + ' '.repeat(ind + 1)) + ']';
    }
    const slices = shownByDim[dim].map((i) => (i < 0 ? '...' : render(dim + 1, offset + i * strides[dim], ind + 1)));
    return '[' + slices.join(',' + '\n'.repeat(ndim - dim - 1) + ' '.repeat(ind + 1)) + ']';
  };
  return render(0, 0, indent);
}

/** torch's _Formatter: one notation and one width for every value printed. */
export class Formatter {
  intMode = true;
  sciMode = false;
  width = 1;

  constructor(values: ArrayLike<number>, readonly floating: boolean | 'bool', readonly precision = PRINT_OPTIONS.precision) {
    if (floating === 'bool') {
      for (let i = 0; i < values.length; i++) this.width = Math.max(this.width, values[i] ? 4 : 5);
      return;
    }
    if (!floating) {
      for (let i = 0; i < values.length; i++) this.width = Math.max(this.width, String(values[i]).length);
      return;
    }
    const vals: number[] = [];
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (Number.isFinite(v) && v !== 0) vals.push(v);
    }
    if (vals.length === 0) return;
    let min = Infinity;
    let max = 0;
    for (const v of vals) {
      const a = Math.abs(v);
      if (a < min) min = a;
      if (a > max) max = a;
      if (!Number.isInteger(v)) this.intMode = false;
    }
    const wide = max / min > 1000 || max > 1e8;
    if (this.intMode) {
      if (wide) {
        this.sciMode = true;
        for (const v of vals) this.width = Math.max(this.width, pyExponential(v, precision).length);
      } else {
        for (const v of vals) this.width = Math.max(this.width, pyFixed(v, 0).length + 1);
      }
    } else if (wide || min < 1e-4) {
      this.sciMode = true;
      for (const v of vals) this.width = Math.max(this.width, pyExponential(v, precision).length);
    } else {
      for (const v of vals) this.width = Math.max(this.width, pyFixed(v, precision).length);
    }
  }

  /** One value, right-aligned to the common width. */
  format(v: number): string {
    let s: string;
    if (this.floating === 'bool') s = v ? 'True' : 'False';
    else if (!this.floating) s = String(v);
    else if (this.sciMode) s = pyExponential(v, this.precision);
    else if (this.intMode) s = pyFixed(v, 0) + (Number.isFinite(v) ? '.' : '');
    else s = pyFixed(v, this.precision);
    return s.length < this.width ? ' '.repeat(this.width - s.length) + s : s;
  }
}

function nonFinite(v: number): string | undefined {
  if (Number.isNaN(v)) return 'nan';
  if (v === Infinity) return 'inf';
  if (v === -Infinity) return '-inf';
  return undefined;
}

/** Python's `'{:.<p>f}'.format(v)`: exact, ties to even, `-0.0000` for negative zero, `nan`, `inf`. */
export function pyFixed(v: number, precision: number): string {
  const special = nonFinite(v);
  if (special !== undefined) return special;
  const sign = v < 0 || Object.is(v, -0) ? '-' : '';
  const a = Math.abs(v);
  if (a >= 1e21) return sign + BigInt(a).toString() + (precision > 0 ? '.' + '0'.repeat(precision) : '');
  let s = a.toFixed(precision);
  // toFixed rounds an exact half away from zero, Python to even: only a value whose exact decimal
  // expansion ends one digit further, in a 5, is a tie.
  const longer = a.toFixed(precision + 1);
  if (longer.endsWith('5') && isExactly(a, longer)) {
    const truncated = precision === 0 ? longer.slice(0, -2) : longer.slice(0, -1);
    if (Number(truncated[truncated.length - 1]) % 2 === 0) s = truncated;
  }
  return sign + s;
}

/** Python's `'{:.<p>e}'.format(v)`: `1.0000e+10`, `1.0000e-05` (two exponent digits at least), ties to even. */
export function pyExponential(v: number, precision: number): string {
  const special = nonFinite(v);
  if (special !== undefined) return special;
  const sign = v < 0 || Object.is(v, -0) ? '-' : '';
  const a = Math.abs(v);
  let s = a.toExponential(precision);
  const longer = a.toExponential(precision + 1);
  const [longMantissa, longExp] = longer.split('e');
  if (longMantissa.endsWith('5') && isExactly(a, longer)) {
    const truncated = precision === 0 ? longMantissa.slice(0, -2) : longMantissa.slice(0, -1);
    if (Number(truncated[truncated.length - 1]) % 2 === 0) s = `${truncated}e${longExp}`;
  }
  const [mantissa, exp] = s.split('e');
  const expSign = exp[0] === '-' ? '-' : '+';
  return `${sign}${mantissa}e${expSign}${exp.replace(/^[+-]/, '').padStart(2, '0')}`;
}

/** True when the decimal string (fixed or exponential, non-negative) is exactly the double a. */
function isExactly(a: number, decimal: string): boolean {
  if (Number(decimal) !== a) return false;
  const [mant, expPart] = decimal.split('e');
  const point = mant.indexOf('.');
  const digits = point < 0 ? mant : mant.slice(0, point) + mant.slice(point + 1);
  const exp10 = (expPart === undefined ? 0 : Number(expPart)) - (point < 0 ? 0 : mant.length - point - 1);
  // a = m * 2^q exactly.
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, a);
  const bits = view.getBigUint64(0);
  const biased = Number((bits >> 52n) & 0x7ffn);
  const frac = bits & ((1n << 52n) - 1n);
  const m = biased === 0 ? frac : frac | (1n << 52n);
  const q = biased === 0 ? -1074 : biased - 1075;
  // digits * 10^exp10 == m * 2^q, cross-multiplied into integers.
  const lhsNum = BigInt(digits) * (exp10 >= 0 ? 10n ** BigInt(exp10) : 1n);
  const lhsDen = exp10 < 0 ? 10n ** BigInt(-exp10) : 1n;
  const rhsNum = m * (q >= 0 ? 1n << BigInt(q) : 1n);
  const rhsDen = q < 0 ? 1n << BigInt(-q) : 1n;
  return lhsNum * rhsDen === rhsNum * lhsDen;
}

/** What toJSON returns for a tensor too large to list: its description and its printed form. */
export interface TensorSummaryJSON {
  shape: number[];
  dtype: string;
  device: string;
  summary: string;
}

/**
 * The JSON form: nested arrays of the values (a bare number for a 0-d tensor) when the tensor has
 * at most `threshold` elements, else the summary object; so is an empty tensor whose nested form
 * would need more than `threshold` arrays (shape [2**32, 0] would need 2**32 of them).
 */
export function tensorJSON(desc: TensorDescription, values: Values, options: Partial<PrintOptions> = {}): number | unknown[] | TensorSummaryJSON {
  const o: PrintOptions = { ...PRINT_OPTIONS, ...options };
  const numel = numelOfShape(desc.shape);
  if (numel > o.threshold || (numel === 0 && emptyArrays(desc.shape, o.threshold) > o.threshold)) {
    return { shape: desc.shape.slice(), dtype: desc.dtype, device: desc.device, summary: formatTensor(desc, values, o) };
  }
  const flat = numel === 0 ? [] : typeof values === 'function' ? values() : values;
  return nested(desc.shape, flat);
}

/** How many arrays the nested form of an empty tensor has, counting no further than past `limit`. */
function emptyArrays(shape: readonly number[], limit: number): number {
  let arrays = 0;
  let level = 1;
  for (const d of shape) {
    arrays += level;
    level *= d;
    if (arrays > limit || level === 0) break;
  }
  return arrays;
}

/** Nested arrays of plain numbers from row-major values. */
export function nested(shape: readonly number[], values: ArrayLike<number>): number | unknown[] {
  const ndim = shape.length;
  const build = (dim: number, offset: number, stride: number): number | unknown[] => {
    if (dim === ndim) return values[offset];
    const size = shape[dim];
    const inner = size === 0 ? 0 : stride / size;
    const out: unknown[] = [];
    for (let i = 0; i < size; i++) out.push(build(dim + 1, offset + i * inner, inner));
    return out;
  };
  return build(0, 0, numelOfShape(shape));
}
