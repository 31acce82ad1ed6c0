// The fused optimizers (lib/optim: SGD, Adam, AdamW, Adadelta, LAMB, LARS) against the float64
// oracles of test/reference/optim.ts over several steps of mixed parameter shapes: a tensor over
// two chunks of optim::kChunk (70000 elements) and 40 tiny ones (more than the 32 tensors one CUDA
// launch packs), with steps where a parameter has no gradient. Then the base's behaviour: foreach
// off, float16 parameters, parameter groups, option checks, zeroGrad, state dicts that resume bit
// for bit, all-or-nothing steps (bad gradient, disposed parameter, out of memory) and the lr as a
// scheduler drives it. Every test disposes what it allocates, optimizer state included, and checks
// that the device's live bytes are back where they started.
import * as assert from 'uvu/assert';

import * as hy from '../lib/index';
import type { Device, DType, Tensor } from '../lib/index';
import type { Optimizer, OptimizerStateDict } from '../lib/optim/index';
import { StepLR } from '../lib/optim/lr_scheduler';
import { assertClose, assertThrows, collectGarbage, eachBackend, oracle, randomArray, suite } from './harness';
import { roundToHalf } from './reference/half';
import * as ref from './reference/optim';
import type { RefGrads } from './reference/optim';

const s = suite('optimizers');

const F32 = { rtol: 1e-5, atol: 1e-6 };

// ---- problems: initial weights and per-step gradients, rounded to what the device holds ----

interface Problem {
  shapes: number[][];
  w0: number[][];
  steps: RefGrads[];
}

const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** [3], [2,5], [70000] (three chunks of 32768), then 40 tiny tensors of 1 to 3 elements. */
const MIXED: number[][] = [[3], [2, 5], [70000], ...Array.from({ length: 40 }, (_, i) => [1 + (i % 3)])];

/** Steps where one parameter has no gradient: [step, parameter]. */
const SKIPS: [number, number][] = [[1, 1], [3, 7], [3, 2]];

function makeProblem(seed: number, shapes: number[][], nSteps: number, skips: [number, number][] = SKIPS, round: (v: number) => number = Math.fround): Problem {
  const w0 = shapes.map((sh, i) => Array.from(randomArray(numel(sh), seed * 1000 + i, -1, 1), round));
  const steps: RefGrads[] = [];
  for (let t = 0; t < nSteps; t++) {
    steps.push(shapes.map((sh, i) => (skips.some(([st, p]) => st === t && p === i) ? null : Array.from(randomArray(numel(sh), seed * 1000 + 100 * (t + 1) + i + 7919, -1, 1), round))));
  }
  return { shapes, w0, steps };
}

const PROBLEM = makeProblem(1, MIXED, 5);

// ---- tensors ----

function makeParams(pr: Problem, device: Device, dtype: DType = 'float32'): Tensor[] {
  return pr.w0.map((w, i) => hy.tensor(w, { device, dtype, shape: pr.shapes[i], requiresGrad: true }));
}

/** Gives each parameter its gradient of this step (disposing the last one); null leaves it without. */
function setGrads(params: Tensor[], grads: RefGrads): void {
  params.forEach((p, i) => {
    if (p.grad !== null) p.grad.dispose();
    const g = grads[i];
    p.grad = g === null ? null : hy.tensor(g, { device: p.device, dtype: p.dtype, shape: [...p.shape] });
  });
}

/** Disposes the parameters and their gradients. */
function disposeAll(ts: Tensor[]): void {
  for (const t of ts) t.dispose();
}

function disposeStateDict(sd: OptimizerStateDict): void {
  for (const entry of Object.values(sd.state)) for (const v of Object.values(entry)) if (v instanceof hy.Tensor) v.dispose();
}

function snapshot(ts: Tensor[]): Float32Array[] {
  return ts.map((t) => Float32Array.from(t.dataSync()));
}

/** Bit-identical Float32Arrays (NaN never appears here), element by element with ===. */
function assertBitIdentical(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  assert.is(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) assert.unreachable(`${what}[${i}]: ${a[i]} !== ${b[i]}`);
  }
}

/** Two state dicts hold the same steps and bit-identical buffers. */
function assertSameState(a: OptimizerStateDict, b: OptimizerStateDict, what: string): void {
  assert.equal(Object.keys(a.state).sort(), Object.keys(b.state).sort(), `${what}: the parameters with state`);
  for (const [k, ea] of Object.entries(a.state)) {
    const eb = b.state[Number(k)];
    assert.equal(Object.keys(ea).sort(), Object.keys(eb).sort(), `${what}: state[${k}] names`);
    for (const [name, va] of Object.entries(ea)) {
      const vb = eb[name];
      if (typeof va === 'number') assert.is(vb, va, `${what}: state[${k}].${name}`);
      else assertBitIdentical((va as Tensor).dataSync(), (vb as Tensor).dataSync(), `${what}: state[${k}].${name}`);
    }
  }
}

/** Runs fn and checks that the device's live bytes come back to where they were. */
function leakChecked(name: string, fn: (device: Device) => void | Promise<void>): void {
  eachBackend(s, name, async (device) => {
    await collectGarbage();
    const before = hy.memory.stats(device).liveBytes;
    await fn(device);
    assert.is(hy.memory.stats(device).liveBytes, before, `${name} [${device}]: every tensor of the test (optimizer state included) was disposed`);
  });
}

// ---- the oracles' state against the optimizer's stateDict ----

type RefState = { step: number } & Record<string, unknown>;

/**
 * The optimizer's weights, step counts and state buffers against the oracle's. State buffers are
 * compared with atol relative to each buffer's largest value: float32 beta2 (0.999 is
 * 0.99900001287 in float32) moves expAvgSq by ~1e-5 relative, and a moment that cancels to near 0
 * keeps the absolute error of its terms.
 */
function checkAgainst(opt: Optimizer, params: Tensor[], expectedIn: { w: number[][]; state: object[] }, what: string, tol = F32): void {
  const expected = expectedIn as { w: number[][]; state: RefState[] };
  params.forEach((p, i) => assertClose(p.dataSync(), expected.w[i], tol, `${what}: weights of parameter ${i}`));
  const sd = opt.stateDict();
  try {
    expected.state.forEach((st, i) => {
      const entry = sd.state[i];
      if (st.step === 0) {
        assert.is(entry, undefined, `${what}: parameter ${i} never had a gradient, so it has no state`);
        return;
      }
      assert.ok(entry !== undefined, `${what}: parameter ${i} has state`);
      assert.is(entry.step, st.step, `${what}: step count of parameter ${i}`);
      for (const [name, v] of Object.entries(st)) {
        if (name === 'step') continue;
        if (v === null) {
          assert.is(entry[name], undefined, `${what}: parameter ${i} keeps no ${name}`);
          continue;
        }
        const buf = entry[name];
        assert.ok(buf instanceof hy.Tensor, `${what}: state[${i}].${name} is a tensor`);
        assert.is((buf as Tensor).dtype, 'float32', `${what}: state is float32`);
        const exp = v as number[];
        const m = exp.reduce((a, x) => Math.max(a, Math.abs(x)), 0);
        assertClose((buf as Tensor).dataSync(), exp, { rtol: 1e-4, atol: 1e-5 * m + 1e-12 }, `${what}: state[${i}].${name}`);
      }
    });
  } finally {
    disposeStateDict(sd);
  }
}

// ---- every optimizer and configuration against its oracle ----

type Make = (params: Tensor[], extra?: Record<string, unknown>) => Optimizer;
interface OptCase {
  label: string;
  make: Make;
  ref(w0: number[][], steps: RefGrads[]): { w: number[][]; state: RefState[] };
}

function optCase<O extends object>(
  label: string,
  Ctor: new (params: Tensor[], opts: O) => Optimizer,
  opts: O,
  refFn: (w0: number[][], steps: RefGrads[], o: never) => { w: number[][]; state: object[] },
  refOpts: object,
): OptCase {
  return {
    label: `${label} ${JSON.stringify(opts)}`,
    make: (params, extra) => new Ctor(params, { ...opts, ...extra }),
    ref: (w0, steps) => refFn(w0, steps, refOpts as never) as { w: number[][]; state: RefState[] },
  };
}

const O = hy.optim;
const CASES: Record<string, OptCase[]> = {
  SGD: [
    optCase('SGD', O.SGD, { lr: 0.1 }, ref.sgdRef, { lr: 0.1 }),
    optCase('SGD', O.SGD, { lr: 0.1, momentum: 0.9 }, ref.sgdRef, { lr: 0.1, momentum: 0.9 }),
    optCase('SGD', O.SGD, { lr: 0.05, momentum: 0.9, dampening: 0.5 }, ref.sgdRef, { lr: 0.05, momentum: 0.9, dampening: 0.5 }),
    optCase('SGD', O.SGD, { lr: 0.1, momentum: 0.8, nesterov: true }, ref.sgdRef, { lr: 0.1, momentum: 0.8, nesterov: true }),
    optCase('SGD', O.SGD, { lr: 0.1, weightDecay: 0.05 }, ref.sgdRef, { lr: 0.1, weightDecay: 0.05 }),
    optCase('SGD', O.SGD, { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.1 }, ref.sgdRef, { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.1 }),
  ],
  Adam: [
    optCase('Adam', O.Adam, {}, ref.adamRef, { lr: 1e-3 }),
    optCase('Adam', O.Adam, { lr: 0.01, betas: [0.8, 0.99] as [number, number], eps: 1e-6, weightDecay: 0.1 }, ref.adamRef, { lr: 0.01, betas: [0.8, 0.99], eps: 1e-6, weightDecay: 0.1 }),
    optCase('Adam', O.Adam, { lr: 0.01, amsgrad: true }, ref.adamRef, { lr: 0.01, amsgrad: true }),
    optCase('Adam', O.Adam, { lr: 0.01, amsgrad: true, weightDecay: 0.05 }, ref.adamRef, { lr: 0.01, amsgrad: true, weightDecay: 0.05 }),
  ],
  AdamW: [
    // AdamW's default weight decay is 1e-2 (decoupled)
    optCase('AdamW', O.AdamW, {}, ref.adamRef, { lr: 1e-3, weightDecay: 1e-2, decoupled: true }),
    optCase('AdamW', O.AdamW, { lr: 0.01, weightDecay: 0.1 }, ref.adamRef, { lr: 0.01, weightDecay: 0.1, decoupled: true }),
    optCase('AdamW', O.AdamW, { lr: 0.01, weightDecay: 0.1, amsgrad: true }, ref.adamRef, { lr: 0.01, weightDecay: 0.1, amsgrad: true, decoupled: true }),
    optCase('AdamW', O.AdamW, { lr: 0.01, weightDecay: 0, amsgrad: true }, ref.adamRef, { lr: 0.01, weightDecay: 0, amsgrad: true, decoupled: true }),
  ],
  Adadelta: [
    optCase('Adadelta', O.Adadelta, {}, ref.adadeltaRef, {}),
    optCase('Adadelta', O.Adadelta, { lr: 0.5, rho: 0.95, eps: 1e-5, weightDecay: 0.1 }, ref.adadeltaRef, { lr: 0.5, rho: 0.95, eps: 1e-5, weightDecay: 0.1 }),
  ],
  LAMB: [
    // the default clips: the global gradient norm of MIXED is ~150, over maxGradNorm 1
    optCase('LAMB', O.LAMB, {}, ref.lambRef, { lr: 1e-3, weightDecay: 0.01 }),
    optCase('LAMB', O.LAMB, { lr: 0.01, weightDecay: 0 }, ref.lambRef, { lr: 0.01, weightDecay: 0 }),
    optCase('LAMB', O.LAMB, { lr: 0.01, weightDecay: 0, useNvLamb: true }, ref.lambRef, { lr: 0.01, weightDecay: 0, useNvLamb: true }),
    optCase('LAMB', O.LAMB, { lr: 0.01, maxGradNorm: 5, weightDecay: 0.1 }, ref.lambRef, { lr: 0.01, maxGradNorm: 5, weightDecay: 0.1 }),
    optCase('LAMB', O.LAMB, { lr: 0.01, maxGradNorm: 1000 }, ref.lambRef, { lr: 0.01, maxGradNorm: 1000, weightDecay: 0.01 }),
    optCase('LAMB', O.LAMB, { lr: 0.01, maxGradNorm: 0 }, ref.lambRef, { lr: 0.01, maxGradNorm: 0, weightDecay: 0.01 }),
    optCase('LAMB', O.LAMB, { lr: 0.01, biasCorrection: false, betas: [0.8, 0.9] as [number, number], eps: 1e-4 }, ref.lambRef, { lr: 0.01, biasCorrection: false, betas: [0.8, 0.9], eps: 1e-4, weightDecay: 0.01 }),
  ],
  LARS: [
    optCase('LARS', O.LARS, { lr: 0.1 }, ref.larsRef, { lr: 0.1 }),
    optCase('LARS', O.LARS, { lr: 0.1, nesterov: true }, ref.larsRef, { lr: 0.1, nesterov: true }),
    optCase('LARS', O.LARS, { lr: 0.1, weightDecay: 0.01, trustCoefficient: 0.02, eps: 1e-6 }, ref.larsRef, { lr: 0.1, weightDecay: 0.01, trustCoefficient: 0.02, eps: 1e-6 }),
    optCase('LARS', O.LARS, { lr: 0.1, momentum: 0, weightDecay: 0.01 }, ref.larsRef, { lr: 0.1, momentum: 0, weightDecay: 0.01 }),
    optCase('LARS', O.LARS, { lr: 0.1, momentum: 0.9, dampening: 0.3 }, ref.larsRef, { lr: 0.1, momentum: 0.9, dampening: 0.3 }),
  ],
};

function globalNorm(grads: RefGrads): number {
  let sum = 0;
  for (const g of grads) if (g !== null) for (const v of g) sum += v * v;
  return Math.sqrt(sum);
}

s('the problem: the LAMB cases clip where they say they do', () => {
  PROBLEM.steps.forEach((grads, t) => {
    const n = globalNorm(grads);
    // step 3 skips the big tensor: its norm is under 5 (no clip at maxGradNorm 5), over 1 (clip at the default)
    if (t === 3) assert.ok(n > 1 && n < 5, `step 3: the global gradient norm ${n} is in (1, 5)`);
    else assert.ok(n > 5 && n < 1000, `step ${t}: the global gradient norm ${n} is over maxGradNorm 1 and 5 and under 1000`);
  });
});

/** Runs the case over the problem on one device; returns the optimizer (undisposed) and its parameters. */
function runCase(c: OptCase, pr: Problem, device: Device, extra?: Record<string, unknown>, dtype: DType = 'float32'): { opt: Optimizer; params: Tensor[] } {
  const params = makeParams(pr, device, dtype);
  const opt = c.make(params, extra);
  for (const grads of pr.steps) {
    setGrads(params, grads);
    opt.step();
  }
  return { opt, params };
}

for (const [name, cases] of Object.entries(CASES)) {
  leakChecked(`${name} matches its float64 oracle over 5 steps of mixed shapes, with steps that skip a parameter without a gradient`, (device) => {
    cases.forEach((c, ci) => {
      const expected = oracle(`optimizers|${name}|${ci}`, () => c.ref(PROBLEM.w0, PROBLEM.steps));
      const { opt, params } = runCase(c, PROBLEM, device);
      try {
        checkAgainst(opt, params, expected, c.label);
      } finally {
        opt.dispose();
        disposeAll(params);
      }
    });
  });
}

leakChecked('a parameter that never gets a gradient has no state and keeps its weights', (device) => {
  const pr = makeProblem(2, [[3], [4]], 3, [[0, 1], [1, 1], [2, 1]]);
  for (const c of [CASES.Adam[2], CASES.LAMB[0], CASES.LARS[0], CASES.SGD[1]]) {
    const { opt, params } = runCase(c, pr, device);
    try {
      checkAgainst(opt, params, c.ref(pr.w0, pr.steps), c.label);
      assertBitIdentical(params[1].dataSync(), Float32Array.from(pr.w0[1]), `${c.label}: untouched`);
    } finally {
      opt.dispose();
      disposeAll(params);
    }
  }
});

leakChecked('foreach: false (one launch per parameter) gives bit-identical weights and state to the fused path', (device) => {
  for (const c of [CASES.SGD[5], CASES.Adam[3], CASES.AdamW[2], CASES.Adadelta[1], CASES.LAMB[3], CASES.LARS[2]]) {
    const fused = runCase(c, PROBLEM, device);
    const loop = runCase(c, PROBLEM, device, { foreach: false });
    try {
      assert.is(fused.opt.foreach, true, 'fused by default');
      assert.is(loop.opt.foreach, false);
      const a = snapshot(fused.params);
      const b = snapshot(loop.params);
      a.forEach((w, i) => assertBitIdentical(b[i], w, `${c.label}: parameter ${i}`));
      const sa = fused.opt.stateDict();
      const sb = loop.opt.stateDict();
      try {
        assertSameState(sa, sb, c.label);
      } finally {
        disposeStateDict(sa);
        disposeStateDict(sb);
      }
    } finally {
      fused.opt.dispose();
      loop.opt.dispose();
      disposeAll(fused.params);
      disposeAll(loop.params);
    }
  }
});

leakChecked('float16 parameters with float32 state: Adam and LAMB close to the oracle from the float16 values', (device) => {
  const half = (v: number): number => roundToHalf(Math.fround(v));
  const pr = makeProblem(3, MIXED, 5, SKIPS, half);
  const cases = [
    // lr large enough that the weights move well past the float16 tolerance
    optCase('Adam', O.Adam, { lr: 0.05, weightDecay: 0.01 }, ref.adamRef, { lr: 0.05, weightDecay: 0.01 }),
    optCase('AdamW', O.AdamW, { lr: 0.05, amsgrad: true }, ref.adamRef, { lr: 0.05, weightDecay: 0.01, amsgrad: true, decoupled: true }),
    optCase('LAMB', O.LAMB, { lr: 0.05 }, ref.lambRef, { lr: 0.05, weightDecay: 0.01 }),
  ];
  for (const c of cases) {
    const expected = c.ref(pr.w0, pr.steps);
    const { opt, params } = runCase(c, pr, device, undefined, 'float16');
    try {
      for (const p of params) assert.is(p.dtype, 'float16');
      // the weights are float16 (rounded after every step), the oracle float64 throughout
      params.forEach((p, i) => assertClose(p.dataSync(), expected.w[i], { rtol: 1e-2, atol: 2e-3 }, `${c.label} float16: weights of parameter ${i}`));
      const moved = expected.w[0].map((w, j) => Math.abs(w - pr.w0[0][j]));
      assert.ok(Math.max(...moved) > 0.05, `${c.label}: the weights moved (${Math.max(...moved)}) well past the tolerance`);
      const sd = opt.stateDict();
      try {
        const st = sd.state[0];
        assert.is((st.expAvg as Tensor).dtype, 'float32', 'float32 state for float16 parameters');
        assert.is(st.step, expected.state[0].step);
        assert.is(sd.state[1].step, expected.state[1].step, 'the skipped parameter counts its own steps');
        assertClose((st.expAvg as Tensor).dataSync(), expected.state[0].expAvg as number[], { rtol: 1e-2, atol: 1e-3 }, `${c.label}: expAvg`);
      } finally {
        disposeStateDict(sd);
      }
    } finally {
      opt.dispose();
      disposeAll(params);
    }
  }
});

leakChecked('one group holding float32 and float16 parameters: a launch per dtype, each close to its oracle', (device) => {
  const half = (v: number): number => roundToHalf(Math.fround(v));
  const pr = makeProblem(12, [[3], [70000], [5]], 4, [[1, 2]], half);
  const params = [
    hy.tensor(pr.w0[0], { device, requiresGrad: true }),
    hy.tensor(pr.w0[1], { device, dtype: 'float16', requiresGrad: true }),
    hy.tensor(pr.w0[2], { device, requiresGrad: true }),
  ];
  const opt = new O.Adam(params, { lr: 0.05, amsgrad: true });
  try {
    for (const grads of pr.steps) {
      setGrads(params, grads);
      opt.step();
    }
    const e = ref.adamRef(pr.w0, pr.steps, { lr: 0.05, amsgrad: true });
    assertClose(params[0].dataSync(), e.w[0], F32, 'float32 parameter 0');
    assertClose(params[1].dataSync(), e.w[1], { rtol: 1e-2, atol: 2e-3 }, 'float16 parameter 1');
    assertClose(params[2].dataSync(), e.w[2], F32, 'float32 parameter 2 (skipped once)');
    assert.is(params[1].dtype, 'float16');
  } finally {
    opt.dispose();
    disposeAll(params);
  }
});

// ---- parameter groups and options ----

leakChecked('parameter groups with their own lr and weight decay, and addParamGroup mid-run', (device) => {
  const pr = makeProblem(4, [[3], [2, 5], [4]], 5, []);
  const gradsOf = (i: number, from = 0): RefGrads[] => pr.steps.slice(from).map((g) => [g[i]]);
  // SGD: group 0 inherits momentum 0.9 from the defaults; the added group turns it off
  {
    const params = makeParams(pr, device);
    const opt = new O.SGD([{ params: [params[0]], lr: 0.1 }, { params: [params[1]], lr: 0.01, weightDecay: 0.1 }], { lr: 0.05, momentum: 0.9 });
    try {
      assert.is(opt.paramGroups.length, 2);
      assert.is(opt.paramGroups[0].momentum, 0.9, 'options a group does not give come from the defaults');
      assert.is(opt.paramGroups[0].weightDecay, 0);
      assert.is(opt.paramGroups[1].lr, 0.01);
      assert.is(opt.lr, 0.1, 'lr is the first group\'s');
      for (let t = 0; t < 5; t++) {
        if (t === 2) opt.addParamGroup({ params: [params[2]], lr: 0.2, momentum: 0 });
        setGrads(t < 2 ? params.slice(0, 2) : params, t < 2 ? pr.steps[t].slice(0, 2) : pr.steps[t]);
        opt.step();
      }
      assert.is(opt.paramGroups.length, 3);
      assert.is(opt.paramGroups[2].dampening, 0);
      assertClose(params[0].dataSync(), ref.sgdRef([pr.w0[0]], gradsOf(0), { lr: 0.1, momentum: 0.9 }).w[0], F32, 'group 0');
      assertClose(params[1].dataSync(), ref.sgdRef([pr.w0[1]], gradsOf(1), { lr: 0.01, momentum: 0.9, weightDecay: 0.1 }).w[0], F32, 'group 1');
      assertClose(params[2].dataSync(), ref.sgdRef([pr.w0[2]], gradsOf(2, 2), { lr: 0.2 }).w[0], F32, 'the added group, from its first step');
      const sd = opt.stateDict();
      try {
        assert.equal(sd.paramGroups.map((g) => g.params), [[0], [1], [2]]);
        assert.equal(sd.paramGroups.map((g) => g.lr), [0.1, 0.01, 0.2]);
        // the group without momentum keeps a step count but no momentum buffer
        assert.is(sd.state[2].step, 3);
        assert.is(sd.state[2].momentumBuffer, undefined);
        assert.ok(sd.state[0].momentumBuffer instanceof hy.Tensor);
      } finally {
        disposeStateDict(sd);
      }
    } finally {
      opt.dispose();
      disposeAll(params);
    }
  }
  // Adam: amsgrad in one group only (a third state buffer for that group's parameters)
  {
    const params = makeParams(pr, device);
    const opt = new O.Adam([{ params: [params[0], params[2]], lr: 0.01 }, { params: [params[1]], weightDecay: 0.1, amsgrad: true }], { lr: 0.002 });
    try {
      for (const grads of pr.steps) {
        setGrads(params, grads);
        opt.step();
      }
      const g0 = ref.adamRef([pr.w0[0], pr.w0[2]], pr.steps.map((g) => [g[0], g[2]]), { lr: 0.01 });
      const g1 = ref.adamRef([pr.w0[1]], gradsOf(1), { lr: 0.002, weightDecay: 0.1, amsgrad: true });
      assertClose(params[0].dataSync(), g0.w[0], F32, 'Adam group 0, first parameter');
      assertClose(params[2].dataSync(), g0.w[1], F32, 'Adam group 0, second parameter');
      assertClose(params[1].dataSync(), g1.w[0], F32, 'Adam group 1 (amsgrad)');
      const sd = opt.stateDict();
      try {
        // stateDict indexes parameters in group order: params[0], params[2], params[1]
        assert.equal(sd.paramGroups.map((g) => g.params), [[0, 1], [2]]);
        assert.is(sd.state[0].maxExpAvgSq, undefined, 'no amsgrad buffer outside the amsgrad group');
        assert.ok(sd.state[2].maxExpAvgSq instanceof hy.Tensor, 'the amsgrad group keeps maxExpAvgSq');
      } finally {
        disposeStateDict(sd);
      }
    } finally {
      opt.dispose();
      disposeAll(params);
    }
  }
});

leakChecked('changing a group\'s momentum from 0 after its first step: the next step works (PyTorch) or fails cleanly, changing nothing', (device) => {
  const pr = makeProblem(13, [[3], [4]], 2, []);
  const params = makeParams(pr, device);
  const opt = new O.SGD([{ params: [params[0]] }, { params: [params[1]] }], { lr: 0.1 });
  try {
    setGrads(params, pr.steps[0]);
    opt.step();
    // what a momentum schedule does to torch's param_groups; torch starts the momentum buffer at the next step
    opt.paramGroups[1].momentum = 0.9;
    setGrads(params, pr.steps[1]);
    const before = snapshot(params);
    let thrown: unknown;
    try {
      opt.step();
    } catch (e) {
      thrown = e;
    }
    if (thrown === undefined) {
      assertClose(params[0].dataSync(), ref.sgdRef([pr.w0[0]], pr.steps.map((g) => [g[0]]), { lr: 0.1 }).w[0], F32, 'group 0');
      // torch: momentum_buffer is None at the second step, so it starts as d: the same update as plain SGD
      assertClose(params[1].dataSync(), ref.sgdRef([pr.w0[1]], pr.steps.map((g) => [g[1]]), { lr: 0.1 }).w[0], F32, 'group 1');
    } else {
      assert.ok(thrown instanceof Error && /^SGD: /.test(thrown.message), `a clear error naming SGD, got ${(thrown as Error)?.constructor?.name}: ${(thrown as Error)?.message}`);
      snapshot(params).forEach((w, i) => assertBitIdentical(w, before[i], `parameter ${i} after the failed step (all or nothing)`));
    }
  } finally {
    opt.dispose();
    disposeAll(params);
  }
});

s('a parameter in two groups, an empty parameter list, unknown options and bad values are rejected, naming them', () => {
  const a = hy.tensor([1, 2], { requiresGrad: true });
  const b = hy.tensor([3], { requiresGrad: true });
  try {
    assertThrows(() => new O.SGD([{ params: [a] }, { params: [b, a] }], { lr: 0.1 }), RangeError, /^SGD: parameter 1 appears in more than one parameter group/, 'in two groups');
    const opt = new O.Adam([a]);
    assertThrows(() => opt.addParamGroup({ params: [b, a] }), RangeError, /^Adam: parameter 1 appears in more than one parameter group/, 'addParamGroup with a parameter already held');
    assert.is(opt.paramGroups.length, 1, 'the failed addParamGroup added nothing');
    assertThrows(() => opt.addParamGroup({ params: [b], lr: -1 }), RangeError, /^Adam: lr must be a finite number >= 0, got -1$/, 'addParamGroup with a bad option');
    assert.is(opt.paramGroups.length, 1);
    opt.addParamGroup({ params: [b], betas: [0.5, 0.6] });
    assert.equal(opt.paramGroups[1].betas, [0.5, 0.6]);
    assert.is(opt.paramGroups[1].lr, 1e-3);
    assertThrows(() => new O.SGD([], { lr: 0.1 }), RangeError, /^SGD: params is an empty list/, 'no parameters');
    assertThrows(() => new O.LAMB([]), RangeError, /^LAMB: params is an empty list/, 'no parameters');
    assertThrows(() => new O.Adam([a], { betas1: 0.9 } as never), TypeError, /^Adam: unknown option 'betas1'/, 'unknown option');
    assertThrows(() => new O.LARS([a], { lr: 0.1, trust: 0.1 } as never), TypeError, /^LARS: unknown option 'trust'/, 'unknown option');
    assertThrows(() => new O.SGD([{ params: [a], mom: 0.9 }], { lr: 0.1 }), TypeError, /^SGD: unknown option 'mom'/, 'unknown option of a group');
    assertThrows(() => new O.SGD([a], { lr: -1 }), RangeError, /^SGD: lr must be a finite number >= 0, got -1$/, 'lr -1');
    assertThrows(() => new O.Adam([a], { lr: -1 }), RangeError, /^Adam: lr must be a finite number >= 0, got -1$/, 'lr -1');
    assertThrows(() => new O.Adadelta([a], { lr: -1 }), RangeError, /^Adadelta: lr must be a finite number >= 0, got -1$/, 'lr -1');
    assertThrows(() => new O.Adam([a], { betas: [1, 0.9] }), RangeError, /^Adam: betas\[0\] must be a finite number in \[0, 1\), got 1$/, 'betas [1, 0.9]');
    assertThrows(() => new O.AdamW([a], { betas: [0.9, 1.5] }), RangeError, /^AdamW: betas\[1\] must be a finite number in \[0, 1\), got 1.5$/, 'betas [0.9, 1.5]');
    assertThrows(() => new O.LAMB([a], { betas: [0.9] as never }), TypeError, /^LAMB: betas must be a pair \[beta1, beta2\], got \[0.9\]$/, 'one beta');
    assertThrows(() => new O.SGD([a], { lr: 0.1, momentum: NaN }), RangeError, /^SGD: momentum must be a finite number >= 0, got NaN$/, 'momentum NaN');
    assertThrows(() => new O.LARS([a], { lr: 0.1, momentum: NaN }), RangeError, /^LARS: momentum must be a finite number >= 0, got NaN$/, 'momentum NaN');
    assertThrows(() => new O.Adadelta([a], { rho: 1 }), RangeError, /^Adadelta: rho must be a finite number in \[0, 1\), got 1$/, 'rho 1');
    assertThrows(() => new O.SGD([a], { lr: '0.1' as never }), TypeError, /^SGD: lr must be a number, got '0.1'$/, 'lr a string');
    assertThrows(() => new O.SGD([a], {} as never), TypeError, /^SGD: option lr is required/, 'SGD needs lr');
    assertThrows(() => new O.LARS([a], { lr: 0.1, nesterov: true, momentum: 0 }), RangeError, /^LARS: nesterov needs momentum > 0 and dampening 0/, 'nesterov without momentum');
    assertThrows(() => new O.Adam([a], { amsgrad: 1 as never }), TypeError, /^Adam: amsgrad must be a boolean, got 1$/, 'amsgrad 1');
    assertThrows(() => new O.Adam([a], { foreach: 'yes' as never }), TypeError, /^Adam: foreach must be a boolean, got 'yes'$/, 'foreach');
    assertThrows(() => new O.Adam([hy.tensor([1], { dtype: 'int32' })]), RangeError, /^Adam: parameter 0 must be a leaf tensor that requires grad/, 'an int32 tensor that does not require grad');
    assertThrows(() => new O.Adam([1 as never]), TypeError, /^Adam: parameter 0 is not a Tensor, got 1$/, 'a number');
    assertThrows(() => new O.Adam([a, 1 as never]), TypeError, /^Adam: parameter 1 is not a Tensor, got 1$/, 'a tensor and a number');
    assertThrows(() => new O.Adam([{ params: [a, 1] } as never]), TypeError, /^Adam: parameter 1 is not a Tensor, got 1$/, 'a number in a group');
    assertThrows(() => new O.Adam(5 as never), TypeError, /^Adam: params must be an iterable of tensors or of parameter groups, got 5$/, 'params 5');
    // the lr setter checks too, and sets every group
    assertThrows(() => { opt.lr = -1; }, RangeError, /^Adam: lr must be a finite number >= 0, got -1$/, 'lr setter');
    opt.lr = 0.25;
    assert.equal(opt.paramGroups.map((g) => g.lr), [0.25, 0.25]);
    opt.dispose();
  } finally {
    a.dispose();
    b.dispose();
  }
});

leakChecked('zeroGrad() sets the gradients to null; zeroGrad({setToNone: false}) zeroes them in place', (device) => {
  const pr = makeProblem(5, [[3], [2, 5], [70000]], 1, []);
  const params = makeParams(pr, device);
  const opt = new O.SGD(params, { lr: 0.1 });
  try {
    setGrads(params, pr.steps[0]);
    const grads = params.map((p) => p.grad!);
    opt.zeroGrad({ setToNone: false });
    params.forEach((p, i) => {
      assert.ok(p.grad === grads[i], 'the same tensor');
      assert.ok(p.grad!.dataSync().every((v) => v === 0), `gradient ${i} zeroed`);
    });
    // a step on zero gradients leaves plain SGD's weights as they were
    opt.step();
    params.forEach((p, i) => assertBitIdentical(p.dataSync(), Float32Array.from(pr.w0[i]), `parameter ${i} after a zero step`));
    opt.zeroGrad();
    params.forEach((p, i) => assert.is(p.grad, null, `gradient ${i} is none`));
    for (const g of grads) assert.ok(g.isDisposed, 'setToNone frees the old gradient');
    opt.zeroGrad(); // nothing to do
    assertThrows(() => opt.zeroGrad({ setToNone: 1 as never }), TypeError, /^SGD\.zeroGrad: setToNone must be a boolean, got 1$/, 'setToNone 1');
  } finally {
    opt.dispose();
    disposeAll(params);
  }
});

// ---- state dicts ----

leakChecked('stateDict mid-run + loadStateDict into a fresh optimizer over clones: both continue bit-identically', (device) => {
  const pr = makeProblem(6, MIXED, 5);
  const cases: [string, (p: Tensor[], lr: number) => Optimizer][] = [
    ['Adam amsgrad', (p, lr) => new O.Adam(p, { lr, amsgrad: true, weightDecay: 0.01 })],
    ['SGD momentum', (p, lr) => new O.SGD(p, { lr, momentum: 0.9, nesterov: true })],
    ['LAMB', (p, lr) => new O.LAMB(p, { lr })],
  ];
  for (const [label, make] of cases) {
    const a = makeParams(pr, device);
    const optA = make(a, 0.01);
    let b: Tensor[] = [];
    let optB: Optimizer | null = null;
    try {
      for (const grads of pr.steps.slice(0, 2)) {
        setGrads(a, grads);
        optA.step();
      }
      const sd = optA.stateDict();
      try {
        assert.is(sd.state[0].step, 2);
        assert.is(sd.state[1].step, 1, 'parameter 1 had no gradient at step 1');
        assert.is(sd.paramGroups[0].lr, 0.01);
        b = a.map((p) => {
          const d = p.detach(); // clone of a leaf is recorded, as in PyTorch: clone the detached alias for a new leaf
          const c = d.clone();
          d.dispose();
          c.requiresGrad = true;
          return c;
        });
        // a different lr in the constructor: the state dict's groups restore 0.01
        optB = make(b, 0.5);
        optB.loadStateDict(sd);
        assert.is(optB.lr, 0.01, 'the groups\' options come back');
      } finally {
        disposeStateDict(sd); // the optimizer holds copies
      }
      for (const grads of pr.steps.slice(2)) {
        setGrads(a, grads);
        setGrads(b, grads);
        optA.step();
        optB.step();
      }
      const wa = snapshot(a);
      const wb = snapshot(b);
      wa.forEach((w, i) => assertBitIdentical(wb[i], w, `${label}: parameter ${i}`));
      const sa = optA.stateDict();
      const sb = optB.stateDict();
      try {
        assertSameState(sa, sb, label);
      } finally {
        disposeStateDict(sa);
        disposeStateDict(sb);
      }
    } finally {
      optA.dispose();
      optB?.dispose();
      disposeAll(a);
      disposeAll(b);
    }
  }
});

leakChecked('loadStateDict rejects a state of another shape and changes nothing', (device) => {
  const pr = makeProblem(7, [[3], [4]], 1, []);
  const a = makeParams(pr, device);
  const other = [hy.tensor([1, 2], { device, requiresGrad: true }), hy.tensor([1, 2, 3, 4], { device, requiresGrad: true })];
  const optA = new O.Adam(a, { lr: 0.01 });
  const optO = new O.Adam(other, { lr: 0.01 });
  try {
    setGrads(a, pr.steps[0]);
    optA.step();
    const sd = optA.stateDict();
    try {
      assertThrows(() => optO.loadStateDict(sd), RangeError, /^Adam\.loadStateDict: state\[0\]\.expAvg has 3 elements, the parameter 2/, 'numel mismatch');
      const mine = optO.stateDict();
      assert.equal(mine.state, {}, 'nothing was loaded');
      const missingGroup = { state: sd.state, paramGroups: [] };
      assertThrows(() => optO.loadStateDict(missingGroup), RangeError, /^Adam\.loadStateDict: the state has 0 parameter groups, the optimizer 1/, 'group count');
    } finally {
      disposeStateDict(sd);
    }
  } finally {
    optA.dispose();
    optO.dispose();
    disposeAll(a);
    disposeAll(other);
  }
});

// ---- all or nothing ----

leakChecked('all or nothing: a gradient of the wrong numel on the second parameter changes no weight and no state', (device) => {
  const pr = makeProblem(8, [[3], [2, 5], [70000]], 2, []);
  for (const make of [(p: Tensor[]) => new O.Adam(p, { lr: 0.01, amsgrad: true }), (p: Tensor[]) => new O.LAMB(p, { lr: 0.01 }), (p: Tensor[]) => new O.LARS(p, { lr: 0.1 })]) {
    const params = makeParams(pr, device);
    const opt = make(params);
    try {
      // before any state exists: the failed first step creates none
      setGrads(params, pr.steps[0]);
      params[1].grad!.dispose();
      params[1].grad = hy.tensor([1, 2, 3, 4], { device });
      assertThrows(() => opt.step(), RangeError, new RegExp(`^${opt.name}: the gradient of parameter 1 of group 0 has 4 elements, the parameter 10$`), 'wrong numel, first step');
      const empty = opt.stateDict();
      assert.equal(empty.state, {}, 'no state was created');
      params.forEach((p, i) => assertBitIdentical(p.dataSync(), Float32Array.from(pr.w0[i]), `${opt.name}: parameter ${i}`));
      // after a good step: weights and state bit-identical to before the failed one
      setGrads(params, pr.steps[0]);
      opt.step();
      const before = snapshot(params);
      const sdBefore = opt.stateDict();
      try {
        setGrads(params, pr.steps[1]);
        params[1].grad!.dispose();
        params[1].grad = hy.tensor([1, 2, 3, 4], { device });
        assertThrows(() => opt.step(), RangeError, /the gradient of parameter 1 of group 0 has 4 elements, the parameter 10$/, 'wrong numel');
        params[1].grad.dispose();
        params[1].grad = hy.tensor(pr.steps[1][1]!, { device, dtype: 'float16', shape: [2, 5] });
        assertThrows(() => opt.step(), TypeError, new RegExp(`^${opt.name}: the gradient of parameter 1 of group 0 is float16, the parameter float32$`), 'wrong dtype');
        const after = snapshot(params);
        before.forEach((w, i) => assertBitIdentical(after[i], w, `${opt.name}: parameter ${i} after the failed step`));
        const sdAfter = opt.stateDict();
        try {
          assertSameState(sdBefore, sdAfter, `${opt.name}: state after the failed step`);
        } finally {
          disposeStateDict(sdAfter);
        }
      } finally {
        disposeStateDict(sdBefore);
        disposeStateDict(empty);
      }
    } finally {
      opt.dispose();
      disposeAll(params);
    }
  }
});

leakChecked('all or nothing: a disposed parameter (the model moved after the optimizer was made) is a clear Error', (device) => {
  const pr = makeProblem(9, [[3], [2, 5]], 1, []);
  const params = makeParams(pr, device);
  const opt = new O.Adam(params, { lr: 0.01 });
  try {
    setGrads(params, pr.steps[0]);
    params[1].dispose(); // what model.to('float16') does to the old parameters
    assertThrows(() => opt.step(), Error, /^Adam: parameter 1 of group 0 was disposed \(was the model moved with \.to\(\) after the optimizer was made\?/, 'disposed parameter');
    assertBitIdentical(params[0].dataSync(), Float32Array.from(pr.w0[0]), 'parameter 0 unchanged');
    const sd = opt.stateDict();
    assert.equal(sd.state, {}, 'no state was created');
  } finally {
    opt.dispose();
    disposeAll(params);
  }
});

leakChecked('all or nothing: out of memory allocating the first step\'s state leaves the weights, then the step works', async (device) => {
  // 2.7M float32 (10.3 MiB, past the 10 MiB that share a 20 MiB segment): each state buffer needs a segment of its own
  const n = 2_700_000;
  const pr: Problem = {
    shapes: [[3], [n]],
    w0: [[0.5, -1, 2], Array.from(randomArray(n, 77, -1, 1), Math.fround)],
    steps: [[[0.1, 0.2, -0.3], Array.from(randomArray(n, 78, -1, 1), Math.fround)]],
  };
  // wholly free segments of earlier tests go back first, so the big tensors get segments of their own
  hy.memory.emptyCache(device);
  const params = makeParams(pr, device);
  setGrads(params, pr.steps[0]);
  const opt = new O.Adam(params, { lr: 0.01 });
  try {
    hy.memory.emptyCache(device);
    const live = hy.memory.stats(device).liveBytes;
    const free = hy.memory.stats(device).reservedBytes - live;
    assert.ok(free < n * 4, `the cached free memory (${free} bytes) cannot hold a state buffer (${n * 4} bytes): the buffers need new segments`);
    // room for a small segment and one of the two state buffers, not for both
    hy.memory.setLimit(device, hy.memory.stats(device).reservedBytes + (16 << 20));
    let caught: unknown;
    try {
      opt.step();
    } catch (e) {
      caught = e;
    } finally {
      hy.memory.setLimit(device, 0);
    }
    assert.instance(caught, hy.OutOfMemoryError, `expected OutOfMemoryError, got ${String(caught)}`);
    assert.is(hy.memory.stats(device).liveBytes, live, 'the state allocated before the failure was freed');
    const sd = opt.stateDict();
    assert.equal(sd.state, {}, 'no state kept');
    assertBitIdentical(params[0].dataSync(), Float32Array.from(pr.w0[0]), 'parameter 0 unchanged');
    assertBitIdentical(params[1].dataSync(), Float32Array.from(pr.w0[1]), 'parameter 1 unchanged');
    // the limit lifted, the same step runs and is the oracle's first step
    opt.step();
    const expected = ref.adamRef(pr.w0, pr.steps, { lr: 0.01 });
    assertClose(params[0].dataSync(), expected.w[0], F32, 'parameter 0 after the step');
    assertClose(params[1].dataSync(), expected.w[1], F32, 'parameter 1 after the step');
  } finally {
    hy.memory.setLimit(device, 0);
    opt.dispose();
    disposeAll(params);
    hy.memory.emptyCache(device);
  }
});

// ---- the lr: the setter and a scheduler ----

leakChecked('StepLR drives every group\'s lr; the weights follow the oracle with that lr sequence', (device) => {
  const pr = makeProblem(10, MIXED, 5);
  const lrsSeen: number[][] = [];
  // SGD with momentum, one group
  {
    const params = makeParams(pr, device);
    const opt = new O.SGD(params, { lr: 0.1, momentum: 0.9 });
    const sched = new StepLR(opt, { stepSize: 2, gamma: 0.5 });
    try {
      const lrs: number[] = [];
      for (const grads of pr.steps) {
        lrs.push(opt.lr);
        setGrads(params, grads);
        opt.step();
        sched.step();
      }
      assert.equal(lrs, [0.1, 0.1, 0.05, 0.05, 0.025]);
      checkAgainst(opt, params, ref.sgdRef(pr.w0, pr.steps, { lr: 0.1, momentum: 0.9, lrs }), 'SGD under StepLR');
    } finally {
      opt.dispose();
      disposeAll(params);
    }
  }
  // Adam with two groups, and the lr setter overriding the schedule for one step
  {
    const params = makeParams(pr, device);
    const first = params.slice(0, 3);
    const rest = params.slice(3);
    const opt = new O.Adam([{ params: first, lr: 0.02 }, { params: rest, lr: 0.004 }]);
    const sched = new StepLR(opt, { stepSize: 1, gamma: 0.5 });
    try {
      pr.steps.forEach((grads, t) => {
        if (t === 3) opt.lr = 0.001; // every group, for this step (the scheduler's next step overwrites it)
        lrsSeen.push(opt.paramGroups.map((g) => g.lr));
        setGrads(params, grads);
        opt.step();
        sched.step();
      });
      assert.equal(lrsSeen, [[0.02, 0.004], [0.01, 0.002], [0.005, 0.001], [0.001, 0.001], [0.00125, 0.00025]]);
      const e0 = ref.adamRef(pr.w0.slice(0, 3), pr.steps.map((g) => g.slice(0, 3)), { lr: 0, lrs: lrsSeen.map((l) => l[0]) });
      const e1 = ref.adamRef(pr.w0.slice(3), pr.steps.map((g) => g.slice(3)), { lr: 0, lrs: lrsSeen.map((l) => l[1]) });
      first.forEach((p, i) => assertClose(p.dataSync(), e0.w[i], F32, `Adam group 0 parameter ${i}`));
      rest.forEach((p, i) => assertClose(p.dataSync(), e1.w[i], F32, `Adam group 1 parameter ${i}`));
    } finally {
      opt.dispose();
      disposeAll(params);
    }
  }
});

s.run();
