// Op-table entries of the shape and indexing ops (lib/indexing.ts, lib/compare.ts) and the new
// creation ops (lib/creation.ts). A copy-like op's oracle is a Mapping of test/reference/shape.ts
// (each output element's source), whose gradient is the scatter of the upstream weights back to
// the sources, so one gradient oracle serves permute, slices, cat, stack, expand, the gathers,
// max/min over a dim and where. Sizes 1, 7, 33 and 1023 reach the kernels' single-element, short,
// odd and long paths; 'edge' has empty extents, 0-d inputs, negative dims and repeated indices.
import * as hy from '../../lib/index';
import type { Device, DType, Tensor } from '../../lib/index';
import * as philox from '../reference/philox';
import * as ref from '../reference/shape';
import { EXACT, entry, ErrorCase, FLOATS, FloatDType, numel, OpEntry, Sample, SampleSize, shapeLabel, Tol, uniform } from './entry';

const COPY_TOL: Record<FloatDType, Tol> = EXACT;
const GRAD_EXACTISH: Record<FloatDType, Tol> = { float32: { rtol: 1e-6, atol: 1e-6 }, float16: { rtol: 1e-2, atol: 1e-2 } };

interface MapCase {
  label: string;
  /** Float inputs' shapes (differentiable), then int32 or bool inputs. */
  shapes: number[][];
  ints?: { shape: number[]; values: number[]; dtype?: DType }[];
  args: unknown[];
}

interface MapSpec {
  name: string;
  view?: true;
  errorName?: string;
  native: string[];
  /** Enum values of a native op's enum field this entry reaches. */
  nativeValues?: Record<string, string[]>;
  fn: (...a: never[]) => unknown;
  fuzzArity: number;
  cases: (size: SampleSize, rng: () => number) => MapCase[];
  call: (floats: Tensor[], ints: Tensor[], args: unknown[]) => Tensor | Tensor[];
  /** The mapping over the float inputs (ints' values given). */
  map: (c: MapCase, x: number[][]) => ref.Mapping;
  /** Extra outputs after the mapped values (argmax indices, say). */
  extra?: (c: MapCase, x: number[][]) => { shape: number[]; values: number[]; dtype?: DType }[];
  errors: (device: Device) => ErrorCase[];
  /** Inputs sampled with ties (for max/min: first index on ties). */
  discrete?: boolean;
}

function mapEntry(spec: MapSpec): OpEntry {
  return entry<MapCase>({
    name: spec.name,
    errorName: spec.errorName ?? spec.name,
    native: spec.native.map((op) => ({ op, values: spec.nativeValues?.[op] })),
    ...(spec.view ? { view: true as const } : {}),
    dtypes: FLOATS,
    fn: spec.fn,
    fuzzArity: spec.fuzzArity,
    sample(rng, size) {
      return spec.cases(size, rng).map((c): Sample<MapCase> => ({
        label: c.label,
        inputs: [
          ...c.shapes.map((s) => ({ shape: s, values: spec.discrete ? uniform(rng, numel(s), 0, 4).map(Math.floor) : uniform(rng, numel(s), -2, 2) })),
          ...(c.ints ?? []).map((i) => ({ shape: i.shape, values: i.values, dtype: i.dtype ?? ('int32' as DType), requiresGrad: false })),
        ],
        params: c,
      }));
    },
    call: (inputs, c) => spec.call(inputs.slice(0, c.shapes.length), inputs.slice(c.shapes.length), c.args),
    oracle: (x, c) => {
      const m = spec.map(c, x);
      const main = { shape: m.shape, values: ref.apply(m, x) };
      return spec.extra === undefined ? main : [main, ...spec.extra(c, x)];
    },
    tol: COPY_TOL,
    grad: {
      oracle: (x, c, w) => [...ref.grad(spec.map(c, x), c.shapes.map(numel), w), ...(c.ints ?? []).map(() => null)],
      tol: GRAD_EXACTISH,
    },
    errors: spec.errors,
  });
}

const intsOf = (rng: () => number, n: number, hi: number): number[] => Array.from({ length: n }, () => Math.floor(rng() * hi));
const sized = (size: SampleSize): number => (size === 'edge' ? 3 : size);
const x23 = (device: Device): Tensor => hy.zeros([2, 3], { device });

const PERMUTE = mapEntry({
  name: 'permute',
  native: ['stridedCopy'],
  fn: hy.permute,
  fuzzArity: 2,
  cases: (size) =>
    size === 'edge'
      ? [
          { label: '[2,3,4] (2,0,1)', shapes: [[2, 3, 4]], args: [[2, 0, 1]] },
          { label: '[2,0,3] (2,1,0)', shapes: [[2, 0, 3]], args: [[2, 1, 0]] },
          { label: '[] ()', shapes: [[]], args: [[]] },
          { label: '[2,1,3,1,2] (-1,3,0,2,1)', shapes: [[2, 1, 3, 1, 2]], args: [[-1, 3, 0, 2, 1]] },
        ]
      : [
          { label: `[${size},3] (1,0)`, shapes: [[size, 3]], args: [[1, 0]] },
          { label: `[2,${size},3] (1,2,0)`, shapes: [[2, size, 3]], args: [[1, 2, 0]] },
        ],
  call: ([x], _i, [dims]) => hy.permute(x, dims as number[]),
  map: (c) => ref.permute(c.shapes[0], (c.args[0] as number[]).map((d) => (d < 0 ? d + c.shapes[0].length : d))),
  errors: (device) => [
    { label: 'repeated dim', run: () => hy.permute(x23(device), [0, 0]), cls: RangeError, pattern: /^permute: dims must be a permutation \(each dimension once\), got \[0, 0\]$/ },
    { label: 'wrong count', run: () => hy.permute(x23(device), [0]), cls: RangeError, pattern: /^permute: dims must be 2 dimensions/ },
    { label: 'dim out of range', run: () => hy.permute(x23(device), [0, 2]), cls: RangeError, pattern: /^permute: dims\[1\] must be an integer from -2 to 1/ },
    { label: 'not an array', run: () => hy.permute(x23(device), 1 as never), cls: TypeError, pattern: /^permute: dims must be an array of integers, got 1$/ },
  ],
});

const TRANSPOSE = mapEntry({
  name: 'transpose',
  native: ['stridedCopy'],
  fn: hy.transpose,
  fuzzArity: 3,
  cases: (size) => [
    { label: `[${sized(size)},5] (0,1)`, shapes: [[sized(size), 5]], args: [0, 1] },
    { label: `[3,${sized(size)},2] (-1,0)`, shapes: [[3, sized(size), 2]], args: [-1, 0] },
  ],
  call: ([x], _i, [a, b]) => hy.transpose(x, a as number, b as number),
  map: (c) => {
    const n = c.shapes[0].length;
    const [a, b] = (c.args as number[]).map((d) => (d < 0 ? d + n : d));
    return ref.permute(c.shapes[0], c.shapes[0].map((_, i) => (i === a ? b : i === b ? a : i)));
  },
  errors: (device) => [{ label: 'dim1 out of range', run: () => hy.transpose(x23(device), 0, 5), cls: RangeError, pattern: /^transpose: dim1 must be an integer from -2 to 1/ }],
});

function sliceCount(size: number, start: number | null, end: number | null, step: number): [number, number] {
  const w = (v: number | null, d: number) => (v === null ? d : Math.min(Math.max(v < 0 ? v + size : v, 0), size));
  const s = w(start, 0);
  const e = Math.max(w(end, size), s);
  return [s, Math.ceil((e - s) / step)];
}

const SLICE = mapEntry({
  name: 'slice',
  native: ['stridedCopy'],
  fn: hy.slice,
  fuzzArity: 5,
  cases: (size) =>
    size === 'edge'
      ? [
          { label: '[5,4] dim1 -3: step 2', shapes: [[5, 4]], args: [1, -3, null, 2] },
          { label: '[5,4] dim0 10:20 (empty)', shapes: [[5, 4]], args: [0, 10, 20, 1] },
          { label: '[5,0] dim0 1:4', shapes: [[5, 0]], args: [0, 1, 4, 1] },
          { label: '[6] -100:100 step 5', shapes: [[6]], args: [0, -100, 100, 5] },
        ]
      : [
          { label: `[${size},3] dim0 1: step 2`, shapes: [[size, 3]], args: [0, 1, null, 2] },
          { label: `[3,${size}] dim1 :-1`, shapes: [[3, size]], args: [1, null, -1, 1] },
        ],
  call: ([x], _i, [d, s, e, st]) => hy.slice(x, d as number, s as number | null, e as number | null, st as number),
  map: (c) => {
    const [d, s, e, st] = c.args as [number, number | null, number | null, number];
    const [start, count] = sliceCount(c.shapes[0][d], s, e, st);
    return ref.slice(c.shapes[0], d, start, st, count);
  },
  errors: (device) => [
    { label: 'step 0', run: () => hy.slice(x23(device), 0, 0, 1, 0), cls: RangeError, pattern: /^slice: step must be a positive integer/ },
    { label: 'step 1.5', run: () => hy.slice(x23(device), 0, 0, 1, 1.5), cls: TypeError, pattern: /^slice: step must be an integer, got 1\.5$/ },
    { label: '0-d input', run: () => hy.slice(hy.zeros([], { device }), 0), cls: RangeError, pattern: /^slice: the input must have at least one dimension$/ },
  ],
});

const NARROW = mapEntry({
  name: 'narrow',
  native: ['stridedCopy'],
  fn: hy.narrow,
  fuzzArity: 4,
  cases: (size) => [
    { label: `[${sized(size)},4] dim1 1+2`, shapes: [[sized(size), 4]], args: [1, 1, 2] },
    { label: `[${sized(size)}] dim0 -1+1`, shapes: [[sized(size)]], args: [0, -1, 1] },
  ],
  call: ([x], _i, [d, s, l]) => hy.narrow(x, d as number, s as number, l as number),
  map: (c) => {
    const [d, s, l] = c.args as number[];
    return ref.slice(c.shapes[0], d, s < 0 ? s + c.shapes[0][d] : s, 1, l);
  },
  errors: (device) => [
    { label: 'length past the end', run: () => hy.narrow(x23(device), 1, 2, 2), cls: RangeError, pattern: /^narrow: length must be from 0 to 1 \(start 2 of size 3\), got 2$/ },
    { label: 'start past the end', run: () => hy.narrow(x23(device), 1, 4, 0), cls: RangeError, pattern: /^narrow: start must be an index from -3 to 3/ },
  ],
});

const SELECT = mapEntry({
  name: 'select',
  native: ['stridedCopy'],
  fn: hy.select,
  fuzzArity: 3,
  cases: (size) => [
    { label: `[${sized(size)},4] dim1 -1`, shapes: [[sized(size), 4]], args: [1, -1] },
    { label: `[${sized(size)}] dim0 0`, shapes: [[sized(size)]], args: [0, 0] },
  ],
  call: ([x], _i, [d, i]) => hy.select(x, d as number, i as number),
  map: (c) => {
    const [d, i] = c.args as number[];
    return ref.slice(c.shapes[0], d, i < 0 ? i + c.shapes[0][d] : i, 1, 1, false);
  },
  errors: (device) => [{ label: 'index out of range', run: () => hy.select(x23(device), 0, 2), cls: RangeError, pattern: /^select: index must be an index from -2 to 1 \(dimension 0 has size 2\), got 2$/ }],
});

const EXPAND = mapEntry({
  name: 'expand',
  native: ['stridedCopy'],
  fn: hy.expand,
  fuzzArity: 2,
  cases: (size) =>
    size === 'edge'
      ? [
          { label: '[] to [2,3]', shapes: [[]], args: [[2, 3]] },
          { label: '[3,1] to [2,3,0]', shapes: [[3, 1]], args: [[2, 3, 0]] },
          { label: '[1,2] to [-1 kept... 4,2]', shapes: [[1, 2]], args: [[4, -1]] },
        ]
      : [{ label: `[${size},1] to [2,${size},3]`, shapes: [[size, 1]], args: [[2, size, 3]] }],
  call: ([x], _i, [s]) => hy.expand(x, s as number[]),
  map: (c) => {
    const target = c.args[0] as number[];
    const off = target.length - c.shapes[0].length;
    return ref.expand(c.shapes[0], target.map((t, i) => (t === -1 ? c.shapes[0][i - off] : t)));
  },
  errors: (device) => [
    { label: 'size 3 to 4', run: () => hy.expand(x23(device), [2, 4]), cls: RangeError, pattern: /^expand: the input's size 3 at dimension 1 cannot expand to 4/ },
    { label: 'fewer dims', run: () => hy.expand(x23(device), [3]), cls: RangeError, pattern: /^expand: shape must be at least 2 dimensions/ },
  ],
});

const CAT = mapEntry({
  name: 'cat',
  native: ['stridedCopy'],
  fn: hy.cat,
  fuzzArity: 2,
  cases: (size) =>
    size === 'edge'
      ? [
          { label: '[2,0],[2,3] dim1', shapes: [[2, 0], [2, 3]], args: [1] },
          { label: '[1,2,3],[2,2,3],[1,2,3] dim -3', shapes: [[1, 2, 3], [2, 2, 3], [1, 2, 3]], args: [-3] },
        ]
      : [
          { label: `[${size},3],[2,3] dim0`, shapes: [[size, 3], [2, 3]], args: [0] },
          { label: `[2,${size}],[2,1] dim1`, shapes: [[2, size], [2, 1]], args: [1] },
        ],
  call: (xs, _i, [d]) => hy.cat(xs, d as number),
  map: (c) => {
    const d = c.args[0] as number;
    return ref.cat(c.shapes, d < 0 ? d + c.shapes[0].length : d);
  },
  errors: (device) => [
    { label: 'mismatched sizes', run: () => hy.cat([x23(device), hy.zeros([2, 2], { device })], 0), cls: RangeError, pattern: /^cat: tensors\[1\] has shape \[2, 2\], which does not match \[2, 3\] outside dimension 0$/ },
    { label: 'empty list', run: () => hy.cat([]), cls: RangeError, pattern: /^cat: tensors must be a non-empty array, got \[\]$/ },
    { label: 'mixed dtypes', run: () => hy.cat([x23(device), hy.zeros([2, 3], { device, dtype: 'int32' })]), cls: TypeError, pattern: /^cat: tensors\[1\] must be of dtype float32 like tensors\[0\], got 'int32'$/ },
    { label: '0-d', run: () => hy.cat([hy.zeros([], { device })]), cls: RangeError, pattern: /^cat: zero-dimensional tensors cannot be concatenated/ },
  ],
});

const STACK = mapEntry({
  name: 'stack',
  native: ['stridedCopy'],
  fn: hy.stack,
  fuzzArity: 2,
  cases: (size) => [
    { label: `2x[${sized(size)},2] dim1`, shapes: [[sized(size), 2], [sized(size), 2]], args: [1] },
    { label: `3x[${sized(size)}] dim -1`, shapes: [[sized(size)], [sized(size)], [sized(size)]], args: [-1] },
  ],
  call: (xs, _i, [d]) => hy.stack(xs, d as number),
  map: (c) => {
    const d = c.args[0] as number;
    return ref.stack(c.shapes, d < 0 ? d + c.shapes[0].length + 1 : d);
  },
  errors: (device) => [{ label: 'shapes differ', run: () => hy.stack([x23(device), hy.zeros([3, 2], { device })]), cls: RangeError, pattern: /^stack: tensors\[1\] has shape \[3, 2\]/ }],
});

const INDEX_SELECT = mapEntry({
  name: 'indexSelect',
  native: ['indexSelect', 'indexAdd'],
  fn: hy.indexSelect,
  fuzzArity: 3,
  cases: (size, rng) => {
    const n = sized(size);
    return [
      { label: `[${n},3] dim0 (repeats)`, shapes: [[n, 3]], ints: [{ shape: [n + 2], values: intsOf(rng, n + 2, n) }], args: [0] },
      { label: `[2,${n},2] dim1`, shapes: [[2, n, 2]], ints: [{ shape: [3], values: intsOf(rng, 3, n) }], args: [1] },
      ...(size === 'edge' ? [{ label: '[4,2] dim0 empty index', shapes: [[4, 2]], ints: [{ shape: [0], values: [] }], args: [0] }] : []),
    ];
  },
  call: ([x], [i], [d]) => hy.indexSelect(x, d as number, i),
  map: (c) => ref.indexSelect(c.shapes[0], c.args[0] as number, c.ints![0].values),
  errors: (device) => [
    { label: 'float index', run: () => hy.indexSelect(x23(device), 0, hy.zeros([1], { device })), cls: TypeError, pattern: /^indexSelect: index must be an int32 tensor of indices, got 'a float32 tensor'$/ },
    { label: 'index out of range (at the read)', run: () => hy.indexSelect(x23(device), 1, hy.tensor([0, 3], { dtype: 'int32', device })).dataSync(), cls: RangeError, pattern: /^indexSelect: index 3 at position 1 is outside \[0, 3\)$/ },
    { label: 'negative index (at the read)', run: () => hy.indexSelect(x23(device), 0, hy.tensor([-1], { dtype: 'int32', device })).dataSync(), cls: RangeError, pattern: /^indexSelect: index -1 at position 0 is outside \[0, 2\)$/ },
  ],
});

const INDEX = mapEntry({
  name: 'index',
  native: ['indexSelect', 'indexAdd'],
  fn: hy.index,
  fuzzArity: 2,
  cases: (size, rng) => {
    const n = sized(size);
    return [{ label: `[${n},2][idx 2x2]`, shapes: [[n, 2]], ints: [{ shape: [2, 2], values: intsOf(rng, 4, n) }], args: [] }];
  },
  call: ([x], [i]) => hy.index(x, i),
  map: (c) => {
    const m = ref.indexSelect(c.shapes[0], 0, c.ints![0].values);
    return { shape: [...c.ints![0].shape, ...c.shapes[0].slice(1)], src: m.src };
  },
  errors: (device) => [{ label: '0-d input', run: () => hy.index(hy.zeros([], { device }), hy.tensor([0], { dtype: 'int32', device })), cls: RangeError, pattern: /^index: a zero-dimensional tensor cannot be indexed$/ }],
});

const GATHER = mapEntry({
  name: 'gather',
  native: ['indexSelect', 'indexAdd'],
  fn: hy.gather,
  fuzzArity: 3,
  cases: (size, rng) => {
    const n = sized(size);
    return [
      { label: `[${n},4] dim1 -> [${n},2]`, shapes: [[n, 4]], ints: [{ shape: [n, 2], values: intsOf(rng, n * 2, 4) }], args: [1] },
      { label: `[3,${n}] dim0 -> [5,${n}]`, shapes: [[3, n]], ints: [{ shape: [5, n], values: intsOf(rng, 5 * n, 3) }], args: [0] },
    ];
  },
  call: ([x], [i], [d]) => hy.gather(x, d as number, i),
  map: (c) => ref.gather(c.shapes[0], c.args[0] as number, c.ints![0].shape, c.ints![0].values),
  errors: (device) => [
    { label: 'index shape', run: () => hy.gather(x23(device), 1, hy.zeros([3, 1], { dtype: 'int32', device })), cls: RangeError, pattern: /^gather: index has shape \[3, 1\]; it must match the input's \[2, 3\] outside dimension 1$/ },
    { label: 'index out of range (at the read)', run: () => hy.gather(x23(device), 1, hy.tensor([[0], [7]], { dtype: 'int32', device })).dataSync(), cls: RangeError, pattern: /^indexSelect: index 7 at position 1 is outside \[0, 3\)$/, op: 'indexSelect' },
  ],
});

function extremeEntry(kind: 'max' | 'min'): OpEntry {
  const fn = kind === 'max' ? hy.max : hy.min;
  return mapEntry({
    name: `${kind}(dim)`,
    errorName: kind,
    native: ['argReduce', 'indexAdd'],
    nativeValues: { argReduce: [kind] },
    fn,
    fuzzArity: 3,
    discrete: true,
    cases: (size) => [
      { label: `[${sized(size)},5] dim1 (ties)`, shapes: [[sized(size), 5]], args: [1] },
      { label: `[3,${sized(size)},2] dim1`, shapes: [[3, sized(size), 2]], args: [1] },
      { label: `[${sized(size)}] dim -1`, shapes: [[sized(size)]], args: [-1] },
    ],
    call: ([x], _i, [d]) => {
      const r = fn(x, d as number);
      return [r.values, r.indices];
    },
    map: (c, x) => {
      const d = c.args[0] as number;
      const r = ref.argExtreme(x[0], c.shapes[0], d < 0 ? d + c.shapes[0].length : d, kind);
      return { shape: r.shape, src: r.src };
    },
    extra: (c, x) => {
      const d = c.args[0] as number;
      const r = ref.argExtreme(x[0], c.shapes[0], d < 0 ? d + c.shapes[0].length : d, kind);
      return [{ shape: r.shape, values: r.at, dtype: 'int32' }];
    },
    errors: (device) => [
      { label: 'empty dim', run: () => fn(hy.zeros([2, 0], { device }), 1), cls: RangeError, pattern: new RegExp(`^${kind}: cannot take the ${kind} over an empty dimension`) },
      { label: 'bool input', run: () => fn(hy.zeros([2], { device, dtype: 'bool' }), 0), cls: TypeError, pattern: new RegExp(`^${kind}: input must be a float32, float16 or int32 tensor`) },
    ],
  });
}

const WHERE = mapEntry({
  name: 'where',
  native: ['where'],
  fn: hy.where,
  fuzzArity: 3,
  cases: (size, rng) => {
    const n = sized(size);
    return [
      { label: `cond [${n},3], a [${n},3], b [3]`, shapes: [[n, 3], [3]], ints: [{ shape: [n, 3], values: intsOf(rng, n * 3, 2), dtype: 'bool' }], args: [] },
      { label: `cond [${n},1], a [1,4], b []`, shapes: [[1, 4], []], ints: [{ shape: [n, 1], values: intsOf(rng, n, 2), dtype: 'bool' }], args: [] },
    ];
  },
  call: ([a, b], [c]) => hy.where(c, a, b),
  map: (c) => ref.where(c.ints![0].values, c.ints![0].shape, c.shapes[0], c.shapes[1]),
  errors: (device) => [
    { label: 'float condition', run: () => hy.where(x23(device), x23(device), 0), cls: TypeError, pattern: /^where: condition must be a bool tensor/ },
    { label: 'mixed dtypes', run: () => hy.where(hy.zeros([2], { dtype: 'bool', device }), hy.zeros([2], { device }), hy.zeros([2], { dtype: 'int32', device })), cls: TypeError, pattern: /^where: input and other must have one dtype/ },
  ],
});

// ---- comparisons and logical ops: bool outputs, exact ----

type CmpName = 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge' | 'logicalAnd' | 'logicalOr' | 'logicalXor';
const CMP: Record<CmpName, [(a: number, b: number) => boolean, string]> = {
  eq: [(a, b) => a === b, 'eq'], ne: [(a, b) => a !== b, 'ne'], lt: [(a, b) => a < b, 'lt'], le: [(a, b) => a <= b, 'le'], gt: [(a, b) => a > b, 'gt'], ge: [(a, b) => a >= b, 'ge'],
  logicalAnd: [(a, b) => a !== 0 && b !== 0, 'and'], logicalOr: [(a, b) => a !== 0 || b !== 0, 'or'], logicalXor: [(a, b) => (a !== 0) !== (b !== 0), 'xor'],
};

interface CmpParams {
  shapes: [number[], number[]];
  scalar?: number;
  intB: boolean;
}

function compareEntry(name: CmpName): OpEntry {
  const [f, code] = CMP[name];
  const fn = hy[name] as (a: Tensor, b: Tensor | number) => Tensor;
  return entry<CmpParams>({
    name,
    errorName: name,
    native: [{ op: 'compare', values: [code] }],
    dtypes: FLOATS,
    fn,
    fuzzArity: 2,
    sample(rng, size) {
      const n = sized(size);
      const ties = (k: number) => uniform(rng, k, -2, 2).map(Math.round); // many equal pairs and zeros
      const cases: CmpParams[] = [
        { shapes: [[n, 3], [n, 3]], intB: false },
        { shapes: [[n, 3], [3]], intB: false },
        { shapes: [[2, n], [2, n]], intB: true },
        { shapes: [[n], []], scalar: 1, intB: false },
      ];
      if (size === 'edge') cases.push({ shapes: [[0, 3], [1, 3]], intB: false }, { shapes: [[], []], intB: false });
      return cases.map((p) => ({
        label: `${shapeLabel(p.shapes[0])} vs ${p.scalar !== undefined ? p.scalar : shapeLabel(p.shapes[1]) + (p.intB ? ' int32' : '')}`,
        inputs: p.scalar !== undefined ? [{ shape: p.shapes[0], values: ties(numel(p.shapes[0])) }] : [
          { shape: p.shapes[0], values: ties(numel(p.shapes[0])) },
          { shape: p.shapes[1], values: ties(numel(p.shapes[1])), dtype: p.intB ? ('int32' as DType) : undefined },
        ],
        params: p,
      }));
    },
    call: ([a, b], p) => fn(a, p.scalar !== undefined ? p.scalar : b),
    oracle: (x, p) => {
      const r = ref.compare(f, x[0], p.shapes[0], p.scalar !== undefined ? [p.scalar] : x[1], p.scalar !== undefined ? [] : p.shapes[1]);
      return { shape: r.shape, values: r.values, dtype: 'bool' };
    },
    tol: EXACT,
    errors: (device) => [
      { label: 'shapes', run: () => fn(x23(device), hy.zeros([4], { device })), cls: RangeError, pattern: new RegExp(`^${name}: shapes \\[2, 3\\] and \\[4\\] cannot be broadcast`) },
      { label: 'string other', run: () => fn(x23(device), 'a' as never), cls: TypeError, pattern: new RegExp(`^${name}: other must be a Tensor, got 'a'$`) },
    ],
  });
}

// ---- clamp, square, rsqrt: elementwise ----

interface EwParams {
  shape: number[];
  lo?: number;
  hi?: number;
}

function elementwiseEntry(name: 'clamp' | 'square' | 'rsqrt', f: (v: number, p: EwParams) => number, df: (v: number, p: EwParams) => number, values: (rng: () => number, n: number) => number[], native: { op: string; values?: string[] }[]): OpEntry {
  return entry<EwParams>({
    name,
    errorName: name,
    native,
    dtypes: FLOATS,
    fn: name === 'clamp' ? hy.clamp : name === 'square' ? hy.square : hy.rsqrt,
    fuzzArity: name === 'clamp' ? 3 : 1,
    sample(rng, size) {
      const n = sized(size);
      const ps: EwParams[] = name === 'clamp' ? [{ shape: [n, 3], lo: -0.5, hi: 0.7 }, { shape: [n], lo: 0.1 }, { shape: [n], hi: -0.2 }] : [{ shape: [n, 3] }];
      return ps.map((p) => ({ label: `${shapeLabel(p.shape)} ${p.lo ?? ''}..${p.hi ?? ''}`, inputs: [{ shape: p.shape, values: values(rng, numel(p.shape)) }], params: p }));
    },
    call: ([x], p) => (name === 'clamp' ? hy.clamp(x, { min: p.lo, max: p.hi }) : name === 'square' ? hy.square(x) : hy.rsqrt(x)),
    oracle: (x, p) => ({ shape: p.shape, values: x[0].map((v) => f(v, p)) }),
    tol: { float32: { rtol: 2e-6, atol: 1e-7 }, float16: { rtol: 1e-3, atol: 1e-3 } },
    grad: { oracle: (x, p, w) => [x[0].map((v, i) => w[i] * df(v, p))], tol: { float32: { rtol: 1e-5, atol: 1e-6 }, float16: { rtol: 2e-2, atol: 2e-2 } } },
    errors: (device) => [
      { label: 'int32 input', run: () => (hy[name] as (x: Tensor, a?: number) => Tensor)(hy.zeros([2], { dtype: 'int32', device }), 0), cls: TypeError, pattern: new RegExp(`^${name}: input must be a float32 or float16 tensor`) },
      ...(name === 'clamp' ? [{ label: 'no bound', run: () => hy.clamp(x23(device), {}), cls: RangeError, pattern: /^clamp: at least one of min and max must be given$/ }] : []),
    ],
  });
}

const CLAMP = elementwiseEntry(
  'clamp',
  (v, p) => Math.min(Math.max(v, p.lo ?? -Infinity), p.hi ?? Infinity),
  (v, p) => (v >= (p.lo ?? -Infinity) && v <= (p.hi ?? Infinity) ? 1 : 0),
  // away from the bounds, where the gradient jumps
  (rng, n) => uniform(rng, n, -1, 1).map((v) => (Math.abs(v + 0.5) < 0.01 || Math.abs(v - 0.7) < 0.01 || Math.abs(v - 0.1) < 0.01 || Math.abs(v + 0.2) < 0.01 ? v + 0.03 : v)),
  [{ op: 'scalar', values: ['max', 'min'] }, { op: 'compare', values: ['ge', 'le', 'and'] }, { op: 'where' }],
);
const SQUARE = elementwiseEntry('square', (v) => v * v, (v) => 2 * v, (rng, n) => uniform(rng, n, -2, 2), [{ op: 'binary', values: ['mul'] }]);
const RSQRT = elementwiseEntry('rsqrt', (v) => 1 / Math.sqrt(v), (v) => -0.5 * v ** -1.5, (rng, n) => uniform(rng, n, 0.25, 4), [{ op: 'unary', values: ['rsqrt'] }]);

// ---- arange, linspace, eye, randint, randperm ----

interface MakeParams {
  args: unknown[];
  dtype: DType;
}

function makeEntry(name: string, native: { op: string; values?: string[] }[], fn: (...a: never[]) => unknown, cases: (size: SampleSize, dtype: FloatDType) => MakeParams[], make: (p: MakeParams, device: Device) => Tensor, oracle: (p: MakeParams) => { shape: number[]; values: number[] }, errors: (device: Device) => ErrorCase[]): OpEntry {
  return entry<MakeParams>({
    name,
    errorName: name,
    native,
    dtypes: FLOATS,
    fn,
    fuzzArity: 4,
    sample: (_rng, size, dtype) => cases(size, dtype).map((p) => ({ label: `${JSON.stringify(p.args)} ${p.dtype}`, inputs: [], params: p })),
    call: (_x, p, ctx) => make(p, ctx.device),
    oracle: (_x, p) => ({ ...oracle(p), dtype: p.dtype }),
    tol: { float32: { rtol: 1e-7, atol: 1e-7 }, float16: { rtol: 1e-3, atol: 0 } },
    errors,
  });
}

const ARANGE = makeEntry(
  'arange',
  [{ op: 'range' }],
  hy.arange,
  (size, dtype) => [
    { args: [size === 'edge' ? 0 : size], dtype: 'int32' },
    { args: [-3, size === 'edge' ? 3 : size, 2], dtype: 'int32' },
    { args: [0.5, size === 'edge' ? -1 : size / 2, size === 'edge' ? -0.25 : 0.5], dtype },
  ],
  (p, device) => (hy.arange as (...a: unknown[]) => Tensor)(...p.args, { device, dtype: p.dtype }),
  (p) => {
    const a = p.args as number[];
    const [s, e, st] = a.length === 1 ? [0, a[0], 1] : [a[0], a[1], a[2] ?? 1];
    const n = Math.max(0, Math.ceil((e - s) / st));
    return { shape: [n], values: Array.from({ length: n }, (_, i) => s + i * st) };
  },
  (device) => [
    { label: 'step 0', run: () => hy.arange(0, 1, 0, { device }), cls: RangeError, pattern: /^arange: step must be nonzero, got 0$/ },
    { label: 'wrong direction', run: () => hy.arange(0, 5, -1, { device }), cls: RangeError, pattern: /^arange: the step -1 moves away from end 5/ },
    { label: 'NaN end', run: () => hy.arange(NaN, { device }), cls: RangeError, pattern: /^arange: end must be a finite number, got NaN$/ },
  ],
);

const LINSPACE = makeEntry(
  'linspace',
  [{ op: 'range' }],
  hy.linspace,
  (size, dtype) => [{ args: [-1, 3, size === 'edge' ? 0 : size], dtype }, ...(size === 'edge' ? [{ args: [2, 2, 1], dtype }, { args: [0, 10, 6], dtype: 'int32' as DType }] : [])],
  (p, device) => hy.linspace(p.args[0] as number, p.args[1] as number, p.args[2] as number, { device, dtype: p.dtype }),
  (p) => {
    const [a, b, n] = p.args as number[];
    const step = n > 1 ? (b - a) / (n - 1) : 0;
    const half = Math.floor(n / 2);
    return { shape: [n], values: Array.from({ length: n }, (_, i) => (i < half ? a + i * step : b - (n - 1 - i) * step)).map((v) => (p.dtype === 'int32' ? Math.trunc(v) : v)) };
  },
  (device) => [{ label: 'negative steps', run: () => hy.linspace(0, 1, -1, { device }), cls: RangeError, pattern: /^linspace: steps must be an integer from 0 to 2\^31, got -1$/ }],
);

const EYE = makeEntry(
  'eye',
  [{ op: 'fill' }, { op: 'stridedCopy' }],
  hy.eye,
  (size, dtype) => [{ args: [size === 'edge' ? 0 : Math.min(size, 40)], dtype }, { args: [3, size === 'edge' ? 5 : Math.min(size, 40)], dtype: 'int32' }],
  (p, device) => (p.args.length === 1 ? hy.eye(p.args[0] as number, { device, dtype: p.dtype }) : hy.eye(p.args[0] as number, p.args[1] as number, { device, dtype: p.dtype })),
  (p) => {
    const n = p.args[0] as number;
    const m = (p.args[1] as number | undefined) ?? n;
    return { shape: [n, m], values: Array.from({ length: n * m }, (_, i) => (Math.floor(i / m) === i % m ? 1 : 0)) };
  },
  (device) => [{ label: 'negative n', run: () => hy.eye(-1, { device }), cls: RangeError, pattern: /^eye: shape entries must be non-negative integers, got -1/ }],
);

const SEED = 1234;
const RANDINT = makeEntry(
  'randint',
  [{ op: 'random', values: ['integer'] }],
  hy.randint,
  (size) => [{ args: [-5, 7, [sized(size) * 3]], dtype: 'int32' }, { args: [2 ** 31 - 10, 2 ** 31, [sized(size)]], dtype: 'int32' }],
  (p, device) => {
    hy.manualSeed(SEED);
    return hy.randint(p.args[0] as number, p.args[1] as number, p.args[2] as number[], { device });
  },
  (p) => {
    const [lo, hi, shape] = p.args as [number, number, number[]];
    const n = numel(shape);
    // element i: Philox word i of (seed, offset 0), scaled to the range in double
    const values = Array.from({ length: n }, (_, i) => {
      const words = philox.philox4x32(BigInt(Math.floor(i / 4)), BigInt(SEED));
      const u = Number(words[i % 4]) / 4294967296;
      return Math.min(lo + Math.trunc(u * (hi - lo)), hi - 1);
    });
    return { shape, values };
  },
  (device) => [
    { label: 'high <= low', run: () => hy.randint(3, 3, [2], { device }), cls: RangeError, pattern: /^randint: high \(3\) must be greater than low \(3\)$/ },
    { label: 'float dtype', run: () => hy.randint(3, [2], { device, dtype: 'float32' }), cls: TypeError, pattern: /^randint: dtype must be 'int32'/ },
  ],
);

const RANDPERM = makeEntry(
  'randperm',
  [{ op: 'random', values: ['uniform'] }],
  hy.randperm,
  (size) => [{ args: [size === 'edge' ? 0 : size], dtype: 'int32' }],
  (p, device) => {
    hy.manualSeed(SEED);
    return hy.randperm(p.args[0] as number, { device });
  },
  (p) => {
    const n = p.args[0] as number;
    const keys = Array.from({ length: n }, (_, i) => Math.fround(philox.uniform(SEED, 0, i)));
    const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => keys[a] - keys[b] || a - b);
    return { shape: [n], values: idx };
  },
  (device) => [{ label: 'negative n', run: () => hy.randperm(-1, { device }), cls: RangeError, pattern: /^randperm: n must be an integer from 0 to 2\^27, got -1$/ }],
);

function argEntry(kind: 'max' | 'min'): OpEntry {
  const name = kind === 'max' ? 'argmax' : 'argmin';
  const fn = kind === 'max' ? hy.argmax : hy.argmin;
  interface P { shape: number[]; dim?: number; keepdim: boolean }
  return entry<P>({
    name,
    errorName: name,
    native: [{ op: 'argReduce', values: [kind] }],
    dtypes: FLOATS,
    fn,
    fuzzArity: 3,
    sample(rng, size) {
      const n = sized(size);
      const ps: P[] = [{ shape: [n, 4], dim: 1, keepdim: false }, { shape: [n, 4], keepdim: false }, { shape: [3, n], dim: 0, keepdim: true }];
      return ps.map((p) => ({ label: `${shapeLabel(p.shape)} dim=${p.dim}${p.keepdim ? ' keepdim' : ''}`, inputs: [{ shape: p.shape, values: uniform(rng, numel(p.shape), 0, 4).map(Math.floor) }], params: p }));
    },
    call: ([x], p) => fn(x, p.dim, { keepdim: p.keepdim }),
    oracle: (x, p) => {
      if (p.dim === undefined) {
        const r = ref.argExtreme(x[0], [numel(p.shape)], 0, kind);
        return { shape: p.keepdim ? p.shape.map(() => 1) : [], values: r.at, dtype: 'int32' };
      }
      const r = ref.argExtreme(x[0], p.shape, p.dim, kind);
      return { shape: p.keepdim ? p.shape.map((s, i) => (i === p.dim ? 1 : s)) : r.shape, values: r.at, dtype: 'int32' };
    },
    tol: EXACT,
    errors: (device) => [
      { label: 'dim out of range', run: () => fn(x23(device), 2), cls: RangeError, pattern: new RegExp(`^${name}: dim must be an integer from -2 to 1`) },
      { label: 'keepdim 1', run: () => fn(x23(device), 0, { keepdim: 1 as never }), cls: TypeError, pattern: new RegExp(`^${name}: keepdim must be a boolean`) },
    ],
  });
}

interface ScatterParams { shape: number[]; dim: number; idxShape: number[]; idx: number[] }
const SCATTER_ADD = entry<ScatterParams>({
  name: 'scatterAdd',
  errorName: 'scatterAdd',
  native: [{ op: 'indexAdd' }, { op: 'indexSelect' }],
  dtypes: FLOATS,
  fn: hy.scatterAdd,
  fuzzArity: 4,
  sample(rng, size) {
    const n = sized(size);
    const ps: Omit<ScatterParams, 'idx'>[] = [{ shape: [n, 3], dim: 0, idxShape: [n + 2, 3] }, { shape: [2, n], dim: 1, idxShape: [2, 4] }];
    return ps.map((p) => {
      const idx = intsOf(rng, numel(p.idxShape), p.shape[p.dim]);
      return {
        label: `${shapeLabel(p.shape)} dim${p.dim} idx ${shapeLabel(p.idxShape)}`,
        inputs: [
          { shape: p.shape, values: uniform(rng, numel(p.shape), -1, 1) },
          { shape: p.idxShape, values: idx, dtype: 'int32' as DType, requiresGrad: false },
          { shape: p.idxShape, values: uniform(rng, numel(p.idxShape), -1, 1) },
        ],
        params: { ...p, idx },
      };
    });
  },
  call: ([x, i, src], p) => hy.scatterAdd(x, p.dim, i, src),
  oracle: (x, p) => {
    const out = Float64Array.from(x[0]);
    for (let k = 0; k < numel(p.idxShape); k++) {
      const c = ref.unravel(k, p.idxShape);
      c[p.dim] = p.idx[k];
      out[ref.ravel(c, p.shape)] += x[2][k];
    }
    return { shape: p.shape, values: out };
  },
  tol: { float32: { rtol: 1e-6, atol: 1e-6 }, float16: { rtol: 1e-2, atol: 4e-3 } },
  grad: {
    oracle: (_x, p, w) => [Float64Array.from(w), null, ref.apply(ref.gather(p.shape, p.dim, p.idxShape, p.idx), [w])],
    tol: GRAD_EXACTISH,
  },
  errors: (device) => [
    { label: 'src shape', run: () => hy.scatterAdd(x23(device), 0, hy.zeros([1, 3], { dtype: 'int32', device }), hy.zeros([2, 3], { device })), cls: RangeError, pattern: /^scatterAdd: src has shape \[2, 3\]; it must match index's \[1, 3\]$/ },
    { label: 'index out of range (at the read)', run: () => hy.scatterAdd(x23(device), 0, hy.tensor([[0, 2, 0]], { dtype: 'int32', device }), hy.zeros([1, 3], { device })).dataSync(), cls: RangeError, pattern: /^indexAdd: index 2 at position 1 is outside \[0, 2\)$/, op: 'indexAdd' },
  ],
});

const LOGICAL_NOT = entry<{ shape: number[] }>({
  name: 'logicalNot',
  errorName: 'logicalNot',
  native: [{ op: 'compare', values: ['eq'] }],
  dtypes: FLOATS,
  fn: hy.logicalNot,
  fuzzArity: 1,
  sample: (rng, size) => [{ label: `[${sized(size)}]`, inputs: [{ shape: [sized(size)], values: uniform(rng, sized(size), -1, 1).map(Math.round) }], params: { shape: [sized(size)] } }],
  call: ([x]) => hy.logicalNot(x),
  oracle: (x, p) => ({ shape: p.shape, values: x[0].map((v) => (v === 0 ? 1 : 0)), dtype: 'bool' }),
  tol: EXACT,
  errors: () => [{ label: 'number input', run: () => hy.logicalNot(1 as never), cls: TypeError, pattern: /^logicalNot: input must be a Tensor, got 1$/ }],
});

/** The identity mapping of n elements under a new shape (views: squeeze, unsqueeze, t of a vector). */
const identity = (shape: number[]): ref.Mapping => ({ shape, src: Array.from({ length: numel(shape) }, (_, i): ref.Source => [0, i]) });

const SQUEEZE = mapEntry({
  name: 'squeeze',
  view: true,
  native: [],
  fn: hy.squeeze,
  fuzzArity: 2,
  cases: (size) => [
    { label: `[1,${sized(size)},1,2] all`, shapes: [[1, sized(size), 1, 2]], args: [undefined] },
    { label: `[1,${sized(size)},1] dim -1`, shapes: [[1, sized(size), 1]], args: [-1] },
    { label: `[${sized(size)},1,1] dims [1, 2]`, shapes: [[sized(size), 1, 1]], args: [[1, 2]] },
  ],
  call: ([x], _i, [d]) => hy.squeeze(x, d as number | number[] | undefined),
  map: (c) => {
    const d = c.args[0] as number | number[] | undefined;
    const shape = c.shapes[0];
    const dims = d === undefined ? shape.map((_, i) => i) : (Array.isArray(d) ? d : [d]).map((k) => (k < 0 ? k + shape.length : k));
    return identity(shape.filter((n, i) => !(n === 1 && dims.includes(i))));
  },
  errors: (device) => [{ label: 'dim out of range', run: () => hy.squeeze(x23(device), 2), cls: RangeError, pattern: /^squeeze: dim must be an integer from -2 to 1/ }],
});

const UNSQUEEZE = mapEntry({
  name: 'unsqueeze',
  view: true,
  native: [],
  fn: hy.unsqueeze,
  fuzzArity: 2,
  cases: (size) => [
    { label: `[${sized(size)},2] dim 0`, shapes: [[sized(size), 2]], args: [0] },
    { label: `[${sized(size)},2] dim -1`, shapes: [[sized(size), 2]], args: [-1] },
    { label: '[] dim 0', shapes: [[]], args: [0] },
  ],
  call: ([x], _i, [d]) => hy.unsqueeze(x, d as number),
  map: (c) => {
    const shape = c.shapes[0].slice();
    const d = c.args[0] as number;
    shape.splice(d < 0 ? d + shape.length + 1 : d, 0, 1);
    return identity(shape);
  },
  errors: (device) => [{ label: 'dim out of range', run: () => hy.unsqueeze(x23(device), 3), cls: RangeError, pattern: /^unsqueeze: dim must be an integer from -3 to 2/ }],
});

const T_ENTRY = mapEntry({
  name: 't',
  native: ['stridedCopy'],
  fn: hy.t,
  fuzzArity: 1,
  cases: (size) => [
    { label: `[${sized(size)},5]`, shapes: [[sized(size), 5]], args: [] },
    { label: `[${sized(size)}]`, shapes: [[sized(size)]], args: [] },
  ],
  call: ([x]) => hy.t(x),
  map: (c) => (c.shapes[0].length === 2 ? ref.permute(c.shapes[0], [1, 0]) : identity(c.shapes[0])),
  errors: (device) => [{ label: '3-d input', run: () => hy.t(hy.zeros([2, 2, 2], { device })), cls: RangeError, pattern: /^t: expects a tensor of at most 2 dimensions, got 3/ }],
});

function splitEntry(kind: 'split' | 'chunk'): OpEntry {
  /** The pieces' [start, length] along dim. */
  const pieces = (size: number, arg: number | number[]): [number, number][] => {
    const sizes = kind === 'chunk' ? (() => {
      const step = Math.max(1, Math.ceil(size / (arg as number)));
      const out: number[] = [];
      for (let s = 0; s < size; s += step) out.push(Math.min(step, size - s));
      return out.length === 0 ? [0] : out;
    })() : Array.isArray(arg) ? arg : (() => {
      const out: number[] = [];
      for (let s = 0; s < size; s += arg) out.push(Math.min(arg, size - s));
      return out.length === 0 ? [0] : out;
    })();
    let at = 0;
    return sizes.map((n) => {
      const r: [number, number] = [at, n];
      at += n;
      return r;
    });
  };
  const fn = kind === 'split' ? hy.split : hy.chunk;
  return mapEntry({
    name: kind,
    native: ['stridedCopy'],
    fn,
    fuzzArity: 3,
    cases: (size) => {
      const n = sized(size) + 2;
      return kind === 'split'
        ? [
            { label: `[${n},3] by 2`, shapes: [[n, 3]], args: [2, 0] },
            { label: `[3,${n}] sizes [1, rest] dim -1`, shapes: [[3, n]], args: [[1, n - 1], -1] },
          ]
        : [
            { label: `[${n},3] in 3`, shapes: [[n, 3]], args: [3, 0] },
            { label: `[2,${n}] in 2 dim 1`, shapes: [[2, n]], args: [2, 1] },
          ];
    },
    call: ([x], _i, [a, d]) => (fn as (x: Tensor, a: unknown, d: number) => Tensor[])(x, a, d as number),
    map: (c) => {
      const d0 = c.args[1] as number;
      const d = d0 < 0 ? d0 + c.shapes[0].length : d0;
      const [start, len] = pieces(c.shapes[0][d], c.args[0] as number | number[])[0];
      return ref.slice(c.shapes[0], d, start, 1, len);
    },
    extra: (c, x) => {
      const d0 = c.args[1] as number;
      const d = d0 < 0 ? d0 + c.shapes[0].length : d0;
      return pieces(c.shapes[0][d], c.args[0] as number | number[]).slice(1).map(([start, len]) => {
        const m = ref.slice(c.shapes[0], d, start, 1, len);
        return { shape: m.shape, values: Array.from(ref.apply(m, x)) };
      });
    },
    errors: (device) => [
      kind === 'split'
        ? { label: 'sizes that do not sum', run: () => hy.split(x23(device), [1, 1], 1), cls: RangeError, pattern: /^split: the sizes \[1, 1\] sum to 2, dimension 1 has size 3$/ }
        : { label: 'zero chunks', run: () => hy.chunk(x23(device), 0), cls: RangeError, pattern: /^chunk: chunks must be a positive integer, got 0$/ },
    ],
  });
}

export const SHAPE: OpEntry[] = [
  SQUEEZE, UNSQUEEZE, T_ENTRY, splitEntry('split'), splitEntry('chunk'),
  argEntry('max'), argEntry('min'), SCATTER_ADD, LOGICAL_NOT,
  PERMUTE, TRANSPOSE, SLICE, NARROW, SELECT, EXPAND, CAT, STACK, INDEX_SELECT, INDEX, GATHER, extremeEntry('max'), extremeEntry('min'), WHERE,
  ...(Object.keys(CMP) as CmpName[]).map(compareEntry),
  CLAMP, SQUARE, RSQRT, ARANGE, LINSPACE, EYE, RANDINT, RANDPERM,
];
