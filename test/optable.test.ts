// Drives the op table (test/optable/table.ts) on every backend: for each entry, dtype and sample,
// the outputs against the float64 oracle, the gradients against the gradient oracle, the same
// outputs again with the memory the op takes poisoned with a finite value (so nothing may depend
// on uninitialised memory), and every bad-argument case. A coverage test fails when a native op
// or enum value registered by the addon is reached by no entry, or an entry's declaration is stale.
import * as assert from 'uvu/assert';

import * as hy from '../lib/index';
import type { Device, DType, Tensor } from '../lib/index';
import { native } from '../lib/native';
import { assertClose, eachBackend, oracle, rng, suite } from './harness';
import { finiteDiff } from './reference/ops';
import { FloatDType, numel, OpEntry, roundTo, SampleSize, SIZES, Tol, uniform } from './optable/entry';
import { TABLE } from './optable/table';

const s = suite('optable');

// ---- what the entries really reach: every native.run call, by the entry running ----

const binding = native as unknown as Record<string, unknown>;
const observed = new Map<string, Set<string>>();
const ran = new Set<string>();
let current: string | null = null;

if (typeof binding.run === 'function') {
  const run = binding.run as (this: unknown, op: string, args: Record<string, unknown>) => unknown;
  binding.run = function (this: unknown, op: string, args: Record<string, unknown>): unknown {
    if (current !== null) {
      const seen = observed.get(current) ?? new Set<string>();
      observed.set(current, seen);
      seen.add(op);
      if (args !== null && typeof args === 'object') for (const v of Object.values(args)) if (typeof v === 'string') seen.add(`${op}:${v}`);
    }
    return run.call(this, op, args);
  };
}

function within<T>(name: string, fn: () => T): T {
  current = name;
  try {
    return fn();
  } finally {
    current = null;
  }
}

// ---- samples with their oracle values, computed once and shared by the backends ----

interface PreparedInput {
  shape: number[];
  values: number[];
  dtype: DType;
  requiresGrad: boolean;
}

interface PreparedOutput {
  shape: number[];
  values: number[];
  dtype: DType;
}

interface Prepared {
  label: string;
  params: unknown;
  inputs: PreparedInput[];
  expected: PreparedOutput[];
  tolScale: number;
  /** Upstream gradient of the first output, and the expected input gradients (null: not checked). */
  w: number[] | null;
  grads: (Float64Array | null)[] | null;
}

function hash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619) >>> 0;
  return h;
}

const asArray = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

/** Where central differences of the forward oracle cost little: inputs x (outputs + inputs). */
const FD_BUDGET = 60_000;

function prepare(e: OpEntry, dtype: FloatDType, size: SampleSize): Prepared[] {
  return oracle(`optable|${e.name}|${dtype}|${size}`, () => {
    const r = rng(hash(`${e.name}|${dtype}|${size}`));
    return e.sample(r, size, dtype).map((smp): Prepared => {
      const inputs = smp.inputs.map((inp, i): PreparedInput => {
        const dt = inp.dtype ?? dtype;
        assert.is(inp.values.length, numel(inp.shape), `${e.name} ${smp.label}: input ${i} has ${inp.values.length} values for shape [${inp.shape}]`);
        return { shape: inp.shape, dtype: dt, values: inp.values.map((v) => roundTo(dt, v)), requiresGrad: inp.requiresGrad ?? (e.grad !== undefined && dt !== 'int32') };
      });
      const x = inputs.map((i) => i.values);
      const expected = asArray(e.oracle(x, smp.params, dtype)).map((o): PreparedOutput => {
        const dt = o.dtype ?? dtype;
        assert.is(o.values.length, numel(o.shape), `${e.name} ${smp.label}: the oracle gives ${o.values.length} values for shape [${o.shape}]`);
        return { shape: o.shape, dtype: dt, values: Array.from(o.values, (v) => roundTo(dt, v)) };
      });
      let w: number[] | null = null;
      let grads: (Float64Array | null)[] | null = null;
      if (e.grad !== undefined && inputs.some((i) => i.requiresGrad)) {
        const out0 = expected[0];
        w = uniform(r, numel(out0.shape)).map((v) => roundTo(out0.dtype, v));
        grads = e.grad.oracle(x, smp.params, w).map((g, i) => (g === null || !inputs[i].requiresGrad ? null : Float64Array.from(g)));
        assert.is(grads.length, inputs.length, `${e.name} ${smp.label}: one gradient (or null) per input`);
        if (e.grad.checkOracle) checkGradOracle(e, smp.label, smp.params, dtype, x, w, grads);
      }
      return { label: smp.label, params: smp.params, inputs, expected, tolScale: smp.tolScale ?? 1, w, grads };
    });
  });
}

/** An analytic gradient oracle against central differences of the forward oracle, in float64. */
function checkGradOracle(e: OpEntry, label: string, params: unknown, dtype: FloatDType, x: number[][], w: number[], grads: (Float64Array | null)[]): void {
  const outN = w.length;
  grads.forEach((g, i) => {
    if (g === null || x[i].length * (outN + x[i].length) > FD_BUDGET) return;
    const f = (v: Float64Array): Float64Array => {
      const xs = x.map((xi, j) => (j === i ? Array.from(v) : xi));
      return Float64Array.from(asArray(e.oracle(xs, params, dtype))[0].values);
    };
    const fd = finiteDiff(f, x[i], w);
    const m = fd.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
    assertClose(g, fd, { rtol: 1e-5, atol: 1e-6 * Math.max(1, m) }, `${e.name} ${dtype} ${label}: the gradient oracle for input ${i} against central differences`);
  });
}

// ---- running one sample on one device ----

const POISON = { nan: { float: NaN, int: -123456 }, finite: { float: 1234, int: 4097 } };

/**
 * Frees blocks of every size the op will take, filled with the poison: the allocators hand a
 * freed block to the next request of its size, so an element the op does not write shows.
 */
function poison(device: Device, p: Prepared, kind: keyof typeof POISON): void {
  const sizes: [number, DType][] = [];
  for (const t of [...p.expected, ...p.inputs]) {
    sizes.push([numel(t.shape), t.dtype]);
    if (t.dtype !== 'float32') sizes.push([numel(t.shape), 'float32']);
  }
  const blocks = sizes.filter(([n]) => n > 0).map(([n, dt]) => poisoned(n, dt, kind, device));
  for (const b of blocks) b.dispose();
}

/** A tensor of n poison values (written from the host: fill takes no NaN). */
function poisoned(n: number, dtype: DType, kind: keyof typeof POISON, device: Device): Tensor {
  const data = dtype === 'int32' ? new Int32Array(n).fill(POISON[kind].int) : new Float32Array(n).fill(POISON[kind].float);
  return hy.tensor(data, { dtype, device });
}

function makeInputs(p: Prepared, device: Device): Tensor[] {
  return p.inputs.map((i) => hy.tensor(i.values, { shape: i.shape, dtype: i.dtype, device, requiresGrad: i.requiresGrad }));
}

const tolKey = (dt: DType): FloatDType => (dt === 'float16' ? 'float16' : 'float32');

function scaled(t: Tol, scale: number): Tol {
  return { rtol: t.rtol, atol: t.atol * scale };
}

function checkOutputs(e: OpEntry, p: Prepared, outs: Tensor[], what: string): void {
  assert.is(outs.length, p.expected.length, `${what}: number of outputs`);
  outs.forEach((out, k) => {
    const exp = p.expected[k];
    const w = `${what} output ${k}`;
    assert.equal(Array.from(out.shape), exp.shape, `${w}: shape`);
    assert.is(out.dtype, exp.dtype, `${w}: dtype`);
    const tol = exp.dtype === 'int32' || exp.dtype === 'bool' ? { rtol: 0, atol: 0 } : scaled(e.tol[tolKey(exp.dtype)], p.tolScale);
    assertClose(out.dataSync(), exp.values, tol, w);
  });
}

function runSample(e: OpEntry, dtype: FloatDType, device: Device, p: Prepared): void {
  const ctx = { device, dtype };
  const what = `${e.name} ${dtype} ${p.label} [${device}]`;
  hy.tidy(() => {
    poison(device, p, 'nan');
    const ts = makeInputs(p, device);
    const outs = asArray(e.call(ts, p.params, ctx));
    checkOutputs(e, p, outs, what);

    if (p.grads !== null && p.w !== null && e.grad !== undefined) {
      const out0 = outs[0];
      poison(device, p, 'nan');
      const wt = hy.tensor(p.w, { shape: out0.shape.slice(), dtype: out0.dtype, device });
      hy.sum(hy.mul(out0, wt)).backward();
      const anyHalf = dtype === 'float16' || out0.dtype === 'float16';
      p.inputs.forEach((inp, i) => {
        const g = ts[i].grad;
        if (!inp.requiresGrad) {
          assert.is(g, null, `${what}: input ${i} does not require grad, yet got one`);
          return;
        }
        const expected = p.grads![i];
        if (expected === null) return;
        assert.ok(g !== null, `${what}: input ${i} got no gradient`);
        assert.is(g.dtype, inp.dtype, `${what}: gradient ${i} dtype`);
        assert.equal(Array.from(g.shape), inp.shape, `${what}: gradient ${i} shape`);
        const m = expected.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
        const tol = e.grad!.tol[anyHalf || inp.dtype === 'float16' ? 'float16' : 'float32'];
        assertClose(g.dataSync(), expected, scaled(tol, Math.max(1, m) * p.tolScale), `${what}: gradient of input ${i}`);
      });
    }

    // the same op again, its memory poisoned with a finite value this time
    poison(device, p, 'finite');
    const again = asArray(e.call(makeInputs(p, device), p.params, ctx));
    checkOutputs(e, p, again, `${what} (memory poisoned with ${POISON.finite.float})`);
  });
}

// ---- the table's own sanity ----

s('the table: unique names, native ops declared, samples at every size, error cases, fuzz arity', () => {
  const names = TABLE.map((e) => e.name);
  assert.equal([...new Set(names)], names, 'entry names are unique');
  for (const e of TABLE) {
    assert.ok(e.native.length > 0 || e.view === true, `${e.name}: declares the native ops it reaches (or that it is a view, which runs none)`);
    if (e.view === true) assert.equal(e.native, [], `${e.name}: a view declares no native op`);
    assert.ok(e.dtypes.length > 0, `${e.name}: has dtypes`);
    assert.ok(Number.isInteger(e.fuzzArity) && e.fuzzArity >= Math.max(1, e.fn.length), `${e.name}: fuzzArity ${e.fuzzArity} covers the public function's ${e.fn.length} declared parameters`);
    assert.ok(e.errors('cpu').length > 0, `${e.name}: has error cases`);
    for (const dtype of e.dtypes) for (const size of SIZES) assert.ok(e.sample(rng(1), size, dtype).length > 0, `${e.name} ${dtype}: samples at size ${size}`);
  }
});

eachBackend(s, 'poisoning reaches the next allocation of that size (else the poisoning checks see nothing)', (device) => {
  for (const dtype of ['float32', 'float16', 'int32'] as DType[]) {
    for (const n of [1, 7, 33, 1023]) {
      poisoned(n, dtype, 'nan', device).dispose();
      const t = hy.empty([n], { device, dtype });
      const v = t.dataSync();
      t.dispose();
      const bad = Array.from(v).findIndex((x) => (dtype === 'int32' ? x !== -123456 : !Number.isNaN(x)));
      assert.is(bad, -1, `${dtype} n=${n}: element ${bad} of the next allocation is ${v[bad]}, not the poison`);
    }
  }
});

// ---- one case per entry, dtype and backend; one per entry and backend for the bad arguments ----

for (const e of TABLE) {
  for (const dtype of e.dtypes) {
    eachBackend(s, `${e.name} ${dtype}: oracle, gradient, poisoned memory`, (device) =>
      within(e.name, () => {
        ran.add(e.name);
        for (const size of SIZES) for (const p of prepare(e, dtype, size)) runSample(e, dtype, device, p);
      }),
    );
  }
  eachBackend(s, `${e.name}: bad arguments throw the expected error naming the op`, (device) =>
    within(e.name, () => {
      for (const c of e.errors(device)) {
        const op = c.op ?? e.errorName;
        let thrown: unknown;
        try {
          hy.tidy(() => {
            c.run();
          });
        } catch (err) {
          thrown = err;
        }
        const what = `${e.name} [${device}] ${c.label}`;
        assert.ok(thrown !== undefined, `${what}: expected ${c.cls.name} matching ${c.pattern}, nothing was thrown`);
        const err = thrown as Error;
        assert.ok(err instanceof c.cls, `${what}: expected ${c.cls.name}, got ${err?.constructor?.name}: ${err?.message}`);
        assert.ok(err.message.startsWith(`${op}`), `${what}: the message does not start with the op name '${op}': ${err.message}`);
        assert.match(err.message, c.pattern, what);
      }
    }),
  );
}

// ---- coverage of the native op list ----

interface Field {
  name: string;
  kind: string;
  values?: string[];
}
interface Descriptor {
  name: string;
  fields: Field[];
}

/** The native.enums lists that belong to one op's `op` / `kind` field. */
const ENUM_OPS: Record<string, string> = { UnaryOp: 'unary', UnaryGradOp: 'unaryGrad', ScalarOp: 'scalar', BinaryOp: 'binary', RandomKind: 'random' };

s('coverage: every registered native op and enum value is exercised by some entry', () => {
  const ops = binding.ops;
  const enums = binding.enums as Record<string, Record<string, number>> | undefined;
  if (typeof ops !== 'function' || enums === undefined || enums === null) {
    assert.unreachable(
      `the addon has no op registry yet (native.ops is ${typeof ops}, native.enums is ${enums === null ? 'null' : typeof enums}): ` +
        'without native.ops() and native.enums nothing shows that the table reaches every native op',
    );
    return;
  }
  const registry = (ops as () => Descriptor[]).call(native);
  const declared = new Map<string, Set<string>>();
  for (const e of TABLE) {
    for (const u of e.native) {
      const set = declared.get(u.op) ?? new Set<string>();
      declared.set(u.op, set);
      for (const v of u.values ?? []) set.add(v);
    }
  }
  const problems = new Set<string>();
  const enumValuesOf = new Map<string, Set<string>>();
  for (const op of registry) {
    const values = new Set<string>();
    enumValuesOf.set(op.name, values);
    if (!declared.has(op.name)) problems.add(`native op '${op.name}' is exercised by no entry`);
    for (const f of op.fields) {
      if (f.kind !== 'enum') continue;
      for (const v of f.values ?? []) {
        values.add(v);
        if (declared.has(op.name) && !declared.get(op.name)!.has(v)) problems.add(`value '${v}' of ${op.name}.${f.name} is exercised by no entry`);
      }
    }
  }
  for (const [en, opName] of Object.entries(ENUM_OPS)) {
    const values = enums[en];
    if (values === undefined) problems.add(`native.enums.${en} is missing`);
    else for (const v of Object.keys(values)) if (!declared.get(opName)?.has(v)) problems.add(`${en} value '${v}' (op '${opName}') is exercised by no entry`);
  }
  if (enums.Reduction === undefined) problems.add('native.enums.Reduction is missing');
  else for (const v of Object.keys(enums.Reduction)) if (![...declared.values()].some((set) => set.has(v))) problems.add(`Reduction value '${v}' is exercised by no entry`);
  // declarations that no longer match the registry
  for (const e of TABLE) {
    for (const u of e.native) {
      const values = enumValuesOf.get(u.op);
      if (values === undefined) {
        problems.add(`entry '${e.name}' declares native op '${u.op}', which is not registered`);
        continue;
      }
      for (const v of u.values ?? []) if (!values.has(v)) problems.add(`entry '${e.name}' declares value '${v}' of '${u.op}', which that op does not accept`);
    }
  }
  // declarations against the calls the entries really made
  if (typeof binding.run !== 'function') {
    problems.add('native.run is missing: the entries cannot be seen reaching their native ops');
  } else {
    for (const e of TABLE) {
      if (!ran.has(e.name)) continue;
      const seen = observed.get(e.name) ?? new Set<string>();
      for (const u of e.native) {
        if (!seen.has(u.op)) problems.add(`entry '${e.name}' declares native op '${u.op}' but made no native.run('${u.op}', ...) call`);
        else for (const v of u.values ?? []) if (!seen.has(`${u.op}:${v}`)) problems.add(`entry '${e.name}' declares '${u.op}' with '${v}' but never passed it`);
      }
    }
  }
  if (problems.size > 0) assert.unreachable(`${problems.size} coverage problems:\n  ${[...problems].join('\n  ')}`);
});

s.run();
