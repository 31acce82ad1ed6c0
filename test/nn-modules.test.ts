// hy.nn modules: a small MLP that learns, state dicts, zeroGrad, train / eval behaviour.
import * as assert from 'uvu/assert';
import { inspect } from 'node:util';

import * as hy from '../lib/index';
import type { Device, Tensor } from '../lib/index';
import { assertClose, assertThrows, collectGarbage, eachBackend, rng, suite } from './harness';

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

// ---- field registration, ModuleList, printing, the bias-before-batch-norm warning ----

/** Lets the event loop turn (the bias check runs on process.nextTick). */
async function ticks(): Promise<void> {
  for (let i = 0; i < 2; i++) await new Promise((resolve) => setImmediate(resolve));
}

interface WarningCall {
  message: string;
  type?: string;
  code?: string;
}

/** Runs fn with process.emitWarning replaced by a recorder (so nothing prints), through the next ticks. */
async function recordWarnings(fn: () => void | Promise<void>): Promise<WarningCall[]> {
  const calls: WarningCall[] = [];
  const original = process.emitWarning;
  process.emitWarning = ((warning: string | Error, options?: unknown) => {
    const o = typeof options === 'object' && options !== null ? (options as { type?: string; code?: string }) : { type: options as string | undefined };
    calls.push({ message: String(warning), type: o.type, code: o.code });
  }) as typeof process.emitWarning;
  try {
    await fn();
    await ticks();
  } finally {
    process.emitWarning = original;
  }
  return calls;
}

/** CPU live bytes once queued work has finished and dropped tensors were collected. */
async function cpuLiveBytes(): Promise<number> {
  await hy.cpu.synchronize();
  await collectGarbage();
  return hy.memory.stats('cpu').liveBytes;
}

class Block extends nn.Module {
  fc1 = new nn.Linear(4, 3);
  act: hy.nn.Module | null = new nn.ReLU();
  scale = hy.ones([3], { requiresGrad: true });
  /** A plain array is not looked into, as in PyTorch. */
  plain = [new nn.Linear(3, 3)];
  layers = new nn.ModuleList([new nn.Linear(3, 3), new nn.Linear(3, 3)]);
  fc2 = new nn.Linear(3, 2);
  /** A registered buffer reads as a field, as in PyTorch. */
  declare readonly offset: Tensor;
  /** A tensor without requiresGrad assigned to a field is a plain field, as a plain tensor attribute in PyTorch. */
  loose: Tensor | null = null;

  constructor() {
    super();
    this.registerBuffer('offset', hy.zeros([3]));
  }

  forward(x: Tensor): Tensor {
    let h = this.fc1.forward(x);
    if (this.act !== null) h = this.act.forward(h);
    h = hy.add(hy.mul(h, this.scale), this.offset);
    for (const l of this.layers) h = l.forward(h);
    return this.fc2.forward(h);
  }
}

s('a Module subclass registers the Modules and parameters assigned to its fields, in assignment order, by field name', async () => {
  const before = await cpuLiveBytes();
  hy.manualSeed(11);
  // Built inside tidy: registered tensors are kept past the scope.
  const net = hy.tidy(() => new Block());
  assert.equal(net.namedParameters().map(([k, t]) => [k, t.shape]), [
    ['scale', [3]], // the module's own parameters come first, as in PyTorch
    ['fc1.weight', [3, 4]], ['fc1.bias', [3]],
    ['layers.0.weight', [3, 3]], ['layers.0.bias', [3]], ['layers.1.weight', [3, 3]], ['layers.1.bias', [3]],
    ['fc2.weight', [2, 3]], ['fc2.bias', [2]],
  ]);
  assert.ok(net.parameters().every((p) => !p.isDisposed), 'kept past tidy');
  assert.equal(net.namedChildren().map(([k]) => k), ['fc1', 'act', 'layers', 'fc2']);
  assert.equal(net.namedModules().map(([k]) => k), ['', 'fc1', 'act', 'layers', 'layers.0', 'layers.1', 'fc2']);
  assert.equal(net.children(), [net.fc1, net.act, net.layers, net.fc2]);
  assert.equal(net.namedBuffers().map(([k]) => k), ['offset']);
  assert.is(net.buffers()[0], net.offset);
  const sd = net.stateDict();
  assert.equal(Object.keys(sd), [...net.namedParameters().map(([k]) => k), 'offset']);
  for (const t of Object.values(sd)) t.dispose();
  net.loose = hy.zeros([2]);
  assert.ok(!net.parameters().includes(net.loose) && !net.buffers().includes(net.loose), 'not registered');

  // backward reaches every registered parameter, the field one included
  const x = hy.randn([5, 4]);
  hy.tidy(() => hy.sum(net.forward(x)).backward());
  assert.equal(net.namedParameters().filter(([, p]) => p.grad === null).map(([k]) => k), []);
  net.zeroGrad();

  // replacing a field keeps only the new module, in the old one's place
  const old = net.fc1;
  net.fc1 = new nn.Linear(4, 3, { bias: false });
  assert.equal(net.namedParameters().slice(0, 3).map(([k]) => k), ['scale', 'fc1.weight', 'layers.0.weight']);
  assert.equal(net.namedChildren().map(([k]) => k), ['fc1', 'act', 'layers', 'fc2']);
  assert.ok(!net.modules().includes(old));
  old.dispose();

  // null unregisters (the name stays, as PyTorch's None); delete removes it
  net.act = null;
  assert.equal(net.namedChildren().map(([k]) => k), ['fc1', 'layers', 'fc2']);
  net.act = new nn.GELU();
  assert.equal(net.namedChildren().map(([k]) => k), ['fc1', 'act', 'layers', 'fc2'], 'back in its place');
  delete (net as { act?: unknown }).act;
  assert.equal(net.namedChildren().map(([k]) => k), ['fc1', 'layers', 'fc2']);

  // PyTorch's type errors for a wrong value in a registered name
  assertThrows(() => ((net as unknown as Record<string, unknown>).scale = 3), TypeError,
    /^Block: cannot assign 3 to parameter 'scale': expected a leaf tensor that requires grad, or null$/);
  assertThrows(() => ((net as unknown as Record<string, unknown>).fc2 = 'x'), TypeError,
    /^Block: cannot assign 'x' to submodule 'fc2': expected a Module or null$/);
  assertThrows(() => net.registerModule('to', new nn.ReLU()), RangeError, /^registerModule: 'to' is a Module member; choose another name$/);
  assertThrows(() => net.registerModule('a.b', new nn.ReLU()), RangeError, /^registerModule: name must be non-empty and contain no '\.', got 'a\.b'$/);
  assertThrows(() => net.registerParameter('fc2', null), RangeError, /^registerParameter: 'fc2' is already a submodule of this Block$/);
  assertThrows(() => net.registerModule('self', net), TypeError, /^Block: a module cannot be its own submodule \('self'\)$/);

  // to() replaces parameter tensors and the fields that hold them
  net.to('float16');
  assert.is(net.scale.dtype, 'float16');
  assert.is(net.namedParameters()[0][1], net.scale, 'the field holds the registered tensor');
  assert.ok(net.scale.isLeaf && net.scale.requiresGrad);
  assert.is(net.offset.dtype, 'float32', 'buffers keep their dtype');
  assert.is(net.loose.dtype, 'float32', 'an unregistered tensor is left alone');

  net.dispose();
  assert.ok(net.offset.isDisposed && net.scale.isDisposed);
  net.loose.dispose();
  net.plain[0].dispose();
  x.dispose();
  assert.is(await cpuLiveBytes(), before, 'every tensor of the test was freed');
});

s('a module registered explicitly and held in a field, or shared, counts once; registerModule returns its argument typed', async () => {
  class Twice extends nn.Module {
    fc: hy.nn.Linear;
    alias: hy.nn.Linear;
    other: hy.nn.Linear;
    constructor() {
      super();
      // registerModule is generic: the result is a Linear, not a Module
      this.fc = this.registerModule('fc', new nn.Linear(2, 2));
      this.alias = this.fc;
      this.other = this.registerModule('renamed', new nn.Linear(2, 1));
    }
    forward(x: Tensor): Tensor {
      return this.other.forward(this.fc.forward(x));
    }
  }
  const t = new Twice();
  assert.equal(t.namedParameters().map(([k]) => k), ['fc.weight', 'fc.bias', 'renamed.weight', 'renamed.bias']);
  assert.equal(t.namedChildren().map(([k]) => k), ['fc', 'renamed'], 'each module once, under its first name');
  assert.is(t.parameters().length, 4);
  const y = t.forward(hy.ones([1, 2]));
  assert.equal(y.shape, [1, 1]);
  y.dispose();

  const shared = new nn.Linear(2, 2);
  const seq = new nn.Sequential(shared, new nn.ReLU(), shared);
  assert.equal(seq.namedParameters().map(([k]) => k), ['0.weight', '0.bias']);
  assert.is(seq.length, 3, 'the container still runs it twice');
  assert.is(seq.at(2), shared);
  assert.equal([...seq], [shared, seq.at(1), shared]);
  seq.to('float16');
  assert.is(shared.weight.dtype, 'float16');
  assert.is(seq.parameters().length, 2, 'still one tensor per parameter after to()');
  seq.append(new nn.Flatten());
  assert.equal(seq.namedChildren().map(([k]) => k), ['0', '1', '3']);
  assertThrows(() => seq.at(4), RangeError, /^Sequential\.at: index 4 is out of range for 4 modules$/);
  assert.is((seq as unknown as Record<string, unknown>)['0'], shared, 'children are fields too (seq[0])');
  t.dispose();
  seq.dispose();
});

s('ModuleList registers its modules; append, extend, insert, at, iteration; it has no forward', () => {
  const list = new nn.ModuleList<hy.nn.Module>([new nn.Linear(2, 2), new nn.ReLU()]);
  list.append(new nn.ReLU());
  list.insert(0, new nn.Flatten());
  list.extend([new nn.GELU()]);
  assert.is(list.length, 5);
  assert.equal([...list].map((m) => m.constructor.name), ['Flatten', 'Linear', 'ReLU', 'ReLU', 'GELU']);
  assert.equal(list.namedChildren().map(([k]) => k), ['0', '1', '2', '3', '4']);
  assert.equal(list.namedParameters().map(([k]) => k), ['1.weight', '1.bias']);
  assert.is(list.at(-1).constructor.name, 'GELU');
  assert.is(String(list), [
    'ModuleList(',
    '  (0): Flatten(startDim=1, endDim=-1)',
    '  (1): Linear(inFeatures=2, outFeatures=2, bias=true)',
    '  (2-3): 2 x ReLU()',
    '  (4): GELU()',
    ')',
  ].join('\n'));
  assert.is(String(new nn.ModuleList()), 'ModuleList()');
  assertThrows(() => list.forward(), TypeError, /^ModuleList: a ModuleList has no forward; call its modules from your own forward$/);
  assertThrows(() => list.at(5), RangeError, /^ModuleList\.at: index 5 is out of range for 5 modules$/);
  assertThrows(() => list.append(3 as never), TypeError, /^registerModule: '5' must be a Module, got 3$/);
  const typed = new nn.ModuleList([new nn.Linear(3, 3)]);
  assert.equal(typed.at(0).weight.shape, [3, 3], 'at() returns the element type');
  list.dispose();
  typed.dispose();
});

s('printing: each layer shows its options as PyTorch does, containers nest with two-space indents', () => {
  const made: hy.nn.Module[] = [];
  const str = (m: hy.nn.Module): string => {
    made.push(m);
    return String(m);
  };
  assert.is(str(new nn.Linear(784, 128)), 'Linear(inFeatures=784, outFeatures=128, bias=true)');
  assert.is(str(new nn.Linear(3, 2, { bias: false })), 'Linear(inFeatures=3, outFeatures=2, bias=false)');
  assert.is(str(new nn.Conv2d(1, 32, 3)), 'Conv2d(1, 32, kernelSize=[3, 3], stride=[1, 1])');
  assert.is(str(new nn.Conv2d(32, 64, [3, 5], { stride: 2, padding: 1, dilation: [2, 1], groups: 2, bias: false })),
    'Conv2d(32, 64, kernelSize=[3, 5], stride=[2, 2], padding=[1, 1], dilation=[2, 1], groups=2, bias=false)');
  assert.is(str(new nn.Conv2d(4, 4, 3, { padding: 'same', stride: [1, 1], dilation: 1, groups: 1 })), "Conv2d(4, 4, kernelSize=[3, 3], stride=[1, 1], padding='same')");
  assert.is(str(new nn.ReLU()), 'ReLU()');
  assert.is(str(new nn.GELU()), 'GELU()');
  assert.is(str(new nn.GELU({ approximate: 'tanh' })), "GELU(approximate='tanh')");
  assert.is(str(new nn.Dropout()), 'Dropout(p=0.5)');
  assert.is(str(new nn.Dropout(0.25)), 'Dropout(p=0.25)');
  assert.is(str(new nn.MaxPool2d(2)), 'MaxPool2d(kernelSize=2, stride=2, padding=0)');
  assert.is(str(new nn.MaxPool2d([3, 3], { stride: 1, padding: 1 })), 'MaxPool2d(kernelSize=[3, 3], stride=1, padding=1)');
  assert.is(str(new nn.BatchNorm2d(32)), 'BatchNorm2d(32, eps=1e-05, momentum=0.1, affine=true, trackRunningStats=true)');
  assert.is(str(new nn.BatchNorm1d(8, { eps: 1e-3, momentum: 0.01, affine: false })), 'BatchNorm1d(8, eps=0.001, momentum=0.01, affine=false, trackRunningStats=true)');
  assert.is(str(new nn.Flatten()), 'Flatten(startDim=1, endDim=-1)');
  assert.is(str(new nn.LogSoftmax(1)), 'LogSoftmax(dim=1)');

  const seq = new nn.Sequential(new nn.Linear(784, 128), new nn.ReLU());
  made.push(seq);
  assert.is(String(seq), 'Sequential(\n  (0): Linear(inFeatures=784, outFeatures=128, bias=true)\n  (1): ReLU()\n)');
  assert.is(inspect(seq), String(seq), 'console.log prints the same');
  assert.is(`${seq}`, String(seq));

  class Net extends nn.Module {
    features = new nn.Sequential(new nn.Conv2d(1, 8, 3, { bias: false }), new nn.BatchNorm2d(8), new nn.ReLU());
    head = new nn.Linear(8, 2);
    factor = 2;
    override extraRepr(): string {
      return `factor=${this.factor}`;
    }
    forward(x: Tensor): Tensor {
      return this.head.forward(this.features.forward(x));
    }
  }
  const net = new Net();
  made.push(net);
  assert.is(String(net), [
    'Net(',
    '  factor=2',
    '  (features): Sequential(',
    '    (0): Conv2d(1, 8, kernelSize=[3, 3], stride=[1, 1], bias=false)',
    '    (1): BatchNorm2d(8, eps=1e-05, momentum=0.1, affine=true, trackRunningStats=true)',
    '    (2): ReLU()',
    '  )',
    '  (head): Linear(inFeatures=8, outFeatures=2, bias=true)',
    ')',
  ].join('\n'));
  assert.is(inspect(net), String(net));
  class Leaf extends nn.Module {
    override extraRepr(): string {
      return 'k=1';
    }
    forward(x: Tensor): Tensor {
      return x;
    }
  }
  assert.is(String(new Leaf()), 'Leaf(k=1)', 'one extra line and no children: on one line');
  for (const m of made) m.dispose();
});

s('a Linear or Conv2d with a bias feeding a batch norm warns once per layer, naming its path', async () => {
  const made: hy.nn.Module[] = [];
  const calls = await recordWarnings(async () => {
    const seq = new nn.Sequential(new nn.Linear(4, 8), new nn.BatchNorm1d(8), new nn.ReLU(), new nn.Linear(8, 8, { bias: false }), new nn.BatchNorm1d(8));
    class Net extends nn.Module {
      features = new nn.Sequential(new nn.Conv2d(1, 4, 3, { bias: false }), new nn.BatchNorm2d(4), new nn.ReLU(), new nn.Conv2d(4, 4, 3), new nn.BatchNorm2d(4));
      conv = new nn.Conv2d(4, 4, 1);
      bn = new nn.BatchNorm2d(4);
      head = new nn.Linear(4, 2);
      forward(x: Tensor): Tensor {
        return x;
      }
    }
    const net = new Net();
    // a biased layer followed by something else, or last: no warning
    const fine = new nn.Sequential(new nn.Linear(4, 4), new nn.ReLU(), new nn.BatchNorm1d(4), new nn.Linear(4, 4));
    made.push(seq, net, fine);
    await ticks();
    // forward passes, walks and a new child do not warn again
    const x = hy.randn([3, 4]);
    for (let i = 0; i < 3; i++) hy.tidy(() => seq.forward(x)).dispose();
    seq.parameters();
    net.eval();
    seq.append(new nn.ReLU());
    x.dispose();
  });
  const ours = calls.filter((c) => c.code === 'HAYATE_BIAS_BEFORE_BATCHNORM');
  assert.equal(ours.map((c) => c.type), ['HayateWarning', 'HayateWarning', 'HayateWarning'], JSON.stringify(calls));
  assert.is(ours[0].message, "Linear '0' feeds BatchNorm1d '1' and has a bias: the bias is redundant, because the batch norm's mean subtraction cancels it; set bias: false on the layer");
  assert.match(ours[1].message, /^Conv2d 'features\.3' feeds BatchNorm2d 'features\.4' and has a bias: the bias is redundant/);
  assert.match(ours[2].message, /^Conv2d 'conv' feeds BatchNorm2d 'bn' and has a bias/);
  for (const m of made) m.dispose();
});

s.run();
