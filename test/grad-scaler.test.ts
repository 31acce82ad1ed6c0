// hy.amp.GradScaler (torch.cuda.amp.GradScaler semantics) with the fused optimizers: scale(loss),
// the fused unscale-and-check, steps skipped on the device after an inf or NaN gradient, the scale's
// backoff and growth against gradScalerRef, the stage errors, enabled: false, state dicts, option
// checks and two optimizers under one scaler. The gradients are set directly as scale * g with the
// scale a power of two, so unscaling is exact and the weights can be checked against the float64
// optimizer oracles over the clean steps. Every test disposes what it allocates (the scaler's and
// the optimizers' state included) and checks that the device's live bytes are back.
import * as assert from 'uvu/assert';

import * as hy from '../lib/index';
import type { Device, DType, Tensor } from '../lib/index';
import type { GradScalerOptions } from '../lib/amp/index';
import type { Optimizer, OptimizerStateDict } from '../lib/optim/index';
import { assertClose, assertThrows, collectGarbage, eachBackend, randomArray, suite } from './harness';
import { roundToHalf } from './reference/half';
import * as ref from './reference/optim';
import type { RefGrads } from './reference/optim';

const s = suite('grad-scaler');

const F32 = { rtol: 1e-5, atol: 1e-6 };
const { GradScaler } = hy.amp;
const O = hy.optim;

const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** [3], [2,5], [70000] (three chunks), then 40 tiny tensors: more than one CUDA launch's table. */
const MIXED: number[][] = [[3], [2, 5], [70000], ...Array.from({ length: 40 }, (_, i) => [1 + (i % 3)])];

function weights(shapes: number[][], seed: number, round: (v: number) => number = Math.fround): number[][] {
  return shapes.map((sh, i) => Array.from(randomArray(numel(sh), seed * 1000 + i, -1, 1), round));
}

function gradSteps(shapes: number[][], seed: number, n: number, round: (v: number) => number = Math.fround): number[][][] {
  return Array.from({ length: n }, (_, t) => weights(shapes, seed + 31 * (t + 1), round));
}

function makeParams(shapes: number[][], w0: number[][], device: Device, dtype: DType = 'float32'): Tensor[] {
  return w0.map((w, i) => hy.tensor(w, { device, dtype, shape: shapes[i], requiresGrad: true }));
}

/** Sets each gradient to factor * g (disposing the last one); `poison` puts one inf/NaN in. */
function setGrads(params: Tensor[], grads: RefGrads, factor: number, poison?: { param: number; index: number; value: number }): void {
  params.forEach((p, i) => {
    if (p.grad !== null) p.grad.dispose();
    const g = grads[i];
    if (g === null) {
      p.grad = null;
      return;
    }
    const v = g.map((x) => x * factor);
    if (poison !== undefined && poison.param === i) v[poison.index] = poison.value;
    p.grad = hy.tensor(v, { device: p.device, dtype: p.dtype, shape: [...p.shape] });
  });
}

function disposeAll(ts: Tensor[]): void {
  for (const t of ts) t.dispose();
}

function disposeStateDict(sd: OptimizerStateDict): void {
  for (const entry of Object.values(sd.state)) for (const v of Object.values(entry)) if (v instanceof hy.Tensor) v.dispose();
}

function snapshot(ts: Tensor[]): Float32Array[] {
  return ts.map((t) => Float32Array.from(t.dataSync()));
}

function assertBitIdentical(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  assert.is(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) {
    if (!Object.is(a[i], b[i])) assert.unreachable(`${what}[${i}]: ${a[i]} !== ${b[i]}`);
  }
}

function assertSameState(a: OptimizerStateDict, b: OptimizerStateDict, what: string): void {
  assert.equal(Object.keys(a.state).sort(), Object.keys(b.state).sort(), `${what}: the parameters with state`);
  for (const [k, ea] of Object.entries(a.state)) {
    const eb = b.state[Number(k)];
    for (const [name, va] of Object.entries(ea)) {
      const vb = eb[name];
      if (typeof va === 'number') assert.is(vb, va, `${what}: state[${k}].${name}`);
      else assertBitIdentical((va as Tensor).dataSync(), (vb as Tensor).dataSync(), `${what}: state[${k}].${name}`);
    }
  }
}

function leakChecked(name: string, fn: (device: Device) => void | Promise<void>): void {
  eachBackend(s, name, async (device) => {
    await collectGarbage();
    const before = hy.memory.stats(device).liveBytes;
    await fn(device);
    assert.is(hy.memory.stats(device).liveBytes, before, `${name} [${device}]: every tensor of the test (scaler and optimizer state included) was disposed`);
  });
}

/** scale(loss) of a one-element loss: checks the value is loss * scale, disposes both. */
function scaleCheck(scaler: InstanceType<typeof GradScaler>, device: Device, expectedScale: number): void {
  hy.tidy(() => {
    const scaled = scaler.scale(hy.tensor([1.5], { device }));
    assert.equal(Array.from(scaled.dataSync()), [1.5 * expectedScale], 'scale(loss) is loss * scale');
  });
}

// ---- scale, backward, step ----

leakChecked('scale(loss) multiplies by the scale, backward gives scaled gradients, step() unscales them and steps', (device) => {
  const w0 = [0.5, -1, 2];
  const c = [0.25, -1.5, 3];
  const p = hy.tensor(w0, { device, requiresGrad: true });
  const opt = new O.SGD([p], { lr: 0.1, momentum: 0.9 });
  const scaler = new GradScaler({ initScale: 1024 });
  try {
    assert.is(scaler.isEnabled(), true);
    assert.is(scaler.getScale(), 1024, 'the initial scale before any state exists');
    for (let t = 0; t < 3; t++) {
      opt.zeroGrad();
      hy.tidy(() => {
        const loss = hy.sum(hy.mul(p, hy.tensor(c, { device })));
        const scaled = scaler.scale(loss);
        assertClose(scaled.dataSync(), [loss.item() * 1024], { rtol: 0, atol: 0 }, `step ${t}: scaled loss`);
        scaled.backward();
      });
      assert.equal(Array.from(p.grad!.dataSync()), c.map((v) => v * 1024), `step ${t}: backward of the scaled loss gives scaled gradients`);
      scaler.step(opt);
      assert.equal(Array.from(p.grad!.dataSync()), c, `step ${t}: step() divided the gradients back`);
      scaler.update();
      assert.is(scaler.getScale(), 1024, 'no growth before growthInterval (2000) clean steps');
      assert.is(scaler.getGrowthTracker(), t + 1);
    }
    assertClose(p.dataSync(), ref.sgdRef([w0], [[c], [c], [c]], { lr: 0.1, momentum: 0.9 }).w[0], F32, 'weights after 3 scaled steps');
  } finally {
    scaler.dispose();
    opt.dispose();
    p.dispose();
  }
});

// ---- inf / NaN: skipped steps, backoff and growth ----

type MakeOpt = (params: Tensor[]) => Optimizer;
interface SeqCase {
  label: string;
  make: MakeOpt;
  ref(w0: number[][], steps: RefGrads[]): { w: number[][] };
}

const SEQ_CASES: SeqCase[] = [
  { label: 'SGD momentum', make: (p) => new O.SGD(p, { lr: 0.1, momentum: 0.9 }), ref: (w, st) => ref.sgdRef(w, st, { lr: 0.1, momentum: 0.9 }) },
  { label: 'Adam', make: (p) => new O.Adam(p, { lr: 0.01, weightDecay: 0.01 }), ref: (w, st) => ref.adamRef(w, st, { lr: 0.01, weightDecay: 0.01 }) },
  // LAMB's global gradient norm must be taken over the unscaled gradients
  { label: 'LAMB', make: (p) => new O.LAMB(p, { lr: 0.01 }), ref: (w, st) => ref.lambRef(w, st, { lr: 0.01, weightDecay: 0.01 }) },
];

const GS = { initScale: 1024, growthFactor: 2, backoffFactor: 0.5, growthInterval: 3 };
// finite steps, an inf in the 70000-element tensor (its second chunk), then a NaN in the 37th tensor (past a CUDA table of 32)
const SEQ: { finite: boolean; poison?: { param: number; index: number; value: number } }[] = [
  { finite: true },
  { finite: false, poison: { param: 2, index: 40000, value: Infinity } },
  { finite: true },
  { finite: true },
  { finite: true },
  { finite: false, poison: { param: 36, index: 0, value: NaN } },
  { finite: true },
  { finite: false, poison: { param: 0, index: 1, value: -Infinity } },
  { finite: true },
  { finite: true },
  { finite: true },
];

leakChecked('an inf or NaN gradient skips the step (weights, moments, step counts bit-identical) and the scale follows gradScalerRef', (device) => {
  const w0 = weights(MIXED, 11);
  const grads = gradSteps(MIXED, 12, SEQ.length);
  const expected = ref.gradScalerRef(SEQ, GS);
  for (const c of SEQ_CASES) {
    const params = makeParams(MIXED, w0, device);
    const opt = c.make(params);
    const scaler = new GradScaler(GS);
    try {
      let scale = GS.initScale;
      SEQ.forEach((st, t) => {
        scaleCheck(scaler, device, scale);
        setGrads(params, grads[t], scale, st.poison);
        const before = snapshot(params);
        const sdBefore = opt.stateDict();
        try {
          scaler.step(opt);
          scaler.update();
          if (!st.finite) {
            const after = snapshot(params);
            before.forEach((w, i) => assertBitIdentical(after[i], w, `${c.label} step ${t} (skipped): parameter ${i}`));
            const sdAfter = opt.stateDict();
            try {
              assertSameState(sdBefore, sdAfter, `${c.label} step ${t} (skipped)`);
            } finally {
              disposeStateDict(sdAfter);
            }
          } else {
            // the gradients were unscaled in place, exactly (the scale is a power of two)
            assertBitIdentical(params[1].grad!.dataSync(), Float32Array.from(grads[t][1]), `${c.label} step ${t}: unscaled gradient`);
          }
        } finally {
          disposeStateDict(sdBefore);
        }
        assert.is(scaler.getScale(), expected.scales[t], `${c.label} step ${t}: scale`);
        scale = expected.scales[t];
      });
      assert.is(scaler.getGrowthTracker(), expected.growthTracker, 'growth tracker');
      const clean = grads.filter((_, t) => SEQ[t].finite);
      const e = c.ref(w0, clean);
      params.forEach((p, i) => assertClose(p.dataSync(), e.w[i], F32, `${c.label}: weights of parameter ${i} after the clean steps`));
      const sd = opt.stateDict();
      try {
        assert.is(sd.state[0].step, clean.length, 'skipped steps do not count');
      } finally {
        disposeStateDict(sd);
      }
    } finally {
      scaler.dispose();
      opt.dispose();
      disposeAll(params);
    }
  }
});

s('the sequence: backoffs and growths both happen (so the check above sees both)', () => {
  const { scales } = ref.gradScalerRef(SEQ, GS);
  assert.equal(scales, [1024, 512, 512, 512, 1024, 512, 512, 256, 256, 256, 512]);
});

leakChecked('float16 parameters: the fused unscale of float16 gradients, an overflow to inf skips the step', (device) => {
  const half = (v: number): number => roundToHalf(Math.fround(v));
  const shapes = [[3], [2, 5], [70000]];
  const w0 = weights(shapes, 13, half);
  const grads = gradSteps(shapes, 14, 4, half);
  const params = makeParams(shapes, w0, device, 'float16');
  const opt = new O.Adam(params, { lr: 0.05 });
  const scaler = new GradScaler({ initScale: 256, growthInterval: 2 });
  try {
    const seq = [true, false, true, true];
    let scale = 256;
    seq.forEach((finite, t) => {
      scaleCheck(scaler, device, scale);
      // 1e6 does not fit float16: it becomes inf in the gradient, as an overflowing backward would
      setGrads(params, grads[t], scale, finite ? undefined : { param: 2, index: 50000, value: 1e6 });
      const before = snapshot(params);
      scaler.step(opt);
      scaler.update();
      if (!finite) snapshot(params).forEach((w, i) => assertBitIdentical(w, before[i], `step ${t}: float16 parameter ${i} unchanged`));
      scale = scaler.getScale();
    });
    assert.is(scale, 256, '256, backed off to 128, then grown after 2 clean steps');
    const e = ref.adamRef(w0, grads.filter((_, t) => seq[t]), { lr: 0.05 });
    params.forEach((p, i) => assertClose(p.dataSync(), e.w[i], { rtol: 1e-2, atol: 2e-3 }, `float16 parameter ${i}`));
  } finally {
    scaler.dispose();
    opt.dispose();
    disposeAll(params);
  }
});

leakChecked('the scale grows only to a finite value', (device) => {
  const p = hy.tensor([0.5, -0.25], { device, requiresGrad: true });
  const opt = new O.SGD([p], { lr: 0.5 });
  const scaler = new GradScaler({ initScale: 2 ** 126, growthFactor: 4, growthInterval: 1 });
  try {
    scaleCheck(scaler, device, 2 ** 126);
    setGrads([p], [[1, -1]], 2 ** 126);
    scaler.step(opt);
    scaler.update();
    assert.is(scaler.getScale(), 2 ** 126, '2^128 is not a float32: the scale stays');
    assert.is(scaler.getGrowthTracker(), 0, 'the tracker still resets');
    assert.equal(Array.from(p.dataSync()), [0, 0.25]);
  } finally {
    scaler.dispose();
    opt.dispose();
    p.dispose();
  }
});

leakChecked('an inf on the very first step leaves no optimizer state (PyTorch never runs the skipped step); the next step is the first', (device) => {
  const shapes = [[3], [2, 5]];
  const w0 = weights(shapes, 31);
  const grads = gradSteps(shapes, 32, 2);
  for (const c of SEQ_CASES) {
    const params = makeParams(shapes, w0, device);
    const opt = c.make(params);
    const scaler = new GradScaler({ initScale: 16 });
    try {
      scaleCheck(scaler, device, 16);
      setGrads(params, grads[0], 16, { param: 1, index: 3, value: Infinity });
      scaler.step(opt);
      scaler.update();
      params.forEach((p, i) => assertBitIdentical(p.dataSync(), Float32Array.from(w0[i]), `${c.label}: parameter ${i} after the skipped first step`));
      const sd = opt.stateDict();
      const leftover = Object.entries(sd.state).map(([k, e]) => `${k}: step ${e.step}`);
      disposeStateDict(sd);
      setGrads(params, grads[1], 8);
      scaler.step(opt);
      scaler.update();
      const e = c.ref(w0, [grads[1]]);
      params.forEach((p, i) => assertClose(p.dataSync(), e.w[i], F32, `${c.label}: parameter ${i} after the first real step`));
      // a skipped step must leave the stateDict as it was: empty
      assert.equal(leftover, [], `${c.label}: the skipped first step left state in the stateDict`);
    } finally {
      scaler.dispose();
      opt.dispose();
      disposeAll(params);
    }
  }
});

leakChecked('dispose() frees the device state; a later scale() resumes from the scale it had, not the initial one', (device) => {
  const p = hy.tensor([1, 2], { device, requiresGrad: true });
  const opt = new O.SGD([p], { lr: 0.1 });
  const scaler = new GradScaler({ initScale: 1024, growthInterval: 3 });
  try {
    scaleCheck(scaler, device, 1024);
    setGrads([p], [[0.5, 0.25]], 1024, { param: 0, index: 0, value: Infinity });
    scaler.step(opt);
    scaler.update();
    setGrads([p], [[0.5, 0.25]], 512);
    scaler.step(opt);
    scaler.update();
    assert.is(scaler.getScale(), 512);
    assert.is(scaler.getGrowthTracker(), 1);
    scaler.dispose();
    // lib/amp/grad_scaler.ts: "Frees the device state (a later scale() makes it again from the last values read)"
    assert.is(scaler.getScale(), 512, 'getScale() after dispose() is the scale it had');
    assert.is(scaler.getGrowthTracker(), 1, 'and the tracker');
    scaleCheck(scaler, device, 512);
  } finally {
    scaler.dispose();
    opt.dispose();
    p.dispose();
  }
});

// ---- the stages ----

leakChecked('unscale() then step() unscales once; a second unscale or step before update, or update with nothing stepped, is an Error', (device) => {
  const w0 = [1, -2, 3];
  const g = [0.5, 0.25, -1];
  const p = hy.tensor(w0, { device, requiresGrad: true });
  const opt = new O.SGD([p], { lr: 0.1 });
  const scaler = new GradScaler({ initScale: 64 });
  try {
    assertThrows(() => scaler.update(), Error, /^GradScaler\.update: no loss was scaled yet/, 'update before any scale');
    setGrads([p], [g], 64);
    assertThrows(() => scaler.unscale(opt), Error, /^GradScaler\.unscale: no loss was scaled yet/, 'unscale before any scale');
    scaleCheck(scaler, device, 64);
    scaler.unscale(opt);
    assert.equal(Array.from(p.grad!.dataSync()), g, 'unscale() divides the gradients by the scale');
    assertThrows(() => scaler.unscale(opt), Error, /^GradScaler\.unscale: unscale\(\) was already called on this optimizer since the last update\(\)/, 'unscale twice');
    assert.equal(Array.from(p.grad!.dataSync()), g, 'the failed second unscale changed nothing');
    scaler.step(opt);
    assert.equal(Array.from(p.grad!.dataSync()), g, 'step() after unscale() does not unscale again');
    assertClose(p.dataSync(), ref.sgdRef([w0], [[g]], { lr: 0.1 }).w[0], F32, 'the step used the once-unscaled gradients');
    assertThrows(() => scaler.step(opt), Error, /^GradScaler\.step: step\(\) was already called on this optimizer since the last update\(\)/, 'step twice');
    assertThrows(() => scaler.unscale(opt), Error, /^GradScaler\.unscale: unscale\(\) is being called after step\(\); call update\(\) first/, 'unscale after step');
    scaler.update();
    assertThrows(() => scaler.update(), Error, /^GradScaler\.update: no optimizer was unscaled or stepped since the last update\(\)/, 'update twice');
    // after update, the next round works again
    setGrads([p], [g], 64);
    scaler.step(opt);
    scaler.update();
    assertClose(p.dataSync(), ref.sgdRef([w0], [[g], [g]], { lr: 0.1 }).w[0], F32, 'second round');
    // update(newScale) sets the scale
    scaler.unscale(opt);
    scaler.update(8);
    assert.is(scaler.getScale(), 8);
    assertThrows(() => scaler.update(-1), RangeError, /^GradScaler: newScale must be a finite number > 0, got -1$/, 'update(-1)');
  } finally {
    scaler.dispose();
    opt.dispose();
    p.dispose();
  }
});

leakChecked('enabled: false makes scale, unscale, step and update pass-throughs; getScale() is 1', (device) => {
  const w0 = [1, -2, 3];
  const g = [0.5, 0.25, -1];
  const p = hy.tensor(w0, { device, requiresGrad: true });
  const opt = new O.SGD([p], { lr: 0.1, momentum: 0.5 });
  const scaler = new GradScaler({ enabled: false, initScale: 1024 });
  const loss = hy.tensor([2], { device });
  try {
    assert.is(scaler.isEnabled(), false);
    assert.ok(scaler.scale(loss) === loss, 'scale(loss) is the loss itself');
    for (let t = 0; t < 2; t++) {
      setGrads([p], [g], 1);
      scaler.unscale(opt);
      assert.equal(Array.from(p.grad!.dataSync()), g, 'unscale() leaves the gradients');
      scaler.step(opt);
      scaler.step(opt); // no stage tracking when disabled: a plain step each time
      scaler.update();
      scaler.update();
      assert.is(scaler.getScale(), 1);
    }
    assertClose(p.dataSync(), ref.sgdRef([w0], [[g], [g], [g], [g]], { lr: 0.1, momentum: 0.5 }).w[0], F32, 'four plain steps');
    assert.equal(scaler.stateDict(), {});
  } finally {
    loss.dispose();
    scaler.dispose();
    opt.dispose();
    p.dispose();
  }
});

// ---- state dicts and options ----

leakChecked('stateDict / loadStateDict: the scale and the growth tracker survive; a mismatched factor is a RangeError', (device) => {
  const p = hy.tensor([1, 2], { device, requiresGrad: true });
  const opt = new O.SGD([p], { lr: 0.1 });
  const a = new GradScaler({ initScale: 512, growthInterval: 3 });
  const b = new GradScaler({ growthInterval: 3 });
  const c = new GradScaler({ growthInterval: 3, initScale: 4 });
  const bad = new GradScaler({ growthFactor: 4, growthInterval: 3 });
  try {
    const round = (sc: InstanceType<typeof GradScaler>, scale: number, finite: boolean): void => {
      scaleCheck(sc, device, scale);
      setGrads([p], [[0.5, 0.25]], scale, finite ? undefined : { param: 0, index: 0, value: NaN });
      sc.step(opt);
      sc.update();
    };
    round(a, 512, false); // 256
    round(a, 256, true);
    round(a, 256, true); // tracker 2
    const sd = a.stateDict();
    assert.equal(sd, { scale: 256, growthFactor: 2, backoffFactor: 0.5, growthInterval: 3, growthTracker: 2 });
    const json = JSON.parse(JSON.stringify(sd));
    // into a scaler without device state yet, and into one that has it
    b.loadStateDict(json);
    assert.is(b.getScale(), 256);
    assert.is(b.getGrowthTracker(), 2);
    scaleCheck(c, device, 4);
    c.loadStateDict(json);
    assert.is(c.getScale(), 256);
    assert.is(c.getGrowthTracker(), 2);
    for (const sc of [a, b, c]) {
      round(sc, 256, true);
      assert.is(sc.getScale(), 512, 'the third clean step grows the scale in each');
      assert.is(sc.getGrowthTracker(), 0);
    }
    assertThrows(() => bad.loadStateDict(sd as never), RangeError, /^GradScaler\.loadStateDict: growthFactor is 2 in the state, 4 in this scaler/, 'growthFactor mismatch');
    assert.is(bad.getScale(), 65536, 'the failed load changed nothing');
    assertThrows(() => b.loadStateDict({ ...sd, growthInterval: 5 } as never), RangeError, /^GradScaler\.loadStateDict: growthInterval is 5 in the state, 3 in this scaler/, 'growthInterval mismatch');
    assertThrows(() => b.loadStateDict({ ...sd, growthTracker: -1 } as never), RangeError, /^GradScaler\.loadStateDict: growthTracker must be an integer >= 0, got -1/, 'negative tracker');
    assertThrows(() => b.loadStateDict(null as never), TypeError, /^GradScaler\.loadStateDict: stateDict must be an object, got null/, 'null');
  } finally {
    for (const sc of [a, b, c, bad]) sc.dispose();
    opt.dispose();
    p.dispose();
  }
});

s('bad options are TypeError / RangeError naming GradScaler and the option', () => {
  const make = (o: unknown) => () => new GradScaler(o as GradScalerOptions);
  assertThrows(make({ initScale: 0 }), RangeError, /^GradScaler: initScale must be a finite number > 0, got 0$/, 'initScale 0');
  assertThrows(make({ initScale: Infinity }), RangeError, /^GradScaler: initScale must be a finite number > 0, got Infinity$/, 'initScale inf');
  assertThrows(make({ initScale: '1' }), TypeError, /^GradScaler: initScale must be a finite number > 0, got '1'$/, 'initScale a string');
  assertThrows(make({ growthFactor: 1 }), RangeError, /^GradScaler: growthFactor must be a finite number > 1, got 1$/, 'growthFactor 1');
  assertThrows(make({ growthFactor: 0.5 }), RangeError, /^GradScaler: growthFactor must be/, 'growthFactor 0.5');
  assertThrows(make({ backoffFactor: 1.5 }), RangeError, /^GradScaler: backoffFactor must be a finite number in \(0, 1\), got 1.5$/, 'backoffFactor 1.5');
  assertThrows(make({ backoffFactor: 1 }), RangeError, /^GradScaler: backoffFactor must be a finite number in \(0, 1\), got 1$/, 'backoffFactor 1');
  assertThrows(make({ backoffFactor: 0 }), RangeError, /^GradScaler: backoffFactor must be a finite number > 0, got 0$/, 'backoffFactor 0');
  assertThrows(make({ growthInterval: 0 }), RangeError, /^GradScaler: growthInterval must be an integer in \[1, 2\^31 - 1\], got 0$/, 'growthInterval 0');
  assertThrows(make({ growthInterval: 1.5 }), RangeError, /^GradScaler: growthInterval must be an integer in \[1, 2\^31 - 1\], got 1.5$/, 'growthInterval 1.5');
  assertThrows(make({ growthInterval: '3' }), TypeError, /^GradScaler: growthInterval must be an integer >= 1, got '3'$/, 'growthInterval a string');
  assertThrows(make({ enabled: 1 }), TypeError, /^GradScaler: enabled must be a boolean, got 1$/, 'enabled 1');
  assertThrows(make({ initscale: 2 }), TypeError, /^GradScaler: unknown option 'initscale'/, 'unknown key');
  assertThrows(make(5), TypeError, /^GradScaler: options must be an object, got 5$/, 'options 5');
  const sc = new GradScaler();
  assertThrows(() => sc.scale(3 as never), TypeError, /^GradScaler\.scale: loss must be a Tensor, got 3$/, 'scale(3)');
  assert.equal(sc.stateDict(), { scale: 65536, growthFactor: 2, backoffFactor: 0.5, growthInterval: 2000, growthTracker: 0 }, 'the defaults');
  sc.dispose();
});

// ---- two optimizers ----

leakChecked('two optimizers under one scaler: an inf in one skips that one only, and the scale backs off once', (device) => {
  const shapesA = [[3], [70000]];
  const shapesB = MIXED.slice(3); // 40 tiny tensors
  const wA = weights(shapesA, 21);
  const wB = weights(shapesB, 22);
  const gA = gradSteps(shapesA, 23, 4);
  const gB = gradSteps(shapesB, 24, 4);
  const pa = makeParams(shapesA, wA, device);
  const pb = makeParams(shapesB, wB, device);
  const optA = new O.Adam(pa, { lr: 0.01 });
  const optB = new O.SGD(pb, { lr: 0.1, momentum: 0.9 });
  const scaler = new GradScaler({ initScale: 1024, growthInterval: 100 });
  // step 1: inf in A only; step 2: NaN in B only; step 3: both bad
  const badA = [false, true, false, true];
  const badB = [false, false, true, true];
  try {
    let scale = 1024;
    for (let t = 0; t < 4; t++) {
      scaleCheck(scaler, device, scale);
      setGrads(pa, gA[t], scale, badA[t] ? { param: 1, index: 69999, value: Infinity } : undefined);
      setGrads(pb, gB[t], scale, badB[t] ? { param: 39, index: 0, value: NaN } : undefined);
      const beforeA = snapshot(pa);
      const beforeB = snapshot(pb);
      scaler.step(optA);
      scaler.step(optB);
      scaler.update();
      if (badA[t]) snapshot(pa).forEach((w, i) => assertBitIdentical(w, beforeA[i], `step ${t}: A skipped, parameter ${i}`));
      if (badB[t]) snapshot(pb).forEach((w, i) => assertBitIdentical(w, beforeB[i], `step ${t}: B skipped, parameter ${i}`));
      const expectedScale = badA[t] || badB[t] ? scale / 2 : scale;
      assert.is(scaler.getScale(), expectedScale, `step ${t}: backed off once, whichever optimizers saw an inf`);
      scale = expectedScale;
    }
    const eA = ref.adamRef(wA, gA.filter((_, t) => !badA[t]), { lr: 0.01 });
    const eB = ref.sgdRef(wB, gB.filter((_, t) => !badB[t]), { lr: 0.1, momentum: 0.9 });
    pa.forEach((p, i) => assertClose(p.dataSync(), eA.w[i], F32, `A parameter ${i}`));
    pb.forEach((p, i) => assertClose(p.dataSync(), eB.w[i], F32, `B parameter ${i}`));
    const sdA = optA.stateDict();
    try {
      assert.is(sdA.state[0].step, 2, 'A stepped at 0 and 2');
    } finally {
      disposeStateDict(sdA);
    }
  } finally {
    scaler.dispose();
    optA.dispose();
    optB.dispose();
    disposeAll(pa);
    disposeAll(pb);
  }
});

leakChecked('an optimizer that is not hayate\'s is stepped only when its gradients are finite', (device) => {
  const p = hy.tensor([1, 2], { device, requiresGrad: true });
  let steps = 0;
  const custom = { paramGroups: [{ params: [p] }], step: () => { steps++; } };
  const scaler = new GradScaler({ initScale: 8 });
  try {
    scaleCheck(scaler, device, 8);
    setGrads([p], [[1, 2]], 8);
    scaler.step(custom);
    assert.equal(Array.from(p.grad!.dataSync()), [1, 2], 'unscaled');
    scaler.update();
    setGrads([p], [[1, 2]], 8, { param: 0, index: 1, value: Infinity });
    scaler.step(custom);
    scaler.update();
    assert.is(steps, 1, 'the inf step was not taken');
    assert.is(scaler.getScale(), 4);
  } finally {
    scaler.dispose();
    p.dispose();
  }
});

s.run();
