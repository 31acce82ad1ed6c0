// hy.nn modules: a small MLP that learns, state dicts, zeroGrad, train / eval behaviour.
import * as assert from 'uvu/assert';

import * as hy from '../lib/index';
import type { Device, Tensor } from '../lib/index';
import { assertClose, assertThrows, eachBackend, rng, suite } from './harness';

const s = suite('nn-modules');
const nn = hy.nn;

/** Two Gaussian-ish blobs per class around separate centres in 4-D: linearly separable. */
function blobs(n: number, seed: number, device: Device): [Tensor, Tensor] {
  const r = rng(seed);
  const centres = [[2, 0, 0, 1], [-2, 0, 1, 0], [0, 2, -1, 0]];
  const xs: number[] = [];
  const ys: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = i % 3;
    for (let k = 0; k < 4; k++) xs.push(centres[c][k] + (r() - 0.5));
    ys.push(c);
  }
  return [hy.tensor(xs, { shape: [n, 4], device }), hy.tensor(Int32Array.from(ys), { device })];
}

/** p -= lr * p.grad for every parameter, written back in place through loadStateDict. */
function sgdStep(model: hy.nn.Module, lr: number): void {
  hy.tidy(() => hy.noGrad(() => {
    const next: hy.nn.StateDict = {};
    for (const [k, p] of model.namedParameters()) if (p.grad !== null) next[k] = hy.sub(p, hy.mul(p.grad, lr));
    model.loadStateDict(next, { strict: false });
  }));
}

eachBackend(s, 'an MLP Sequential(Linear, ReLU, Linear, LogSoftmax) learns a separable problem with plain SGD', (device) => {
  hy.manualSeed(1234);
  const model = new nn.Sequential(new nn.Linear(4, 16), new nn.ReLU(), new nn.Linear(16, 3), new nn.LogSoftmax(1)).to(device);
  assert.equal(model.namedParameters().map(([k, t]) => [k, t.shape]), [
    ['0.weight', [16, 4]], ['0.bias', [16]], ['2.weight', [3, 16]], ['2.bias', [3]],
  ]);
  const [x, y] = blobs(60, 7, device);
  const lossAt = (): number => hy.tidy(() => hy.nn.functional.nllLoss(model.forward(x), y).item());
  const first = lossAt();
  for (let step = 0; step < 50; step++) {
    model.zeroGrad();
    hy.tidy(() => hy.nn.functional.nllLoss(model.forward(x), y).backward());
    sgdStep(model, 0.5);
  }
  const last = lossAt();
  // Measured on the CPU backend: 1.20 at the start, 0.0052 after 50 steps; 0.05 leaves a 10x margin.
  assert.ok(first > 0.8, `initial loss ${first}`);
  assert.ok(last < 0.05, `loss after 50 steps ${last} (started at ${first})`);
  const acc = hy.tidy(() => {
    const logp = model.forward(x).dataSync();
    const labels = y.dataSync();
    let ok = 0;
    for (let i = 0; i < 60; i++) {
      const row = Array.from(logp.subarray(i * 3, i * 3 + 3));
      if (row.indexOf(Math.max(...row)) === labels[i]) ok++;
    }
    return ok / 60;
  });
  assert.is(acc, 1, 'every training point classified');
  model.dispose();
  x.dispose();
  y.dispose();
});

eachBackend(s, 'stateDict / loadStateDict round trip, zeroGrad sets grads to null', async (device) => {
  hy.manualSeed(5);
  const a = new nn.Sequential(new nn.Linear(3, 5, { device }), new nn.BatchNorm1d(5, { device }), new nn.Linear(5, 2, { bias: false, device }));
  const b = new nn.Sequential(new nn.Linear(3, 5, { device }), new nn.BatchNorm1d(5, { device }), new nn.Linear(5, 2, { bias: false, device }));
  const sd = a.stateDict();
  assert.equal(Object.keys(sd), ['0.weight', '0.bias', '1.weight', '1.bias', '2.weight', '1.runningMean', '1.runningVar']);
  b.loadStateDict(sd);
  for (const [k, t] of b.namedParameters()) assert.equal(Array.from(await t.data()), Array.from(await sd[k].data()), k);
  const x = hy.randn([4, 3], { device });
  const ya = a.eval().forward(x);
  const yb = b.eval().forward(x);
  assertClose(await yb.data(), await ya.data(), { rtol: 0, atol: 0 }, 'same outputs');
  // the dict's tensors are aliases: disposing them leaves the module intact
  for (const t of Object.values(sd)) t.dispose();
  assert.ok(!a.parameters().some((p) => p.isDisposed));
  assertThrows(() => b.loadStateDict({}), RangeError, /^loadStateDict: missing keys \[0\.weight, .*\], unexpected keys \[\]$/);
  assertThrows(() => b.loadStateDict({ '0.weight': hy.zeros([2, 2], { device }) }, { strict: false }), RangeError,
    /^loadStateDict: '0\.weight' has shape \[2, 2\], the module's is \[5, 3\]$/);

  a.train();
  hy.tidy(() => hy.sum(a.forward(x)).backward());
  assert.ok(a.parameters().every((p) => p.grad !== null));
  const g = a.parameters()[0].grad!;
  a.zeroGrad();
  assert.ok(a.parameters().every((p) => p.grad === null));
  assert.ok(g.isDisposed, 'the old gradient is freed');
  a.dispose();
  b.dispose();
  assert.ok(a.parameters().every((p) => p.isDisposed));
});

eachBackend(s, 'train / eval switch dropout and batch norm; to(dtype) casts parameters', async (device) => {
  hy.manualSeed(9);
  const drop = new nn.Dropout(0.5);
  const x = hy.ones([1000], { device });
  const yt = drop.forward(x);
  const kept = Array.from(await yt.data()).filter((v) => v !== 0);
  assert.ok(kept.length > 400 && kept.length < 600, `about half kept: ${kept.length}`);
  assert.ok(kept.every((v) => v === 2), 'kept values scaled by 2');
  drop.eval();
  assert.is(drop.training, false);
  assert.is(drop.forward(x), x, 'eval: identity');

  const bn = new nn.BatchNorm2d(2, { device, momentum: 0.5 });
  const img = hy.tensor(Array.from({ length: 2 * 2 * 3 }, (_, i) => i), { shape: [2, 2, 3, 1], device });
  const model = new nn.Sequential(bn, new nn.Flatten());
  const out = model.forward(img);
  assert.equal(out.shape, [2, 6]);
  // training: batch statistics normalise each channel to mean 0
  const o = Array.from(await out.data());
  const ch0 = [0, 1, 2, 6, 7, 8].map((i) => o[i]);
  assertClose([ch0.reduce((p, q) => p + q, 0)], [0], { rtol: 0, atol: 1e-5 }, 'channel 0 mean');
  const rmAfter = Array.from(await bn.runningMean.data());
  // channel 0 values 0,1,2,6,7,8 -> mean 4; channel 1: 3,4,5,9,10,11 -> mean 7; momentum 0.5
  assertClose(rmAfter, [2, 3.5], { rtol: 1e-6, atol: 1e-6 }, 'running mean updated in training');
  model.eval();
  assert.is(bn.training, false, 'eval reaches submodules');
  const e = Array.from(await model.forward(img).data());
  const rv = Array.from(await bn.runningVar.data());
  assertClose([e[0]], [(0 - 2) / Math.sqrt(rv[0] + 1e-5)], { rtol: 1e-5, atol: 1e-5 }, 'eval uses running stats');
  assertClose(Array.from(await bn.runningMean.data()), rmAfter, { rtol: 0, atol: 0 }, 'eval leaves running stats alone');

  const lin = new nn.Linear(8, 4, { device }).to('float16');
  assert.is(lin.weight.dtype, 'float16');
  assert.ok(lin.weight.requiresGrad && lin.weight.isLeaf);
  const y16 = lin.forward(hy.ones([2, 8], { device, dtype: 'float16' }));
  assert.is(y16.dtype, 'float16');
  const bound = 1 / Math.sqrt(8);
  assert.ok(Array.from(await lin.weight.data()).every((v) => Math.abs(v) <= bound), 'Kaiming-uniform bound 1/sqrt(in)');
  const bn16 = new nn.BatchNorm2d(2, { device }).to('float16');
  assert.is(bn16.runningMean.dtype, 'float32', 'statistics stay float32');
  const h = bn16.forward(hy.ones([2, 2, 2, 2], { device, dtype: 'float16' }));
  assert.is(h.dtype, 'float16');
  for (const m of [drop, model, lin, bn16]) m.dispose();
});

s('module constructors check their arguments', () => {
  assertThrows(() => new nn.Linear(0, 3), RangeError, /^Linear: inFeatures must be a positive integer, got 0$/);
  assertThrows(() => new nn.Linear(3, 2, { bias: 1 as never }), TypeError, /^Linear: bias must be a boolean, got 1$/);
  assertThrows(() => new nn.Dropout(2), RangeError, /^Dropout: p must be in \[0, 1\], got 2$/);
  assertThrows(() => new nn.GELU({ approximate: 'fast' as never }), RangeError, /^GELU: approximate must be 'none' or 'tanh', got 'fast'$/);
  assertThrows(() => new nn.BatchNorm2d(3).forward(hy.ones([2, 3])), RangeError, /^BatchNorm2d: expected a 4-D input, got shape \[2, 3\]$/);
});

s.run();
