// Learning-rate schedulers (lib/optim/lr_scheduler.ts) against torch.optim.lr_scheduler: every
// sequence is checked exactly against PyTorch's closed-form formula written out here, and closely
// (rtol 1e-12) against the values PyTorch 1.13 printed (its chainable forms round differently in
// the last bits). A fake optimizer keeps these tests independent of the optimizers.
import * as assert from 'uvu/assert';

import {
  ChainedScheduler,
  CosineAnnealingLR,
  ExponentialLR,
  LambdaLR,
  LinearLR,
  LRScheduler,
  MultiStepLR,
  OneCycleLR,
  SequentialLR,
  StepLR,
  warmupCosine,
} from '../lib/optim/lr_scheduler';
import type { SchedulableOptimizer } from '../lib/optim/lr_scheduler';
import { assertClose, assertThrows, suite } from './harness';

const s = suite('lr_scheduler');

const BASES = [0.1, 0.01];

function fake(lrs: number[] = BASES): SchedulableOptimizer {
  return { paramGroups: lrs.map((lr) => ({ lr })) };
}

/** Every group's lr at epochs 0..n, checking getLastLr() and lastEpoch agree with the groups. */
function trace(opt: SchedulableOptimizer, sched: LRScheduler, n: number): number[][] {
  const out: number[][] = [];
  for (let t = 0; t <= n; t++) {
    if (t > 0) sched.step();
    const lrs = opt.paramGroups.map((g) => g.lr);
    assert.equal(sched.getLastLr(), lrs, `getLastLr() at epoch ${t}`);
    assert.is(sched.lastEpoch, t, 'lastEpoch');
    out.push(lrs);
  }
  return out;
}

/** f(base, epoch, group) for every epoch 0..n and every base. */
function formula(bases: number[], n: number, f: (base: number, t: number, group: number) => number): number[][] {
  return Array.from({ length: n + 1 }, (_, t) => bases.map((b, i) => f(b, t, i)));
}

function closeToTorch(actual: number[][], name: string): void {
  const expected = TORCH[name];
  assert.is(actual.length, expected.length, `${name}: epochs`);
  actual.forEach((row, t) => assertClose(row, expected[t], { rtol: 1e-12, atol: 1e-18 }, `${name} epoch ${t}`));
}

/** torch.optim.lr_scheduler.OneCycleLR.get_lr for one group, as PyTorch writes it. */
function oneCycleRef(
  maxLr: number,
  totalSteps: number,
  o: { pctStart?: number; strategy?: 'cos' | 'linear'; divFactor?: number; finalDivFactor?: number; threePhase?: boolean } = {},
): (step: number) => number {
  const pct = o.pctStart ?? 0.3;
  const initial = maxLr / (o.divFactor ?? 25);
  const min = initial / (o.finalDivFactor ?? 1e4);
  const phases = o.threePhase
    ? [
        { end: pct * totalSteps - 1, start: initial, stop: maxLr },
        { end: 2 * pct * totalSteps - 2, start: maxLr, stop: initial },
        { end: totalSteps - 1, start: initial, stop: min },
      ]
    : [
        { end: pct * totalSteps - 1, start: initial, stop: maxLr },
        { end: totalSteps - 1, start: maxLr, stop: min },
      ];
  const anneal =
    (o.strategy ?? 'cos') === 'cos'
      ? (start: number, end: number, p: number) => end + ((start - end) / 2.0) * (Math.cos(Math.PI * p) + 1)
      : (start: number, end: number, p: number) => (end - start) * p + start;
  return (step) => {
    let startStep = 0;
    for (let i = 0; i < phases.length; i++) {
      const ph = phases[i];
      if (step <= ph.end || i === phases.length - 1) return anneal(ph.start, ph.stop, (step - startStep) / (ph.end - startStep));
      startStep = ph.end;
    }
    throw new Error('unreachable');
  };
}

// ---------------------------------------------------------------------------------------------
// The sequences.

s('StepLR: base * gamma^floor(t / stepSize), three groups', () => {
  const bases = [0.1, 0.01, 0.5];
  const opt = fake(bases);
  const got = trace(opt, new StepLR(opt, { stepSize: 3, gamma: 0.5 }), 12);
  assert.equal(got, formula(bases, 12, (b, t) => b * 0.5 ** Math.floor(t / 3)));
  closeToTorch(got, 'StepLR');
  const dflt = fake();
  assert.equal(trace(dflt, new StepLR(dflt, { stepSize: 2 }), 5), formula(BASES, 5, (b, t) => b * 0.1 ** Math.floor(t / 2)), 'gamma defaults to 0.1');
});

s('MultiStepLR: base * gamma^(milestones <= t), a repeated milestone decays twice', () => {
  const opt = fake();
  const got = trace(opt, new MultiStepLR(opt, { milestones: [2, 5, 5, 9], gamma: 0.1 }), 12);
  const passed = (t: number) => [2, 5, 5, 9].filter((m) => m <= t).length;
  assert.equal(got, formula(BASES, 12, (b, t) => b * 0.1 ** passed(t)));
  closeToTorch(got, 'MultiStepLR');
  const zero = fake();
  assert.equal(trace(zero, new MultiStepLR(zero, { milestones: [0, 3], gamma: 0.5 }), 4), formula(BASES, 4, (b, t) => b * 0.5 ** (t >= 3 ? 2 : 1)), 'a milestone at 0 decays epoch 0');
});

s('ExponentialLR: base * gamma^t', () => {
  const opt = fake();
  const got = trace(opt, new ExponentialLR(opt, { gamma: 0.9 }), 12);
  assert.equal(got, formula(BASES, 12, (b, t) => b * 0.9 ** t));
  closeToTorch(got, 'ExponentialLR');
});

s('LinearLR: the default warm-up (1/3 to 1 over 5 epochs) and a decay', () => {
  const lin = (sf: number, ef: number, n: number) => (b: number, t: number) => b * (sf + ((ef - sf) * Math.min(n, t)) / n);
  const opt = fake();
  const got = trace(opt, new LinearLR(opt), 12);
  assert.equal(got, formula(BASES, 12, lin(1 / 3, 1, 5)));
  closeToTorch(got, 'LinearLR');
  assert.is(got[0][0], 0.1 / 3 + 0 * 0, 'epoch 0 is startFactor * base');
  assert.equal(got[5], BASES, 'from totalIters on: endFactor * base');
  const dec = fake();
  const decay = trace(dec, new LinearLR(dec, { startFactor: 1, endFactor: 0.2, totalIters: 4 }), 12);
  assert.equal(decay, formula(BASES, 12, lin(1, 0.2, 4)));
  closeToTorch(decay, 'LinearLRDecay');
});

s('CosineAnnealingLR: etaMin + (base - etaMin)(1 + cos(pi t / tMax)) / 2, on past tMax', () => {
  const opt = fake();
  const got = trace(opt, new CosineAnnealingLR(opt, { tMax: 5, etaMin: 0.001 }), 12);
  assert.equal(got, formula(BASES, 12, (b, t) => 0.001 + ((b - 0.001) * (1 + Math.cos((Math.PI * t) / 5))) / 2));
  closeToTorch(got, 'CosineAnnealingLR');
  // PyTorch's formula rounds: etaMin + (base - etaMin) * 2 / 2 is within an ulp of base, not always base.
  assertClose(got[0], BASES, { rtol: 1e-15, atol: 0 }, 'epoch 0 is the base');
  assert.equal(got[5], [0.001, 0.001], 'epoch tMax is etaMin');
  assertClose(got[10], BASES, { rtol: 1e-15, atol: 0 }, 'epoch 2 tMax is the base again');
  const zeroMin = fake();
  const plain = trace(zeroMin, new CosineAnnealingLR(zeroMin, { tMax: 5 }), 10);
  assert.equal([plain[0], plain[10]], [BASES, BASES], 'exactly the base with etaMin 0');
  const zero = fake();
  assert.equal(trace(zero, new CosineAnnealingLR(zero, { tMax: 4 }), 4)[4], [0, 0], 'etaMin defaults to 0');
});

s('OneCycleLR (cos): initial maxLr / divFactor, peak at floor(pctStart * totalSteps) - 1, final initial / finalDivFactor', () => {
  const opt = fake();
  const sched = new OneCycleLR(opt, { maxLr: [1, 0.1], totalSteps: 10 });
  const got = trace(opt, sched, 10);
  const refs = [oneCycleRef(1, 10), oneCycleRef(0.1, 10)];
  assert.equal(got, formula(BASES, 10, (_b, t, i) => refs[i](t)));
  closeToTorch(got, 'OneCycleLR');
  // PyTorch's cosine gives maxLr + (initial - maxLr) at step 0: initial to within a few ulps (0.040000000000000036).
  assertClose(got[0], [1 / 25, 0.1 / 25], { rtol: 1e-14, atol: 0 }, 'first: maxLr / divFactor');
  assert.equal(got[Math.floor(0.3 * 10) - 1], [1, 0.1], 'peak: maxLr');
  assert.equal(got[9], [1 / 25 / 1e4, 0.1 / 25 / 1e4], 'last (step totalSteps - 1): initial / finalDivFactor');
  assert.equal(sched.baseLrs, [1 / 25, 0.1 / 25], "base lrs are PyTorch's initial_lr, maxLr / divFactor");
  for (let t = 1; t <= 2; t++) assert.ok(got[t][0] > got[t - 1][0], 'rises to the peak');
  for (let t = 3; t <= 9; t++) assert.ok(got[t][0] < got[t - 1][0], 'falls after it');
});

s('OneCycleLR: linear annealing, one maxLr for every group, custom div factors', () => {
  const opt = fake();
  const got = trace(opt, new OneCycleLR(opt, { maxLr: 0.5, totalSteps: 10, annealStrategy: 'linear', divFactor: 10, finalDivFactor: 100 }), 10);
  const ref = oneCycleRef(0.5, 10, { strategy: 'linear', divFactor: 10, finalDivFactor: 100 });
  assert.equal(got, formula(BASES, 10, (_b, t) => ref(t)));
  closeToTorch(got, 'OneCycleLRLinear');
  assert.equal(got[0], [0.05, 0.05], 'first: maxLr / divFactor');
  assert.equal(got[2], [0.5, 0.5], 'peak');
  assertClose(got[9], [0.05 / 100, 0.05 / 100], { rtol: 1e-12, atol: 0 }, 'last');
});

s('OneCycleLR: three phases (up, back to the initial lr, down to the min)', () => {
  const opt = fake();
  const got = trace(opt, new OneCycleLR(opt, { maxLr: [1, 0.1], totalSteps: 12, pctStart: 0.25, threePhase: true }), 12);
  const refs = [oneCycleRef(1, 12, { pctStart: 0.25, threePhase: true }), oneCycleRef(0.1, 12, { pctStart: 0.25, threePhase: true })];
  assert.equal(got, formula(BASES, 12, (_b, t, i) => refs[i](t)));
  closeToTorch(got, 'OneCycleLRThreePhase');
  assert.equal(got[2], [1, 0.1], 'peak at pctStart * totalSteps - 1');
  assert.equal(got[4], [1 / 25, 0.1 / 25], 'back to the initial lr at 2 pctStart * totalSteps - 2');
  assertClose(got[0], [1 / 25, 0.1 / 25], { rtol: 1e-14, atol: 0 }, 'first');
  assert.equal(got[11], [1 / 25 / 1e4, 0.1 / 25 / 1e4], 'the min at totalSteps - 1');
});

s('OneCycleLR: lastEpoch may reach totalSteps; one more step is a RangeError that changes nothing', () => {
  const opt = fake();
  const sched = new OneCycleLR(opt, { maxLr: 1, totalSteps: 4, pctStart: 0.5 });
  for (let i = 0; i < 4; i++) sched.step();
  assert.is(sched.lastEpoch, 4);
  const before = sched.getLastLr();
  assertThrows(() => sched.step(), RangeError, /^OneCycleLR: cannot step past totalSteps = 4 \(lastEpoch would be 5\)$/);
  assert.is(sched.lastEpoch, 4, 'lastEpoch unchanged');
  assert.equal(sched.getLastLr(), before);
  assert.equal(opt.paramGroups.map((g) => g.lr), before);
});

s('LambdaLR: base * lrLambda(t), one function or one per group; the state dict omits the functions', () => {
  const opt = fake();
  const one = new LambdaLR(opt, { lrLambda: (e) => 0.95 ** e });
  const got = trace(opt, one, 12);
  assert.equal(got, formula(BASES, 12, (b, t) => b * 0.95 ** t));
  closeToTorch(got, 'LambdaLR');
  const fs = [(e: number) => 1 / (e + 1), (e: number) => 0.5 ** Math.floor(e / 2)];
  const opt2 = fake();
  const per = new LambdaLR(opt2, { lrLambda: fs });
  const got2 = trace(opt2, per, 12);
  assert.equal(got2, formula(BASES, 12, (b, t, i) => b * fs[i](t)));
  closeToTorch(got2, 'LambdaLRPerGroup');
  const sd = per.stateDict();
  assert.equal(sd, { scheduler: 'LambdaLR', lastEpoch: 12, baseLrs: BASES });
  assert.equal(JSON.parse(JSON.stringify(sd)), sd, 'plain JSON');
});

s('LambdaLR: a bad factor is an error naming the epoch, and the step changes nothing', () => {
  assertThrows(() => new LambdaLR(fake(), { lrLambda: () => NaN }), RangeError, /^LambdaLR: lrLambda\(0\) must be a finite number >= 0, got NaN$/);
  assertThrows(() => new LambdaLR(fake(), { lrLambda: () => -1 }), RangeError, /LambdaLR: lrLambda\(0\) must be a finite number >= 0, got -1/);
  assertThrows(() => new LambdaLR(fake(), { lrLambda: (() => '1') as never }), TypeError, /LambdaLR: lrLambda\(0\) must be a finite number >= 0, got '1'/);
  const opt = fake();
  const sched = new LambdaLR(opt, { lrLambda: (e) => (e === 3 ? Infinity : 1 / (e + 1)) });
  sched.step();
  sched.step();
  assertThrows(() => sched.step(), RangeError, /LambdaLR: lrLambda\(3\) must be a finite number >= 0, got Infinity/);
  assert.is(sched.lastEpoch, 2);
  assert.equal(opt.paramGroups.map((g) => g.lr), BASES.map((b) => b * (1 / 3)));
});

s('SequentialLR: LinearLR warm-up then CosineAnnealingLR restarted at its epoch 0 at the milestone', () => {
  const opt = fake();
  const warm = new LinearLR(opt, { startFactor: 0.1, totalIters: 3 });
  const cos = new CosineAnnealingLR(opt, { tMax: 6 });
  const seq = new SequentialLR(opt, { schedulers: [warm, cos], milestones: [3] });
  const got = trace(opt, seq, 12);
  const expected = formula(BASES, 12, (b, t) =>
    t < 3 ? b * (0.1 + ((1 - 0.1) * Math.min(3, t)) / 3) : 0 + ((b - 0) * (1 + Math.cos((Math.PI * (t - 3)) / 6))) / 2,
  );
  assert.equal(got, expected);
  closeToTorch(got, 'SequentialLR');
  assert.equal(got[3], BASES, 'the cosine starts from the base lrs (initial_lr), not the warm-up');
  assert.equal(cos.baseLrs, BASES);
  assert.is(cos.lastEpoch, 9, "the active scheduler's epoch counts from its milestone");
  assert.is(warm.lastEpoch, 2, 'the warm-up stopped at its last epoch');
  assert.equal(cos.getLastLr(), got[12]);
});

s('SequentialLR: three schedulers, two milestones', () => {
  const opt = fake();
  const seq = new SequentialLR(opt, {
    schedulers: [new LinearLR(opt, { startFactor: 0.5, totalIters: 2 }), new StepLR(opt, { stepSize: 2, gamma: 0.5 }), new ExponentialLR(opt, { gamma: 0.8 })],
    milestones: [2, 7],
  });
  const got = trace(opt, seq, 12);
  const expected = formula(BASES, 12, (b, t) =>
    t < 2 ? b * (0.5 + ((1 - 0.5) * Math.min(2, t)) / 2) : t < 7 ? b * 0.5 ** Math.floor((t - 2) / 2) : b * 0.8 ** (t - 7),
  );
  assert.equal(got, expected);
  closeToTorch(got, 'SequentialLR3');
});

s('ChainedScheduler: each scheduler applied to what the ones before it produced', () => {
  const opt = fake();
  const lin = new LinearLR(opt, { startFactor: 0.5, totalIters: 4 });
  const exp = new ExponentialLR(opt, { gamma: 0.9 });
  const chain = new ChainedScheduler([lin, exp]);
  const got = trace(opt, chain, 12);
  assert.equal(got, formula(BASES, 12, (b, t) => b * (0.5 + ((1 - 0.5) * Math.min(4, t)) / 4) * 0.9 ** t));
  closeToTorch(got, 'ChainedScheduler');
  assert.equal(lin.getLastLr(), BASES.map((b) => b * 1), "each scheduler's last lrs are its own output");
  assert.equal(exp.getLastLr(), got[12]);
  assert.is(lin.lastEpoch, 12);

  const opt2 = fake();
  // (Up to tMax: past it, PyTorch's recursive cosine adds a step computed from the base lrs, not the chained ones.)
  const chain2 = new ChainedScheduler([new StepLR(opt2, { stepSize: 2, gamma: 0.5 }), new CosineAnnealingLR(opt2, { tMax: 12 })]);
  const got2 = trace(opt2, chain2, 12);
  assert.equal(got2, formula(BASES, 12, (b, t) => (b * 0.5 ** Math.floor(t / 2) * (1 + Math.cos((Math.PI * t) / 12))) / 2));
  closeToTorch(got2, 'ChainedStepCosine');
});

s('ChainedScheduler: LambdaLR and OneCycleLR override what comes before them, as in PyTorch', () => {
  const opt = fake();
  const chain = new ChainedScheduler([new ExponentialLR(opt, { gamma: 0.5 }), new LambdaLR(opt, { lrLambda: (e) => 1 / (e + 1) })]);
  assert.equal(trace(opt, chain, 4), formula(BASES, 4, (b, t) => b * (1 / (t + 1))));
  const opt2 = fake();
  const chain2 = new ChainedScheduler([new ExponentialLR(opt2, { gamma: 0.5 }), new OneCycleLR(opt2, { maxLr: [1, 0.1], totalSteps: 10 })]);
  const refs = [oneCycleRef(1, 10), oneCycleRef(0.1, 10)];
  assert.equal(trace(opt2, chain2, 10), formula(BASES, 10, (_b, t, i) => refs[i](t)));
  assertThrows(() => chain2.step(), RangeError, /^OneCycleLR: cannot step past totalSteps = 10 \(lastEpoch would be 11\)$/);
  assert.is(chain2.lastEpoch, 10, 'a failed chain step changes nothing');
});

s('warmupCosine: a SequentialLR of LinearLR and CosineAnnealingLR reaching etaMin at totalSteps', () => {
  const opt = fake();
  const sched = warmupCosine(opt, { warmupSteps: 3, totalSteps: 10, etaMin: 0.001 });
  assert.ok(sched instanceof SequentialLR);
  assert.ok(sched.schedulers[0] instanceof LinearLR && sched.schedulers[1] instanceof CosineAnnealingLR);
  const got = trace(opt, sched, 10);
  const expected = formula(BASES, 10, (b, t) =>
    t < 3 ? b * (1e-3 + ((1 - 1e-3) * Math.min(3, t)) / 3) : 0.001 + ((b - 0.001) * (1 + Math.cos((Math.PI * (t - 3)) / 7))) / 2,
  );
  assert.equal(got, expected);
  closeToTorch(got, 'warmupCosine');
  assert.equal(got[0], BASES.map((b) => b * 1e-3), 'starts at startFactor * base');
  assertClose(got[3], BASES, { rtol: 1e-15, atol: 0 }, 'the base at warmupSteps (to an ulp: etaMin is not 0)');
  assert.equal(got[10], [0.001, 0.001], 'etaMin at totalSteps');
  const noWarm = fake();
  const cosOnly = warmupCosine(noWarm, { warmupSteps: 0, totalSteps: 4 });
  assert.is(cosOnly.schedulers.length, 1);
  assert.equal(trace(noWarm, cosOnly, 4), formula(BASES, 4, (b, t) => 0 + ((b - 0) * (1 + Math.cos((Math.PI * t) / 4))) / 2));
});

// ---------------------------------------------------------------------------------------------
// Base lrs (initial_lr), state dicts.

s("base lrs are PyTorch's initial_lr: recorded by the first scheduler of a group, read by the later ones", () => {
  const opt = fake();
  const warm = new LinearLR(opt, { startFactor: 0.5 });
  assert.equal(opt.paramGroups.map((g) => g.lr), [0.05, 0.005]);
  const exp = new ExponentialLR(opt, { gamma: 0.9 });
  assert.equal(warm.baseLrs, BASES);
  assert.equal(exp.baseLrs, BASES, 'not the warm-up lrs the groups held');
  new OneCycleLR(opt, { maxLr: 1, totalSteps: 10 });
  assert.equal(new StepLR(opt, { stepSize: 2 }).baseLrs, [1 / 25, 1 / 25], 'OneCycleLR sets initial_lr to maxLr / divFactor');
  const b = exp.baseLrs;
  b[0] = 99;
  assert.equal(exp.baseLrs, BASES, 'baseLrs is a copy');
  const last = exp.getLastLr();
  last[0] = 99;
  assert.equal(exp.getLastLr(), BASES, 'getLastLr() is a copy');
});

/**
 * Runs `make` n epochs without a break, and again with a break at epoch k: the state dict through
 * JSON, loaded into a fresh scheduler built by `remake` on an optimizer with other lrs. The lrs
 * after the load and every later epoch must be the uninterrupted run's, bit for bit.
 */
function resumes(make: (o: SchedulableOptimizer) => LRScheduler, n: number, k: number, remake = make): void {
  const a = fake();
  const uninterrupted = make(a);
  const whole = trace(a, uninterrupted, n);
  const b = fake();
  const first = make(b);
  for (let t = 0; t < k; t++) first.step();
  const sd = JSON.parse(JSON.stringify(first.stateDict()));
  assert.equal(sd, first.stateDict(), 'the state dict is plain JSON');
  const c = fake([5, 7]);
  const second = remake(c);
  second.loadStateDict(sd);
  assert.is(second.lastEpoch, k);
  assert.equal(second.getLastLr(), whole[k], 'getLastLr() after the load');
  assert.equal(c.paramGroups.map((g) => g.lr), whole[k], "the groups' lrs after the load");
  assert.equal(second.baseLrs, first.baseLrs, 'the base lrs are restored (the new optimizer has others)');
  for (let t = k + 1; t <= n; t++) {
    second.step();
    assert.equal(c.paramGroups.map((g) => g.lr), whole[t], `epoch ${t} after resuming at ${k}`);
  }
  assert.equal(second.stateDict(), uninterrupted.stateDict(), 'the same state at the end');
}

s('state dicts: save mid-run, load into a fresh scheduler, continue: the same lrs bit for bit', () => {
  resumes((o) => new StepLR(o, { stepSize: 3, gamma: 0.5 }), 12, 5, (o) => new StepLR(o, { stepSize: 7 }));
  resumes((o) => new MultiStepLR(o, { milestones: [2, 5, 9], gamma: 0.3 }), 12, 4, (o) => new MultiStepLR(o, { milestones: [1] }));
  resumes((o) => new ExponentialLR(o, { gamma: 0.9 }), 12, 7, (o) => new ExponentialLR(o, { gamma: 0.5 }));
  resumes((o) => new LinearLR(o, { startFactor: 0.25, totalIters: 6 }), 12, 3, (o) => new LinearLR(o));
  resumes((o) => new CosineAnnealingLR(o, { tMax: 7, etaMin: 1e-4 }), 12, 6, (o) => new CosineAnnealingLR(o, { tMax: 2 }));
  resumes((o) => new OneCycleLR(o, { maxLr: [1, 0.1], totalSteps: 12, threePhase: true }), 12, 5, (o) => new OneCycleLR(o, { maxLr: 3, totalSteps: 40 }));
  resumes((o) => new LambdaLR(o, { lrLambda: (e) => 1 / (1 + e * e) }), 12, 4);
  resumes((o) => warmupCosine(o, { warmupSteps: 4, totalSteps: 12, etaMin: 1e-3 }), 12, 2);
  resumes((o) => warmupCosine(o, { warmupSteps: 4, totalSteps: 12, etaMin: 1e-3 }), 12, 8);
  resumes((o) => new ChainedScheduler([new LinearLR(o, { startFactor: 0.5, totalIters: 4 }), new ExponentialLR(o, { gamma: 0.9 })]), 12, 6);
});

s('state dicts: the options are restored (as PyTorch loads every attribute), the composite holds its schedulers', () => {
  const a = fake();
  const step = new StepLR(a, { stepSize: 3, gamma: 0.5 });
  step.step();
  assert.equal(step.stateDict(), { scheduler: 'StepLR', lastEpoch: 1, baseLrs: BASES, stepSize: 3, gamma: 0.5 });
  const other = new StepLR(fake(), { stepSize: 9 });
  other.loadStateDict(step.stateDict());
  assert.is(other.stepSize, 3);
  assert.is(other.gamma, 0.5);
  const seq = warmupCosine(fake(), { warmupSteps: 2, totalSteps: 6 });
  const sd = seq.stateDict();
  assert.is(sd.scheduler, 'SequentialLR');
  assert.equal(sd.milestones, [2]);
  const children = sd.schedulers as Array<{ scheduler: string }>;
  assert.equal(children.map((c) => c.scheduler), ['LinearLR', 'CosineAnnealingLR']);
  const oc = new OneCycleLR(fake(), { maxLr: [1, 2], totalSteps: 8 });
  assert.equal(oc.stateDict(), {
    scheduler: 'OneCycleLR',
    lastEpoch: 0,
    baseLrs: [1 / 25, 2 / 25],
    maxLr: [1, 2],
    totalSteps: 8,
    pctStart: 0.3,
    annealStrategy: 'cos',
    divFactor: 25,
    finalDivFactor: 1e4,
    threePhase: false,
  });
});

s('loadStateDict: a bad state is an error that leaves the scheduler as it was', () => {
  const opt = fake();
  const sched = new StepLR(opt, { stepSize: 2, gamma: 0.5 });
  sched.step();
  sched.step();
  const good = sched.stateDict();
  const lrs = sched.getLastLr();
  const bad: Array<[unknown, new (...a: never[]) => Error, RegExp]> = [
    [undefined, TypeError, /^StepLR: loadStateDict expects a state dict object, got undefined$/],
    [[1], TypeError, /StepLR: loadStateDict expects a state dict object/],
    [{ ...good, scheduler: 'LinearLR' }, RangeError, /^StepLR: the state dict is not a StepLR's \(its scheduler is 'LinearLR'\)$/],
    [{ ...good, scheduler: undefined }, RangeError, /its scheduler is undefined/],
    [{ ...good, lastEpoch: -1 }, RangeError, /^StepLR: state dict lastEpoch must be an integer >= 0, got -1$/],
    [{ ...good, lastEpoch: 1.5 }, RangeError, /StepLR: state dict lastEpoch must be an integer >= 0, got 1.5/],
    [{ ...good, lastEpoch: '2' }, TypeError, /StepLR: state dict lastEpoch must be an integer >= 0, got '2'/],
    [{ ...good, baseLrs: [0.1] }, RangeError, /^StepLR: the state dict baseLrs has 1 values but the optimizer has 2 param groups$/],
    [{ ...good, baseLrs: [0.1, null] }, TypeError, /StepLR: state dict baseLrs\[1\] must be a finite number >= 0, got null/],
    [{ ...good, baseLrs: 0.1 }, TypeError, /StepLR: state dict baseLrs must be an array of numbers, got 0.1/],
    [{ ...good, stepSize: 0 }, RangeError, /^StepLR: stepSize must be an integer >= 1, got 0$/],
    [{ ...good, gamma: -1 }, RangeError, /StepLR: gamma must be a finite number > 0, got -1/],
    [{ ...good, extra: 1 }, TypeError, /^StepLR: unknown state dict key 'extra' \(expected scheduler, lastEpoch, baseLrs, stepSize, gamma\)$/],
    [{ scheduler: 'StepLR', lastEpoch: 1, baseLrs: BASES, gamma: 0.5 }, TypeError, /^StepLR: the state dict has no 'stepSize'$/],
  ];
  for (const [sd, cls, re] of bad) {
    assertThrows(() => sched.loadStateDict(sd), cls, re, re.source);
    assert.equal(sched.stateDict(), good, `unchanged after ${re.source}`);
    assert.equal(opt.paramGroups.map((g) => g.lr), lrs);
  }
  const oc = new OneCycleLR(fake(), { maxLr: 1, totalSteps: 5 });
  assertThrows(() => oc.loadStateDict({ ...oc.stateDict(), lastEpoch: 6 }), RangeError, /^OneCycleLR: state dict lastEpoch must be <= totalSteps \(5\), got 6$/);
  const lam = new LambdaLR(fake(), { lrLambda: (e) => (e > 3 ? NaN : 1) });
  assertThrows(() => lam.loadStateDict({ ...lam.stateDict(), lastEpoch: 4 }), RangeError, /LambdaLR: lrLambda\(4\) must be a finite number >= 0, got NaN/);
  assert.is(lam.lastEpoch, 0, 'a load whose lrs fail is undone');
  const seq = warmupCosine(fake(), { warmupSteps: 2, totalSteps: 6 });
  const ssd = seq.stateDict();
  assertThrows(() => seq.loadStateDict({ ...ssd, schedulers: [(ssd.schedulers as object[])[0]] }), RangeError, /^SequentialLR: the state dict schedulers has 1 entries, expected 2$/);
  assertThrows(() => seq.loadStateDict({ ...ssd, milestones: [2, 4] }), RangeError, /SequentialLR: the state dict milestones has 2 entries, expected 1/);
  const swapped = [(ssd.schedulers as object[])[1], (ssd.schedulers as object[])[0]];
  assertThrows(() => seq.loadStateDict({ ...ssd, schedulers: swapped }), RangeError, /LinearLR: the state dict is not a LinearLR's \(its scheduler is 'CosineAnnealingLR'\)/);
  assert.equal(seq.stateDict(), ssd);
});

// ---------------------------------------------------------------------------------------------
// Composition rules.

s('composites: their schedulers are fresh, of the same optimizer, held once, and stepped only through them', () => {
  const opt = fake();
  assertThrows(() => new SequentialLR(opt, { schedulers: [new StepLR(opt, { stepSize: 1 }), new StepLR(fake(), { stepSize: 1 })], milestones: [2] }), RangeError, /^SequentialLR: schedulers\[1\] \(a StepLR\) schedules another optimizer$/);
  assertThrows(() => new ChainedScheduler([new StepLR(opt, { stepSize: 1 }), new StepLR(fake(), { stepSize: 1 })]), RangeError, /^ChainedScheduler: schedulers\[1\] \(a StepLR\) schedules another optimizer$/);
  const stepped = new StepLR(opt, { stepSize: 1 });
  stepped.step();
  assertThrows(() => new ChainedScheduler([stepped]), RangeError, /^ChainedScheduler: schedulers\[0\] \(a StepLR\) has been stepped \(lastEpoch 1\); pass freshly built schedulers$/);
  const a = new StepLR(opt, { stepSize: 1 });
  assertThrows(() => new ChainedScheduler([a, a]), RangeError, /ChainedScheduler: schedulers holds the same scheduler twice/);
  assertThrows(() => new SequentialLR(opt, { schedulers: [a, a], milestones: [1] }), RangeError, /SequentialLR: schedulers holds the same scheduler twice/);
  const seq = new SequentialLR(opt, { schedulers: [a], milestones: [] });
  assertThrows(() => new ChainedScheduler([a]), RangeError, /^ChainedScheduler: schedulers\[0\] \(a StepLR\) is already inside a SequentialLR$/);
  assertThrows(() => a.step(), RangeError, /^StepLR: step\(\) of a scheduler inside a SequentialLR: call the SequentialLR's step\(\)$/);
  assertThrows(() => a.loadStateDict(a.stateDict()), RangeError, /StepLR: loadStateDict\(\) of a scheduler inside a SequentialLR/);
  assertThrows(() => new ChainedScheduler([seq]), TypeError, /^ChainedScheduler: schedulers\[0\] must be a simple scheduler \(composites do not nest\), got a SequentialLR$/);
  assertThrows(() => new SequentialLR(opt, { schedulers: [new ChainedScheduler([new StepLR(opt, { stepSize: 1 })])], milestones: [] }), TypeError, /SequentialLR: schedulers\[0\] must be a simple scheduler/);
  assertThrows(() => new SequentialLR(opt, { schedulers: [new StepLR(opt, { stepSize: 1 }), 5 as never], milestones: [1] }), TypeError, /^SequentialLR: schedulers\[1\] must be an LRScheduler, got 5$/);
  assertThrows(() => new SequentialLR(opt, { schedulers: 5 as never, milestones: [] }), TypeError, /^SequentialLR: schedulers must be an array of LRSchedulers, got 5$/);
  assertThrows(() => new SequentialLR(opt, { schedulers: [], milestones: [] }), RangeError, /^SequentialLR: schedulers must be a non-empty array of LRSchedulers, got \[\]$/);
  const two = () => [new StepLR(opt, { stepSize: 1 }), new StepLR(opt, { stepSize: 1 })];
  assertThrows(() => new SequentialLR(opt, { schedulers: two(), milestones: [] }), RangeError, /^SequentialLR: milestones must have one entry fewer than schedulers \(1\), got \[\]$/);
  assertThrows(() => new SequentialLR(opt, { schedulers: two(), milestones: [0] }), RangeError, /^SequentialLR: milestones\[0\] must be an integer >= 1, got 0$/);
  assertThrows(() => new SequentialLR(opt, { schedulers: two(), milestones: [2.5] }), RangeError, /SequentialLR: milestones\[0\] must be an integer >= 1, got 2.5/);
  assertThrows(() => new SequentialLR(opt, { schedulers: two(), milestones: ['2'] as never }), TypeError, /SequentialLR: milestones\[0\] must be an integer >= 1, got '2'/);
  assertThrows(() => new SequentialLR(opt, { schedulers: [...two(), new StepLR(opt, { stepSize: 1 })], milestones: [3, 3] }), RangeError, /^SequentialLR: milestones must be strictly increasing, got \[3, 3\]$/);
  assertThrows(() => new SequentialLR(opt, { schedulers: two(), milestones: 2 as never }), TypeError, /SequentialLR: milestones must be an array of integers >= 1, got 2/);
  assertThrows(() => new SequentialLR(opt, { schedulers: two(), milestones: [1], last: 1 } as never), TypeError, /^SequentialLR: unknown option 'last' \(expected schedulers, milestones\)$/);
  assertThrows(() => new ChainedScheduler(5 as never), TypeError, /^ChainedScheduler: schedulers must be an array of LRSchedulers, got 5$/);
  assertThrows(() => new ChainedScheduler([]), RangeError, /^ChainedScheduler: schedulers must be a non-empty array of LRSchedulers, got \[\]$/);
  assertThrows(() => new ChainedScheduler([{} as never]), TypeError, /^ChainedScheduler: schedulers\[0\] must be an LRScheduler, got an object/);
  // A failed composite leaves its schedulers free.
  const free = new StepLR(opt, { stepSize: 1 });
  assertThrows(() => new SequentialLR(opt, { schedulers: [free], milestones: [1] }), RangeError, /milestones must have one entry fewer/);
  free.step();
  assert.is(free.lastEpoch, 1);
});

s('a param group added after construction is a RangeError at the next step', () => {
  const opt = fake();
  const sched = new ExponentialLR(opt, { gamma: 0.5 });
  opt.paramGroups.push({ lr: 1 });
  assertThrows(() => sched.step(), RangeError, /^ExponentialLR: baseLrs has 2 values but the optimizer has 3 param groups$/);
  assert.is(sched.lastEpoch, 0);
});

// ---------------------------------------------------------------------------------------------
// Bad options: each names the class, the option and the value.

type Case = [() => unknown, new (...a: never[]) => Error, RegExp];

function rejects(cases: Case[]): void {
  for (const [fn, cls, re] of cases) assertThrows(fn, cls, re, re.source);
}

s('every scheduler rejects an object without paramGroups, and bad groups', () => {
  const builders: Array<[string, (o: never) => unknown]> = [
    ['StepLR', (o) => new StepLR(o, { stepSize: 1 })],
    ['MultiStepLR', (o) => new MultiStepLR(o, { milestones: [1] })],
    ['ExponentialLR', (o) => new ExponentialLR(o, { gamma: 0.5 })],
    ['LinearLR', (o) => new LinearLR(o)],
    ['CosineAnnealingLR', (o) => new CosineAnnealingLR(o, { tMax: 3 })],
    ['OneCycleLR', (o) => new OneCycleLR(o, { maxLr: 1, totalSteps: 10 })],
    ['LambdaLR', (o) => new LambdaLR(o, { lrLambda: () => 1 })],
    ['SequentialLR', (o) => new SequentialLR(o, { schedulers: [], milestones: [] })],
    ['warmupCosine', (o) => warmupCosine(o, { warmupSteps: 1, totalSteps: 3 })],
  ];
  for (const [name, make] of builders) {
    for (const bad of [undefined, null, 5, {}, { paramGroups: 5 }, { lr: 0.1 }]) {
      assertThrows(() => make(bad as never), TypeError, new RegExp(`^${name}: optimizer must be an optimizer with paramGroups \\(an array of \\{ lr \\}\\), got`), `${name} ${JSON.stringify(bad)}`);
    }
    assertThrows(() => make({ paramGroups: [] } as never), RangeError, new RegExp(`^${name}: optimizer.paramGroups must not be empty$`));
    assertThrows(() => make({ paramGroups: [{ lr: 0.1 }, { lr: NaN }] } as never), RangeError, new RegExp(`^${name}: optimizer.paramGroups\\[1\\].lr must be a finite number >= 0, got NaN$`));
    assertThrows(() => make({ paramGroups: [{ lr: '0.1' }] } as never), TypeError, new RegExp(`^${name}: optimizer.paramGroups\\[0\\].lr must be a finite number >= 0, got '0.1'$`));
    assertThrows(() => make({ paramGroups: [{ lr: -1 }] } as never), RangeError, new RegExp(`${name}: optimizer.paramGroups\\[0\\].lr must be a finite number >= 0, got -1`));
    assertThrows(() => make({ paramGroups: [5] } as never), TypeError, new RegExp(`^${name}: optimizer.paramGroups\\[0\\] must be an object with an lr, got 5$`));
  }
});

s('StepLR, MultiStepLR, ExponentialLR: bad options', () => {
  const o = fake();
  rejects([
    [() => new StepLR(o, { stepSize: 0 }), RangeError, /^StepLR: stepSize must be an integer >= 1, got 0$/],
    [() => new StepLR(o, { stepSize: 1.5 }), RangeError, /^StepLR: stepSize must be an integer >= 1, got 1.5$/],
    [() => new StepLR(o, { stepSize: NaN }), RangeError, /^StepLR: stepSize must be an integer >= 1, got NaN$/],
    [() => new StepLR(o, { stepSize: Infinity }), RangeError, /^StepLR: stepSize must be an integer >= 1, got Infinity$/],
    [() => new StepLR(o, { stepSize: '2' } as never), TypeError, /^StepLR: stepSize must be an integer >= 1, got '2'$/],
    [() => new StepLR(o, {} as never), TypeError, /^StepLR: stepSize must be an integer >= 1, got undefined$/],
    [() => new StepLR(o, undefined as never), TypeError, /^StepLR: stepSize must be an integer >= 1, got undefined$/],
    [() => new StepLR(o, 3 as never), TypeError, /^StepLR: options must be an object, got 3$/],
    [() => new StepLR(o, { stepSize: 2, gamma: 0 }), RangeError, /^StepLR: gamma must be a finite number > 0, got 0$/],
    [() => new StepLR(o, { stepSize: 2, gamma: -0.5 }), RangeError, /^StepLR: gamma must be a finite number > 0, got -0.5$/],
    [() => new StepLR(o, { stepSize: 2, gamma: NaN }), RangeError, /^StepLR: gamma must be a finite number > 0, got NaN$/],
    [() => new StepLR(o, { stepSize: 2, gamma: Infinity }), RangeError, /^StepLR: gamma must be a finite number > 0, got Infinity$/],
    [() => new StepLR(o, { stepSize: 2, gamma: '0.1' } as never), TypeError, /^StepLR: gamma must be a finite number > 0, got '0.1'$/],
    [() => new StepLR(o, { stepSize: 2, step_size: 2 } as never), TypeError, /^StepLR: unknown option 'step_size' \(expected stepSize, gamma\)$/],
    [() => new MultiStepLR(o, {} as never), TypeError, /^MultiStepLR: milestones must be an array of integers >= 0, got undefined$/],
    [() => new MultiStepLR(o, { milestones: 3 } as never), TypeError, /^MultiStepLR: milestones must be an array of integers >= 0, got 3$/],
    [() => new MultiStepLR(o, { milestones: [1, '2'] } as never), TypeError, /^MultiStepLR: milestones\[1\] must be an integer >= 0, got '2'$/],
    [() => new MultiStepLR(o, { milestones: [1, 2.5] }), RangeError, /^MultiStepLR: milestones\[1\] must be an integer >= 0, got 2.5$/],
    [() => new MultiStepLR(o, { milestones: [-1] }), RangeError, /^MultiStepLR: milestones\[0\] must be an integer >= 0, got -1$/],
    [() => new MultiStepLR(o, { milestones: [NaN] }), RangeError, /^MultiStepLR: milestones\[0\] must be an integer >= 0, got NaN$/],
    [() => new MultiStepLR(o, { milestones: [5, 3] }), RangeError, /^MultiStepLR: milestones must be sorted in ascending order, got \[5, 3\]$/],
    [() => new MultiStepLR(o, { milestones: [1], gamma: Infinity }), RangeError, /^MultiStepLR: gamma must be a finite number > 0, got Infinity$/],
    [() => new MultiStepLR(o, { milestones: [1], gamma: null } as never), TypeError, /^MultiStepLR: gamma must be a finite number > 0, got null$/],
    [() => new MultiStepLR(o, { milestones: [1], decay: 1 } as never), TypeError, /^MultiStepLR: unknown option 'decay' \(expected milestones, gamma\)$/],
    [() => new ExponentialLR(o, {} as never), TypeError, /^ExponentialLR: gamma must be a finite number > 0, got undefined$/],
    [() => new ExponentialLR(o, { gamma: 0 }), RangeError, /^ExponentialLR: gamma must be a finite number > 0, got 0$/],
    [() => new ExponentialLR(o, { gamma: -Infinity }), RangeError, /^ExponentialLR: gamma must be a finite number > 0, got -Infinity$/],
    [() => new ExponentialLR(o, { gamma: NaN }), RangeError, /^ExponentialLR: gamma must be a finite number > 0, got NaN$/],
    [() => new ExponentialLR(o, { gamma: [0.9] } as never), TypeError, /^ExponentialLR: gamma must be a finite number > 0, got \[0.9\]$/],
    [() => new ExponentialLR(o, { gamma: 0.9, lastEpoch: 3 } as never), TypeError, /^ExponentialLR: unknown option 'lastEpoch' \(expected gamma\)$/],
  ]);
});

s('LinearLR, CosineAnnealingLR: bad options', () => {
  const o = fake();
  rejects([
    [() => new LinearLR(o, { startFactor: 0 }), RangeError, /^LinearLR: startFactor must be a finite number > 0 and <= 1, got 0$/],
    [() => new LinearLR(o, { startFactor: 1.5 }), RangeError, /^LinearLR: startFactor must be a finite number > 0 and <= 1, got 1.5$/],
    [() => new LinearLR(o, { startFactor: NaN }), RangeError, /^LinearLR: startFactor must be a finite number > 0 and <= 1, got NaN$/],
    [() => new LinearLR(o, { startFactor: '0.5' } as never), TypeError, /^LinearLR: startFactor must be a finite number > 0 and <= 1, got '0.5'$/],
    [() => new LinearLR(o, { endFactor: -0.1 }), RangeError, /^LinearLR: endFactor must be a finite number >= 0 and <= 1, got -0.1$/],
    [() => new LinearLR(o, { endFactor: 2 }), RangeError, /^LinearLR: endFactor must be a finite number >= 0 and <= 1, got 2$/],
    [() => new LinearLR(o, { endFactor: Infinity }), RangeError, /^LinearLR: endFactor must be a finite number >= 0 and <= 1, got Infinity$/],
    [() => new LinearLR(o, { endFactor: true } as never), TypeError, /^LinearLR: endFactor must be a finite number >= 0 and <= 1, got true$/],
    [() => new LinearLR(o, { totalIters: 0 }), RangeError, /^LinearLR: totalIters must be an integer >= 1, got 0$/],
    [() => new LinearLR(o, { totalIters: 2.5 }), RangeError, /^LinearLR: totalIters must be an integer >= 1, got 2.5$/],
    [() => new LinearLR(o, { totalIters: '5' } as never), TypeError, /^LinearLR: totalIters must be an integer >= 1, got '5'$/],
    [() => new LinearLR(o, { total_iters: 5 } as never), TypeError, /^LinearLR: unknown option 'total_iters' \(expected startFactor, endFactor, totalIters\)$/],
    [() => new LinearLR(o, 'warm' as never), TypeError, /^LinearLR: options must be an object, got 'warm'$/],
    [() => new CosineAnnealingLR(o, {} as never), TypeError, /^CosineAnnealingLR: tMax must be an integer >= 1, got undefined$/],
    [() => new CosineAnnealingLR(o, { tMax: 0 }), RangeError, /^CosineAnnealingLR: tMax must be an integer >= 1, got 0$/],
    [() => new CosineAnnealingLR(o, { tMax: 1.5 }), RangeError, /^CosineAnnealingLR: tMax must be an integer >= 1, got 1.5$/],
    [() => new CosineAnnealingLR(o, { tMax: Infinity }), RangeError, /^CosineAnnealingLR: tMax must be an integer >= 1, got Infinity$/],
    [() => new CosineAnnealingLR(o, { tMax: 5, etaMin: -1 }), RangeError, /^CosineAnnealingLR: etaMin must be a finite number >= 0, got -1$/],
    [() => new CosineAnnealingLR(o, { tMax: 5, etaMin: NaN }), RangeError, /^CosineAnnealingLR: etaMin must be a finite number >= 0, got NaN$/],
    [() => new CosineAnnealingLR(o, { tMax: 5, etaMin: '0' } as never), TypeError, /^CosineAnnealingLR: etaMin must be a finite number >= 0, got '0'$/],
    [() => new CosineAnnealingLR(o, { T_max: 5 } as never), TypeError, /^CosineAnnealingLR: unknown option 'T_max' \(expected tMax, etaMin\)$/],
  ]);
});

s('OneCycleLR: bad options', () => {
  const o = fake();
  const ok = { maxLr: 1, totalSteps: 10 };
  rejects([
    [() => new OneCycleLR(o, { totalSteps: 10 } as never), TypeError, /^OneCycleLR: maxLr must be a number or an array of one number per param group, got undefined$/],
    [() => new OneCycleLR(o, { ...ok, maxLr: '1' } as never), TypeError, /^OneCycleLR: maxLr must be a number or an array of one number per param group, got '1'$/],
    [() => new OneCycleLR(o, { ...ok, maxLr: -1 }), RangeError, /^OneCycleLR: maxLr must be a finite number >= 0, got -1$/],
    [() => new OneCycleLR(o, { ...ok, maxLr: NaN }), RangeError, /^OneCycleLR: maxLr must be a finite number >= 0, got NaN$/],
    [() => new OneCycleLR(o, { ...ok, maxLr: [1] }), RangeError, /^OneCycleLR: maxLr must be one value per param group \(2\), got \[1\]$/],
    [() => new OneCycleLR(o, { ...ok, maxLr: [1, Infinity] }), RangeError, /^OneCycleLR: maxLr\[1\] must be a finite number >= 0, got Infinity$/],
    [() => new OneCycleLR(o, { ...ok, maxLr: [1, '2'] } as never), TypeError, /^OneCycleLR: maxLr\[1\] must be a finite number >= 0, got '2'$/],
    [() => new OneCycleLR(o, { maxLr: 1 } as never), TypeError, /^OneCycleLR: totalSteps must be an integer >= 1, got undefined$/],
    [() => new OneCycleLR(o, { ...ok, totalSteps: 0 }), RangeError, /^OneCycleLR: totalSteps must be an integer >= 1, got 0$/],
    [() => new OneCycleLR(o, { ...ok, totalSteps: 10.5 }), RangeError, /^OneCycleLR: totalSteps must be an integer >= 1, got 10.5$/],
    [() => new OneCycleLR(o, { ...ok, pctStart: 1.5 }), RangeError, /^OneCycleLR: pctStart must be a finite number >= 0 and <= 1, got 1.5$/],
    [() => new OneCycleLR(o, { ...ok, pctStart: -0.1 }), RangeError, /^OneCycleLR: pctStart must be a finite number >= 0 and <= 1, got -0.1$/],
    [() => new OneCycleLR(o, { ...ok, pctStart: NaN }), RangeError, /^OneCycleLR: pctStart must be a finite number >= 0 and <= 1, got NaN$/],
    [() => new OneCycleLR(o, { ...ok, pctStart: '0.3' } as never), TypeError, /^OneCycleLR: pctStart must be a finite number >= 0 and <= 1, got '0.3'$/],
    [() => new OneCycleLR(o, { ...ok, pctStart: 0.1 }), RangeError, /^OneCycleLR: pctStart \* totalSteps must not be 1 \(the first phase would have no length\), got pctStart 0.1 with totalSteps 10$/],
    [() => new OneCycleLR(o, { ...ok, pctStart: 1 }), RangeError, /^OneCycleLR: the last phase would have no length with pctStart 1 and totalSteps 10$/],
    [() => new OneCycleLR(o, { ...ok, pctStart: 0.6, threePhase: true }), RangeError, /^OneCycleLR: pctStart must be a finite number >= 0 and <= 0.5 with threePhase \(the phases would overlap\), got 0.6$/],
    [() => new OneCycleLR(o, { ...ok, annealStrategy: 'cosine' } as never), RangeError, /^OneCycleLR: annealStrategy must be 'cos' or 'linear', got 'cosine'$/],
    [() => new OneCycleLR(o, { ...ok, annealStrategy: 1 } as never), TypeError, /^OneCycleLR: annealStrategy must be 'cos' or 'linear', got 1$/],
    [() => new OneCycleLR(o, { ...ok, divFactor: 0 }), RangeError, /^OneCycleLR: divFactor must be a finite number > 0, got 0$/],
    [() => new OneCycleLR(o, { ...ok, divFactor: Infinity }), RangeError, /^OneCycleLR: divFactor must be a finite number > 0, got Infinity$/],
    [() => new OneCycleLR(o, { ...ok, divFactor: '25' } as never), TypeError, /^OneCycleLR: divFactor must be a finite number > 0, got '25'$/],
    [() => new OneCycleLR(o, { ...ok, finalDivFactor: -1 }), RangeError, /^OneCycleLR: finalDivFactor must be a finite number > 0, got -1$/],
    [() => new OneCycleLR(o, { ...ok, finalDivFactor: NaN }), RangeError, /^OneCycleLR: finalDivFactor must be a finite number > 0, got NaN$/],
    [() => new OneCycleLR(o, { ...ok, threePhase: 'yes' } as never), TypeError, /^OneCycleLR: threePhase must be a boolean, got 'yes'$/],
    [() => new OneCycleLR(o, { ...ok, cycleMomentum: true } as never), TypeError, /^OneCycleLR: unknown option 'cycleMomentum' \(expected maxLr, totalSteps, pctStart, annealStrategy, divFactor, finalDivFactor, threePhase\)$/],
    [() => new OneCycleLR(o, null as never), TypeError, /^OneCycleLR: options must be an object, got null$/],
  ]);
  // A rejected OneCycleLR leaves initial_lr alone.
  assert.equal(new StepLR(o, { stepSize: 1 }).baseLrs, BASES);
});

s('LambdaLR, warmupCosine: bad options', () => {
  const o = fake();
  rejects([
    [() => new LambdaLR(o, {} as never), TypeError, /^LambdaLR: lrLambda must be a function or an array of one function per param group \(2\), got undefined$/],
    [() => new LambdaLR(o, { lrLambda: 0.5 } as never), TypeError, /^LambdaLR: lrLambda must be a function or an array of one function per param group \(2\), got 0.5$/],
    [() => new LambdaLR(o, { lrLambda: [() => 1] }), RangeError, /^LambdaLR: lrLambda must be a function or an array of one function per param group \(2\), got an array of length 1$/],
    [() => new LambdaLR(o, { lrLambda: [() => 1, 2] } as never), TypeError, /^LambdaLR: lrLambda\[1\] must be a function, got 2$/],
    [() => new LambdaLR(o, { lrLambda: () => 1, lr_lambda: 1 } as never), TypeError, /^LambdaLR: unknown option 'lr_lambda' \(expected lrLambda\)$/],
    [() => warmupCosine(o, { totalSteps: 10 } as never), TypeError, /^warmupCosine: warmupSteps must be an integer >= 0, got undefined$/],
    [() => warmupCosine(o, { warmupSteps: -1, totalSteps: 10 }), RangeError, /^warmupCosine: warmupSteps must be an integer >= 0, got -1$/],
    [() => warmupCosine(o, { warmupSteps: 1.5, totalSteps: 10 }), RangeError, /^warmupCosine: warmupSteps must be an integer >= 0, got 1.5$/],
    [() => warmupCosine(o, { warmupSteps: '2', totalSteps: 10 } as never), TypeError, /^warmupCosine: warmupSteps must be an integer >= 0, got '2'$/],
    [() => warmupCosine(o, { warmupSteps: 2 } as never), TypeError, /^warmupCosine: totalSteps must be an integer >= 1, got undefined$/],
    [() => warmupCosine(o, { warmupSteps: 2, totalSteps: NaN }), RangeError, /^warmupCosine: totalSteps must be an integer >= 1, got NaN$/],
    [() => warmupCosine(o, { warmupSteps: 5, totalSteps: 5 }), RangeError, /^warmupCosine: totalSteps must be an integer > warmupSteps \(5\), got 5$/],
    [() => warmupCosine(o, { warmupSteps: 2, totalSteps: 5, etaMin: -1 }), RangeError, /^warmupCosine: etaMin must be a finite number >= 0, got -1$/],
    [() => warmupCosine(o, { warmupSteps: 2, totalSteps: 5, etaMin: Infinity }), RangeError, /^warmupCosine: etaMin must be a finite number >= 0, got Infinity$/],
    [() => warmupCosine(o, { warmupSteps: 2, totalSteps: 5, startFactor: 0 }), RangeError, /^warmupCosine: startFactor must be a finite number > 0 and <= 1, got 0$/],
    [() => warmupCosine(o, { warmupSteps: 2, totalSteps: 5, startFactor: 2 }), RangeError, /^warmupCosine: startFactor must be a finite number > 0 and <= 1, got 2$/],
    [() => warmupCosine(o, { warmupSteps: 2, totalSteps: 5, startFactor: '1' } as never), TypeError, /^warmupCosine: startFactor must be a finite number > 0 and <= 1, got '1'$/],
    [() => warmupCosine(o, { warmupSteps: 2, totalSteps: 5, warmup: 1 } as never), TypeError, /^warmupCosine: unknown option 'warmup' \(expected warmupSteps, totalSteps, etaMin, startFactor\)$/],
    [() => warmupCosine(o, undefined as never), TypeError, /^warmupCosine: warmupSteps must be an integer >= 0, got undefined$/],
  ]);
  assert.equal(o.paramGroups.map((g) => g.lr), BASES, 'rejected schedulers leave the groups alone');
});

// What torch.optim.lr_scheduler (PyTorch 1.13) printed for the same schedules, the groups at
// [0.1, 0.01] ([0.1, 0.01, 0.5] for StepLR), epochs 0..n (an SGD with one parameter per group).
const TORCH: Record<string, number[][]> = {
  StepLR: [
    [0.1, 0.01, 0.5],
    [0.1, 0.01, 0.5],
    [0.1, 0.01, 0.5],
    [0.05, 0.005, 0.25],
    [0.05, 0.005, 0.25],
    [0.05, 0.005, 0.25],
    [0.025, 0.0025, 0.125],
    [0.025, 0.0025, 0.125],
    [0.025, 0.0025, 0.125],
    [0.0125, 0.00125, 0.0625],
    [0.0125, 0.00125, 0.0625],
    [0.0125, 0.00125, 0.0625],
    [0.00625, 0.000625, 0.03125],
  ],
  MultiStepLR: [
    [0.1, 0.01],
    [0.1, 0.01],
    [0.010000000000000002, 0.001],
    [0.010000000000000002, 0.001],
    [0.010000000000000002, 0.001],
    [0.00010000000000000005, 1.0000000000000003e-05],
    [0.00010000000000000005, 1.0000000000000003e-05],
    [0.00010000000000000005, 1.0000000000000003e-05],
    [0.00010000000000000005, 1.0000000000000003e-05],
    [1.0000000000000006e-05, 1.0000000000000004e-06],
    [1.0000000000000006e-05, 1.0000000000000004e-06],
    [1.0000000000000006e-05, 1.0000000000000004e-06],
    [1.0000000000000006e-05, 1.0000000000000004e-06],
  ],
  ExponentialLR: [
    [0.1, 0.01],
    [0.09000000000000001, 0.009000000000000001],
    [0.08100000000000002, 0.008100000000000001],
    [0.07290000000000002, 0.007290000000000001],
    [0.06561000000000002, 0.006561000000000002],
    [0.05904900000000002, 0.005904900000000002],
    [0.05314410000000002, 0.005314410000000002],
    [0.04782969000000002, 0.004782969000000002],
    [0.043046721000000024, 0.004304672100000002],
    [0.03874204890000002, 0.003874204890000002],
    [0.03486784401000002, 0.003486784401000002],
    [0.03138105960900001, 0.003138105960900002],
    [0.028242953648100012, 0.0028242953648100018],
  ],
  LinearLR: [
    [0.03333333333333333, 0.003333333333333333],
    [0.04666666666666667, 0.004666666666666667],
    [0.060000000000000005, 0.006000000000000001],
    [0.07333333333333335, 0.007333333333333335],
    [0.08666666666666668, 0.00866666666666667],
    [0.1, 0.010000000000000002],
    [0.1, 0.010000000000000002],
    [0.1, 0.010000000000000002],
    [0.1, 0.010000000000000002],
    [0.1, 0.010000000000000002],
    [0.1, 0.010000000000000002],
    [0.1, 0.010000000000000002],
    [0.1, 0.010000000000000002],
  ],
  LinearLRDecay: [
    [0.1, 0.01],
    [0.08000000000000002, 0.008],
    [0.06000000000000001, 0.006],
    [0.04000000000000001, 0.004],
    [0.02, 0.0019999999999999996],
    [0.02, 0.0019999999999999996],
    [0.02, 0.0019999999999999996],
    [0.02, 0.0019999999999999996],
    [0.02, 0.0019999999999999996],
    [0.02, 0.0019999999999999996],
    [0.02, 0.0019999999999999996],
    [0.02, 0.0019999999999999996],
    [0.02, 0.0019999999999999996],
  ],
  CosineAnnealingLR: [
    [0.1, 0.01],
    [0.0905463412215599, 0.009140576474687266],
    [0.06579634122155989, 0.006890576474687264],
    [0.035203658778440096, 0.004109423525312737],
    [0.010453658778440105, 0.0018594235253127371],
    [0.001, 0.001],
    [0.010453658778440102, 0.0018594235253127367],
    [0.03520365877844012, 0.004109423525312739],
    [0.06579634122155993, 0.006890576474687268],
    [0.09054634122155995, 0.00914057647468727],
    [0.10000000000000005, 0.010000000000000005],
    [0.09054634122155998, 0.00914057647468727],
    [0.06579634122155995, 0.006890576474687266],
  ],
  OneCycleLR: [
    [0.040000000000000036, 0.0040000000000000036],
    [0.52, 0.052000000000000005],
    [1.0, 0.1],
    [0.9504846320134737, 0.09504846320134738],
    [0.8117456539497631, 0.0811745653949763],
    [0.6112620219362893, 0.06112620219362893],
    [0.38874197806371075, 0.03887419780637107],
    [0.18825834605023697, 0.0188258346050237],
    [0.049519367986526286, 0.004951936798652629],
    [4e-06, 4e-07],
    [0.04951936798652623, 0.004951936798652624],
  ],
  OneCycleLRLinear: [
    [0.05, 0.05],
    [0.275, 0.275],
    [0.5, 0.5],
    [0.42864285714285716, 0.42864285714285716],
    [0.3572857142857143, 0.3572857142857143],
    [0.2859285714285714, 0.2859285714285714],
    [0.21457142857142858, 0.21457142857142858],
    [0.14321428571428568, 0.14321428571428568],
    [0.0718571428571429, 0.0718571428571429],
    [0.0005000000000000004, 0.0005000000000000004],
    [-0.07085714285714284, -0.07085714285714284],
  ],
  OneCycleLRThreePhase: [
    [0.040000000000000036, 0.0040000000000000036],
    [0.52, 0.052000000000000005],
    [1.0, 0.1],
    [0.52, 0.052000000000000005],
    [0.04, 0.004],
    [0.038019575420312576, 0.0038019575420312575],
    [0.032470549057570956, 0.0032470549057570953],
    [0.024451973637258376, 0.0024451973637258373],
    [0.015552026362741628, 0.0015552026362741626],
    [0.0075334509424290486, 0.0007533450942429048],
    [0.0019844245796874246, 0.00019844245796874242],
    [4e-06, 4e-07],
    [0.001984424579687422, 0.0001984424579687422],
  ],
  LambdaLR: [
    [0.1, 0.01],
    [0.095, 0.0095],
    [0.09025, 0.009025],
    [0.0857375, 0.00857375],
    [0.081450625, 0.0081450625],
    [0.07737809374999999, 0.007737809374999998],
    [0.07350918906249998, 0.007350918906249998],
    [0.06983372960937498, 0.006983372960937498],
    [0.06634204312890622, 0.006634204312890623],
    [0.0630249409724609, 0.006302494097246091],
    [0.05987369392383787, 0.005987369392383787],
    [0.05688000922764597, 0.005688000922764597],
    [0.05403600876626367, 0.005403600876626367],
  ],
  LambdaLRPerGroup: [
    [0.1, 0.01],
    [0.05, 0.01],
    [0.03333333333333333, 0.005],
    [0.025, 0.005],
    [0.020000000000000004, 0.0025],
    [0.016666666666666666, 0.0025],
    [0.014285714285714285, 0.00125],
    [0.0125, 0.00125],
    [0.011111111111111112, 0.000625],
    [0.010000000000000002, 0.000625],
    [0.009090909090909092, 0.0003125],
    [0.008333333333333333, 0.0003125],
    [0.007692307692307693, 0.00015625],
  ],
  SequentialLR: [
    [0.010000000000000002, 0.001],
    [0.04, 0.003999999999999999],
    [0.07, 0.006999999999999998],
    [0.1, 0.01],
    [0.09330127018922195, 0.009330127018922194],
    [0.07500000000000001, 0.007500000000000001],
    [0.05, 0.005],
    [0.025000000000000012, 0.0025000000000000014],
    [0.006698729810778065, 0.0006698729810778065],
    [0.0, 0.0],
    [0.006698729810778065, 0.0006698729810778065],
    [0.025, 0.0025],
    [0.05000000000000004, 0.005000000000000004],
  ],
  SequentialLR3: [
    [0.05, 0.005],
    [0.07500000000000001, 0.0075],
    [0.1, 0.01],
    [0.1, 0.01],
    [0.05, 0.005],
    [0.05, 0.005],
    [0.025, 0.0025],
    [0.1, 0.01],
    [0.08000000000000002, 0.008],
    [0.06400000000000002, 0.0064],
    [0.051200000000000016, 0.00512],
    [0.04096000000000002, 0.004096000000000001],
    [0.03276800000000001, 0.0032768000000000007],
  ],
  ChainedScheduler: [
    [0.05, 0.005],
    [0.05625, 0.005625000000000001],
    [0.060750000000000005, 0.0060750000000000005],
    [0.06378750000000001, 0.006378750000000001],
    [0.06561, 0.006561000000000001],
    [0.059049000000000004, 0.005904900000000001],
    [0.05314410000000001, 0.005314410000000001],
    [0.04782969000000001, 0.0047829690000000015],
    [0.04304672100000001, 0.004304672100000001],
    [0.03874204890000001, 0.0038742048900000012],
    [0.03486784401000001, 0.003486784401000001],
    [0.03138105960900001, 0.003138105960900001],
    [0.028242953648100012, 0.002824295364810001],
  ],
  ChainedStepCosine: [
    [0.1, 0.01],
    [0.09829629131445342, 0.009829629131445342],
    [0.046650635094610975, 0.004665063509461097],
    [0.04267766952966369, 0.004267766952966368],
    [0.018750000000000003, 0.001875],
    [0.015735238063781513, 0.001573523806378151],
    [0.006250000000000001, 0.000625],
    [0.004632380968109247, 0.0004632380968109246],
    [0.001562500000000001, 0.00015625000000000008],
    [0.0009152913087920394, 9.152913087920393e-05],
    [0.00020933530658681456, 2.0933530658681454e-05],
    [5.324089642333095e-05, 5.324089642333095e-06],
    [0.0, 0.0],
  ],
  warmupCosine: [
    [0.0001, 1e-05],
    [0.0334, 0.00334],
    [0.0667, 0.006670000000000001],
    [0.1, 0.010000000000000002],
    [0.09509795896116975, 0.009554359905560885],
    [0.08136274519200731, 0.0083057041083643],
    [0.061514786230837566, 0.006501344202803415],
    [0.03948521376916245, 0.0044986557971965855],
    [0.019637254807992697, 0.0026942958916356995],
    [0.005902041038830259, 0.0014456400944391143],
    [0.001, 0.001],
  ],
};

s.run();
