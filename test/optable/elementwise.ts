// Op-table entries of the elementwise family: tensor-tensor arithmetic with broadcasting, the
// forms with a number on either side, pow, and the unary math (GELU in both approximations).
// Oracles: test/reference/ops.ts; gradients analytic for broadcasting arithmetic (the partial
// derivatives summed back over broadcast dimensions) and central differences for the unary ops.
import * as hy from '../../lib/index';
import type { Device, Tensor } from '../../lib/index';
import * as ref from '../reference/ops';
import {
  awayFromZero, ELEMENTWISE_TOL, entry, ErrorCase, FloatDType, FLOATS, GRAD_TOL, numel, OpEntry, Sample, SampleSize, shapeLabel, uniform,
} from './entry';

// ---- tensor-tensor arithmetic ----

interface BinaryParams {
  as: number[];
  bs: number[];
  /** Mixed float16 / float32 operands give float32. */
  outDtype?: FloatDType;
}

type Partials = (a: number, b: number) => [number, number];

/** NumPy's broadcast shape; a size-0 dim broadcasts against 1 to 0 (ref.broadcastShape takes the max). */
export function broadcastShape(as: readonly number[], bs: readonly number[]): number[] {
  const n = Math.max(as.length, bs.length);
  return Array.from({ length: n }, (_, i) => {
    const da = as[as.length - n + i] ?? 1;
    return da === 1 ? (bs[bs.length - n + i] ?? 1) : da;
  });
}

/** ref.binary, with empty outputs handled here. */
export function binaryRef(f: (x: number, y: number) => number, a: ArrayLike<number>, as: number[], b: ArrayLike<number>, bs: number[]): Float64Array {
  return numel(broadcastShape(as, bs)) === 0 ? new Float64Array(0) : ref.binary(f, a, as, b, bs);
}

/** The broadcast operands, element by element, in the output's layout. */
function expand(a: ArrayLike<number>, as: number[], b: ArrayLike<number>, bs: number[]): { shape: number[]; ea: Float64Array; eb: Float64Array } {
  return { shape: broadcastShape(as, bs), ea: binaryRef((x) => x, a, as, b, bs), eb: binaryRef((_, y) => y, a, as, b, bs) };
}

/** Sums a gradient laid out like `outShape` back to an operand of `shape` (the broadcast dims). */
export function reduceToShape(g: Float64Array, outShape: number[], shape: number[]): Float64Array {
  const off = outShape.length - shape.length;
  const dims: number[] = [];
  for (let i = 0; i < outShape.length; i++) if (i < off || (shape[i - off] === 1 && outShape[i] !== 1)) dims.push(i);
  if (dims.length === 0) return g;
  return numel(outShape) === 0 ? new Float64Array(numel(shape)) : ref.sumDims(g, outShape, dims);
}

function binaryGrad(d: Partials) {
  return (x: number[][], p: BinaryParams, w: ArrayLike<number>): Float64Array[] => {
    const { shape, ea, eb } = expand(x[0], p.as, x[1], p.bs);
    const ga = new Float64Array(ea.length);
    const gb = new Float64Array(ea.length);
    for (let i = 0; i < ea.length; i++) {
      const [da, db] = d(ea[i], eb[i]);
      ga[i] = w[i] * da;
      gb[i] = w[i] * db;
    }
    return [reduceToShape(ga, shape, p.as), reduceToShape(gb, shape, p.bs)];
  };
}

const BINARY_SHAPES = (n: number): [number[], number[]][] => [
  [[n], [n]],
  [[n], [1]],
  [[2, n], [n]],
  [[n, 1], [1, 3]],
];

const BINARY_EDGE: [number[], number[]][] = [
  [[3, 1], [1, 4]],
  [[5, 1, 7], [1, 3, 1]],
  [[2, 3, 33], [33]],
  [[], [3]],
  [[3], []],
  [[], []],
  [[4, 1], [4, 6]],
  [[1], [2, 1, 5]],
  [[0, 3], [3]],
  [[2, 0], [1]],
];

function binaryEntry(name: 'add' | 'sub' | 'mul' | 'div', fn: (a: Tensor, b: Tensor) => Tensor, f: (a: number, b: number) => number, d: Partials): OpEntry {
  const operand = (rng: () => number, shape: number[], second: boolean): number[] =>
    name === 'div' && second ? awayFromZero(rng, numel(shape), -2, 2, 0.5) : uniform(rng, numel(shape), -2, 2);
  return entry<BinaryParams>({
    name,
    errorName: name,
    native: [{ op: 'binary', values: [name] }],
    dtypes: FLOATS,
    fn: fn as OpEntry['fn'],
    fuzzArity: 2,
    sample(rng, size, dtype): Sample<BinaryParams>[] {
      const shapes = size === 'edge' ? BINARY_EDGE : BINARY_SHAPES(size);
      const out: Sample<BinaryParams>[] = shapes.map(([as, bs]) => ({
        label: `${shapeLabel(as)} ${name} ${shapeLabel(bs)}`,
        inputs: [{ shape: as, values: operand(rng, as, false) }, { shape: bs, values: operand(rng, bs, true) }],
        params: { as, bs },
      }));
      if (size === 'edge') {
        // mixed dtypes compute in float32, as in PyTorch; the float16 operand's gradient comes back as float16
        const other: FloatDType = dtype === 'float32' ? 'float16' : 'float32';
        out.push({
          label: `${shapeLabel([2, 5])} ${dtype} ${name} ${shapeLabel([5])} ${other}`,
          inputs: [{ shape: [2, 5], values: operand(rng, [2, 5], false) }, { shape: [5], values: operand(rng, [5], true), dtype: other }],
          params: { as: [2, 5], bs: [5], outDtype: 'float32' },
        });
      }
      return out;
    },
    call: ([a, b]) => fn(a, b),
    oracle: (x, p) => ({ shape: broadcastShape(p.as, p.bs), values: binaryRef(f, x[0], p.as, x[1], p.bs), dtype: p.outDtype }),
    tol: ELEMENTWISE_TOL,
    grad: { oracle: binaryGrad(d), tol: GRAD_TOL, checkOracle: true },
    errors: (device) => [
      ...commonErrors(name, device, (x) => fn(x, x)),
      { label: 'shapes that do not broadcast', run: () => fn(hy.ones([2, 3], { device }), hy.ones([4], { device })), cls: RangeError, pattern: /shapes \[2, 3\] and \[4\] cannot be broadcast \(dimension 1: 3 vs 4\)/ },
      { label: 'a string operand', run: () => fn(hy.ones([2], { device }), 'x' as never), cls: TypeError, pattern: /other must be a Tensor, got 'x'/ },
      { label: 'two numbers', run: () => (fn as unknown as (a: number, b: number) => Tensor)(1, 2), cls: TypeError, pattern: /at least one argument must be a Tensor/ },
    ],
  });
}

const INT_ARITHMETIC = new Set(['add', 'sub', 'mul', 'div']);

/** Non-tensor input, int32 and bool inputs and a disposed input: the errors every float op shares. */
export function commonErrors(op: string, device: Device, call: (x: Tensor) => unknown): ErrorCase[] {
  return [
    { label: 'an object where a tensor goes', run: () => call({} as never), cls: TypeError, pattern: new RegExp(`^${op}: \\w+ must be a Tensor, got an object \\(\\[object Object\\]\\)$`) },
    // add, sub, mul and div take int32 (int32 arithmetic, or promotion to float); bool they refuse
    ...(INT_ARITHMETIC.has(op) ? [] : [{ label: 'an int32 tensor', run: () => call(hy.tensor([1, 2], { dtype: 'int32', device })), cls: TypeError, pattern: /must be a float32 or float16 tensor/ }]),
    // sum counts a bool tensor's true elements; every other float op refuses bool
    ...(op === 'sum' ? [] : [{ label: 'a bool tensor', run: () => call(hy.tensor([true, false], { device })), cls: TypeError, pattern: /must be a float32 or float16 tensor .*, got a bool tensor$/ }]),
    {
      label: 'a disposed tensor',
      run: () => {
        const t = hy.ones([2], { device });
        t.dispose();
        return call(t);
      },
      cls: hy.DisposedError,
      pattern: new RegExp(`^${op}: the tensor was disposed$`),
    },
  ];
}

// Tensor-tensor ops: f, and the partial derivatives (df/da, df/db).
const BINARY_ENTRIES: OpEntry[] = [
  binaryEntry('add', hy.add, (a, b) => a + b, () => [1, 1]),
  binaryEntry('sub', hy.sub, (a, b) => a - b, () => [1, -1]),
  binaryEntry('mul', hy.mul, (a, b) => a * b, (a, b) => [b, a]),
  binaryEntry('div', hy.div, (a, b) => a / b, (a, b) => [1 / b, -a / (b * b)]),
];

// ---- a number on either side, and pow ----

interface ScalarParams {
  s: number;
  shape: number[];
}

interface ScalarForm {
  name: string;
  errorName: string;
  native: string;
  fn: (...a: never[]) => unknown;
  call: (x: Tensor, s: number) => Tensor;
  f: (x: number, s: number) => number;
  df: (x: number, s: number) => number;
  /** Input range; divisors and pow bases stay away from zero. */
  input: (rng: () => number, n: number) => number[];
  scalars: number[];
}

const plain = (rng: () => number, n: number): number[] => uniform(rng, n, -2, 2);
const nonZero = (rng: () => number, n: number): number[] => awayFromZero(rng, n, -2, 2, 0.5);
const positive = (rng: () => number, n: number): number[] => uniform(rng, n, 0.5, 2);

const SCALAR_FORMS: ScalarForm[] = [
  { name: 'add(tensor, number)', errorName: 'add', native: 'add', fn: hy.add, call: (x, s) => hy.add(x, s), f: (x, s) => x + s, df: () => 1, input: plain, scalars: [2.5, -0.75, 0, 1000] },
  { name: 'add(number, tensor)', errorName: 'add', native: 'add', fn: hy.add, call: (x, s) => hy.add(s, x), f: (x, s) => s + x, df: () => 1, input: plain, scalars: [2.5, -3] },
  { name: 'sub(tensor, number)', errorName: 'sub', native: 'add', fn: hy.sub, call: (x, s) => hy.sub(x, s), f: (x, s) => x - s, df: () => 1, input: plain, scalars: [2.5, -0.75, 0] },
  { name: 'sub(number, tensor)', errorName: 'sub', native: 'rsub', fn: hy.sub, call: (x, s) => hy.sub(s, x), f: (x, s) => s - x, df: () => -1, input: plain, scalars: [2.5, 0, -1] },
  { name: 'mul(tensor, number)', errorName: 'mul', native: 'mul', fn: hy.mul, call: (x, s) => hy.mul(x, s), f: (x, s) => x * s, df: (_, s) => s, input: plain, scalars: [3, -0.5, 0] },
  { name: 'mul(number, tensor)', errorName: 'mul', native: 'mul', fn: hy.mul, call: (x, s) => hy.mul(s, x), f: (x, s) => s * x, df: (_, s) => s, input: plain, scalars: [3, -2] },
  { name: 'div(tensor, number)', errorName: 'div', native: 'mul', fn: hy.div, call: (x, s) => hy.div(x, s), f: (x, s) => x / s, df: (_, s) => 1 / s, input: plain, scalars: [4, -0.5, 3] },
  { name: 'div(number, tensor)', errorName: 'div', native: 'rdiv', fn: hy.div, call: (x, s) => hy.div(s, x), f: (x, s) => s / x, df: (x, s) => -s / (x * x), input: nonZero, scalars: [2, -1, 0] },
  { name: 'pow', errorName: 'pow', native: 'pow', fn: hy.pow, call: (x, s) => hy.pow(x, s), f: (x, s) => x ** s, df: (x, s) => s * x ** (s - 1), input: positive, scalars: [2, 3, 0.5, -1.5, 0, 1] },
];

function scalarEntry(form: ScalarForm): OpEntry {
  return entry<ScalarParams>({
    name: form.name,
    errorName: form.errorName,
    native: [{ op: 'scalar', values: [form.native] }],
    dtypes: FLOATS,
    fn: form.fn,
    fuzzArity: 2,
    sample(rng, size) {
      if (size !== 'edge') {
        const s = form.scalars[[1, 7, 33, 1023].indexOf(size) % form.scalars.length];
        return [{ label: `[${size}] s=${s}`, inputs: [{ shape: [size], values: form.input(rng, size) }], params: { s, shape: [size] } }];
      }
      const shapes: number[][] = [[], [0], [2, 3, 5]];
      const out: Sample<ScalarParams>[] = [];
      for (const shape of shapes) {
        for (const s of form.scalars) out.push({ label: `${shapeLabel(shape)} s=${s}`, inputs: [{ shape, values: form.input(rng, numel(shape)) }], params: { s, shape } });
      }
      if (form.name === 'pow') {
        // integral exponents of negative bases are real numbers
        for (const s of [2, 3]) out.push({ label: `negative bases s=${s}`, inputs: [{ shape: [7], values: uniform(rng, 7, -2, -0.5) }], params: { s, shape: [7] } });
      }
      return out;
    },
    call: ([x], p) => form.call(x, p.s),
    oracle: (x, p) => ({ shape: p.shape, values: x[0].map((v) => form.f(v, p.s)) }),
    tol: ELEMENTWISE_TOL,
    grad: {
      oracle: (x, p, w) => [x[0].map((v, i) => w[i] * form.df(v, p.s))],
      tol: GRAD_TOL,
      checkOracle: true,
    },
    errors: (device) => [
      ...commonErrors(form.errorName, device, (x) => form.call(x, 2)),
      ...(form.name === 'pow'
        ? [{ label: 'a string exponent', run: () => hy.pow(hy.ones([2], { device }), '2' as never), cls: TypeError, pattern: /^pow: exponent must be a number, got '2'$/ }]
        : []),
    ],
  });
}

// ---- unary ----

interface UnaryParams {
  shape: number[];
}

interface UnaryForm {
  name: string;
  errorName: string;
  native: NativeName[];
  grad: 'unaryGrad' | null;
  fn: (...a: never[]) => unknown;
  call: (x: Tensor) => Tensor;
  f: (v: number) => number;
  lo: number;
  hi: number;
  /** Values away from a kink at 0 (relu). */
  gap?: number;
  /** Infinities, NaN, overflow and domain edges: forward only. */
  specials: number[];
  fuzzArity: number;
  extraErrors?: (device: Device) => ErrorCase[];
}

type NativeName = 'neg' | 'exp' | 'log' | 'erf' | 'relu' | 'gelu' | 'geluTanh' | 'tanh' | 'sigmoid' | 'sqrt' | 'abs';

const F = hy.nn.functional;
const sigmoidRef = (v: number): number => 1 / (1 + Math.exp(-v));

const UNARY_FORMS: UnaryForm[] = [
  { name: 'neg', errorName: 'neg', native: ['neg'], grad: null, fn: hy.neg, call: hy.neg, f: (v) => -v, lo: -3, hi: 3, specials: [Infinity, -Infinity, NaN, 0, 65504], fuzzArity: 1 },
  { name: 'exp', errorName: 'exp', native: ['exp'], grad: null, fn: hy.exp, call: hy.exp, f: Math.exp, lo: -3, hi: 3, specials: [-Infinity, Infinity, NaN, 0, 12, 100, -100], fuzzArity: 1 },
  { name: 'log', errorName: 'log', native: ['log'], grad: null, fn: hy.log, call: hy.log, f: Math.log, lo: 0.1, hi: 5, specials: [0, -1, Infinity, NaN, 1, 1e-4], fuzzArity: 1 },
  { name: 'erf', errorName: 'erf', native: ['erf'], grad: null, fn: hy.erf, call: hy.erf, f: ref.erf, lo: -3, hi: 3, specials: [Infinity, -Infinity, NaN, 10, -10, 0], fuzzArity: 1 },
  { name: 'relu', errorName: 'relu', native: ['relu'], grad: 'unaryGrad', fn: hy.relu, call: hy.relu, f: (v) => Math.max(v, 0), lo: -3, hi: 3, gap: 1e-3, specials: [Infinity, -Infinity, -0, 0, 1e-30], fuzzArity: 1 },
  {
    name: 'gelu', errorName: 'gelu', native: ['gelu'], grad: 'unaryGrad', fn: hy.gelu, call: (x) => F.gelu(x), f: ref.gelu, lo: -6, hi: 6,
    specials: [10, -10, 30, -30, 0, Infinity, NaN], fuzzArity: 2,
    extraErrors: (device) => [
      { label: "approximate 'fast'", run: () => F.gelu(hy.ones([2], { device }), { approximate: 'fast' as never }), cls: RangeError, pattern: /^gelu: approximate must be 'none' or 'tanh', got 'fast'$/ },
      { label: 'an unknown option', run: () => F.gelu(hy.ones([2], { device }), { approx: 'tanh' } as never), cls: TypeError, pattern: /^gelu: unknown option 'approx'/ },
    ],
  },
  {
    name: "gelu(approximate: 'tanh')", errorName: 'gelu', native: ['geluTanh'], grad: 'unaryGrad', fn: hy.gelu, call: (x) => F.gelu(x, { approximate: 'tanh' }), f: ref.geluTanh, lo: -6, hi: 6,
    specials: [10, -10, 30, -30, 0, Infinity, NaN], fuzzArity: 2,
  },
  { name: 'tanh', errorName: 'tanh', native: ['tanh'], grad: null, fn: hy.tanh, call: hy.tanh, f: Math.tanh, lo: -3, hi: 3, specials: [Infinity, -Infinity, NaN, 50, -50, 1e-8], fuzzArity: 1 },
  { name: 'sigmoid', errorName: 'sigmoid', native: ['sigmoid'], grad: null, fn: hy.sigmoid, call: hy.sigmoid, f: sigmoidRef, lo: -5, hi: 5, specials: [Infinity, -Infinity, NaN, 100, -100, 0], fuzzArity: 1 },
  { name: 'abs', errorName: 'abs', native: ['abs'], grad: 'unaryGrad', fn: hy.abs, call: hy.abs, f: Math.abs, lo: -3, hi: 3, gap: 1e-3, specials: [Infinity, -Infinity, NaN, -0, 0, -65504], fuzzArity: 1 },
  { name: 'sqrt', errorName: 'sqrt', native: ['sqrt'], grad: null, fn: hy.sqrt, call: hy.sqrt, f: Math.sqrt, lo: 0.1, hi: 5, specials: [0, -1, Infinity, NaN, 65504, 1e-6], fuzzArity: 1 },
];

interface UnaryParamsWithGrad extends UnaryParams {
  special: boolean;
}

function unaryEntry(form: UnaryForm): OpEntry {
  const values = (rng: () => number, n: number): number[] =>
    form.gap === undefined ? uniform(rng, n, form.lo, form.hi) : awayFromZero(rng, n, form.lo, form.hi, form.gap);
  return entry<UnaryParamsWithGrad>({
    name: form.name,
    errorName: form.errorName,
    native: [{ op: 'unary', values: form.native }, ...(form.grad ? [{ op: form.grad, values: form.native }] : [])],
    dtypes: FLOATS,
    fn: form.fn,
    fuzzArity: form.fuzzArity,
    sample(rng, size: SampleSize) {
      if (size !== 'edge') return [{ label: `[${size}]`, inputs: [{ shape: [size], values: values(rng, size) }], params: { shape: [size], special: false } }];
      const shapes: number[][] = [[], [0], [2, 3, 5]];
      return [
        ...shapes.map((shape) => ({ label: shapeLabel(shape), inputs: [{ shape, values: values(rng, numel(shape)) }], params: { shape, special: false } })),
        { label: `specials ${form.specials.join(' ')}`, inputs: [{ shape: [form.specials.length], values: form.specials }], params: { shape: [form.specials.length], special: true } },
      ];
    },
    call: ([x]) => form.call(x),
    oracle: (x, p) => ({ shape: p.shape, values: x[0].map(form.f) }),
    tol: ELEMENTWISE_TOL,
    grad: {
      // infinities and NaN have no finite difference: the specials sample checks the forward only
      oracle: (x, p, w) => [p.special ? null : ref.finiteDiffElementwise(form.f, x[0], w)],
      tol: GRAD_TOL,
      checkOracle: false,
    },
    errors: (device) => [...commonErrors(form.errorName, device, form.call), ...(form.extraErrors?.(device) ?? [])],
  });
}

/** The unfused GELU composition: five elementwise kernels. */
const GELU_UNFUSED = entry<UnaryParams>({
  name: 'geluUnfused',
  errorName: 'mul',
  native: [{ op: 'scalar', values: ['mul', 'add'] }, { op: 'unary', values: ['erf'] }, { op: 'binary', values: ['mul'] }],
  dtypes: FLOATS,
  fn: hy.geluUnfused,
  fuzzArity: 1,
  sample: (rng, size) => {
    const shape = size === 'edge' ? [2, 0] : [size];
    return [{ label: shapeLabel(shape), inputs: [{ shape, values: uniform(rng, numel(shape), -6, 6) }], params: { shape } }];
  },
  call: ([x]) => hy.geluUnfused(x),
  oracle: (x, p) => ({ shape: p.shape, values: x[0].map((v) => v * 0.5 * (1 + ref.erf(v / 1.41421))) }),
  tol: { float32: { rtol: 1e-5, atol: 4e-6 }, float16: { rtol: 1e-2, atol: 4e-3 } },
  grad: { oracle: (x, _p, w) => [ref.finiteDiffElementwise((v) => v * 0.5 * (1 + ref.erf(v / 1.41421)), x[0], w)], tol: GRAD_TOL },
  errors: (device) => [
    { label: 'a bool tensor', run: () => hy.geluUnfused(hy.tensor([true], { device })), cls: TypeError, pattern: /must be a float32 or float16 tensor/, op: 'mul' },
  ],
});

export const ELEMENTWISE: OpEntry[] = [...BINARY_ENTRIES, ...SCALAR_FORMS.map(scalarEntry), ...UNARY_FORMS.map(unaryEntry), GELU_UNFUSED];
