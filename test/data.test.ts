import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

import * as hy from '../lib/index';
import type { Tensor } from '../lib/index';
import { resetPinnedNotice } from '../lib/data/dataloader';
import { SlowDataset, DyingDataset, FIXTURES, RangeDataset, ThrowingDataset, UncaughtDataset } from './data-fixtures';
import { assertThrows, collectGarbage, eachBackend, suite } from './harness';

const s = suite('data');

/** Runs one epoch, returning [x values, y values, batch sizes] and disposing the batches. */
async function epoch(loader: hy.data.DataLoader): Promise<{ xs: number[]; ys: number[]; sizes: number[] }> {
  const xs: number[] = [];
  const ys: number[] = [];
  const sizes: number[] = [];
  for await (const [x, y] of loader) {
    sizes.push(x.shape[0]);
    xs.push(...(await x.data()));
    ys.push(...(await y.data()));
    x.dispose();
    y.dispose();
  }
  return { xs, ys, sizes };
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection, the promise resolved');
}

// ---- datasets ----

s('TensorDataset gives rows of its tensors, singly and in batches', () => {
  const x = hy.tensor([[1, 2], [3, 4], [5, 6]]);
  const y = hy.tensor(new Int32Array([7, 8, 9]));
  const ds = new hy.data.TensorDataset(x, y);
  assert.is(ds.length, 3);
  const [x1, y1] = ds.get(1);
  assert.equal(Array.from(x1 as Float32Array), [3, 4]);
  assert.is(y1, 8);
  const [bx, by] = ds.getBatch([2, 0]);
  assert.equal(bx, { data: new Float32Array([5, 6, 1, 2]), shape: [2, 2], dtype: 'float32' });
  assert.equal(by, { data: new Int32Array([9, 7]), shape: [2], dtype: 'int32' });
  assertThrows(() => ds.get(3), RangeError, /^TensorDataset: index 3 is out of range for 3 samples$/);
  assertThrows(() => new hy.data.TensorDataset(x, hy.zeros([2])), RangeError, /^TensorDataset: tensor 1 has 2 rows, tensor 0 has 3; all need the same first dimension$/);
  x.dispose();
  y.dispose();
});

s('defaultCollate stacks fields; Int32Array fields stay int32, numbers become float32', () => {
  const b = hy.data.defaultCollate([
    [new Int32Array([1, 2]), 0.5, [1, 2, 3]],
    [new Int32Array([3, 4]), 1.5, [4, 5, 6]],
  ]);
  assert.equal(b, [
    { data: new Int32Array([1, 2, 3, 4]), shape: [2, 2], dtype: 'int32' },
    { data: new Float32Array([0.5, 1.5]), shape: [2], dtype: 'float32' },
    { data: new Float32Array([1, 2, 3, 4, 5, 6]), shape: [2, 3], dtype: 'float32' },
  ]);
  assertThrows(() => hy.data.defaultCollate([[[1, 2]], [[1]]]), RangeError, /^collate: field 0 of sample 1 of the batch has 1 values, expected 2 \(shape \[2\]\)$/);
});

// ---- the loader: order, shuffle, dropLast, every numWorkers ----

for (const numWorkers of [0, 1, 2, 3]) {
  s(`numWorkers ${numWorkers}: every sample once, in order; last partial batch kept or dropped`, async () => {
    const ds = new RangeDataset(37);
    const keep = new hy.data.DataLoader(ds, { batchSize: 8, numWorkers });
    assert.is(keep.numWorkers, numWorkers);
    assert.is(keep.length, 5);
    const a = await epoch(keep);
    assert.equal(a.sizes, [8, 8, 8, 8, 5]);
    assert.equal(a.ys, range(37));
    assert.equal(a.xs, range(37).flatMap((i) => [i, i + 0.5]));
    const drop = new hy.data.DataLoader(ds, { batchSize: 8, numWorkers, dropLast: true });
    assert.is(drop.length, 4);
    const b = await epoch(drop);
    assert.equal(b.sizes, [8, 8, 8, 8]);
    assert.equal(b.ys, range(32));
    assert.is(hy.data.activeWorkers(), 0, 'workers gone after the epoch');
  });
}

s('shuffle with a seed: a permutation per epoch, reproducible, the same for every numWorkers', async () => {
  const ds = new RangeDataset(50);
  const orders: number[][][] = [];
  for (const numWorkers of [0, 2, 3]) {
    const loader = new hy.data.DataLoader(ds, { batchSize: 7, shuffle: true, seed: 1234, numWorkers, persistentWorkers: true });
    const epochs: number[][] = [];
    for (let e = 0; e < 3; e++) {
      const r = await epoch(loader);
      assert.equal(r.sizes, [7, 7, 7, 7, 7, 7, 7, 1]);
      assert.equal([...r.ys].sort((p, q) => p - q), range(50), 'each sample exactly once');
      for (let k = 0; k < 50; k++) assert.equal([r.xs[2 * k], r.xs[2 * k + 1]], [r.ys[k], r.ys[k] + 0.5], 'x and y of one sample stay together');
      epochs.push(r.ys);
    }
    await loader.close();
    assert.not.equal(epochs[0], range(50), 'shuffled');
    assert.not.equal(epochs[0], epochs[1], 'a new order each epoch');
    orders.push(epochs);
  }
  assert.equal(orders[1], orders[0]);
  assert.equal(orders[2], orders[0]);
  const other = await epoch(new hy.data.DataLoader(ds, { batchSize: 50, shuffle: true, seed: 1235, numWorkers: 0 }));
  assert.not.equal(other.ys, orders[0][0], 'another seed, another order');
  const again = new hy.data.DataLoader(ds, { batchSize: 50, shuffle: true, seed: 1234, numWorkers: 0 });
  again.setEpoch(2);
  assert.equal((await epoch(again)).ys, orders[0][2], 'setEpoch replays an epoch');
});

s('shuffle without a seed follows hy.manualSeed', async () => {
  const ds = new RangeDataset(40);
  hy.manualSeed(7);
  const a = await epoch(new hy.data.DataLoader(ds, { batchSize: 40, shuffle: true, numWorkers: 0 }));
  hy.manualSeed(7);
  const b = await epoch(new hy.data.DataLoader(ds, { batchSize: 40, shuffle: true, numWorkers: 0 }));
  const c = await epoch(new hy.data.DataLoader(ds, { batchSize: 40, shuffle: true, numWorkers: 0 }));
  assert.equal(a.ys, b.ys);
  assert.not.equal(c.ys, b.ys);
  assert.equal([...c.ys].sort((p, q) => p - q), range(40));
});

s('custom collate: a function on the main thread, a module export in workers', async () => {
  const ds = new RangeDataset(5);
  const collate = { modulePath: FIXTURES, exportName: 'sumCollate' };
  for (const numWorkers of [0, 2]) {
    const loader = new hy.data.DataLoader(ds, { batchSize: 2, numWorkers, collate });
    const got: number[] = [];
    for await (const [t] of loader) {
      got.push(...t.dataSync());
      t.dispose();
    }
    assert.equal(got, [0.5, 2.5, 4.5, 6.5, 8.5]);
  }
  const fn = (samples: hy.data.Sample[]) => [{ data: new Int32Array(samples.map((x) => x[1] as number)), shape: [samples.length], dtype: 'int32' as const }];
  const loader = new hy.data.DataLoader(ds, { batchSize: 5, collate: fn });
  assert.is(loader.numWorkers, 0, 'a function cannot cross into a worker, so the default is 0 workers');
  for await (const [t] of loader) {
    assert.is(t.dtype, 'int32');
    assert.equal(Array.from(t.dataSync()), [0, 1, 2, 3, 4]);
    t.dispose();
  }
  assertThrows(() => new hy.data.DataLoader(ds, { numWorkers: 1, collate: fn }), TypeError, /^DataLoader: a collate function cannot cross into worker threads/);
});

s('recycled batch buffers never overwrite arrays a dataset returned as its own', async () => {
  const own = new Float32Array([1, 2, 3, 4]);
  const ds = {
    length: 4,
    get: (i: number) => [own[i]],
    getBatch: (idx: ArrayLike<number>) => [{ data: own.subarray(idx[0], idx[0] + idx.length), shape: [idx.length], dtype: 'float32' as const }],
  };
  const loader = new hy.data.DataLoader(ds as never, { batchSize: 2 });
  for (let e = 0; e < 3; e++) {
    const got: number[] = [];
    for await (const [t] of loader) {
      got.push(...t.dataSync());
      t.dispose();
    }
    assert.equal(got, [1, 2, 3, 4]);
  }
  assert.equal(Array.from(own), [1, 2, 3, 4]);
  const pool = new hy.data.BufferPool();
  const a = pool.alloc('float32', 4);
  pool.give(a.buffer);
  assert.is(pool.alloc('int32', 4).buffer, a.buffer, 'a returned buffer is handed out again');
  pool.give(own.buffer);
  assert.is.not(pool.alloc('float32', 4).buffer, own.buffer, 'a foreign buffer is not taken');
});

s('options are checked', () => {
  const ds = new RangeDataset(5);
  assertThrows(() => new hy.data.DataLoader(ds, { batchsize: 2 } as never), TypeError, /^DataLoader: unknown option 'batchsize'/);
  assertThrows(() => new hy.data.DataLoader(ds, { batchSize: 0 }), RangeError, /^DataLoader: batchSize must be an integer >= 1, got 0$/);
  assertThrows(() => new hy.data.DataLoader(ds, { shuffle: 1 } as never), TypeError, /^DataLoader: shuffle must be a boolean, got 1$/);
  const plain = { length: 3, get: (i: number) => [i] };
  assertThrows(() => new hy.data.DataLoader(plain as never, { numWorkers: 2 }), TypeError, /^DataLoader: numWorkers 2 needs the dataset rebuilt in worker threads/);
  assert.is(new hy.data.DataLoader(plain as never).numWorkers, 0, 'no worker source: loads on the main thread by default');
  assert.is(new hy.data.DataLoader(ds).numWorkers, 'auto', "a dataset with a worker source gets 'auto' by default");
  assertThrows(() => new hy.data.DataLoader(ds, { numWorkers: 'some' as never }), TypeError, /^DataLoader: numWorkers must be a number, got 'some'$/);
  if (!hy.cuda.isAvailable()) {
    assertThrows(() => new hy.data.DataLoader(ds, { device: 'cuda' }), Error, /^DataLoader: device 'cuda' was asked for, but CUDA is not available/);
  }
});

// ---- numWorkers 'auto' ----

s("numWorkers 'auto': cheap in-memory batches stay on this thread; every sample once, in order, and describe() says why", async () => {
  const ds = new RangeDataset(50);
  const loader = new hy.data.DataLoader(ds, { batchSize: 4 });
  assert.match(loader.describe(), /numWorkers 'auto' \(decided at the first epoch\)/);
  const seen: number[] = [];
  for await (const [x, y] of loader) {
    seen.push(...Array.from(y.dataSync()));
    x.dispose();
    y.dispose();
  }
  assert.equal(seen, Array.from({ length: 50 }, (_, i) => i));
  assert.is(loader.numWorkers, 0);
  assert.match(loader.describe(), /numWorkers 0 \(auto: collating a batch here took [0-9.]+ ms, less than the 0\.25 ms a worker's hand-off costs/);
});

s("numWorkers 'auto': batches that cost more than a hand-off go to workers after the first ones, still every sample once, in order", async () => {
  const ds = new SlowDataset(40, 200); // 4 samples x 0.2 ms = 0.8 ms a batch
  const loader = new hy.data.DataLoader(ds, { batchSize: 4, persistentWorkers: true });
  try {
    for (let epoch = 0; epoch < 2; epoch++) {
      const seen: number[] = [];
      for await (const [x, y] of loader) {
        seen.push(...Array.from(y.dataSync()));
        x.dispose();
        y.dispose();
      }
      assert.equal(seen, Array.from({ length: 40 }, (_, i) => i), `epoch ${epoch}`);
      assert.ok(typeof loader.numWorkers === 'number' && loader.numWorkers >= 1, `workers chosen: ${loader.numWorkers}`);
    }
    assert.match(loader.describe(), /more than the 0\.25 ms a worker's hand-off costs, so \d+ workers load them/);
  } finally {
    await loader.close();
  }
});

// ---- worker failures and teardown ----

s('a worker that throws rejects the iteration with its message and stack, quickly, and leaves no thread', async () => {
  const loader = new hy.data.DataLoader(new ThrowingDataset(20, 9), { batchSize: 2, numWorkers: 2 });
  const start = Date.now();
  const seen: number[] = [];
  const err = await rejection(
    (async () => {
      for await (const [x, y] of loader) {
        seen.push(...y.dataSync());
        x.dispose();
        y.dispose();
      }
    })(),
  );
  // Quickly: not after the remaining batches or a hang; the bound includes two threads' start-up on a loaded machine.
  assert.ok(Date.now() - start < 10_000, `surfaced after ${Date.now() - start} ms`);
  // sample 9 is in batch 4, which went to worker 4 % 2 = 0
  assert.is(err.message, 'DataLoader worker 0 failed on batch 4: sample 9 is broken');
  assert.match(err.stack ?? '', /--- in worker 0 ---\nError: sample 9 is broken\n\s+at ThrowingDataset.get \(.*data-fixtures\.js/);
  assert.equal(seen, range(8), 'the batches before the broken one arrived, in order');
  assert.is(hy.data.activeWorkers(), 0);
});

s('a worker that dies rejects the iteration naming its exit code, and leaves no thread', async () => {
  const loader = new hy.data.DataLoader(new DyingDataset(20, 4), { batchSize: 2, numWorkers: 2, persistentWorkers: true });
  const err = await rejection(epoch(loader));
  assert.is(err.message, 'DataLoader worker 0 exited unexpectedly with code 3');
  assert.is(hy.data.activeWorkers(), 0, 'a failure ends persistent workers too');
  await loader.close();
});

s('an uncaught error inside a worker rejects the iteration with its message', async () => {
  const loader = new hy.data.DataLoader(new UncaughtDataset(20, 0), { batchSize: 2, numWorkers: 1 });
  const err = await rejection(epoch(loader));
  assert.is(err.message, 'DataLoader worker 0 threw: uncaught in the worker');
  assert.match(err.stack ?? '', /--- in worker 0 ---\nError: uncaught in the worker\n\s+at .*data-fixtures\.js/);
  assert.is(hy.data.activeWorkers(), 0);
});

s('break stops the workers; persistent workers stay, serve the next epoch in full, and stop on close()', async () => {
  const ds = new RangeDataset(64);
  const loader = new hy.data.DataLoader(ds, { batchSize: 4, numWorkers: 2 });
  for await (const batch of loader) {
    for (const t of batch) t.dispose();
    break;
  }
  assert.is(hy.data.activeWorkers(), 0, 'break tore the workers down');

  const persistent = new hy.data.DataLoader(ds, { batchSize: 4, numWorkers: 2, persistentWorkers: true });
  let n = 0;
  for await (const batch of persistent) {
    for (const t of batch) t.dispose();
    if (++n === 2) break;
  }
  assert.is(hy.data.activeWorkers(), 2, 'persistent workers outlive the loop');
  const full = await epoch(persistent);
  assert.equal(full.ys, range(64), 'no batch of the broken-off epoch leaks into the next');
  assert.is(hy.data.activeWorkers(), 2);
  await persistent.close();
  assert.is(hy.data.activeWorkers(), 0);
  assertThrows(() => persistent[Symbol.asyncIterator](), Error, /^DataLoader: the loader was closed$/);
});

eachBackend(s, '100 epochs leave no threads and no memory behind', async (device) => {
  const ds = new RangeDataset(37);
  const pools: Array<'cpu' | 'pinned' | 'cuda'> = ['cpu', ...(hy.cuda.isAvailable() ? (['pinned', 'cuda'] as const) : [])];
  await collectGarbage(); // what earlier tests dropped must not be freed under this baseline
  const base = pools.map((p) => hy.memory.stats(p).liveBytes);
  const loaders = [
    new hy.data.DataLoader(ds, { batchSize: 8, numWorkers: 2, persistentWorkers: true, pinMemory: true, device }),
    new hy.data.DataLoader(ds, { batchSize: 8, numWorkers: 0, pinMemory: true, device }),
  ];
  for (const loader of loaders) {
    for (let e = 0; e < 100; e++) {
      let count = 0;
      for await (const [x, y] of loader) {
        assert.is(x.device, device);
        count += y.shape[0];
        x.dispose();
        y.dispose();
      }
      assert.is(count, 37);
    }
    await loader.close();
  }
  for (let e = 0; e < 10; e++) await epoch(new hy.data.DataLoader(ds, { batchSize: 8, numWorkers: 2, device }));
  if (device === 'cuda') hy.cuda.synchronize();
  assert.equal(
    pools.map((p) => hy.memory.stats(p).liveBytes),
    base,
    `liveBytes of ${pools.join(', ')} back to baseline`,
  );
  assert.is(hy.data.activeWorkers(), 0);
});

eachBackend(s, 'batches arrive on the device with exact values, pinned where CUDA is present', async (device) => {
  const ds = new RangeDataset(10);
  const loader = new hy.data.DataLoader(ds, { batchSize: 4, numWorkers: 1, device, pinMemory: true });
  assert.is(loader.pinMemory, hy.cuda.isAvailable());
  assert.is(loader.nonBlocking, hy.cuda.isAvailable() && device === 'cuda');
  const r = await epoch(loader);
  assert.equal(r.ys, range(10));
  assert.equal(r.xs, range(10).flatMap((i) => [i, i + 0.5]));
  if (device === 'cpu') {
    const [x, y] = (await loader[Symbol.asyncIterator]().next()).value as Tensor[];
    assert.is(x.isPinned, hy.cuda.isAvailable(), 'a cpu batch is the pinned staging tensor itself');
    assert.is(y.dtype, 'int32');
    x.dispose();
    y.dispose();
  }
});

s('pinMemory without CUDA degrades with one notice per process', async () => {
  resetPinnedNotice();
  const warnings: string[] = [];
  const onWarning = (w: Error & { code?: string }) => {
    if (w.code === 'HAYATE_NO_PINNED_MEMORY') warnings.push(w.message);
  };
  process.on('warning', onWarning);
  try {
    const a = new hy.data.DataLoader(new RangeDataset(4), { pinMemory: true, numWorkers: 0 });
    const b = new hy.data.DataLoader(new RangeDataset(4), { nonBlocking: true, pinMemory: true, numWorkers: 0 });
    await new Promise((r) => setImmediate(r));
    if (hy.cuda.isAvailable()) {
      assert.equal(warnings, []);
      assert.ok(a.pinMemory && b.pinMemory);
    } else {
      assert.is(warnings.length, 1);
      assert.match(warnings[0], /^DataLoader: pinMemory and nonBlocking need CUDA, which is not available \(.+\); batches use ordinary host memory and blocking copies$/);
      assert.ok(!a.pinMemory && !b.pinMemory && !b.nonBlocking);
    }
  } finally {
    process.off('warning', onWarning);
  }
});

// ---- MNIST ----

const packageDigits = (() => {
  let cache: number[][] | undefined;
  return () => (cache ??= range(10).map((c) => (JSON.parse(readFileSync(require.resolve(`mnist/src/digits/${c}.json`), 'utf8')) as { data: number[] }).data));
})();

s('MNIST from the mnist package: a 6:1 split of its 10,000 digits, exact pixels and labels', () => {
  const digits = packageDigits();
  const counts = digits.map((d) => d.length / 784);
  assert.is(counts.reduce((a, b) => a + b, 0), 10000);
  const testCount = counts.reduce((a, n) => a + Math.floor(n / 7), 0); // indices 6, 13, ... of each class
  const train = new hy.data.MNIST();
  const test = new hy.data.MNIST({ train: false });
  assert.is(test.length, testCount);
  assert.is(train.length, 10000 - testCount);
  assert.equal(Array.from(train.labels.subarray(0, 12)), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
  const perClass = new Array(10).fill(0);
  for (const l of train.labels) perClass[l]++;
  for (const l of test.labels) perClass[l]++;
  assert.equal(perClass, counts);
  // train sample 11 is digit 1 of class 1; test sample 2 is digit 6 of class 2
  const expectPixels = (cls: number, j: number, normalize: boolean) =>
    range(784).map((k) => {
      const v = Math.round(digits[cls][j * 784 + k] * 255) / 255;
      return Math.fround(normalize ? (v - 0.1307) / 0.3081 : v);
    });
  const [x, y] = train.get(11);
  assert.is(y, 1);
  assert.equal(Array.from(x as Float32Array), expectPixels(1, 1, true));
  const [tx, ty] = test.get(2);
  assert.is(ty, 2);
  assert.equal(Array.from(tx as Float32Array), expectPixels(2, 6, true));
  const raw = new hy.data.MNIST({ transform: null });
  assert.equal(Array.from(raw.get(11)[0] as Float32Array), expectPixels(1, 1, false));
  assert.equal(train.fields(), [
    { shape: [1, 28, 28], dtype: 'float32' },
    { shape: [], dtype: 'int32' },
  ]);
});

s('MNIST through 2 workers gives the same batches as the main thread', async () => {
  const ds = new hy.data.MNIST({ train: false });
  const main = new hy.data.DataLoader(ds, { batchSize: 64, shuffle: true, seed: 3, numWorkers: 0 });
  const workers = new hy.data.DataLoader(ds, { batchSize: 64, shuffle: true, seed: 3, numWorkers: 2 });
  const a = await epoch(main);
  const b = await epoch(workers);
  assert.is(a.sizes.length, Math.ceil(ds.length / 64));
  assert.equal(b.ys, a.ys);
  assert.ok(
    b.xs.every((v, i) => v === a.xs[i]),
    'identical pixels',
  );
  assert.equal([...a.ys].sort((p, q) => p - q), Array.from(ds.labels).sort((p, q) => p - q));
});

// ---- IDX files ----

function idxBytes(magic: number, dims: number[], body: number[]): Buffer {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head.writeUInt32BE(magic, 0);
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([head, Buffer.from(body)]);
}

s('MNIST reads IDX files, plain and gzip, from a folder', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hy-idx-'));
  try {
    const pixels = range(3 * 2 * 2).map((i) => (i * 23) % 256);
    writeFileSync(join(dir, 'train-images-idx3-ubyte'), idxBytes(0x803, [3, 2, 2], pixels));
    writeFileSync(join(dir, 'train-labels-idx1-ubyte.gz'), gzipSync(idxBytes(0x801, [3], [7, 0, 9])));
    writeFileSync(join(dir, 't10k-images-idx3-ubyte.gz'), gzipSync(idxBytes(0x803, [1, 2, 2], [0, 255, 51, 102])));
    writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), idxBytes(0x801, [1], [4]));
    const train = new hy.data.MNIST({ root: dir, transform: null });
    assert.is(train.length, 3);
    assert.equal([train.rows, train.cols], [2, 2]);
    assert.equal(Array.from(train.labels), [7, 0, 9]);
    assert.equal(Array.from(train.get(2)[0] as Float32Array), pixels.slice(8).map((p) => Math.fround(p / 255)));
    const test = new hy.data.MNIST({ root: dir, train: false });
    assert.equal(Array.from(test.get(0)[0] as Float32Array), [0, 255, 51, 102].map((p) => Math.fround((p / 255 - 0.1307) / 0.3081)));
    assert.is(test.get(0)[1], 4);

    const idx = hy.data.readIdx(join(dir, 't10k-images-idx3-ubyte.gz'));
    assert.equal(idx, { type: 'uint8', dims: [1, 2, 2], data: new Uint8Array([0, 255, 51, 102]) });
    hy.data.writeIdx(join(dir, 'f.idx.gz'), new Float32Array([1.5, -2, 3e-8]), [3], { gzip: true });
    assert.equal(hy.data.readIdx(join(dir, 'f.idx.gz')), { type: 'float32', dims: [3], data: new Float32Array([1.5, -2, 3e-8]) });
    hy.data.writeIdx(join(dir, 'i.idx'), new Int32Array([-5, 70000]), [1, 2]);
    assert.equal(readFileSync(join(dir, 'i.idx')), Buffer.from([0, 0, 0x0c, 2, 0, 0, 0, 1, 0, 0, 0, 2, 0xff, 0xff, 0xff, 0xfb, 0, 1, 0x11, 0x70]));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

s('a truncated, corrupt or wrong-magic IDX file is an error naming the file and the fault', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hy-idx-'));
  try {
    const f = (name: string) => join(dir, name);
    writeFileSync(f('short'), idxBytes(0x803, [3, 2, 2], range(11)));
    assertThrows(() => hy.data.readIdx(f('short')), Error, new RegExp(`^readIdx: ${f('short')} is truncated: dimensions 3 x 2 x 2 of uint8 need 12 bytes of data after the 16-byte header, the file has 11$`));
    writeFileSync(f('head'), idxBytes(0x803, [3, 2, 2], []).subarray(0, 10));
    assertThrows(() => hy.data.readIdx(f('head')), Error, new RegExp(`^readIdx: ${f('head')} is truncated: 10 bytes, too short for the 16-byte header of 3 dimensions$`));
    writeFileSync(f('magic'), idxBytes(0x12345678, [1], [1]));
    assertThrows(() => hy.data.readIdx(f('magic')), Error, new RegExp(`^readIdx: ${f('magic')} is not an IDX file: magic number 0x12345678 \\(expected 0x0000`));
    writeFileSync(f('long'), idxBytes(0x801, [2], [1, 2, 3]));
    assertThrows(() => hy.data.readIdx(f('long')), Error, new RegExp(`^readIdx: ${f('long')} has 1 bytes after the data that dimensions 2 of uint8 describe$`));
    const gz = gzipSync(idxBytes(0x801, [200], range(200)));
    writeFileSync(f('cut.gz'), gz.subarray(0, gz.length - 10));
    assertThrows(() => hy.data.readIdx(f('cut.gz')), Error, new RegExp(`^readIdx: ${f('cut.gz')}: the gzip data is corrupt or truncated \\(`));

    // labels where the images belong: the MNIST loader names the file and the magic it expected
    writeFileSync(f('train-images-idx3-ubyte'), idxBytes(0x801, [2], [1, 2]));
    writeFileSync(f('train-labels-idx1-ubyte'), idxBytes(0x801, [2], [1, 2]));
    assertThrows(
      () => new hy.data.MNIST({ root: dir }),
      Error,
      new RegExp(`^MNIST: ${f('train-images-idx3-ubyte')} holds uint8 values of 1 dimensions, expected images: uint8, 3 dimensions \\(magic 0x00000803\\)$`),
    );
    assertThrows(() => new hy.data.MNIST({ root: dir, train: false }), Error, new RegExp(`^MNIST: neither t10k-images-idx3-ubyte nor t10k-images-idx3-ubyte.gz was found in ${dir}$`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

s.run();
