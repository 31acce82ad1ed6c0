// hy.train.fit: training that lowers the loss, its reports (none, lines, json), checkpoints that a
// fresh model resumes from bit for bit (Adadelta and SGD with momentum, StepLR, Dropout drawing on
// the generator, an abort between epochs), and its faults: a dataset that throws mid-epoch, a loss
// that turns NaN, an abort mid-epoch, corrupt or foreign checkpoints, bad options. A tiny model
// over 256 synthetic samples; every case disposes what it made (checked on the memory pools).
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import * as hy from '../lib/index';
import type { Device, Tensor } from '../lib/index';
import { collectGarbage, eachBackend, rng, suite } from './harness';

const s = suite('fit');

const dir = mkdtempSync(join(tmpdir(), 'hayate-fit-'));
s.after(() => rmSync(dir, { recursive: true, force: true }));
let fileCount = 0;
const newFile = (stem = 'ck') => join(dir, `${stem}-${fileCount++}.safetensors`);

// ---- the rig: data, model, optimizer, scheduler, loaders ------------------------------------------

const SAMPLES = 256;
const FEATURES = 16;
const CLASSES = 4;
const BATCH = 32;
const STEPS = SAMPLES / BATCH; // 8 steps an epoch

/** 256 samples of [4, 4] features whose class is the argmax of a fixed linear map (learnable). */
function syntheticData(seed: number): { x: Float32Array; y: Int32Array } {
  const r = rng(seed);
  const w = Array.from({ length: CLASSES * FEATURES }, () => 2 * r() - 1);
  const x = new Float32Array(SAMPLES * FEATURES);
  const y = new Int32Array(SAMPLES);
  for (let i = 0; i < SAMPLES; i++) {
    let best = 0;
    let bestScore = -Infinity;
    for (let f = 0; f < FEATURES; f++) x[i * FEATURES + f] = 2 * r() - 1;
    for (let c = 0; c < CLASSES; c++) {
      let score = 0;
      for (let f = 0; f < FEATURES; f++) score += w[c * FEATURES + f] * x[i * FEATURES + f];
      if (score > bestScore) [best, bestScore] = [c, score];
    }
    y[i] = best;
  }
  return { x, y };
}

function tensorDataset(seed: number): hy.data.TensorDataset {
  const { x, y } = syntheticData(seed);
  const xt = hy.tensor(x, { shape: [SAMPLES, 4, 4] });
  const yt = hy.tensor(y, { shape: [SAMPLES], dtype: 'int32' });
  try {
    return new hy.data.TensorDataset(xt, yt); // copies the values: the tensors stay ours
  } finally {
    xt.dispose();
    yt.dispose();
  }
}

/** A dataset without getBatch (so the loader calls get() per sample) whose get() can be made to fail. */
class FaultyDataset extends hy.data.Dataset {
  calls = 0;
  constructor(
    private readonly inner: hy.data.TensorDataset,
    /** get() throws on this call (1-based, counting every call), or never. */
    private readonly failOnCall = Infinity,
  ) {
    super();
  }
  get length(): number {
    return this.inner.length;
  }
  get(i: number): hy.data.Sample {
    this.calls++;
    if (this.calls === this.failOnCall) throw new Error(`FaultyDataset: sample ${i} cannot be read (disk error)`);
    return this.inner.get(i);
  }
  override fields(): hy.data.FieldSpec[] {
    return this.inner.fields();
  }
}

type OptimName = 'sgd' | 'adadelta';

interface Rig {
  model: hy.nn.Module;
  optimizer: hy.optim.SGD | hy.optim.Adadelta;
  scheduler: hy.optim.StepLR;
  loader: hy.data.DataLoader;
  evalLoader: hy.data.DataLoader;
  dispose(): Promise<void>;
}

/** Everything built the same way from the same seeds: two rigs of one seed train identically. */
function rig(device: Device, optim: OptimName, opts: { seed?: number; dataset?: hy.data.Dataset; dropout?: number } = {}): Rig {
  hy.manualSeed(opts.seed ?? 1234);
  const f = { device };
  const model = new hy.nn.Sequential(new hy.nn.Flatten(), new hy.nn.Linear(FEATURES, 8, f), new hy.nn.ReLU(), new hy.nn.Dropout(opts.dropout ?? 0.2), new hy.nn.Linear(8, CLASSES, f));
  const optimizer = optim === 'sgd' ? new hy.optim.SGD(model.parameters(), { lr: 0.05, momentum: 0.9 }) : new hy.optim.Adadelta(model.parameters(), { lr: 1.0 });
  const scheduler = new hy.optim.StepLR(optimizer, { stepSize: 1, gamma: 0.7 });
  const loader = new hy.data.DataLoader(opts.dataset ?? tensorDataset(7), { batchSize: BATCH, shuffle: true, seed: 3, numWorkers: 0, device });
  const evalLoader = new hy.data.DataLoader(tensorDataset(8), { batchSize: 64, numWorkers: 0, device });
  return {
    model,
    optimizer,
    scheduler,
    loader,
    evalLoader,
    async dispose() {
      await loader.close();
      await evalLoader.close();
      optimizer.dispose();
      model.dispose();
    },
  };
}

/** The model's weights, read back. */
const weights = (m: hy.nn.Module): Float32Array[] => m.parameters().map((p) => p.dataSync() as Float32Array);

function assertBitEqual(a: Float32Array[], b: Float32Array[], what: string): void {
  assert.is(a.length, b.length, `${what}: parameter count`);
  for (let k = 0; k < a.length; k++) {
    assert.is(a[k].length, b[k].length, `${what}: parameter ${k} size`);
    for (let i = 0; i < a[k].length; i++) {
      if (!(a[k][i] === b[k][i])) assert.unreachable(`${what}: parameter ${k}[${i}] is ${b[k][i]}, expected ${a[k][i]} (bit for bit)`);
    }
  }
}

async function liveBytes(pools: Device[]): Promise<number[]> {
  if (pools.includes('cuda')) hy.cuda.synchronize();
  await hy.cpu.synchronize();
  await collectGarbage();
  return pools.map((p) => hy.memory.stats(p).liveBytes);
}

/** A case that must leave the cpu and device pools where it found them. */
function leakChecked(name: string, fn: (device: Device) => Promise<void>, perBackend = true): void {
  const body = async (device: Device) => {
    const pools = [...new Set<Device>(['cpu', device])];
    const before = await liveBytes(pools);
    await fn(device);
    assert.equal(await liveBytes(pools), before, `${name} [${device}]: every tensor was disposed`);
  };
  if (perBackend) eachBackend(s, name, body);
  else s(name, () => body('cpu'));
}

/** Awaits p, which must reject with cls and a message matching pattern; returns the error. */
async function rejects(p: Promise<unknown>, cls: new (...a: never[]) => Error, pattern: RegExp, what: string): Promise<Error> {
  let thrown: unknown;
  try {
    await p;
  } catch (e) {
    thrown = e;
  }
  assert.ok(thrown !== undefined, `${what}: expected ${cls.name} matching ${pattern}, it resolved`);
  assert.ok(thrown instanceof cls, `${what}: expected ${cls.name}, got ${(thrown as Error)?.constructor?.name}: ${(thrown as Error)?.message}`);
  assert.match((thrown as Error).message, pattern, what);
  return thrown as Error;
}

/** Every tensor in a loaded value. */
function tensorsIn(v: unknown, out: Tensor[] = []): Tensor[] {
  if (v instanceof hy.Tensor) out.push(v);
  else if (Array.isArray(v)) for (const x of v) tensorsIn(x, out);
  else if (v !== null && typeof v === 'object') for (const x of Object.values(v)) tensorsIn(x, out);
  return out;
}

/** A checkpoint's epoch and history, its tensors freed. */
function checkpointEpoch(file: string): { epoch: number; history: number } {
  const ck = hy.load(file) as { epoch: number; history: unknown[] };
  try {
    return { epoch: ck.epoch, history: ck.history.length };
  } finally {
    tensorsIn(ck).forEach((t) => t.dispose());
  }
}

const escape = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

// ---- training and reports ----------------------------------------------------------------------

leakChecked('fit trains: the loss goes down over 3 epochs, 3 reports with samples, speed and eval accuracy', async (device) => {
  const r = rig(device, 'sgd');
  try {
    const lines: string[] = [];
    const res = await hy.train.fit(r.model, r.loader, { epochs: 3, optimizer: r.optimizer, scheduler: r.scheduler, evalLoader: r.evalLoader, progress: 'none', log: (l) => lines.push(l), lossEvery: 1 });
    assert.equal(lines, [], "progress 'none' logs nothing");
    assert.is(res.epochs.length, 3);
    assert.equal(res.epochs.map((e) => e.epoch), [1, 2, 3]);
    for (const e of res.epochs) {
      assert.is(e.trainSamples, SAMPLES, `epoch ${e.epoch}: trainSamples`);
      assert.is(e.steps, STEPS, `epoch ${e.epoch}: steps`);
      assert.ok(e.samplesPerSecond > 0 && Number.isFinite(e.samplesPerSecond), `epoch ${e.epoch}: samplesPerSecond ${e.samplesPerSecond}`);
      assert.ok(e.seconds > 0, `epoch ${e.epoch}: seconds`);
      assert.ok(e.evalAccuracy !== undefined && e.evalAccuracy >= 0 && e.evalAccuracy <= 1, `epoch ${e.epoch}: evalAccuracy ${e.evalAccuracy}`);
      assert.ok(e.evalLoss !== undefined && Number.isFinite(e.evalLoss), `epoch ${e.epoch}: evalLoss ${e.evalLoss}`);
      assert.ok(Number.isFinite(e.trainLoss), `epoch ${e.epoch}: trainLoss`);
    }
    const [first, , last] = res.epochs;
    assert.ok(last.trainLoss < first.trainLoss, `train loss went down: ${res.epochs.map((e) => e.trainLoss.toFixed(4)).join(' -> ')}`);
    assert.ok(last.evalLoss! < first.evalLoss!, `eval loss went down: ${res.epochs.map((e) => e.evalLoss!.toFixed(4)).join(' -> ')}`);
    // StepLR(gamma 0.7) after every epoch: the lr each epoch ran with
    assert.equal(res.epochs.map((e) => e.lr), [0.05, 0.05 * 0.7, 0.05 * 0.7 * 0.7]);
    assert.ok(res.samplesPerSecond > 0, 'result.samplesPerSecond');
    assert.ok(res.seconds > 0, 'result.seconds');
    assert.is(res.testAccuracy, last.evalAccuracy, 'testAccuracy is the last evaluation');
    assert.is(res.stopped, false);
    assert.is(res.resumedFrom, 0);
  } finally {
    await r.dispose();
  }
});

leakChecked("progress 'json': one JSON line per epoch; 'lines': one text line per epoch; no evalLoader: no eval fields", async () => {
  const r = rig('cpu', 'adadelta');
  try {
    const json: string[] = [];
    const res = await hy.train.fit(r.model, r.loader, { epochs: 2, optimizer: r.optimizer, evalLoader: r.evalLoader, progress: 'json', log: (l) => json.push(l) });
    assert.is(json.length, 2, json.join('\n'));
    json.forEach((line, i) => {
      const o = JSON.parse(line) as Record<string, unknown>;
      assert.is(o.event, 'epoch');
      assert.is(o.epoch, i + 1);
      assert.is(o.trainSamples, SAMPLES);
      assert.is(o.steps, STEPS);
      assert.equal(o, JSON.parse(JSON.stringify({ event: 'epoch', ...res.epochs[i] })), `line ${i + 1} is the report`);
    });

    const lines: string[] = [];
    const res2 = await hy.train.fit(r.model, r.loader, { epochs: 2, optimizer: r.optimizer, progress: 'lines', log: (l) => lines.push(l) });
    assert.is(lines.length, 2, lines.join('\n'));
    lines.forEach((l, i) => assert.match(l, new RegExp(`^epoch ${i + 1}: [\\d.]+ s, \\d+ samples/s, lr [\\d.e-]+, train loss ~\\d+\\.\\d{4}$`), l));
    for (const e of res2.epochs) assert.ok(!('evalAccuracy' in e) && !('evalLoss' in e), 'no evaluation without an evalLoader');
    assert.is(res2.testAccuracy, undefined);

    // metrics picks what the evaluation reports
    const res3 = await hy.train.fit(r.model, r.loader, { epochs: 1, optimizer: r.optimizer, evalLoader: r.evalLoader, metrics: ['accuracy'], progress: 'none' });
    assert.ok('evalAccuracy' in res3.epochs[0] && !('evalLoss' in res3.epochs[0]), JSON.stringify(res3.epochs[0]));
  } finally {
    await r.dispose();
  }
}, false);

// ---- checkpoint, stop, resume bit for bit ------------------------------------------------------

for (const optim of ['adadelta', 'sgd'] as OptimName[]) {
  leakChecked(`checkpoint after 2 epochs, a fresh model resumes to 4: the same weights bit for bit as 4 uninterrupted epochs (${optim}, StepLR, Dropout)`, async (device) => {
    const fileA = newFile('a');
    const fileB = newFile('b');
    const common = { progress: 'none' as const, lossEvery: 3 };

    const a = rig(device, optim);
    let wA: Float32Array[];
    let resA: hy.train.FitResult;
    try {
      resA = await hy.train.fit(a.model, a.loader, { ...common, epochs: 4, optimizer: a.optimizer, scheduler: a.scheduler, evalLoader: a.evalLoader, checkpoint: fileA });
      wA = weights(a.model);
    } finally {
      await a.dispose();
    }

    const b1 = rig(device, optim);
    try {
      const res = await hy.train.fit(b1.model, b1.loader, { ...common, epochs: 2, optimizer: b1.optimizer, scheduler: b1.scheduler, evalLoader: b1.evalLoader, checkpoint: fileB });
      assert.is(res.epochs.length, 2);
    } finally {
      await b1.dispose();
    }
    assert.equal(checkpointEpoch(fileB), { epoch: 2, history: 2 });

    hy.manualSeed(999); // the generator is wherever: the checkpoint puts it back
    const b2 = rig(device, optim);
    try {
      const resB = await hy.train.fit(b2.model, b2.loader, { ...common, epochs: 4, optimizer: b2.optimizer, scheduler: b2.scheduler, evalLoader: b2.evalLoader, checkpoint: fileB, resume: fileB });
      assert.is(resB.resumedFrom, 2);
      assert.is(resB.stopped, false);
      assert.is(resB.epochs.length, 4, 'history: the 2 epochs of the checkpoint and the 2 run here');
      assert.equal(resB.epochs.map((e) => e.epoch), [1, 2, 3, 4]);
      assertBitEqual(wA, weights(b2.model), `${optim} [${device}]: resumed weights`);
      // the reports match too: same losses, lrs and accuracies (times aside)
      const strip = (e: hy.train.EpochReport) => ({ epoch: e.epoch, trainLoss: e.trainLoss, lr: e.lr, evalLoss: e.evalLoss, evalAccuracy: e.evalAccuracy, steps: e.steps });
      assert.equal(resB.epochs.map(strip), resA.epochs.map(strip));
      assert.equal(b2.optimizer.paramGroups[0].lr, a.optimizer.paramGroups[0].lr, 'the scheduler resumed');
    } finally {
      await b2.dispose();
    }
    assert.equal(checkpointEpoch(fileB), { epoch: 4, history: 4 });

    // resume: true takes the checkpoint option's file; a file of epoch 4 with epochs 4 runs nothing
    const c = rig(device, optim);
    try {
      const resC = await hy.train.fit(c.model, c.loader, { ...common, epochs: 4, optimizer: c.optimizer, checkpoint: fileB, resume: true });
      assert.is(resC.resumedFrom, 4);
      assert.is(resC.epochs.length, 4);
      assertBitEqual(wA, weights(c.model), 'resume: true at the last epoch: the checkpoint weights');
    } finally {
      await c.dispose();
    }
  });
}

leakChecked('an AbortSignal aborted after the 2nd epoch (onEpoch) stops cleanly; resuming gives the uninterrupted weights', async (device) => {
  const fileA = newFile('a');
  const fileB = newFile('b');
  const a = rig(device, 'sgd');
  let wA: Float32Array[];
  try {
    await hy.train.fit(a.model, a.loader, { epochs: 4, optimizer: a.optimizer, scheduler: a.scheduler, checkpoint: fileA, progress: 'none' });
    wA = weights(a.model);
  } finally {
    await a.dispose();
  }

  const b1 = rig(device, 'sgd');
  const ac = new AbortController();
  const seen: number[] = [];
  try {
    const res = await hy.train.fit(b1.model, b1.loader, {
      epochs: 4,
      optimizer: b1.optimizer,
      scheduler: b1.scheduler,
      checkpoint: fileB,
      progress: 'none',
      signal: ac.signal,
      onEpoch: (r) => {
        seen.push(r.epoch);
        if (r.epoch === 2) ac.abort();
      },
    });
    assert.is(res.stopped, true);
    assert.equal(seen, [1, 2]);
    assert.is(res.epochs.length, 2);
  } finally {
    await b1.dispose();
  }
  assert.equal(checkpointEpoch(fileB), { epoch: 2, history: 2 });

  const b2 = rig(device, 'sgd');
  try {
    const res = await hy.train.fit(b2.model, b2.loader, { epochs: 4, optimizer: b2.optimizer, scheduler: b2.scheduler, checkpoint: fileB, resume: true, progress: 'none' });
    assert.is(res.resumedFrom, 2);
    assert.is(res.stopped, false);
    assert.is(res.epochs.length, 4);
    assertBitEqual(wA, weights(b2.model), `abort and resume [${device}]`);
  } finally {
    await b2.dispose();
  }
});

leakChecked('the checkpoint is a valid safetensors file: inspect lists model.* tensors, model.load reads its model part', async () => {
  const file = newFile();
  const r = rig('cpu', 'sgd');
  try {
    await hy.train.fit(r.model, r.loader, { epochs: 1, optimizer: r.optimizer, scheduler: r.scheduler, checkpoint: file, progress: 'none' });
    const info = hy.serialize.inspect(file);
    const names = info.tensors.map((t) => t.name);
    const modelNames = names.filter((n) => n.startsWith('model.')).sort();
    // the state dict's keys are one path segment each, their '.' escaped as '~1' (see safetensors.ts)
    assert.equal(modelNames, ['model.1~1bias', 'model.1~1weight', 'model.4~1bias', 'model.4~1weight']);
    assert.ok(names.some((n) => /^optimizer\.state\.\d+\.momentumBuffer$/.test(n)), `optimizer state saved: ${names.join(', ')}`);
    assert.ok(info.tensors.every((t) => t.dtype === 'F32'), 'float32 tensors');
    assert.equal(info.tensors.find((t) => t.name === 'model.1~1weight')!.shape, [8, FEATURES]);
    assert.ok(TREE_KEY_OF(info.metadata).includes('hayate.fit/1'), 'the structure names the format');

    const wTrained = weights(r.model);
    hy.manualSeed(4321);
    const fresh = new hy.nn.Sequential(new hy.nn.Flatten(), new hy.nn.Linear(FEATURES, 8), new hy.nn.ReLU(), new hy.nn.Dropout(0.2), new hy.nn.Linear(8, CLASSES));
    try {
      assert.is(fresh.load(file), fresh, 'load returns the module');
      assertBitEqual(wTrained, weights(fresh), 'model.load(checkpoint)');
    } finally {
      fresh.dispose();
    }
  } finally {
    await r.dispose();
  }
}, false);

function TREE_KEY_OF(metadata: Record<string, string>): string {
  return metadata[hy.serialize.TREE_KEY] ?? '';
}

// ---- faults ------------------------------------------------------------------------------------

leakChecked('a dataset that throws mid-epoch: fit rejects naming the failure; the last good checkpoint (epoch 1) is kept and named', async () => {
  const file = newFile();
  // epoch 1 reads 256 samples; the 100th read of epoch 2 (its 4th batch) fails
  const faulty = new FaultyDataset(tensorDataset(7), SAMPLES + 100);
  const r = rig('cpu', 'sgd', { dataset: faulty });
  try {
    const e = await rejects(
      hy.train.fit(r.model, r.loader, { epochs: 3, optimizer: r.optimizer, scheduler: r.scheduler, checkpoint: file, progress: 'none' }),
      Error,
      /FaultyDataset: sample \d+ cannot be read \(disk error\)/,
      'dataset fault',
    );
    assert.ok(e.message.includes(`the last good checkpoint, ${file}, holds epoch 1`), e.message);
    assert.equal(checkpointEpoch(file), { epoch: 1, history: 1 });
    // and it loads into a model
    const m = new hy.nn.Sequential(new hy.nn.Flatten(), new hy.nn.Linear(FEATURES, 8), new hy.nn.ReLU(), new hy.nn.Dropout(0.2), new hy.nn.Linear(8, CLASSES));
    m.load(file);
    m.dispose();
  } finally {
    await r.dispose();
  }
}, false);

leakChecked('a dataset that throws in epoch 1: no checkpoint exists, and the message claims none', async () => {
  const file = newFile();
  const r = rig('cpu', 'sgd', { dataset: new FaultyDataset(tensorDataset(7), 50) });
  try {
    const e = await rejects(hy.train.fit(r.model, r.loader, { epochs: 2, optimizer: r.optimizer, checkpoint: file, progress: 'none' }), Error, /cannot be read/, 'epoch 1 fault');
    assert.not.ok(e.message.includes('last good checkpoint'), e.message);
    assert.not.ok(existsSync(file), 'nothing written');
  } finally {
    await r.dispose();
  }
}, false);

/** A loss that is crossEntropy until `from` calls, then NaN (the loss times NaN). */
function nanAfter(from: number): { loss: (o: Tensor, y: Tensor) => Tensor; calls: () => number } {
  let calls = 0;
  return {
    calls: () => calls,
    loss: (o, y) => {
      calls++;
      const l = hy.nn.functional.crossEntropy(o, y);
      return calls >= from ? hy.mul(l, NaN) : l;
    },
  };
}

leakChecked('a loss that turns NaN (lossEvery 1): fit rejects saying the loss is NaN, naming the epoch and the step', async () => {
  const file = newFile();
  const r = rig('cpu', 'sgd');
  const { loss } = nanAfter(STEPS + 3); // epoch 2, step 3
  try {
    const e = await rejects(
      hy.train.fit(r.model, r.loader, { epochs: 3, optimizer: r.optimizer, loss, lossEvery: 1, checkpoint: file, progress: 'none' }),
      Error,
      /^fit: the loss is NaN at epoch 2, step 3; training stopped/,
      'NaN loss',
    );
    assert.ok(e.message.includes(`the last good checkpoint, ${file}, holds epoch 1`), e.message);
    assert.equal(checkpointEpoch(file), { epoch: 1, history: 1 });
  } finally {
    await r.dispose();
  }
}, false);

leakChecked('a loss that turns NaN between loss reads (default lossEvery): the "last good checkpoint" fit names holds finite weights', async () => {
  // 8 steps an epoch and lossEvery 20: only step 1 of each epoch is read back. The loss turns NaN
  // at step 5 of epoch 1; the NaN weights are written as epoch 1's checkpoint, and the NaN is seen
  // at epoch 2, step 1, whose message calls that checkpoint good.
  const file = newFile();
  const r = rig('cpu', 'sgd');
  const { loss } = nanAfter(5);
  try {
    const e = await rejects(
      hy.train.fit(r.model, r.loader, { epochs: 3, optimizer: r.optimizer, loss, checkpoint: file, progress: 'none' }),
      Error,
      /^fit: the loss is NaN at epoch \d+, step \d+; training stopped/,
      'NaN loss, sparse reads',
    );
    if (e.message.includes('last good checkpoint') && existsSync(file)) {
      const sd = hy.load(file) as { model: Record<string, Tensor> };
      const bad: string[] = [];
      for (const [k, t] of Object.entries(sd.model)) if (!Array.from(t.dataSync()).every(Number.isFinite)) bad.push(k);
      tensorsIn(sd).forEach((t) => t.dispose());
      assert.equal(bad, [], `the checkpoint fit calls good (${e.message}) holds non-finite weights in ${bad.join(', ')}`);
    }
  } finally {
    await r.dispose();
  }
}, false);

leakChecked('an AbortSignal aborted mid-epoch: result.stopped, the partial epoch is neither reported nor checkpointed', async () => {
  const file = newFile();
  const r = rig('cpu', 'sgd');
  const ac = new AbortController();
  let calls = 0;
  const loss = (o: Tensor, y: Tensor) => {
    if (++calls === STEPS + 3) ac.abort(); // during epoch 2, step 3
    return hy.nn.functional.crossEntropy(o, y);
  };
  try {
    const res = await hy.train.fit(r.model, r.loader, { epochs: 3, optimizer: r.optimizer, scheduler: r.scheduler, loss, checkpoint: file, signal: ac.signal, progress: 'none' });
    assert.is(res.stopped, true);
    assert.is(res.epochs.length, 1, 'only epoch 1 completed');
    assert.is(calls, STEPS + 3, 'no step after the abort');
    assert.equal(checkpointEpoch(file), { epoch: 1, history: 1 });
    // an already aborted signal runs nothing
    const res2 = await hy.train.fit(r.model, r.loader, { epochs: 3, optimizer: r.optimizer, signal: ac.signal, progress: 'none' });
    assert.is(res2.stopped, true);
    assert.is(res2.epochs.length, 0);
    assert.is(calls, STEPS + 3);
  } finally {
    await r.dispose();
  }
}, false);

leakChecked('resume from a corrupt checkpoint (truncated, garbage, missing) rejects naming the file and changes no weight', async () => {
  const file = newFile();
  const r = rig('cpu', 'adadelta');
  try {
    await hy.train.fit(r.model, r.loader, { epochs: 1, optimizer: r.optimizer, checkpoint: file, progress: 'none' });
  } finally {
    await r.dispose();
  }
  const truncated = newFile('truncated');
  writeFileSync(truncated, new Uint8Array(0));
  // a real checkpoint cut in the middle of its data
  const cut = newFile('cut');
  writeFileSync(cut, readFileSync(file));
  truncateSync(cut, Math.floor(statSync(cut).size / 2));
  const garbage = newFile('garbage');
  writeFileSync(garbage, 'this is not a checkpoint at all, just some text that goes on');
  const missing = join(dir, 'missing.safetensors');
  for (const bad of [truncated, cut, garbage, missing]) {
    const r2 = rig('cpu', 'adadelta');
    try {
      const w0 = weights(r2.model);
      const lines: string[] = [];
      await rejects(
        hy.train.fit(r2.model, r2.loader, { epochs: 2, optimizer: r2.optimizer, resume: bad, progress: 'lines', log: (l) => lines.push(l) }),
        Error,
        new RegExp(`^fit: cannot resume from ${escape(bad)}: `),
        bad,
      );
      assert.equal(lines, [], 'no epoch ran');
      assertBitEqual(w0, weights(r2.model), `${bad}: the weights are untouched`);
    } finally {
      await r2.dispose();
    }
  }
}, false);

leakChecked('resume from a safetensors file that is not a fit checkpoint (Module.save) rejects naming it, and frees what it loaded at once', async () => {
  const file = newFile('weights');
  const r = rig('cpu', 'sgd');
  try {
    r.model.save(file);
    const [before] = await liveBytes(['cpu']);
    await rejects(
      hy.train.fit(r.model, r.loader, { epochs: 1, optimizer: r.optimizer, resume: file, progress: 'none' }),
      Error,
      new RegExp(`^fit: ${escape(file)} is not a hayate fit checkpoint`),
      'a flat state dict',
    );
    // No garbage collection here: what fit loaded must be disposed, not left to the finalizers
    // (on a GPU that memory would stay taken until a collection happens to run).
    await hy.cpu.synchronize();
    assert.is(hy.memory.stats('cpu').liveBytes, before, 'the tensors read from the file were disposed by fit');
  } finally {
    await r.dispose();
  }
}, false);

leakChecked('resume: true without a checkpoint file yet starts fresh; without the checkpoint option it is a TypeError', async () => {
  const file = newFile();
  const r = rig('cpu', 'sgd');
  try {
    const res = await hy.train.fit(r.model, r.loader, { epochs: 1, optimizer: r.optimizer, checkpoint: file, resume: true, progress: 'none' });
    assert.is(res.resumedFrom, 0);
    assert.ok(existsSync(file));
    await rejects(hy.train.fit(r.model, r.loader, { epochs: 1, optimizer: r.optimizer, resume: true }), TypeError, /^fit: resume: true needs the checkpoint option/, 'resume: true alone');
  } finally {
    await r.dispose();
  }
}, false);

leakChecked('bad options are rejected before anything runs', async () => {
  const r = rig('cpu', 'sgd');
  const o = { optimizer: r.optimizer, progress: 'none' as const };
  try {
    await rejects(hy.train.fit(r.model, r.loader, { ...o, epochs: 0 }), RangeError, /epochs/, 'epochs 0');
    await rejects(hy.train.fit(r.model, r.loader, { ...o, epochs: 1.5 }), RangeError, /epochs/, 'epochs 1.5');
    await rejects(hy.train.fit(r.model, r.loader, { ...o, epochs: 1, bogus: 1 } as never), TypeError, /^fit: unknown option 'bogus'/, 'unknown option');
    await rejects(hy.train.fit(r.model, r.loader, { ...o, epochs: 1, cudaGraph: true }), RangeError, /^fit: cudaGraph needs the model on a CUDA device/, 'cudaGraph');
    await rejects(hy.train.fit(r.model, r.loader, { epochs: 1 } as never), TypeError, /optimizer/, 'no optimizer');
    await rejects(hy.train.fit(r.model, r.loader, { ...o, epochs: 1, progress: 'loud' as never }), RangeError, /progress/, 'progress');
    await rejects(hy.train.fit(r.model, r.loader, { ...o, epochs: 1, schedulerStep: 'step' as never }), RangeError, /schedulerStep/, 'schedulerStep');
    await rejects(hy.train.fit(r.model, r.loader, { ...o, epochs: 1, resume: 3 as never }), TypeError, /resume/, 'resume 3');
    await rejects(hy.train.fit(r.model, r.loader, { ...o, epochs: 1, checkpoint: { path: newFile(), every: 0 } }), RangeError, /checkpoint\.every/, 'every 0');
    assert.is(r.optimizer.stateDict().state[0], undefined, 'no step was taken');
  } finally {
    await r.dispose();
  }
}, false);

leakChecked('lossEvery must be a positive integer (0 would never read the loss: NaN train loss and no NaN check)', async () => {
  const r = rig('cpu', 'sgd');
  try {
    for (const bad of [0, -1, 1.5]) {
      await rejects(hy.train.fit(r.model, r.loader, { optimizer: r.optimizer, progress: 'none', epochs: 1, lossEvery: bad }), RangeError, /lossEvery/, `lossEvery ${bad}`);
    }
  } finally {
    await r.dispose();
  }
}, false);

leakChecked('checkpoint {every: 2}: a fault in epoch 2 does not claim a checkpoint that was never written', async () => {
  const file = newFile();
  const r = rig('cpu', 'sgd', { dataset: new FaultyDataset(tensorDataset(7), SAMPLES + 100) });
  try {
    const e = await rejects(hy.train.fit(r.model, r.loader, { epochs: 4, optimizer: r.optimizer, checkpoint: { path: file, every: 2 }, progress: 'none' }), Error, /cannot be read/, 'fault in epoch 2');
    assert.not.ok(existsSync(file), 'epoch 1 is not a checkpoint epoch: no file');
    assert.not.ok(e.message.includes('last good checkpoint'), `the message names a checkpoint that does not exist: ${e.message}`);
  } finally {
    await r.dispose();
  }
}, false);

leakChecked('resume from one file into another: a fault in the first resumed epoch does not claim the new file holds a checkpoint', async () => {
  const from = newFile('from');
  const to = newFile('to');
  const r = rig('cpu', 'sgd');
  try {
    await hy.train.fit(r.model, r.loader, { epochs: 2, optimizer: r.optimizer, checkpoint: from, progress: 'none' });
  } finally {
    await r.dispose();
  }
  const r2 = rig('cpu', 'sgd', { dataset: new FaultyDataset(tensorDataset(7), 100) });
  try {
    const e = await rejects(hy.train.fit(r2.model, r2.loader, { epochs: 4, optimizer: r2.optimizer, checkpoint: to, resume: from, progress: 'none' }), Error, /cannot be read/, 'fault in epoch 3');
    assert.not.ok(existsSync(to), 'nothing was written to the new file');
    assert.not.ok(e.message.includes(`the last good checkpoint, ${to}`), `the message names ${to}, which does not exist: ${e.message}`);
  } finally {
    await r2.dispose();
  }
}, false);

leakChecked('a checkpoint that cannot be written (no such folder): fit rejects naming the file, and claims no good checkpoint', async () => {
  const file = join(dir, 'no-such-folder', 'ck.safetensors');
  const r = rig('cpu', 'sgd');
  try {
    const e = await rejects(hy.train.fit(r.model, r.loader, { epochs: 2, optimizer: r.optimizer, checkpoint: file, progress: 'none' }), Error, new RegExp(`save: ${escape(file)}: .*ENOENT`), 'unwritable');
    assert.not.ok(e.message.includes('last good checkpoint'), `no checkpoint was written, yet: ${e.message}`);
  } finally {
    await r.dispose();
  }
}, false);

// ---- amp ---------------------------------------------------------------------------------------

leakChecked('amp: true on the CPU (autocast float16 and a GradScaler) trains: the loss goes down', async () => {
  const r = rig('cpu', 'sgd', { dropout: 0 });
  try {
    const res = await hy.train.fit(r.model, r.loader, { epochs: 3, optimizer: r.optimizer, amp: true, evalLoader: r.evalLoader, lossEvery: 1, progress: 'none' });
    assert.is(res.epochs.length, 3);
    const losses = res.epochs.map((e) => e.trainLoss);
    assert.ok(losses.every(Number.isFinite), losses.join(', '));
    assert.ok(losses[2] < losses[0] * 0.98, `amp loss went down: ${losses.map((l) => l.toFixed(4)).join(' -> ')}`);
    assert.ok(res.testAccuracy! >= 0 && res.testAccuracy! <= 1);
    assert.ok(r.model.parameters().every((p) => p.dtype === 'float32'), 'the weights stay float32');
    // a scaler of the caller's: fit uses it and leaves it to the caller
    const scaler = new hy.amp.GradScaler({ initScale: 1024 });
    try {
      await hy.train.fit(r.model, r.loader, { epochs: 1, optimizer: r.optimizer, amp: true, scaler, progress: 'none' });
      assert.ok(scaler.getScale() > 0);
    } finally {
      scaler.dispose();
    }
  } finally {
    await r.dispose();
  }
}, false);

s.run();
