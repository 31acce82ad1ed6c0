// Op-table entries that make or convert tensors: zeros, ones and full (every dtype, 0-d and empty
// shapes, values float16 cannot hold), rand and randn (the Philox oracle of reference/philox.ts,
// from a fresh seed and from an offset) and Tensor.to(dtype) casts between every pair of dtypes.
import * as hy from '../../lib/index';
import type { DType, Tensor } from '../../lib/index';
import { roundToHalf, toInt32 } from '../reference/half';
import * as philox from '../reference/philox';
import { EXACT, entry, ErrorCase, FLOATS, numel, OpEntry, Sample, SampleSize, shapeLabel, uniform } from './entry';

const SHAPES = (size: SampleSize): number[][] => (size === 'edge' ? [[], [0], [2, 0, 3], [2, 3, 4]] : [[size]]);

/** Shape and option errors every creation function shares. */
function creationErrors(op: string, make: (shape: number[], opts?: hy.TensorOptions) => Tensor): ErrorCase[] {
  return [
    { label: 'negative dim', run: () => make([2, -1]), cls: RangeError, pattern: new RegExp(`^${op}: shape entries must be non-negative integers, got -1 in \\[2, -1\\]$`) },
    { label: 'fractional dim', run: () => make([1.5]), cls: RangeError, pattern: /shape entries must be non-negative integers, got 1\.5/ },
    { label: 'string shape', run: () => make('3' as never), cls: TypeError, pattern: /shape must be an array of integers, got '3'/ },
    { label: "dtype 'float64'", run: () => make([2], { dtype: 'float64' as never }), cls: RangeError, pattern: /dtype must be one of float32, float16, int32, bool, got 'float64'/ },
    { label: "device 'gpu'", run: () => make([2], { device: 'gpu' as never }), cls: RangeError, pattern: /device must be 'cpu', 'cuda' or 'cuda:0', got 'gpu'/ },
    { label: 'unknown option', run: () => make([2], { dtyp: 'float32' } as never), cls: TypeError, pattern: /unknown option 'dtyp'/ },
    { label: 'more than 2^48 elements', run: () => make([2 ** 25, 2 ** 24]), cls: RangeError, pattern: /more than 2\^48/ },
  ];
}

// ---- zeros, ones, full ----

interface FillParams {
  shape: number[];
  value: number;
  dtype: DType;
}

function fillEntry(op: 'zeros' | 'ones' | 'full'): OpEntry {
  const fixed = op === 'zeros' ? 0 : op === 'ones' ? 1 : undefined;
  const make = (shape: number[], value: number, opts: hy.TensorOptions): Tensor =>
    op === 'full' ? hy.full(shape, value, opts) : op === 'zeros' ? hy.zeros(shape, opts) : hy.ones(shape, opts);
  return entry<FillParams>({
    name: op,
    errorName: op,
    native: [{ op: 'fill' }],
    dtypes: FLOATS,
    fn: op === 'full' ? hy.full : op === 'zeros' ? hy.zeros : hy.ones,
    fuzzArity: op === 'full' ? 3 : 2,
    sample(_rng, size, dtype) {
      const values = fixed !== undefined ? [fixed] : size === 'edge' ? [NaN, Infinity, -Infinity, -0, 70000, 1e-8, 65504] : [{ 1: 2.5, 7: -1 / 3, 33: 1e4, 1023: 0.1 }[size]];
      const out: Sample<FillParams>[] = [];
      for (const shape of SHAPES(size)) for (const value of values) out.push({ label: `${shapeLabel(shape)} ${value}`, inputs: [], params: { shape, value, dtype } });
      if (size === 'edge' && dtype === 'float32') {
        // int32 (its own dtype, sampled once)
        for (const value of fixed !== undefined ? [fixed] : [7, -3, 2147483647]) out.push({ label: `[33] int32 ${value}`, inputs: [], params: { shape: [33], value, dtype: 'int32' } });
      }
      return out;
    },
    call: (_ts, p, ctx) => make(p.shape, p.value, { device: ctx.device, dtype: p.dtype }),
    oracle: (_x, p) => ({ shape: p.shape, values: new Array(numel(p.shape)).fill(p.value), dtype: p.dtype }),
    tol: EXACT,
    errors: (device) => [
      ...creationErrors(op, (shape, opts) => make(shape, 1, { device, ...opts })),
      ...(op === 'full'
        ? [
            { label: 'string value', run: () => hy.full([2], '1' as never, { device }), cls: TypeError, pattern: /^full: value must be a number, got '1'$/ },
            { label: 'int32 value out of range', run: () => hy.full([2], 2 ** 31, { device, dtype: 'int32' }), cls: RangeError, pattern: /^full: 2147483648 does not fit in int32$/ },
            { label: 'NaN as int32', run: () => hy.full([2], NaN, { device, dtype: 'int32' }), cls: RangeError, pattern: /^full: NaN does not fit in int32$/ },
          ]
        : []),
    ],
  });
}

// ---- rand, randn ----

interface RandomParams {
  shape: number[];
  seed: number;
  /** Values drawn before this one: the counter offset it starts from is ceil(before / 4). */
  before: number;
}

function randomEntry(op: 'rand' | 'randn'): OpEntry {
  const draw = op === 'rand' ? philox.uniform : philox.normal;
  const make = op === 'rand' ? hy.rand : hy.randn;
  return entry<RandomParams>({
    name: op,
    errorName: op,
    native: [{ op: 'random', values: [op === 'rand' ? 'uniform' : 'normal'] }],
    dtypes: FLOATS,
    fn: make,
    fuzzArity: 2,
    sample(_rng, size) {
      return SHAPES(size).flatMap((shape, i) =>
        [0, 5].map((before) => ({ label: `${shapeLabel(shape)}${before ? ` after ${before} values` : ''}`, inputs: [], params: { shape, seed: 4242 + 7 * i + numel(shape), before } })),
      );
    },
    call: (_ts, p, ctx) => {
      hy.manualSeed(p.seed);
      if (p.before > 0) make([p.before], { device: ctx.device }).dispose();
      return make(p.shape, { device: ctx.device, dtype: ctx.dtype });
    },
    oracle: (_x, p) => {
      const offset = Math.ceil(p.before / 4);
      // the kernel computes in float32, then rounds to the output dtype
      return { shape: p.shape, values: Array.from({ length: numel(p.shape) }, (_, i) => Math.fround(draw(p.seed, offset, i))) };
    },
    // uniform values are exact; normal ones come from float32 log, sqrt and sincos
    tol: op === 'rand' ? EXACT : { float32: { rtol: 2e-7, atol: 1e-7 }, float16: { rtol: 1e-3, atol: 1e-4 } },
    errors: (device) => [
      ...creationErrors(op, (shape, opts) => make(shape, { device, ...opts })),
      { label: 'int32 dtype', run: () => make([2], { device, dtype: 'int32' }), cls: RangeError, pattern: new RegExp(`^${op}: dtype must be floating point, got int32$`) },
    ],
  });
}

// ---- to(dtype) ----

interface CastParams {
  shape: number[];
  target: DType;
}

const CAST_SPECIALS = [
  0, -0, 1, -1, 0.5, 65504, 65519, 65520, 70000, -70000, 1e-8, 6e-8, 3e-5, 5.96e-8, 2.98e-8, 1 / 3, NaN, Infinity, -Infinity, 2.5, -2.5, 3.5,
  -3.5, 1e10, -1e10, 2147483647, -2147483648, 2147483904, 16777217,
];
const INT_SPECIALS = [0, 1, -7, 2049, 2051, 65504, 65519, 65520, 65536, 100000, 16777217, 2147483647, -2147483648];

function castValue(target: DType, v: number): number {
  if (target === 'int32') return toInt32(v);
  if (target === 'float16') return roundToHalf(Math.fround(v));
  return Math.fround(v);
}

const TO = entry<CastParams>({
  name: 'to(dtype)',
  errorName: 'to',
  native: [{ op: 'cast' }],
  dtypes: FLOATS,
  fn: (x: Tensor, target: DType, opts?: hy.ToOptions) => x.to(target, opts),
  fuzzArity: 3,
  sample(rng, size, dtype) {
    const targets: DType[] = ['float32', 'float16', 'int32'];
    const out: Sample<CastParams>[] = [];
    const values = size === 'edge' ? CAST_SPECIALS : uniform(rng, size, -300, 300);
    for (const target of targets) {
      out.push({ label: `${size === 'edge' ? 'specials' : `[${size}]`} ${dtype} -> ${target}`, inputs: [{ shape: [values.length], values }], params: { shape: [values.length], target } });
    }
    if (size === 'edge' && dtype === 'float32') {
      // int32 sources (their own dtype, sampled once)
      for (const target of targets) {
        out.push({ label: `int32 specials -> ${target}`, inputs: [{ shape: [INT_SPECIALS.length], values: INT_SPECIALS, dtype: 'int32' }], params: { shape: [INT_SPECIALS.length], target } });
      }
      out.push({ label: 'empty -> float16', inputs: [{ shape: [0, 4], values: [] }], params: { shape: [0, 4], target: 'float16' } });
    }
    return out;
  },
  call: ([x], p) => x.to(p.target),
  oracle: (x, p) => ({ shape: p.shape, values: x[0].map((v) => castValue(p.target, v)), dtype: p.target }),
  tol: EXACT,
  errors: (device) => {
    const x = (): Tensor => hy.ones([2], { device });
    return [
      { label: "'float64'", run: () => x().to('float64' as never), cls: RangeError, pattern: /^to: expected a device \('cpu', 'cuda'\) or a dtype \(float32, float16, int32\), got 'float64'$/ },
      { label: 'a number', run: () => x().to(5 as never), cls: TypeError, pattern: /^to: expected a device or dtype, got 5$/ },
      { label: 'nonBlocking 1', run: () => x().to('float16', { nonBlocking: 1 as never }), cls: TypeError, pattern: /^to: nonBlocking must be a boolean, got 1$/ },
      { label: 'unknown option', run: () => x().to('float16', { async: true } as never), cls: TypeError, pattern: /^to: unknown option 'async'/ },
      {
        label: 'a disposed tensor',
        run: () => {
          const t = x();
          t.dispose();
          return t.to('float16');
        },
        cls: hy.DisposedError,
        pattern: /^to: the tensor was disposed$/,
      },
    ];
  },
});

export const CREATION: OpEntry[] = [fillEntry('zeros'), fillEntry('ones'), fillEntry('full'), randomEntry('rand'), randomEntry('randn'), TO];
