// Soak: MLP training on synthetic MNIST-shaped data for many steps in each DataLoader mode
// (numWorkers 0 and 1) and each disposal style (explicit disposal of the batch and the loss; tidy;
// neither, which leaves everything to the finalizers), asserting that the CPU allocator's live
// bytes stay flat after warm-up. Also: Linear with a bias and sum/mean over dims leave nothing
// behind once their tensors are disposed.
//
// Steps per configuration: SOAK_STEPS, 5,000 as the issue asks: on the 2-core machine the six
// configurations took 21 s together (3-4.5 s each, 2 s of it in the forced collections), and up
// to 40 s while other jobs loaded it. HY_SOAK=quick runs 600 instead; the number is in the names.
//
// Determinism. Intermediate tensors nobody disposes (inside the model in the explicit style, and
// everything in the 'neither' style) are freed by finalizers, which run only after a collection and
// on a turn of the event loop. The loop bodies never await, so in numWorkers 0 mode only the
// loader's own turns let the finalizers run (that is what is tested). The collector's timing is
// not left to chance: every GC_EVERY steps the body calls gc() synchronously (harness.ts enables
// it at run time), so at most about GC_EVERY steps of garbage are ever waiting; the assertions are
// that (1) after everything is collected and the CPU queue drained, the live bytes at the end are
// exactly those at the end of warm-up, and (2) the live bytes sampled after every step (garbage
// included) peak in the last half of the run at most one more cycle of garbage (the first
// quarter's peak) plus 1 MB above the first quarter after warm-up. The slack is there because the
// collector also runs on its own (scavenges), and may cut every cycle of one window short but not
// those of the other; a cycle holds at most about GC_EVERY steps of garbage either way. Without
// the loader's turns, numWorkers 0 grows by about 110 KB a step without bound: a last half peak
// about four times the first quarter's.
import * as assert from 'uvu/assert';
import { runInNewContext } from 'node:vm';

import * as hy from '../lib/index';
import type { Tensor } from '../lib/index';
import { collectGarbage, suite } from './harness';

const s = suite('soak');

const gc = runInNewContext('gc') as () => void;

// The emulated-device builds run the short soak: their suites check kernels, and the plain suites run the full one.
const SOAK_STEPS = process.env.HY_SOAK === 'quick' || hy.info().cuda.emulated === true ? 600 : 5000;
const GC_EVERY = 100;
const SAMPLES = 512;
const BATCH = 32;

const live = () => hy.memory.stats('cpu').liveBytes;

/** Collects all garbage, lets finalizers run and drains the CPU queue; then the live bytes. */
async function settledLive(): Promise<number> {
  await hy.cpu.synchronize();
  await collectGarbage();
  await hy.cpu.synchronize();
  return live();
}

type Style = 'explicit' | 'tidy' | 'neither';

interface SoakResult {
  ms: number;
  /** Of which in the forced collections. */
  gcMs: number;
  /** Live bytes, everything collected and the queue drained, at the end of warm-up and at the end. */
  warmLive: number;
  endLive: number;
  /** Live bytes (garbage included) after every step past warm-up. */
  samples: number[];
  firstLoss: number;
  lastLoss: number;
}

/**
 * The training run. A function of its own: a suspended async function keeps stale locals (the last
 * batch) in its frame, so the caller's check that everything was freed runs after this has returned.
 */
async function soak(numWorkers: number, style: Style): Promise<SoakResult> {
  hy.manualSeed(11);
  const x = hy.randn([SAMPLES, 1, 28, 28]);
  const y = hy.tensor(Int32Array.from({ length: SAMPLES }, (_, i) => (i * 7) % 10));
  const ds = new hy.data.TensorDataset(x, y);
  x.dispose();
  y.dispose();
  const nn = hy.nn;
  const F = hy.nn.functional;
  const model = new nn.Sequential(new nn.Flatten(), new nn.Linear(784, 32), new nn.ReLU(), new nn.Linear(32, 10));
  const opt = new hy.optim.SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
  const loader = new hy.data.DataLoader(ds, { batchSize: BATCH, shuffle: true, seed: 1, numWorkers, persistentWorkers: true });
  const warm = Math.max(GC_EVERY, Math.floor(SOAK_STEPS / 10));
  const r: SoakResult = { ms: 0, gcMs: 0, warmLive: -1, endLive: -1, samples: [], firstLoss: NaN, lastLoss: NaN };
  let step = 0;
  const t0 = performance.now();
  try {
    while (step < SOAK_STEPS) {
      for await (const [xb, yb] of loader) {
        opt.zeroGrad();
        let loss: Tensor;
        if (style === 'tidy') {
          loss = hy.tidy(() => F.crossEntropy(model.forward(xb), yb));
        } else {
          loss = F.crossEntropy(model.forward(xb), yb); // the model's intermediates: left to finalizers
        }
        loss.backward();
        opt.step();
        step++;
        if (step === 1) r.firstLoss = loss.dataSync()[0];
        if (step === SOAK_STEPS) r.lastLoss = loss.dataSync()[0];
        if (style !== 'neither') {
          xb.dispose();
          yb.dispose();
          loss.dispose();
        }
        if (step % GC_EVERY === 0) {
          const g0 = performance.now();
          gc(); // synchronous: the finalizers wait for a turn of the event loop
          r.gcMs += performance.now() - g0;
        }
        // The settled measurements are taken at the same place of the body, with the same locals
        // alive (in the 'neither' style this step's batch and loss); the only turns the test gives.
        if (step === warm) r.warmLive = await settledLive();
        else if (step === SOAK_STEPS) r.endLive = await settledLive();
        else if (step > warm) r.samples.push(live());
        if (step >= SOAK_STEPS) break;
      }
    }
    r.ms = performance.now() - t0;
  } finally {
    await loader.close();
    opt.dispose();
    model.dispose();
  }
  return r;
}

for (const numWorkers of [0, 1]) {
  for (const style of ['explicit', 'tidy', 'neither'] as Style[]) {
    s(`MLP soak, numWorkers ${numWorkers}, ${style} disposal: ${SOAK_STEPS} steps, live bytes flat after warm-up`, async () => {
      const before = await settledLive();
      const r = await soak(numWorkers, style);
      const peakOf = (a: number[]) => a.reduce((m, v) => Math.max(m, v), -Infinity) - r.warmLive;
      const quarter = peakOf(r.samples.slice(0, Math.floor(r.samples.length / 4)));
      const lastHalf = peakOf(r.samples.slice(Math.floor(r.samples.length / 2)));
      console.log(
        `    numWorkers ${numWorkers}, ${style}: ${SOAK_STEPS} steps in ${(r.ms / 1000).toFixed(1)} s (${(r.gcMs / 1000).toFixed(1)} s of it in gc()); garbage peaks ` +
          `${(quarter / 1e6).toFixed(2)} MB (first quarter) / ${(lastHalf / 1e6).toFixed(2)} MB (last half); loss ${r.firstLoss.toFixed(3)} -> ${r.lastLoss.toFixed(3)}`,
      );
      assert.ok(Number.isFinite(r.lastLoss) && r.lastLoss < r.firstLoss, `the model trained: loss ${r.firstLoss} -> ${r.lastLoss}`);
      assert.is(r.endLive, r.warmLive, 'live bytes at the end, collected and drained, equal those at the end of warm-up');
      if (style === 'tidy') assert.is(lastHalf, 0, 'tidy: nothing waits for a finalizer');
      assert.ok(
        lastHalf <= 2 * quarter + (1 << 20),
        `live bytes above warm-up peaked at ${lastHalf} in the last half, ${quarter} in the first quarter: they grow`,
      );
      assert.is(await settledLive(), before, 'everything the test allocated is freed');
    });
  }
}

s('a Linear with a bias, forward and backward, leaves live bytes unchanged once its tensors are disposed', async () => {
  hy.manualSeed(4);
  const lin = new hy.nn.Linear(784, 32);
  const x = hy.randn([32, 784], { requiresGrad: true });
  const start = await settledLive();
  for (let i = 0; i < 10; i++) {
    // explicit disposal: nothing is left to a finalizer, so no collection is needed
    const out = lin.forward(x);
    const loss = hy.mean(out);
    loss.backward();
    for (const t of [out, loss]) t.dispose();
    lin.zeroGrad();
    x.grad?.dispose();
    x.grad = null;
    await hy.cpu.synchronize();
    assert.is(live(), start, `step ${i}: live bytes ${live() - start} above the start`);
  }
  x.dispose();
  lin.dispose();
});

s('sum and mean over dims, forward and backward, leave live bytes unchanged once their tensors are disposed', async () => {
  const x = hy.randn([8, 16, 32], { requiresGrad: true });
  const start = await settledLive();
  const cases: Array<[string, (t: Tensor) => Tensor]> = [
    ['sum(x, 0)', (t) => hy.sum(t, 0)],
    ['sum(x, [0, 2])', (t) => hy.sum(t, [0, 2])],
    ['mean(x, 1, keepdim)', (t) => hy.mean(t, 1, { keepdim: true })],
    ['mean(x, [0, 1])', (t) => hy.mean(t, [0, 1])],
    ['sum(x)', (t) => hy.sum(t)],
  ];
  for (const [name, f] of cases) {
    for (let i = 0; i < 3; i++) {
      const r = f(x);
      const loss = hy.sum(r);
      loss.backward();
      for (const t of [r, loss]) t.dispose();
      x.grad?.dispose();
      x.grad = null;
      await hy.cpu.synchronize();
      assert.is(live(), start, `${name}, round ${i}: live bytes ${live() - start} above the start`);
    }
  }
  // a broadcast add: its backward sums the gradient to the bias's shape (sumToShape)
  const b = hy.randn([32], { requiresGrad: true });
  const start2 = await settledLive();
  for (let i = 0; i < 3; i++) {
    const r = hy.add(x, b);
    const loss = hy.sum(r);
    loss.backward();
    for (const t of [r, loss]) t.dispose();
    for (const p of [x, b]) {
      p.grad?.dispose();
      p.grad = null;
    }
    await hy.cpu.synchronize();
    assert.is(live(), start2, `broadcast add, round ${i}: live bytes ${live() - start2} above the start`);
  }
  x.dispose();
  b.dispose();
});

s.run();
