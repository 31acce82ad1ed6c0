// hy.cuda.CUDAGraph and fit's cudaGraph: capture, replay, the private memory pool, graph-safe
// dropout counters, the calls a capture refuses, and training that replays the step ending where
// eager training does, bit for bit.
import * as assert from 'uvu/assert';

import * as hy from '../lib/index';
import { native } from '../lib/native';
import { cudaOnly, eachBackend, suite } from './harness';

const s = suite('cuda-graph');

const values = (t: hy.Tensor): number[] => Array.from(t.dataSync());

s('without CUDA, capture is a RangeError and isCapturing is false', () => {
  assert.is(hy.cuda.isCapturing(), false);
  const g = new hy.cuda.CUDAGraph();
  assert.throws(() => g.capture(5 as never), /^cuda\.CUDAGraph\.capture: fn must be a function, got 5$/);
  assert.throws(() => g.replay(), /^cuda\.CUDAGraph\.replay: nothing captured/);
  if (!hy.cuda.isAvailable()) assert.throws(() => g.capture(() => 1), (e: Error) => e instanceof RangeError && /need a CUDA device/.test(e.message));
  assert.is(g.captured, false);
  g.dispose(); // nothing to release: no error
});

// The CPU twin of the dropout counter: {seed, base} read from a storage when the op runs gives the
// mask that seed and base + offset give as plain fields, on either backend.
eachBackend(s, 'dropout with a counter storage draws as seed and base + offset do', (device) => {
  const n = 1000;
  const x = hy.ones([n], { device });
  const counter = hy.zeros([4], { dtype: 'int32', device });
  native.run('philoxCounter', { counter: counter.live('t'), seed: 12345, base: 700 });
  const masks: number[][] = [];
  for (const viaCounter of [true, false]) {
    const out = hy.empty([n], { device });
    const mask = hy.empty([Math.ceil(n / 4)], { dtype: 'int32', device });
    native.run('dropout', {
      x: x.live('t'), out: out.live('t'), mask: mask.live('t'), dtype: 'float32', n, p: 0.3,
      seed: viaCounter ? 0 : 12345, offset: viaCounter ? 9 : 709, counter: viaCounter ? counter.live('t') : null,
    });
    masks.push(values(out));
    out.dispose();
    mask.dispose();
  }
  assert.equal(masks[0], masks[1]);
  const kept = masks[0].filter((v) => v !== 0).length;
  assert.ok(kept > 600 && kept < 800, `kept ${kept} of ${n} at p 0.3`);
  for (const v of masks[0]) assert.ok(v === 0 || Math.abs(v - 1 / 0.7) < 1e-6, `value ${v}`);
  assert.throws(() => native.run('philoxCounter', { counter: hy.zeros([3], { dtype: 'int32', device }).live('t'), seed: 1, base: 2 }), /counter/);
  x.dispose();
  counter.dispose();
});

cudaOnly(s, 'a captured graph replays on the static inputs, and copy_ feeds it new data', () => {
  const x = hy.tensor([1, 2, 3, 4], { device: 'cuda' });
  const g = new hy.cuda.CUDAGraph();
  const y = g.capture(() => hy.tidy(() => hy.mul(x, 2).add(1)));
  assert.ok(g.captured);
  assert.is(hy.cuda.isCapturing(), false);
  g.replay();
  assert.equal(values(y), [3, 5, 7, 9]);
  x.copy_(hy.tensor([10, 20, 30, 40]));
  g.replay();
  assert.equal(values(y), [21, 41, 61, 81]);
  assert.throws(() => g.capture(() => x), /already captured/);
  g.dispose();
  assert.equal(values(y), [21, 41, 61, 81], 'the static output outlives the graph');
  assert.throws(() => g.replay(), /nothing captured/);
  for (const t of [x, y]) t.dispose();
});

cudaOnly(s, 'memory the capture used is not handed to eager tensors while the graph lives', () => {
  // 12 MiB: every block is a segment of its own, so the freed intermediate's is wholly free
  const n = 3 << 20;
  const x = hy.full([n], 1, { device: 'cuda' });
  const g = new hy.cuda.CUDAGraph();
  // The intermediate is freed inside the capture: a shared cache would give its block away.
  const y = g.capture(() => hy.tidy(() => hy.mul(x, 3).add(1)));
  hy.memory.emptyCache('cuda'); // keeps the pool's segments: the graph still writes them
  const eager = Array.from({ length: 4 }, (_, i) => hy.full([n], 100 + i, { device: 'cuda' }));
  g.replay();
  g.replay();
  hy.cuda.synchronize();
  eager.forEach((t, i) => assert.ok(values(t).every((v) => v === 100 + i), `eager tensor ${i} was overwritten by a replay`));
  assert.ok(values(y).every((v) => v === 4));
  g.dispose();
  const after = hy.full([n], 7, { device: 'cuda' }); // the pool is ordinary cache again
  assert.ok(values(after).every((v) => v === 7));
  for (const t of [x, y, after, ...eager]) t.dispose();
});

cudaOnly(s, 'capturing again after dispose reuses the old pool: reserved memory does not grow per capture', () => {
  const x = hy.full([1 << 18], 2, { device: 'cuda' }); // 1 MiB: intermediates come from large segments
  const capture = (): [hy.cuda.CUDAGraph, hy.Tensor] => {
    const g = new hy.cuda.CUDAGraph();
    const y = g.capture(() => hy.tidy(() => hy.mul(x, 3).add(1).mul(2)));
    g.replay();
    return [g, y];
  };
  const reserved: number[] = [];
  for (let i = 0; i < 5; i++) {
    const [g, y] = capture();
    assert.ok(values(y).every((v) => v === 14));
    g.dispose();
    y.dispose();
    reserved.push(hy.memory.stats('cuda').reservedBytes);
  }
  assert.is(reserved[4], reserved[1], `reserved bytes per capture: ${reserved.join(', ')}`);
  x.dispose();
});

cudaOnly(s, 'a graph disposed during another capture is released after it, and the capture still works', () => {
  const x = hy.ones([1024], { device: 'cuda' });
  const first = new hy.cuda.CUDAGraph();
  const a = first.capture(() => hy.mul(x, 2));
  const second = new hy.cuda.CUDAGraph();
  const b = second.capture(() => {
    first.dispose(); // deferred until this capture ends
    return hy.mul(x, 3);
  });
  second.replay();
  assert.ok(values(b).every((v) => v === 3));
  assert.throws(() => first.replay(), /nothing captured/);
  for (const t of [second, x, a, b]) t.dispose();
});

cudaOnly(s, 'dropout in a graph draws fresh masks per replay, the same as eager steps from the same seed', () => {
  const z = hy.ones([64], { device: 'cuda' });
  hy.manualSeed(5);
  const g = new hy.cuda.CUDAGraph();
  const d = g.capture(() => hy.nn.functional.dropout(z, { p: 0.5 }));
  const replayed: number[][] = [];
  for (let i = 0; i < 3; i++) {
    g.replay();
    replayed.push(values(d));
  }
  hy.manualSeed(5);
  const eager = [0, 1, 2].map(() => {
    const t = hy.nn.functional.dropout(z, { p: 0.5 });
    const v = values(t);
    t.dispose();
    return v;
  });
  assert.equal(replayed, eager);
  assert.not.equal(replayed[0], replayed[1], 'two replays drew the same mask');
  g.dispose();
  z.dispose();
  d.dispose();
});

cudaOnly(s, 'reads, host copies, synchronisation, random tensors and unseen autotune shapes are refused during a capture', () => {
  const x = hy.ones([8], { device: 'cuda' });
  const refused: [string, () => unknown, RegExp][] = [
    ['dataSync', () => hy.mul(x, 2).dataSync(), /^read of a GPU tensor: not allowed while a CUDA graph is being captured/],
    ['to cpu', () => hy.mul(x, 2).to('cpu'), /copy between the host and the GPU: not allowed while a CUDA graph/],
    ['from host', () => hy.tensor([1, 2], { device: 'cuda' }), /not allowed while a CUDA graph is being captured/],
    ['synchronize', () => hy.cuda.synchronize(), /^synchronize: not allowed while a CUDA graph is being captured/],
    ['event', () => new hy.cuda.Event().record(), /^cuda\.Event\.record: not allowed/],
    ['rand', () => hy.rand([4], { device: 'cuda' }), /^rand: random numbers drawn while a CUDA graph is being captured would be the same on every replay/],
    ['async', () => Promise.resolve(1), /fn must be synchronous/],
  ];
  for (const [what, fn, pattern] of refused) {
    const g = new hy.cuda.CUDAGraph();
    assert.throws(() => g.capture(fn), pattern, what);
    assert.is(g.captured, false, what);
    assert.is(hy.cuda.isCapturing(), false, `${what}: the capture ended`);
  }
  // after every refusal, a capture works
  const g = new hy.cuda.CUDAGraph();
  const y = g.capture(() => hy.mul(x, 5));
  g.replay();
  assert.equal(values(y), new Array(8).fill(5));
  const inner = new hy.cuda.CUDAGraph();
  const outer = new hy.cuda.CUDAGraph();
  assert.throws(() => outer.capture(() => inner.capture(() => hy.mul(x, 2))), /graphs do not nest/);
  assert.is(hy.cuda.isCapturing(), false);
  for (const t of [g, x, y]) t.dispose();
});

cudaOnly(s, 'the autotuner refuses to time a new shape inside a capture, and a warmed-up conv captures', () => {
  const w = hy.randn([4, 1, 3, 3], { device: 'cuda' });
  const x = hy.randn([2, 1, 9, 9], { device: 'cuda' });
  const fresh = hy.randn([2, 1, 11, 11], { device: 'cuda' });
  const g = new hy.cuda.CUDAGraph();
  assert.throws(() => g.capture(() => hy.nn.functional.conv2d(fresh, w)), /the autotuner has not timed this shape yet/);
  const eager = hy.nn.functional.conv2d(x, w);
  const y = g.capture(() => hy.nn.functional.conv2d(x, w));
  g.replay();
  assert.equal(values(y), values(eager));
  for (const t of [g, w, x, fresh, eager, y]) t.dispose();
});

async function train(cudaGraph: boolean, amp: boolean): Promise<{ weights: number[][]; losses: number[]; graph?: { captures: number; replays: number } }> {
  hy.manualSeed(3);
  const n = 300; // four batches of 64 and a partial one of 44, which runs eagerly
  const xs = hy.randn([n, 1, 28, 28]);
  const ys = hy.randint(0, 10, [n]);
  const loader = new hy.data.DataLoader(new hy.data.TensorDataset(xs, ys), { batchSize: 64, shuffle: true, seed: 2, device: 'cuda' });
  const model = new hy.nn.Sequential(new hy.nn.Flatten(), new hy.nn.Linear(784, 32), new hy.nn.ReLU(), new hy.nn.Dropout(0.5), new hy.nn.Linear(32, 10)).to('cuda');
  const optimizer = new hy.optim.Adam(model.parameters(), { lr: 0.01 });
  const scheduler = new hy.optim.StepLR(optimizer, { stepSize: 1, gamma: 0.5 });
  try {
    const r = await hy.train.fit(model, loader, { epochs: 3, optimizer, scheduler, cudaGraph, amp, progress: 'none', lossEvery: 1 });
    return { weights: model.parameters().map(values), losses: r.epochs.map((e) => e.trainLoss), graph: r.cudaGraph };
  } finally {
    await loader.close();
    optimizer.dispose();
    model.dispose();
    xs.dispose();
    ys.dispose();
  }
}

for (const amp of [false, true]) {
  cudaOnly(s, `fit with cudaGraph ends where eager fit does, bit for bit (dropout, Adam, StepLR, a partial batch${amp ? ', amp' : ''})`, async () => {
    const eager = await train(false, amp);
    const graphed = await train(true, amp);
    assert.equal(graphed.weights, eager.weights);
    assert.equal(graphed.losses, eager.losses);
    assert.is(eager.graph, undefined);
    // 15 steps: the first two eager, then a capture per learning rate (3 epochs), the partial batches eager
    assert.equal(graphed.graph, { captures: 3, replays: 10 });
  });
}

s('fit refuses cudaGraph on the CPU and with a per-batch scheduler', async () => {
  const model = new hy.nn.Linear(4, 2);
  const optimizer = new hy.optim.SGD(model.parameters(), { lr: 0.1 });
  const loader = new hy.data.DataLoader(new hy.data.TensorDataset(hy.randn([8, 4]), hy.zeros([8], { dtype: 'int32' })), { batchSize: 4 });
  const rejects = async (p: Promise<unknown>, pattern: RegExp): Promise<void> => {
    try {
      await p;
    } catch (e) {
      assert.instance(e, RangeError);
      assert.match((e as Error).message, pattern);
      return;
    }
    assert.unreachable('fit resolved');
  };
  await rejects(hy.train.fit(model, loader, { epochs: 1, optimizer, cudaGraph: true, progress: 'none' }), /^fit: cudaGraph needs the model on a CUDA device \(it is on cpu\)$/);
  await rejects(hy.train.fit(model, loader, { epochs: 1, optimizer, cudaGraph: true, schedulerStep: 'batch', progress: 'none' }), /^fit: cudaGraph with schedulerStep 'batch'/);
  await rejects(hy.train.fit(model, loader, { epochs: 1, optimizer, cudaGraph: 1 as never, progress: 'none' }).catch((e: Error) => {
    throw new RangeError(`${e.constructor.name}: ${e.message}`);
  }), /^TypeError: fit: cudaGraph must be a boolean/);
  await loader.close();
});

s('copy_ converts dtypes, crosses devices and checks its arguments', () => {
  const dst = hy.zeros([2, 2]);
  dst.copy_(hy.tensor([[1.5, 2], [3, 4]], { dtype: 'float16' }));
  assert.equal(values(dst), [1.5, 2, 3, 4]);
  assert.throws(() => dst.copy_(hy.zeros([4])), /^copy_: src has shape \[4\], this tensor's is \[2, 2\]$/);
  assert.throws(() => dst.copy_([1, 2] as never), /^copy_: src must be a Tensor/);
  assert.throws(() => dst.copy_(dst, { nonBlocking: 1 as never }), /nonBlocking must be a boolean/);
  const leaf = hy.zeros([2], { requiresGrad: true });
  assert.throws(() => leaf.copy_(hy.ones([2])), /leaf that requires grad/);
  hy.noGrad(() => leaf.copy_(hy.ones([2])));
  assert.equal(values(leaf), [1, 1]);
  if (hy.cuda.isAvailable()) {
    const d = hy.zeros([2, 2], { device: 'cuda' });
    d.copy_(dst);
    assert.equal(values(d), [1.5, 2, 3, 4]);
    d.dispose();
  }
  dst.dispose();
  leaf.dispose();
});

s.run();
