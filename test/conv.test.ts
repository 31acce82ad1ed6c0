// 2-D convolution: every registered implementation of each direction (conv2d, conv2dBackwardData,
// conv2dBackwardFilter) on every backend against the float64 oracle of reference/conv.ts, over a
// family of shapes that crosses stride, padding, dilation, groups (depthwise included) and the 1x1
// case, in float32 and float16, with and without the bias; determinism of every implementation
// that reports itself deterministic; hy.nn.functional.conv2d's autograd; bad arguments; hy.nn.Conv2d.
// CUDA shapes stay small (a few thousand multiply-adds): on the emulated device a kernel runs on
// the CPU about a thousand times slower.
import * as assert from 'uvu/assert';

import * as hy from '../lib/index';
import type { Device, Tensor } from '../lib/index';
import { native, StorageHandle, type OpArgs, type OpCandidate } from '../lib/native';
import { assertClose, assertThrows, eachBackend, presentBackends, randomArray, rng, selectedBackends, skipped, suite, ALL_BACKENDS } from './harness';
import * as ref from './reference/conv';
import type { ConvGeometry } from './reference/conv';
import { roundToHalf } from './reference/half';
import { finiteDiff } from './reference/ops';

const SUITE = 'conv';
const s = suite(SUITE);
const F = hy.nn.functional;

type CDType = 'float32' | 'float16';
const DTYPES: CDType[] = ['float32', 'float16'];
const BYTES: Record<CDType, number> = { float32: 4, float16: 2 };
type ConvOp = 'conv2d' | 'conv2dBackwardData' | 'conv2dBackwardFilter';
const OPS: ConvOp[] = ['conv2d', 'conv2dBackwardData', 'conv2dBackwardFilter'];
const emulated = native.info().emulated;

// ---- geometry ----

function geom(over: Partial<ConvGeometry> & Pick<ConvGeometry, 'N' | 'C' | 'H' | 'W' | 'K' | 'R' | 'S'>): ConvGeometry {
  return { strideH: 1, strideW: 1, padH: 0, padW: 0, dilationH: 1, dilationW: 1, groups: 1, ...over };
}

const macs = (g: ConvGeometry): number => ref.yCount(g) * (g.C / g.groups) * g.R * g.S;

function label(g: ConvGeometry): string {
  const { P, Q } = ref.outSize(g);
  return `N${g.N} C${g.C} ${g.H}x${g.W} K${g.K} k${g.R}x${g.S} st${g.strideH}x${g.strideW} pad${g.padH}x${g.padW} dil${g.dilationH}x${g.dilationW} G${g.groups} -> ${P}x${Q}`;
}

/** The shapes every implementation is checked on: each named for what it reaches. */
const FAMILY: [string, ConvGeometry][] = [
  ['stride 2x1, non-square input and kernel, padding 1x0', geom({ N: 2, C: 3, H: 7, W: 9, K: 4, R: 3, S: 2, strideH: 2, padH: 1 })],
  ['stride 2 both ways, C 3', geom({ N: 1, C: 3, H: 9, W: 8, K: 2, R: 3, S: 3, strideH: 2, strideW: 2, padH: 1, padW: 1 })],
  ['padding 2x3, larger than 1 (whole output columns read only padding)', geom({ N: 1, C: 2, H: 5, W: 6, K: 3, R: 3, S: 3, padH: 2, padW: 3 })],
  ['dilation 2x3 with stride 1x2 and padding 1x2', geom({ N: 1, C: 3, H: 8, W: 9, K: 2, R: 3, S: 2, strideW: 2, padH: 1, padW: 2, dilationH: 2, dilationW: 3 })],
  ['dilation 2, square', geom({ N: 2, C: 2, H: 7, W: 7, K: 2, R: 2, S: 2, dilationH: 2, dilationW: 2 })],
  ['C 1, N 2', geom({ N: 2, C: 1, H: 6, W: 5, K: 3, R: 2, S: 3 })],
  ['depthwise (groups = C = 4), channel multiplier 2, stride 1x2', geom({ N: 2, C: 4, H: 6, W: 7, K: 8, R: 3, S: 3, strideW: 2, padH: 1, padW: 1, groups: 4 })],
  ['depthwise (groups = C = K = 3)', geom({ N: 1, C: 3, H: 5, W: 6, K: 3, R: 3, S: 2, padH: 1, groups: 3 })],
  ['groups 2, stride 2, padding 0x1', geom({ N: 1, C: 6, H: 5, W: 5, K: 4, R: 2, S: 3, strideH: 2, strideW: 2, padW: 1, groups: 2 })],
  ['1x1 pointwise (gemm1x1 applies)', geom({ N: 2, C: 3, H: 5, W: 7, K: 4, R: 1, S: 1 })],
  ['1x1 pointwise with groups 2, N 1', geom({ N: 1, C: 4, H: 3, W: 5, K: 6, R: 1, S: 1, groups: 2 })],
  ['1x1 with stride 2 and padding 1 (not pointwise)', geom({ N: 1, C: 3, H: 7, W: 6, K: 2, R: 1, S: 1, strideH: 2, strideW: 2, padH: 1, padW: 1 })],
  ['kernel exactly the padded input: one output', geom({ N: 1, C: 2, H: 4, W: 3, K: 2, R: 6, S: 3, padH: 1 })],
  ['stride larger than the kernel (input rows skipped)', geom({ N: 1, C: 2, H: 9, W: 8, K: 2, R: 2, S: 1, strideH: 3, strideW: 4 })],
];

/** A few more drawn at random (seeded), each within the cost bound and valid. */
function randomFamily(count: number, seed: number): [string, ConvGeometry][] {
  const r = rng(seed);
  const pick = (lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
  const out: [string, ConvGeometry][] = [];
  while (out.length < count) {
    const groups = [1, 1, 2, 3][pick(0, 3)];
    const g = geom({
      N: pick(1, 2), C: groups * pick(1, 3), H: pick(1, 9), W: pick(1, 9), K: groups * pick(1, 3), R: pick(1, 4), S: pick(1, 4),
      strideH: pick(1, 3), strideW: pick(1, 3), padH: pick(0, 2), padW: pick(0, 2), dilationH: pick(1, 2), dilationW: pick(1, 2), groups,
    });
    const { P, Q } = ref.outSize(g);
    if (g.dilationH * (g.R - 1) + 1 > g.H + 2 * g.padH || g.dilationW * (g.S - 1) + 1 > g.W + 2 * g.padW || P < 1 || Q < 1) continue;
    if (macs(g) > 4000) continue;
    out.push([`random #${out.length}`, g]);
  }
  return out;
}

const SHAPES: [string, ConvGeometry][] = [...FAMILY, ...randomFamily(4, 2024)];

// ---- storages ----

/** The values a storage of dtype really holds, so the oracle sees exactly the kernel's inputs. */
function representable(dtype: CDType, x: ArrayLike<number>): Float64Array {
  return Float64Array.from(x, dtype === 'float16' ? (v) => roundToHalf(Math.fround(v)) : Math.fround);
}

function upload(device: Device, dtype: CDType, values: ArrayLike<number>): StorageHandle {
  const storage = native.alloc(device, Math.max(1, values.length) * BYTES[dtype]);
  if (values.length > 0) native.write(storage, dtype, Float32Array.from(values));
  return storage;
}

/** Elements past the end of every output, filled with NaN like the output: a stray write shows. */
const GUARD = 16;

function poisoned(device: Device, dtype: CDType, n: number, value = NaN): StorageHandle {
  return upload(device, dtype, new Float64Array(n + GUARD).fill(value));
}

function checkGuard(out: StorageHandle, dtype: CDType, n: number, what: string): void {
  const all = native.read(out, dtype, n + GUARD);
  for (let i = n; i < n + GUARD; i++) assert.ok(Number.isNaN(all[i]), `${what}: element ${i - n} past the output's end was written (${all[i]})`);
}

const geometryArgs = (g: ConvGeometry): OpArgs => ({ ...g });

/**
 * Compares every element with the oracle. The bound is relative to the result (the float16 output's
 * one rounding) plus a term relative to the sum of |products| behind that element, which a float32
 * sum's rounding grows with rather than with the (possibly cancelled) result.
 */
function checkValues(got: ArrayLike<number>, expected: ArrayLike<number>, absSum: ArrayLike<number>, dtype: CDType, what: string): void {
  assert.is(got.length, expected.length, `${what}: length`);
  const [rtol, sumTol, atol] = dtype === 'float32' ? [1e-6, 4e-6, 1e-7] : [1e-3, 2e-5, 1e-7];
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i];
    const bound = atol + rtol * Math.abs(e) + sumTol * absSum[i];
    if (!(Math.abs(got[i] - e) <= bound)) {
      assert.unreachable(`${what}: element ${i} = ${got[i]}, expected ${e} (|diff| ${Math.abs(got[i] - e)} > ${bound}; sum of |products| ${absSum[i]})`);
    }
  }
}

interface Inputs {
  x: Float64Array;
  w: Float64Array;
  b: Float64Array;
  dy: Float64Array;
}

function inputs(g: ConvGeometry, dtype: CDType, seed: number): Inputs {
  return {
    x: representable(dtype, randomArray(ref.xCount(g), seed)),
    w: representable(dtype, randomArray(ref.wCount(g), seed + 1)),
    b: representable(dtype, randomArray(g.K, seed + 2)),
    dy: representable(dtype, randomArray(ref.yCount(g), seed + 3)),
  };
}

/** One direction's native call on fresh storages: its arguments, its outputs and what they must hold. */
interface Call {
  args: OpArgs;
  outputs: { name: string; storage: StorageHandle; n: number; expected: () => { values: Float64Array; absSum: Float64Array } }[];
  storages: StorageHandle[];
}

/** withExtra: the optional storage (bias for conv2d, gradBias for conv2dBackwardFilter). */
function makeCall(op: ConvOp, device: Device, dtype: CDType, g: ConvGeometry, v: Inputs, withExtra: boolean, fill = NaN): Call {
  const storages: StorageHandle[] = [];
  const up = (values: ArrayLike<number>): StorageHandle => {
    const st = upload(device, dtype, values);
    storages.push(st);
    return st;
  };
  const out = (n: number): StorageHandle => {
    const st = poisoned(device, dtype, n, fill);
    storages.push(st);
    return st;
  };
  const base = { dtype, ...geometryArgs(g) };
  if (op === 'conv2d') {
    const y = out(ref.yCount(g));
    const bias = withExtra ? v.b : null;
    return {
      args: { ...base, x: up(v.x), w: up(v.w), bias: bias === null ? null : up(bias), y },
      outputs: [{ name: 'y', storage: y, n: ref.yCount(g), expected: () => ({ values: ref.conv2d(v.x, v.w, bias, g), absSum: ref.conv2dAbs(v.x, v.w, bias, g) }) }],
      storages,
    };
  }
  if (op === 'conv2dBackwardData') {
    const gradIn = out(ref.xCount(g));
    return {
      args: { ...base, gradOut: up(v.dy), w: up(v.w), gradIn },
      outputs: [{ name: 'gradIn', storage: gradIn, n: ref.xCount(g), expected: () => ({ values: ref.conv2dBackwardData(v.dy, v.w, g), absSum: ref.conv2dBackwardDataAbs(v.dy, v.w, g) }) }],
      storages,
    };
  }
  const gradWeight = out(ref.wCount(g));
  const gradBias = withExtra ? out(g.K) : null;
  const filter = (): { gradWeight: Float64Array; gradBias: Float64Array }[] => [ref.conv2dBackwardFilter(v.x, v.dy, g), ref.conv2dBackwardFilterAbs(v.x, v.dy, g)];
  const outputs: Call['outputs'] = [{ name: 'gradWeight', storage: gradWeight, n: ref.wCount(g), expected: () => { const [e, a] = filter(); return { values: e.gradWeight, absSum: a.gradWeight }; } }];
  if (gradBias !== null) outputs.push({ name: 'gradBias', storage: gradBias, n: g.K, expected: () => { const [e, a] = filter(); return { values: e.gradBias, absSum: a.gradBias }; } });
  return { args: { ...base, x: up(v.x), gradOut: up(v.dy), gradWeight, gradBias }, outputs, storages };
}

const extraName = (op: ConvOp): string | null => (op === 'conv2d' ? 'bias' : op === 'conv2dBackwardFilter' ? 'gradBias' : null);

const implLists = new Map<string, string[]>();
function implsOf(op: ConvOp, device: Device): string[] {
  const key = `${op} ${device}`;
  if (!implLists.has(key)) {
    const d = native.ops().find((o) => o.name === op);
    assert.ok(d !== undefined, `native op '${op}' is registered`);
    implLists.set(key, d.impls[device]);
  }
  return implLists.get(key)!;
}

// Cases registered per backend and implementation (the implementations differ by backend); an
// absent or deselected backend is one named skip per op, as eachBackend names them.
function eachImpl(op: ConvOp, name: string, fn: (device: Device, impl: string) => void): void {
  for (const device of ALL_BACKENDS) {
    const why = !selectedBackends.includes(device) ? 'deselected by HY_BACKENDS' : !presentBackends.includes(device) ? `${device} not available` : undefined;
    if (why !== undefined) {
      const caseName = `${op}: every implementation ${name} [${device}]`;
      skipped.push(`${SUITE} > ${caseName}: ${why}`);
      s.skip(caseName, () => undefined);
      continue;
    }
    const impls = implsOf(op, device);
    if (impls.length === 0) {
      s(`${op}: has implementations [${device}]`, () => {
        assert.unreachable(`${op} has no ${device} implementation registered (native.ops() lists none)`);
      });
      continue;
    }
    for (const impl of impls) s(`${op} '${impl}' ${name} [${device}]`, () => fn(device, impl));
  }
}

function candidateOf(op: ConvOp, args: OpArgs, impl: string, device: Device): OpCandidate {
  const list = native.candidates(op, args);
  assert.equal(list.map((c) => c.name), implsOf(op, device), `${op}: candidates() lists the ${device} implementations in registration order`);
  const c = list.find((x) => x.name === impl)!;
  assert.ok(Number.isInteger(c.workspaceBytes) && c.workspaceBytes >= 0, `${op} ${impl}: workspaceBytes ${c.workspaceBytes}`);
  assert.is(typeof c.deterministic, 'boolean');
  if (!c.applies) assert.is(c.workspaceBytes, 0, `${op} ${impl}: no workspace where it does not apply`);
  return c;
}

function dispose(storages: StorageHandle[]): void {
  for (const st of storages) st.dispose();
}

// ---- the oracle itself ----

s('the oracle: a hand-computed example of each direction', () => {
  // x 1x1x3x3 = 1..9, w 1x1x2x2 = [1, 0; 0, -1], stride 1, no padding: y[p, q] = x[p, q] - x[p+1, q+1] = -4 everywhere.
  const g = geom({ N: 1, C: 1, H: 3, W: 3, K: 1, R: 2, S: 2 });
  const x = [1, 2, 3, 4, 5, 6, 7, 8, 9];
  const w = [1, 0, 0, -1];
  assert.equal(Array.from(ref.conv2d(x, w, null, g)), [-4, -4, -4, -4]);
  assert.equal(Array.from(ref.conv2d(x, w, [0.5], g)), [-3.5, -3.5, -3.5, -3.5]);
  // dy = [1, 2; 3, 4]: dx[h, w] = dy[h, w] * 1 - dy[h-1, w-1] * 1
  const dy = [1, 2, 3, 4];
  assert.equal(Array.from(ref.conv2dBackwardData(dy, w, g)), [1, 2, 0, 3, 3, -2, 0, -3, -4]);
  // dw[r, s] = sum over p, q of dy[p, q] x[p + r, q + s]; db = 10
  const f = ref.conv2dBackwardFilter(x, dy, g);
  assert.equal(Array.from(f.gradWeight), [1 * 1 + 2 * 2 + 3 * 4 + 4 * 5, 1 * 2 + 2 * 3 + 3 * 5 + 4 * 6, 1 * 4 + 2 * 5 + 3 * 7 + 4 * 8, 1 * 5 + 2 * 6 + 3 * 8 + 4 * 9]);
  assert.equal(Array.from(f.gradBias), [10]);
  // stride 2, padding 1, dilation 2 on a 1x1x3x3 input with a 2x2 kernel of ones: taps at
  // rows/cols {-1, 1} and {1, 3} of the padded grid: y = [x[1,1], x[1,1]; x[1,1], x[1,1]] = 5.
  const g2 = geom({ N: 1, C: 1, H: 3, W: 3, K: 1, R: 2, S: 2, strideH: 2, strideW: 2, padH: 1, padW: 1, dilationH: 2, dilationW: 2 });
  assert.equal(ref.outSize(g2), { P: 2, Q: 2 });
  assert.equal(Array.from(ref.conv2d(x, [1, 1, 1, 1], null, g2)), [5, 5, 5, 5]);
});

s('the oracle: forward agrees with an explicitly padded, per-group formulation; backwards are its adjoints and its derivatives', () => {
  for (const [name, g] of SHAPES) {
    const what = `${name} (${label(g)})`;
    const v = inputs(g, 'float32', 11);
    // forward again: pad x into a zero array, then index without bounds checks
    const { P, Q } = ref.outSize(g);
    const Hp = g.H + 2 * g.padH;
    const Wp = g.W + 2 * g.padW;
    const xp = new Float64Array(g.N * g.C * Hp * Wp);
    for (let n = 0; n < g.N; n++) for (let c = 0; c < g.C; c++) for (let h = 0; h < g.H; h++) for (let w = 0; w < g.W; w++) {
      xp[((n * g.C + c) * Hp + h + g.padH) * Wp + w + g.padW] = v.x[((n * g.C + c) * g.H + h) * g.W + w];
    }
    const Cg = g.C / g.groups;
    const Kg = g.K / g.groups;
    const y2 = new Float64Array(ref.yCount(g));
    for (let grp = 0; grp < g.groups; grp++) for (let n = 0; n < g.N; n++) for (let kk = 0; kk < Kg; kk++) for (let p = 0; p < P; p++) for (let q = 0; q < Q; q++) {
      const k = grp * Kg + kk;
      let acc = v.b[k];
      for (let c = 0; c < Cg; c++) for (let r = 0; r < g.R; r++) for (let t = 0; t < g.S; t++) {
        acc += xp[((n * g.C + grp * Cg + c) * Hp + p * g.strideH + r * g.dilationH) * Wp + q * g.strideW + t * g.dilationW] * v.w[((k * Cg + c) * g.R + r) * g.S + t];
      }
      y2[((n * g.K + k) * P + p) * Q + q] = acc;
    }
    const y = ref.conv2d(v.x, v.w, v.b, g);
    assertClose(y, y2, { rtol: 1e-12, atol: 1e-12 }, `${what}: forward`);
    // <conv(x, w), dy> = <x, dX(dy, w)> = <w, dW(x, dy)>, and <dy, 1 per k> = db
    const dot = (a: ArrayLike<number>, b: ArrayLike<number>): number => Array.from(a).reduce((acc, ai, i) => acc + ai * b[i], 0);
    const yNoBias = ref.conv2d(v.x, v.w, null, g);
    const lhs = dot(yNoBias, v.dy);
    const dx = ref.conv2dBackwardData(v.dy, v.w, g);
    const f = ref.conv2dBackwardFilter(v.x, v.dy, g);
    assert.ok(Math.abs(dot(v.x, dx) - lhs) <= 1e-9 * (1 + Math.abs(lhs)), `${what}: backward data is the adjoint`);
    assert.ok(Math.abs(dot(v.w, f.gradWeight) - lhs) <= 1e-9 * (1 + Math.abs(lhs)), `${what}: backward filter is the adjoint`);
    assert.ok(Math.abs(dot(v.b, f.gradBias) - (dot(ref.conv2d(v.x, v.w, v.b, g), v.dy) - lhs)) <= 1e-9 * (1 + Math.abs(lhs)), `${what}: bias gradient`);
    // and, on the smaller shapes, against central differences of the forward
    if (ref.xCount(g) * ref.yCount(g) <= 20_000) {
      const fdx = finiteDiff((xv) => ref.conv2d(xv, v.w, v.b, g), v.x, v.dy);
      assertClose(dx, fdx, { rtol: 1e-6, atol: 1e-7 }, `${what}: backward data against differences`);
      const fdw = finiteDiff((wv) => ref.conv2d(v.x, wv, v.b, g), v.w, v.dy);
      assertClose(f.gradWeight, fdw, { rtol: 1e-6, atol: 1e-7 }, `${what}: backward filter against differences`);
    }
  }
});

// ---- every implementation against the oracle ----

for (const op of OPS) {
  eachImpl(op, 'matches the oracle over the shape family, float32 and float16, outputs poisoned with NaN', (device, impl) => {
    let ran = 0;
    let seed = 100;
    for (const [name, g] of SHAPES) {
      assert.ok(macs(g) <= 5000, `${name}: ${macs(g)} multiply-adds keeps the emulated device quick`);
      for (const dtype of DTYPES) {
        const v = inputs(g, dtype, (seed += 10));
        for (const withExtra of extraName(op) === null ? [false] : [true, false]) {
          const what = `${op} '${impl}' ${dtype} ${name} (${label(g)})${withExtra ? ` with ${extraName(op)}` : ''} [${device}]`;
          const call = makeCall(op, device, dtype, g, v, withExtra);
          try {
            const c = candidateOf(op, call.args, impl, device);
            if (!c.applies) {
              assertThrows(() => native.run(op, { ...call.args, impl }), RangeError, new RegExp(`^${op}: impl '${impl}' does not apply to these arguments$`), `${what}: refuses`);
              continue;
            }
            native.run(op, { ...call.args, impl });
            for (const o of call.outputs) {
              const got = native.read(o.storage, dtype, o.n);
              const e = o.expected();
              checkValues(got, e.values, e.absSum, dtype, `${what}: ${o.name}`);
              checkGuard(o.storage, dtype, o.n, `${what}: ${o.name}`);
            }
            ran++;
          } finally {
            dispose(call.storages);
          }
        }
      }
    }
    assert.ok(ran > 0, `${op} '${impl}' applies to none of the family's shapes on ${device}: add a shape it applies to`);
  });
}

// Larger than the family: several GEMM blocks, threads splitting images and channels, and long
// sums. Too slow for the emulated device, where the family covers the same code paths.
function eachBackendUnlessEmulated(name: string, fn: (device: Device) => void): void {
  if (!emulated) {
    eachBackend(s, name, fn);
    return;
  }
  for (const device of ALL_BACKENDS) {
    const caseName = `${name} [${device}]`;
    const why = !selectedBackends.includes(device)
      ? 'deselected by HY_BACKENDS'
      : !presentBackends.includes(device)
        ? `${device} not available`
        : device === 'cuda'
          ? 'too slow on the emulated device'
          : undefined;
    if (why === undefined) {
      s(caseName, () => fn(device));
    } else {
      skipped.push(`${SUITE} > ${caseName}: ${why}`);
      s.skip(caseName, () => undefined);
    }
  }
}

eachBackendUnlessEmulated('every implementation at a larger shape (N 3, C 16, 19x21, K 24, 3x3, groups 2) and a large 1x1', (device) => {
  const shapes: ConvGeometry[] = [
    geom({ N: 3, C: 16, H: 19, W: 21, K: 24, R: 3, S: 3, padH: 1, padW: 1, strideW: 2, groups: 2 }),
    geom({ N: 2, C: 40, H: 17, W: 15, K: 72, R: 1, S: 1 }),
  ];
  let seed = 900;
  for (const g of shapes) {
    for (const dtype of DTYPES) {
      const v = inputs(g, dtype, (seed += 10));
      for (const op of OPS) {
        for (const impl of implsOf(op, device)) {
          const call = makeCall(op, device, dtype, g, v, extraName(op) !== null);
          try {
            if (!candidateOf(op, call.args, impl, device).applies) continue;
            native.run(op, { ...call.args, impl });
            for (const o of call.outputs) {
              const e = o.expected();
              checkValues(native.read(o.storage, dtype, o.n), e.values, e.absSum, dtype, `${op} '${impl}' ${dtype} ${label(g)}: ${o.name} [${device}]`);
              checkGuard(o.storage, dtype, o.n, `${op} '${impl}' ${label(g)}: ${o.name}`);
            }
          } finally {
            dispose(call.storages);
          }
        }
      }
    }
  }
});

eachBackend(s, 'N 0: the backward filter writes zeros (weight and bias), the other directions have nothing to write', (device) => {
  const g = geom({ N: 0, C: 2, H: 4, W: 5, K: 3, R: 3, S: 2, padH: 1 });
  for (const dtype of DTYPES) {
    const v = inputs(g, dtype, 77);
    for (const impl of implsOf('conv2dBackwardFilter', device)) {
      const call = makeCall('conv2dBackwardFilter', device, dtype, g, v, true);
      try {
        if (!candidateOf('conv2dBackwardFilter', call.args, impl, device).applies) continue;
        native.run('conv2dBackwardFilter', { ...call.args, impl });
        for (const o of call.outputs) {
          assert.equal(Array.from(native.read(o.storage, dtype, o.n)), new Array(o.n).fill(0), `'${impl}' ${dtype}: ${o.name} is zero`);
          checkGuard(o.storage, dtype, o.n, `'${impl}' N 0: ${o.name}`);
        }
      } finally {
        dispose(call.storages);
      }
    }
    for (const op of ['conv2d', 'conv2dBackwardData'] as const) {
      for (const impl of implsOf(op, device)) {
        const call = makeCall(op, device, dtype, g, v, op === 'conv2d');
        try {
          if (!candidateOf(op, call.args, impl, device).applies) continue;
          native.run(op, { ...call.args, impl });
          const o = call.outputs[0];
          checkGuard(o.storage, dtype, 0, `${op} '${impl}' N 0`);
        } finally {
          dispose(call.storages);
        }
      }
    }
  }
});

// ---- determinism ----

eachBackend(s, 'each implementation reported deterministic gives bit-identical results across two runs, whatever its output held', (device) => {
  const shapes = [
    geom({ N: 2, C: 4, H: 7, W: 6, K: 4, R: 3, S: 2, strideH: 2, padH: 1, padW: 1, groups: 2 }),
    geom({ N: 2, C: 4, H: 5, W: 6, K: 6, R: 1, S: 1 }),
  ];
  let checked = 0;
  const nondeterministic: string[] = [];
  for (const g of shapes) {
    for (const dtype of DTYPES) {
      const v = inputs(g, dtype, 300);
      for (const op of OPS) {
        for (const impl of implsOf(op, device)) {
          const first = makeCall(op, device, dtype, g, v, extraName(op) !== null);
          const second = makeCall(op, device, dtype, g, v, extraName(op) !== null, 1234.5);
          try {
            const c = candidateOf(op, first.args, impl, device);
            if (!c.applies) continue;
            if (!c.deterministic) {
              nondeterministic.push(`${op} '${impl}'`);
              continue;
            }
            native.run(op, { ...first.args, impl });
            native.run(op, { ...second.args, impl });
            first.outputs.forEach((o, i) => {
              const a = native.read(o.storage, dtype, o.n);
              const b = native.read(second.outputs[i].storage, dtype, o.n);
              for (let j = 0; j < o.n; j++) {
                if (!Object.is(a[j], b[j])) assert.unreachable(`${op} '${impl}' ${dtype} ${label(g)}: ${o.name}[${j}] is ${a[j]} then ${b[j]}`);
              }
            });
            checked++;
          } finally {
            dispose(first.storages);
            dispose(second.storages);
          }
        }
      }
    }
  }
  // Those that report themselves nondeterministic matched the oracle above; the autotuner's
  // deterministic filter leaves them out (autotune.test.ts).
  assert.ok(checked > 0, `some implementation is deterministic (nondeterministic: ${nondeterministic.join(', ') || 'none'})`);
});

// ---- hy.nn.functional.conv2d: forward and autograd ----

interface FnCase {
  label: string;
  x: number[];
  w: number[];
  b: boolean;
  opts: hy.nn.Conv2dOptions;
  /** The geometry the options mean (padding resolved). */
  g: ConvGeometry;
}

function fnCase(labelText: string, x: number[], w: number[], b: boolean, opts: hy.nn.Conv2dOptions, pad: [number, number]): FnCase {
  const [N, C, H, W] = x.length === 4 ? x : [1, ...x];
  const [K, , R, S] = w;
  const pair = (v: number | [number, number] | undefined): [number, number] => (v === undefined ? [1, 1] : typeof v === 'number' ? [v, v] : v);
  const [strideH, strideW] = pair(opts.stride);
  const [dilationH, dilationW] = pair(opts.dilation);
  return { label: labelText, x, w, b, opts, g: { N, C, H, W, K, R, S, strideH, strideW, padH: pad[0], padW: pad[1], dilationH, dilationW, groups: opts.groups ?? 1 } };
}

const FN_CASES: FnCase[] = [
  fnCase('stride [2, 1], padding [1, 2], dilation [1, 2]', [2, 3, 5, 6], [4, 3, 3, 2], true, { stride: [2, 1], padding: [1, 2], dilation: [1, 2] }, [1, 2]),
  fnCase('groups 2, no bias', [1, 4, 5, 5], [2, 2, 2, 3], false, { groups: 2, padding: 1 }, [1, 1]),
  fnCase('3-D unbatched input', [3, 5, 4], [2, 3, 2, 2], true, { stride: 2, padding: 1 }, [1, 1]),
  fnCase("padding 'same' (kernel 3x5)", [1, 2, 5, 6], [3, 2, 3, 5], true, { padding: 'same' }, [1, 2]),
  fnCase("padding 'same' with kernel 3x3, dilation [2, 1]", [1, 2, 6, 5], [2, 2, 3, 3], true, { padding: 'same', dilation: [2, 1] }, [2, 1]),
  fnCase("padding 'valid'", [2, 2, 4, 6], [3, 2, 3, 2], true, { padding: 'valid', stride: [1, 2] }, [0, 0]),
  fnCase('depthwise, 1x1', [1, 3, 3, 4], [3, 1, 1, 1], true, { groups: 3 }, [0, 0]),
];

const round = (dtype: CDType) => (v: number): number => (dtype === 'float16' ? roundToHalf(Math.fround(v)) : Math.fround(v));

function tensorOf(values: ArrayLike<number>, shape: number[], device: Device, dtype: CDType, requiresGrad: boolean): Tensor {
  return hy.tensor(Array.from(values), { shape, device, dtype, requiresGrad });
}

function fnTol(dtype: CDType, expected: ArrayLike<number>): { rtol: number; atol: number } {
  let m = 0;
  for (let i = 0; i < expected.length; i++) m = Math.max(m, Math.abs(expected[i]));
  return dtype === 'float16' ? { rtol: 1e-2, atol: 5e-3 * Math.max(1, m) } : { rtol: 1e-5, atol: 1e-5 * Math.max(1, m) };
}

eachBackend(s, 'functional conv2d: forward and the gradients of input, weight and bias against the oracle', (device) => {
  for (const dtype of DTYPES) {
    FN_CASES.forEach((c, i) => {
      const what = `${dtype} ${c.label} [${device}]`;
      const seed = 500 + 10 * i;
      const xv = Array.from(randomArray(ref.xCount(c.g), seed), round(dtype));
      const wv = Array.from(randomArray(ref.wCount(c.g), seed + 1), round(dtype));
      const bv = c.b ? Array.from(randomArray(c.g.K, seed + 2), round(dtype)) : null;
      const { P, Q } = ref.outSize(c.g);
      const outShape = c.x.length === 4 ? [c.g.N, c.g.K, P, Q] : [c.g.K, P, Q];
      if (c.opts.padding === 'same') assert.equal([P, Q], [c.g.H, c.g.W], `${what}: 'same' keeps the size`);
      hy.tidy(() => {
        const x = tensorOf(xv, c.x, device, dtype, true);
        const w = tensorOf(wv, c.w, device, dtype, true);
        const b = bv === null ? null : tensorOf(bv, [c.g.K], device, dtype, true);
        const y = F.conv2d(x, w, b, c.opts);
        assert.equal(y.shape, outShape, `${what}: output shape`);
        assert.is(y.dtype, dtype);
        const expected = Array.from(ref.conv2d(xv, wv, bv, c.g), round(dtype));
        assertClose(y.dataSync(), expected, fnTol(dtype, expected), `${what}: forward`);
        const dy = Array.from(randomArray(y.numel, seed + 3), round(dtype));
        hy.sum(hy.mul(y, tensorOf(dy, outShape, device, dtype, false))).backward();
        const dx = ref.conv2dBackwardData(dy, wv, c.g);
        const f = ref.conv2dBackwardFilter(xv, dy, c.g);
        assert.equal(x.grad!.shape, c.x, `${what}: input grad shape`);
        assert.equal(w.grad!.shape, c.w, `${what}: weight grad shape`);
        assertClose(x.grad!.dataSync(), dx, fnTol(dtype, dx), `${what}: input grad`);
        assertClose(w.grad!.dataSync(), f.gradWeight, fnTol(dtype, f.gradWeight), `${what}: weight grad`);
        if (b !== null) assertClose(b.grad!.dataSync(), f.gradBias, fnTol(dtype, f.gradBias), `${what}: bias grad`);
      });
    });
  }
});

eachBackend(s, 'functional conv2d: only the weight requires grad (input and bias get none), and only the bias', (device) => {
  const c = FN_CASES[0];
  const xv = Array.from(randomArray(ref.xCount(c.g), 1), Math.fround);
  const wv = Array.from(randomArray(ref.wCount(c.g), 2), Math.fround);
  const bv = Array.from(randomArray(c.g.K, 3), Math.fround);
  const { P, Q } = ref.outSize(c.g);
  const dy = Array.from(randomArray(c.g.N * c.g.K * P * Q, 4), Math.fround);
  const f = ref.conv2dBackwardFilter(xv, dy, c.g);
  for (const [wantW, wantB] of [[true, false], [false, true]] as const) {
    hy.tidy(() => {
      const x = tensorOf(xv, c.x, device, 'float32', false);
      const w = tensorOf(wv, c.w, device, 'float32', wantW);
      const b = tensorOf(bv, [c.g.K], device, 'float32', wantB);
      const y = F.conv2d(x, w, b, c.opts);
      hy.sum(hy.mul(y, tensorOf(dy, y.shape.slice(), device, 'float32', false))).backward();
      assert.is(x.grad, null, 'the input gets no gradient');
      if (wantW) assertClose(w.grad!.dataSync(), f.gradWeight, fnTol('float32', f.gradWeight), 'weight grad');
      else assert.is(w.grad, null, 'the weight gets no gradient');
      if (wantB) assertClose(b.grad!.dataSync(), f.gradBias, fnTol('float32', f.gradBias), 'bias grad');
      else assert.is(b.grad, null, 'the bias gets no gradient');
    });
  }
  // nothing requires grad: no graph
  hy.tidy(() => {
    const y = F.conv2d(tensorOf(xv, c.x, device, 'float32', false), tensorOf(wv, c.w, device, 'float32', false), null, c.opts);
    assert.is(y.requiresGrad, false);
  });
});

eachBackend(s, 'functional conv2d: a training step frees everything it allocated (workspaces included)', (device) => {
  const c = FN_CASES[0];
  const step = (): void =>
    hy.tidy(() => {
      const x = tensorOf(randomArray(ref.xCount(c.g), 8), c.x, device, 'float32', true);
      const w = tensorOf(randomArray(ref.wCount(c.g), 9), c.w, device, 'float32', true);
      const b = tensorOf(randomArray(c.g.K, 10), [c.g.K], device, 'float32', true);
      hy.sum(F.conv2d(x, w, b, c.opts)).backward();
      w.grad!.dataSync();
      x.grad!.dataSync();
    });
  step(); // the autotuner's first sight of these keys times every implementation
  native.cpuSynchronize();
  const pool = device === 'cpu' ? 'cpu' : 'cuda';
  const before = hy.memory.stats(pool).liveBytes;
  for (let i = 0; i < 3; i++) {
    step();
    native.cpuSynchronize();
    assert.is(hy.memory.stats(pool).liveBytes, before, `step ${i}: live bytes back to the baseline`);
  }
});

// ---- bad arguments ----

eachBackend(s, 'functional conv2d: bad arguments are TypeErrors or RangeErrors naming conv2d, the argument and the value', (device) => {
  hy.tidy(() => {
    const x = hy.ones([1, 3, 5, 5], { device });
    const w = hy.ones([2, 3, 3, 3], { device });
    const conv = (xx: Tensor, ww: Tensor, b: Tensor | null = null, o?: unknown) => () => F.conv2d(xx, ww, b, o as hy.nn.Conv2dOptions);
    conv(x, w)(); // the baseline is valid
    assertThrows(conv(x, hy.ones([2, 1, 3, 3], { device }), null, { groups: 2 }), RangeError, /^conv2d: input channels 3 must be divisible by groups 2$/, 'C not divisible by groups');
    assertThrows(conv(hy.ones([1, 4, 5, 5], { device }), hy.ones([3, 2, 3, 3], { device }), null, { groups: 2 }), RangeError,
      /^conv2d: output channels 3 \(weight's first dim\) must be divisible by groups 2$/, 'K not divisible by groups');
    assertThrows(conv(x, hy.ones([2, 2, 3, 3], { device })), RangeError, /^conv2d: weight \[2, 2, 3, 3\] expects 2 input channels with groups 1, input \[1, 3, 5, 5\] has 3$/, 'weight channels');
    assertThrows(conv(x, hy.ones([2, 3, 6, 3], { device })), RangeError, /^conv2d: kernel 6x3 \(dilation 1x1\) is larger than the padded input 5x5$/, 'kernel taller than the input');
    assertThrows(conv(x, w, null, { dilation: [1, 3] }), RangeError, /^conv2d: kernel 3x3 \(dilation 1x3\) is larger than the padded input 5x5$/, 'dilated kernel wider than the input');
    conv(x, hy.ones([2, 3, 6, 3], { device }), null, { padding: [1, 0] })(); // fits once padded
    assertThrows(conv(x, w, null, { stride: 0 }), RangeError, /^conv2d: stride must be positive integers, got 0$/, 'stride 0');
    assertThrows(conv(x, w, null, { stride: [1, -2] }), RangeError, /^conv2d: stride must be positive integers, got \[1, -2\]$/, 'negative stride');
    assertThrows(conv(x, w, null, { stride: 1.5 }), RangeError, /^conv2d: stride must be positive integers, got 1\.5$/, 'fractional stride');
    assertThrows(conv(x, w, null, { dilation: 0 }), RangeError, /^conv2d: dilation must be positive integers, got 0$/, 'dilation 0');
    assertThrows(conv(x, w, null, { dilation: [-1, 1] }), RangeError, /^conv2d: dilation must be positive integers, got \[-1, 1\]$/, 'negative dilation');
    assertThrows(conv(x, w, null, { padding: -1 }), RangeError, /^conv2d: padding must be non-negative integers, got -1$/, 'negative padding');
    assertThrows(conv(x, w, null, { padding: [0, -3] }), RangeError, /^conv2d: padding must be non-negative integers, got \[0, -3\]$/, 'negative padding pair');
    assertThrows(conv(x, w, null, { padding: 'full' }), RangeError, /^conv2d: padding must be a number, a pair, 'same' or 'valid', got 'full'$/, "padding 'full'");
    assertThrows(conv(x, w, null, { padding: [1, 2, 3] }), TypeError, /^conv2d: padding must be a number or a pair of numbers, got \[1, 2, 3\]$/, 'padding triple');
    assertThrows(conv(x, w, null, { stride: '2' }), TypeError, /^conv2d: stride must be a number or a pair of numbers, got '2'$/, 'string stride');
    assertThrows(conv(x, w, null, { padding: 'same', stride: 2 }), RangeError, /^conv2d: padding 'same' needs stride 1, got stride 2$/, "'same' with stride 2");
    assertThrows(conv(x, hy.ones([2, 3, 2, 2], { device }), null, { padding: 'same' }), RangeError, /^conv2d: padding 'same' with kernel 2x2 and dilation 1x1 needs uneven padding/, "'same' with an even kernel");
    assertThrows(conv(x, w, null, { groups: 0 }), RangeError, /^conv2d: groups must be a positive integer, got 0$/, 'groups 0');
    assertThrows(conv(x, w, null, { groups: 1.5 }), RangeError, /^conv2d: groups must be a positive integer, got 1\.5$/, 'fractional groups');
    assertThrows(conv(x, w, null, { strides: 2 }), TypeError, /^conv2d: unknown option 'strides'/, 'unknown option');
    assertThrows(conv(x, hy.ones([2, 3, 3], { device })), RangeError, /^conv2d: weight must be 4-D \[K, C \/ groups, R, S\], got shape \[2, 3, 3\]$/, '3-D weight');
    assertThrows(conv(x, hy.ones([1, 2, 3, 3, 3], { device })), RangeError, /^conv2d: weight must be 4-D \[K, C \/ groups, R, S\], got shape \[1, 2, 3, 3, 3\]$/, '5-D weight');
    assertThrows(conv(hy.ones([4, 3], { device }), w), RangeError, /^conv2d: input must be 3-D \[C, H, W\] or 4-D \[N, C, H, W\], got shape \[4, 3\]$/, '2-D input');
    assertThrows(conv(hy.ones([1, 1, 3, 5, 5], { device }), w), RangeError, /^conv2d: input must be 3-D \[C, H, W\] or 4-D \[N, C, H, W\], got shape \[1, 1, 3, 5, 5\]$/, '5-D input');
    assertThrows(conv(x, hy.ones([2, 3, 3, 3], { device, dtype: 'float16' })), TypeError, /^conv2d: weight must have the input's dtype float32, got float16$/, 'float16 weight, float32 input');
    assertThrows(conv(x, w, hy.ones([2], { device, dtype: 'float16' })), TypeError, /^conv2d: bias must have the input's dtype float32, got float16$/, 'float16 bias');
    assertThrows(conv(x, w, hy.ones([3], { device })), RangeError, /^conv2d: bias must have shape \[2\], got \[3\]$/, 'bias of the wrong length');
    assertThrows(conv(x, w, hy.ones([1, 2], { device })), RangeError, /^conv2d: bias must have shape \[2\], got \[1, 2\]$/, '2-D bias');
    assertThrows(conv(hy.tensor([1, 2], { dtype: 'int32', device }), w), TypeError, /^conv2d: input must be a float32 or float16 tensor/, 'int32 input');
    assertThrows(() => F.conv2d({} as never, w), TypeError, /^conv2d: input must be a Tensor, got an object/, 'an object for the input');
    assertThrows(() => F.conv2d(x, [1, 2] as never), TypeError, /^conv2d: weight must be a Tensor, got \[1, 2\]$/, 'an array for the weight');
    assertThrows(conv(x, w, null, 5), TypeError, /^conv2d: options must be an object, got 5$/, 'options not an object');
  });
});

const mixedName = 'functional conv2d: weight and bias on another device than the input are rejected';
if (presentBackends.includes('cuda')) {
  s(mixedName, () => {
    hy.tidy(() => {
      const x = hy.ones([1, 1, 3, 3]);
      assertThrows(() => F.conv2d(x, hy.ones([1, 1, 2, 2], { device: 'cuda' })), RangeError, /^conv2d: weight must be on cpu like input, got 'cuda'$/, 'weight on cuda');
      assertThrows(() => F.conv2d(x, hy.ones([1, 1, 2, 2]), hy.ones([1], { device: 'cuda' })), RangeError, /^conv2d: bias must be on cpu like input, got 'cuda'$/, 'bias on cuda');
    });
  });
} else {
  skipped.push(`${SUITE} > ${mixedName}: cuda not available`);
  s.skip(mixedName, () => undefined);
}

s('native conv ops: storages too small, aliased outputs, bad geometry and implementation names are RangeErrors naming the op and field', () => {
  const g = geom({ N: 1, C: 2, H: 4, W: 5, K: 3, R: 3, S: 2, padH: 1 }); // P 4, Q 4
  const v = inputs(g, 'float32', 5);
  const small = native.alloc('cpu', 8);
  const calls = OPS.map((op) => makeCall(op, 'cpu', 'float32', g, v, extraName(op) !== null));
  const [fwd, data, filter] = calls.map((c) => c.args);
  try {
    for (const [op, args] of [['conv2d', fwd], ['conv2dBackwardData', data], ['conv2dBackwardFilter', filter]] as const) native.run(op, args);
    native.cpuSynchronize();
    const run = (op: ConvOp, args: OpArgs, over: OpArgs) => () => native.run(op, { ...args, ...over });
    // too-small storages name the field, the elements and bytes needed and those given
    assertThrows(run('conv2d', fwd, { x: small }), RangeError, /^conv2d: x must be a storage of 40 float32 elements \(160 bytes\), got one of 8 bytes$/, 'x');
    assertThrows(run('conv2d', fwd, { w: small }), RangeError, /^conv2d: w must be a storage of 36 float32 elements \(144 bytes\), got one of 8 bytes$/, 'w');
    assertThrows(run('conv2d', fwd, { bias: small }), RangeError, /^conv2d: bias must be a storage of 3 float32 elements \(12 bytes\), got one of 8 bytes$/, 'bias');
    assertThrows(run('conv2d', fwd, { y: small }), RangeError, /^conv2d: y must be a storage of 48 float32 elements \(192 bytes\), got one of 8 bytes$/, 'y');
    assertThrows(run('conv2d', fwd, { dtype: 'float16', y: small }), RangeError, /^conv2d: y must be a storage of 48 float16 elements \(96 bytes\), got one of 8 bytes$/, 'y in float16');
    assertThrows(run('conv2d', fwd, { H: 5 }), RangeError, /^conv2d: x must be a storage of 50 float32 elements \(200 bytes\), got one of 160 bytes$/, 'x too small for H');
    assertThrows(run('conv2dBackwardData', data, { gradOut: small }), RangeError, /^conv2dBackwardData: gradOut must be a storage of 48 float32 elements \(192 bytes\), got one of 8 bytes$/, 'gradOut');
    assertThrows(run('conv2dBackwardData', data, { gradIn: small }), RangeError, /^conv2dBackwardData: gradIn must be a storage of 40 float32 elements \(160 bytes\), got one of 8 bytes$/, 'gradIn');
    assertThrows(run('conv2dBackwardFilter', filter, { gradWeight: small }), RangeError, /^conv2dBackwardFilter: gradWeight must be a storage of 36 float32 elements \(144 bytes\), got one of 8 bytes$/, 'gradWeight');
    assertThrows(run('conv2dBackwardFilter', filter, { K: 4 }), RangeError, /^conv2dBackwardFilter: gradOut must be a storage of 64 float32 elements/, 'gradOut too small for K');
    // aliasing
    assertThrows(run('conv2d', fwd, { x: fwd.y }), RangeError, /^conv2d: y must be a storage other than the inputs', got one of them$/, 'x aliases y');
    assertThrows(run('conv2dBackwardData', data, { w: data.gradIn }), RangeError, /^conv2dBackwardData: gradIn must be a storage other than the inputs', got one of them$/, 'w aliases gradIn');
    assertThrows(run('conv2dBackwardFilter', filter, { gradBias: filter.gradWeight }), RangeError, /^conv2dBackwardFilter: gradBias must be a storage other than gradWeight's, got the same$/, 'gradBias aliases gradWeight');
    // geometry
    assertThrows(run('conv2d', fwd, { groups: 0 }), RangeError, /^conv2d: groups must be at least 1, got 0$/, 'groups 0');
    assertThrows(run('conv2d', fwd, { strideW: 0 }), RangeError, /^conv2d: strideW must be at least 1, got 0$/, 'strideW 0');
    assertThrows(run('conv2dBackwardData', data, { dilationH: 0 }), RangeError, /^conv2dBackwardData: dilationH must be at least 1, got 0$/, 'dilationH 0');
    assertThrows(run('conv2d', fwd, { R: 0 }), RangeError, /^conv2d: R must be at least 1, got 0$/, 'R 0');
    assertThrows(run('conv2d', fwd, { groups: 2, C: 3 }), RangeError, /^conv2d: C must be divisible by groups = 2, got 3$/, 'C % groups');
    assertThrows(run('conv2dBackwardFilter', filter, { groups: 2 }), RangeError, /^conv2dBackwardFilter: K must be divisible by groups = 2, got 3$/, 'K % groups');
    assertThrows(run('conv2d', fwd, { R: 7 }), RangeError, /^conv2d: R must be a kernel no taller than the padded input \(6\), got 7 spanning 7$/, 'R too tall');
    assertThrows(run('conv2d', fwd, { dilationW: 5 }), RangeError, /^conv2d: S must be a kernel no wider than the padded input \(5\), got 2 spanning 6$/, 'S too wide when dilated');
    assertThrows(run('conv2d', fwd, { padH: -1 }), RangeError, /^conv2d: padH must be a non-negative integer below 2\^53, got -1$/, 'negative padH');
    assertThrows(run('conv2d', fwd, { K: 2 ** 31 }), RangeError, /^conv2d: K must be at most 2147483647, got 2147483648$/, 'K past int');
    assertThrows(run('conv2d', fwd, { dtype: 'int32' }), RangeError, /^conv2d: dtype must be one of 'float32', 'float16', got 'int32'$/, 'int32');
    // implementation names
    assertThrows(run('conv2d', fwd, { impl: 'gemm1x1' }), RangeError, /^conv2d: impl 'gemm1x1' does not apply to these arguments$/, 'gemm1x1 on a 3x2 kernel');
    assertThrows(run('conv2d', fwd, { impl: 'winograd' }), RangeError, /^conv2d: impl must be one of the cpu implementations .*gemm1x1.*im2col.*direct.*, got 'winograd'$/, 'unknown impl');
    assertThrows(run('conv2d', fwd, { impl: 3 }), TypeError, /^conv2d: impl must be an implementation's name, got 3$/, 'impl a number');
    // candidates() checks its arguments the same way
    assertThrows(() => native.candidates('conv2d', { ...fwd, x: small }), RangeError, /^conv2d: x must be a storage of 40 float32 elements \(160 bytes\), got one of 8 bytes$/, 'candidates: x');
    assertThrows(() => native.candidates('conv2dBackwardFilter', { ...filter, groups: 0 }), RangeError, /^conv2dBackwardFilter: groups must be at least 1, got 0$/, 'candidates: groups 0');
    // and the outputs written before all this are intact
    const e = ref.conv2d(v.x, v.w, v.b, g);
    checkValues(native.read(fwd.y as StorageHandle, 'float32', e.length), e, ref.conv2dAbs(v.x, v.w, v.b, g), 'float32', 'y after the refused calls');
  } finally {
    small.dispose();
    for (const c of calls) dispose(c.storages);
  }
});

// ---- hy.nn.Conv2d ----

eachBackend(s, 'nn.Conv2d: parameter shapes, initial bounds, forward shape and values as functional conv2d', (device) => {
  hy.manualSeed(7);
  const m = new hy.nn.Conv2d(4, 6, [3, 2], { groups: 2, stride: [2, 1], padding: 1, dilation: [1, 2], device });
  try {
    assert.equal(m.namedParameters().map(([k, t]) => [k, t.shape]), [['weight', [6, 2, 3, 2]], ['bias', [6]]]);
    assert.is(m.inChannels, 4);
    assert.is(m.outChannels, 6);
    assert.equal(m.kernelSize, [3, 2]);
    assert.ok(m.weight.requiresGrad && m.bias!.requiresGrad);
    assert.is(m.weight.device, device);
    const bound = 1 / Math.sqrt(2 * 3 * 2);
    for (const t of [m.weight, m.bias!]) {
      const vals = Array.from(t.dataSync());
      assert.ok(vals.every((x) => Math.abs(x) <= bound), `|values| within 1/sqrt(fanIn) = ${bound}`);
      assert.ok(new Set(vals).size > vals.length / 2, 'random values');
    }
    const xv = Array.from(randomArray(2 * 4 * 7 * 6, 42), Math.fround);
    hy.tidy(() => {
      const x = hy.tensor(xv, { shape: [2, 4, 7, 6], device });
      const y = m.forward(x);
      // P = (7 + 2 - 3) / 2 + 1 = 4; Q = (6 + 2 - 2 * 1 - 1) / 1 + 1 = 6
      assert.equal(y.shape, [2, 6, 4, 6]);
      const g = geom({ N: 2, C: 4, H: 7, W: 6, K: 6, R: 3, S: 2, strideH: 2, padH: 1, padW: 1, dilationW: 2, groups: 2 });
      const expected = ref.conv2d(xv, m.weight.dataSync(), m.bias!.dataSync(), g);
      assertClose(y.dataSync(), expected, fnTol('float32', expected), 'forward against the oracle');
      assert.equal(Array.from(y.dataSync()), Array.from(F.conv2d(x, m.weight, m.bias, m.options).dataSync()), 'the same as functional conv2d');
      // 3-D input
      assert.equal(m.forward(hy.tensor(xv.slice(0, 4 * 7 * 6), { shape: [4, 7, 6], device })).shape, [6, 4, 6]);
      hy.sum(y).backward();
      assert.equal(m.weight.grad!.shape, [6, 2, 3, 2]);
      assert.equal(m.bias!.grad!.shape, [6]);
    });
    m.zeroGrad();
  } finally {
    m.dispose();
  }
  const noBias = new hy.nn.Conv2d(3, 2, 1, { bias: false, device });
  try {
    assert.equal(noBias.namedParameters().map(([k, t]) => [k, t.shape]), [['weight', [2, 3, 1, 1]]]);
    assert.is(noBias.bias, null);
    hy.tidy(() => assert.equal(noBias.forward(hy.ones([1, 3, 4, 5], { device })).shape, [1, 2, 4, 5]));
  } finally {
    noBias.dispose();
  }
  const half = new hy.nn.Conv2d(2, 2, 3, { padding: 'same', dtype: 'float16', device });
  try {
    assert.is(half.weight.dtype, 'float16');
    hy.tidy(() => {
      const y = half.forward(hy.ones([1, 2, 5, 4], { device, dtype: 'float16' }));
      assert.equal(y.shape, [1, 2, 5, 4]);
      assert.is(y.dtype, 'float16');
    });
  } finally {
    half.dispose();
  }
  assertThrows(() => new hy.nn.Conv2d(3, 4, 0), RangeError, /^Conv2d: kernelSize must be a positive integer or a pair of them, got 0$/, 'kernel 0');
  assertThrows(() => new hy.nn.Conv2d(3, 4, [2, 2, 2] as never), RangeError, /^Conv2d: kernelSize must be a positive integer or a pair of them, got \[2, 2, 2\]$/, 'kernel triple');
  assertThrows(() => new hy.nn.Conv2d(3, 4, 3, { groups: 2 }), RangeError, /^Conv2d: groups must be a positive integer dividing inChannels 3 and outChannels 4, got 2$/, 'groups not dividing');
  assertThrows(() => new hy.nn.Conv2d(3, 4, 3, { bias: 1 as never }), TypeError, /^Conv2d: bias must be a boolean, got 1$/, 'bias 1');
  assertThrows(() => new hy.nn.Conv2d(3, 4, 3, { kernel: 3 } as never), TypeError, /^Conv2d: unknown option 'kernel'/, 'unknown option');
});

s.run();
