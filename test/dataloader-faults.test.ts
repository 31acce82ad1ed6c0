// DataLoader faults: async datasets (a get() that returns a Promise or any thenable), the timeout
// option against stuck workers, iterators that are broken off or dropped, the numWorkers bound,
// and event-loop turns in numWorkers 0 mode (finalizers of undisposed tensors must get to run).
//
// The datasets that workers rebuild live in a CommonJS module this file writes to a temporary
// folder (a worker loads its dataset by module path, and a test file must not be loaded as one).
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';

import * as hy from '../lib/index';
import { MAX_WORKERS } from '../lib/data/dataloader';
import { RangeDataset, SlowDataset } from './data-fixtures';
import { assertThrows, collectGarbage, suite } from './harness';

const s = suite('dataloader-faults');

// harness.ts sets --expose-gc at run time; gc() is read from a fresh context.
const gc = runInNewContext('gc') as () => void;

const FIXTURE_SOURCE = `
const sample = (i) => [new Float32Array([i, i + 0.5]), i];
const FIELDS = [{ shape: [2], dtype: 'float32' }, { shape: [], dtype: 'int32' }];
class Base {
  constructor(n, arg) { this.n = n; this.arg = arg; }
  get length() { return this.n; }
  fields() { return FIELDS; }
  workerSource() { return { modulePath: __filename, exportName: this.constructor.name, args: [this.n, this.arg] }; }
}
/** get(i) resolves after 0-2 ms, so samples settle out of index order. */
class AsyncRange extends Base {
  get(i) { return new Promise((r) => setTimeout(() => r(sample(i)), (i * 7) % 3)); }
}
/** get(i) returns a thenable that is not a Promise. */
class ThenableRange extends Base {
  get(i) { return { then(ok) { setImmediate(() => ok(sample(i))); } }; }
}
/** getBatch() returns a Promise. */
class AsyncBatches extends Base {
  get(i) { return sample(i); }
  getBatch(idx) {
    const n = idx.length;
    const x = new Float32Array(2 * n);
    const y = new Int32Array(n);
    for (let k = 0; k < n; k++) { x[2 * k] = idx[k]; x[2 * k + 1] = idx[k] + 0.5; y[k] = idx[k]; }
    return new Promise((r) => setTimeout(() => r([{ data: x, shape: [n, 2], dtype: 'float32' }, { data: y, shape: [n], dtype: 'int32' }]), 1));
  }
}
/** get(arg) rejects; every other get() resolves. */
class RejectAt extends Base {
  get(i) { return i === this.arg ? Promise.reject(new Error('sample ' + i + ' failed')) : Promise.resolve(sample(i)); }
}
/** get(i) for i >= arg never settles. */
class NeverFrom extends Base {
  get(i) { return i >= this.arg ? new Promise(() => {}) : Promise.resolve(sample(i)); }
}
/** get(arg) never returns: an infinite loop. */
class SpinAt extends Base {
  get(i) { if (i === this.arg) for (;;) {} return sample(i); }
}
/** Takes arg ms to build in a worker (a slow dataset load, or a slow thread start on a loaded machine). */
class SlowStart extends Base {
  constructor(n, arg) {
    super(n, arg);
    if (!require('node:worker_threads').isMainThread) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, arg);
  }
  get(i) { return sample(i); }
}
module.exports = { AsyncRange, ThenableRange, AsyncBatches, RejectAt, NeverFrom, SpinAt, SlowStart };
`;

const dir = mkdtempSync(join(tmpdir(), 'hy-dl-faults-'));
const FIX = join(dir, 'fixtures.js');
writeFileSync(FIX, FIXTURE_SOURCE);
const LIB = join(__dirname, '..', 'lib', 'index.js');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const fx = require(FIX) as Record<string, new (n: number, arg?: number) => hy.data.Dataset>;

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

async function epoch(loader: hy.data.DataLoader): Promise<{ xs: number[]; ys: number[]; sizes: number[] }> {
  const xs: number[] = [];
  const ys: number[] = [];
  const sizes: number[] = [];
  for await (const [x, y] of loader) {
    sizes.push(x.shape[0]);
    xs.push(...x.dataSync());
    ys.push(...y.dataSync());
    x.dispose();
    y.dispose();
  }
  return { xs, ys, sizes };
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection, the promise resolved');
}

const turn = () => new Promise<void>((r) => setImmediate(r));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls cond, collecting garbage between polls, for up to ms; true once it held. */
async function eventually(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await collectGarbage();
    await sleep(10);
  }
  return true;
}

/** Runs fn with an 'unhandledRejection' listener; returns what it caught (after a few turns). */
async function unhandledDuring(fn: () => Promise<void>): Promise<unknown[]> {
  const caught: unknown[] = [];
  const onUnhandled = (reason: unknown) => caught.push(reason);
  process.on('unhandledRejection', onUnhandled);
  try {
    await fn();
    for (let i = 0; i < 3; i++) await turn();
    await sleep(20);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
  return caught;
}

function runChild(script: string, args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const file = join(dir, `child-${Math.random().toString(36).slice(2)}.js`);
  writeFileSync(file, script);
  const t0 = Date.now();
  return new Promise((resolve) => {
    execFile(process.execPath, [...args, file, LIB, FIX], { timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : null;
      resolve({ code, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}

// ---- 1. async datasets ----

for (const numWorkers of [0, 1, 2]) {
  s(`numWorkers ${numWorkers}: a get() that returns a Promise is awaited; every sample once, in order, shuffled or not`, async () => {
    const ds = new fx.AsyncRange(23);
    const plain = await epoch(new hy.data.DataLoader(ds, { batchSize: 4, numWorkers }));
    assert.equal(plain.sizes, [4, 4, 4, 4, 4, 3]);
    assert.equal(plain.ys, range(23));
    assert.equal(plain.xs, range(23).flatMap((i) => [i, i + 0.5]));
    // the same order as a synchronous dataset with the same seed
    const sync = await epoch(new hy.data.DataLoader(new RangeDataset(23), { batchSize: 4, numWorkers: 0, shuffle: true, seed: 5 }));
    const shuffled = await epoch(new hy.data.DataLoader(ds, { batchSize: 4, numWorkers, shuffle: true, seed: 5, prefetch: 3 }));
    assert.equal(shuffled.ys, sync.ys);
    assert.equal(shuffled.xs, sync.xs);
    assert.is(hy.data.activeWorkers(), 0);
  });
}

s('a thenable get(), an async getBatch() and an async collate function are awaited too', async () => {
  for (const numWorkers of [0, 1]) {
    const a = await epoch(new hy.data.DataLoader(new fx.ThenableRange(10), { batchSize: 3, numWorkers }));
    assert.equal(a.ys, range(10), `thenable, numWorkers ${numWorkers}`);
    const b = await epoch(new hy.data.DataLoader(new fx.AsyncBatches(10), { batchSize: 3, numWorkers }));
    assert.equal(b.ys, range(10), `getBatch, numWorkers ${numWorkers}`);
    assert.equal(b.xs, range(10).flatMap((i) => [i, i + 0.5]));
  }
  const collate = async (samples: hy.data.Sample[]) => {
    await sleep(1);
    return [{ data: new Int32Array(samples.map((x) => (x[1] as number) * 2)), shape: [samples.length], dtype: 'int32' as const }];
  };
  const got: number[] = [];
  for await (const [t] of new hy.data.DataLoader(new fx.AsyncRange(7), { batchSize: 2, collate })) {
    got.push(...t.dataSync());
    t.dispose();
  }
  assert.equal(got, range(7).map((i) => 2 * i));
});

for (const numWorkers of [0, 1]) {
  s(`numWorkers ${numWorkers}: a get() that rejects rejects the iteration with its error, and nothing is left unhandled`, async () => {
    let err: Error | undefined;
    let first: Error | undefined;
    const seen: number[] = [];
    const unhandled = await unhandledDuring(async () => {
      const loader = new hy.data.DataLoader(new fx.RejectAt(16, 9), { batchSize: 4, numWorkers });
      err = await rejection(
        (async () => {
          for await (const [x, y] of loader) {
            seen.push(...y.dataSync());
            x.dispose();
            y.dispose();
          }
        })(),
      );
      // the rejection in the very first batch, beside samples that resolve
      first = await rejection(epoch(new hy.data.DataLoader(new fx.RejectAt(8, 2), { batchSize: 4, numWorkers })));
    });
    assert.equal(unhandled.map(String), [], 'no unhandled rejection');
    const where = (batch: number) => (numWorkers === 0 ? '' : `DataLoader worker 0 failed on batch ${batch}: `);
    assert.is(err?.message, `${where(2)}sample 9 failed`);
    assert.is(first?.message, `${where(0)}sample 2 failed`);
    assert.equal(seen, range(8), 'the batches before the failing one arrived');
    assert.is(hy.data.activeWorkers(), 0);
  });
}

s('a rejecting async dataset does not kill the process (a child process catches the error and lives on)', async () => {
  const script = `
    const hy = require(process.argv[2]);
    const fx = require(process.argv[3]);
    (async () => {
      for (const numWorkers of [0, 1]) {
        // sample 1 rejects while samples 0, 2 and 3 of its batch resolve
        const loader = new hy.data.DataLoader(new fx.RejectAt(12, 1), { batchSize: 4, numWorkers });
        try {
          for await (const b of loader) for (const t of b) t.dispose();
          console.log('no error');
        } catch (e) {
          console.log('caught: ' + e.message);
        }
      }
      await new Promise((r) => setTimeout(r, 50));
      console.log('alive');
    })();
  `;
  const r = await runChild(script, [], 30_000);
  assert.is(r.code, 0, `exit code (stderr: ${r.stderr})`);
  assert.is(r.stdout, 'caught: sample 1 failed\ncaught: DataLoader worker 0 failed on batch 0: sample 1 failed\nalive\n');
});

// ---- 2. the timeout option ----

s('timeout is checked: a number of milliseconds from 0 (wait forever) to 2^31 - 1', () => {
  const ds = new RangeDataset(4);
  for (const bad of [-1, NaN, Infinity, 2 ** 31]) {
    assertThrows(
      () => new hy.data.DataLoader(ds, { timeout: bad }),
      RangeError,
      new RegExp(`^DataLoader: timeout must be a number of milliseconds from 0 \\(wait forever\\) to 2147483647, got ${bad}$`),
    );
  }
  assertThrows(() => new hy.data.DataLoader(ds, { timeout: '100' as never }), TypeError, /^DataLoader: timeout must be a number, got '100'$/);
  assert.is(new hy.data.DataLoader(ds).timeout, 0);
  assert.is(new hy.data.DataLoader(ds, { timeout: 12.5 }).timeout, 12.5);
});

for (const persistentWorkers of [false, true]) {
  s(`a worker stuck in an infinite loop fails the iteration after the timeout, naming it and the batch, and is terminated${persistentWorkers ? ' (persistent workers)' : ''}`, async () => {
    const base = hy.data.activeWorkers();
    // sample 6 is in batch 1 (batches of 4), which goes to worker 1
    const loader = new hy.data.DataLoader(new fx.SpinAt(20, 6), { batchSize: 4, numWorkers: 2, timeout: 300, persistentWorkers });
    const seen: number[] = [];
    const t0 = Date.now();
    const err = await rejection(
      (async () => {
        for await (const [x, y] of loader) {
          seen.push(...y.dataSync());
          x.dispose();
          y.dispose();
        }
      })(),
    );
    const ms = Date.now() - t0;
    assert.match(err.message, /^DataLoader: batch 1 did not arrive within the timeout of 300 ms \(worker 1\); the workers were terminated$/);
    assert.ok(ms >= 250 && ms < 10_000, `failed after ${ms} ms`);
    assert.equal(seen, range(4));
    assert.is(hy.data.activeWorkers(), base, 'the stuck worker and its sibling were terminated');
    await loader.close();
  });
}

s('a worker whose async get() never settles times out the same way', async () => {
  const loader = new hy.data.DataLoader(new fx.NeverFrom(20, 10), { batchSize: 5, numWorkers: 1, timeout: 200 });
  const err = await rejection(epoch(loader));
  assert.is(err.message, 'DataLoader: batch 2 did not arrive within the timeout of 200 ms (worker 0); the workers were terminated');
  assert.is(hy.data.activeWorkers(), 0);
});

s('the timeout counts a batch from the start of its worker: a dataset that takes 5x the timeout to build still loads', async () => {
  const loader = new hy.data.DataLoader(new fx.SlowStart(12, 500), { batchSize: 4, numWorkers: 2, timeout: 100 });
  const t0 = Date.now();
  const r = await epoch(loader);
  assert.ok(Date.now() - t0 >= 450, 'the workers really took the time to start');
  assert.equal(r.ys, range(12));
  assert.is(hy.data.activeWorkers(), 0);
});

s('numWorkers 0: an async get() that never settles times out, naming the batch', async () => {
  const loader = new hy.data.DataLoader(new fx.NeverFrom(12, 8), { batchSize: 4, numWorkers: 0, timeout: 100 });
  const t0 = Date.now();
  const err = await rejection(epoch(loader));
  assert.is(err.message, 'DataLoader: batch 2 did not arrive within the timeout of 100 ms (numWorkers 0: the dataset\'s Promise did not settle)');
  assert.ok(Date.now() - t0 < 5000);
});

s('with a timeout, healthy epochs run in full and leave no timer behind', async () => {
  const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const before = timers();
  for (const numWorkers of [0, 2]) {
    const r = await epoch(new hy.data.DataLoader(new fx.AsyncRange(30), { batchSize: 4, numWorkers, timeout: 5000 }));
    assert.equal(r.ys, range(30));
    const q = await epoch(new hy.data.DataLoader(new RangeDataset(30), { batchSize: 4, numWorkers, timeout: 5000 }));
    assert.equal(q.ys, range(30));
  }
  await turn();
  assert.is(timers(), before, 'every timeout timer was cleared');
});

// ---- 3. abandoned iterators ----

s('return() without for-await stops non-persistent workers; a persistent iterator returned keeps them', async () => {
  const ds = new RangeDataset(64);
  const loader = new hy.data.DataLoader(ds, { batchSize: 4, numWorkers: 2 });
  const it = loader[Symbol.asyncIterator]();
  const first = await it.next();
  for (const t of first.value as hy.Tensor[]) t.dispose();
  assert.is(hy.data.activeWorkers(), 2);
  await it.return(undefined);
  assert.is(hy.data.activeWorkers(), 0);
  const persistent = new hy.data.DataLoader(ds, { batchSize: 4, numWorkers: 2, persistentWorkers: true });
  const pit = persistent[Symbol.asyncIterator]();
  for (const t of (await pit.next()).value as hy.Tensor[]) t.dispose();
  await pit.return(undefined);
  assert.is(hy.data.activeWorkers(), 2);
  assert.equal((await epoch(persistent)).ys, range(64));
  await persistent.close();
  assert.is(hy.data.activeWorkers(), 0);
});

s('five dropped iterators (next() never called again) stop their workers once collected', async () => {
  const base = hy.data.activeWorkers();
  const loader = new hy.data.DataLoader(new RangeDataset(64), { batchSize: 4, numWorkers: 2 });
  const dropFive = async () => {
    for (let i = 0; i < 5; i++) {
      const it = loader[Symbol.asyncIterator]();
      const r = await it.next();
      for (const t of r.value as hy.Tensor[]) t.dispose();
    }
  };
  await dropFive();
  assert.is(hy.data.activeWorkers(), base + 10, 'ten threads while the iterators may still be in use');
  const gone = await eventually(() => hy.data.activeWorkers() === base, 5000);
  assert.ok(gone, `${hy.data.activeWorkers() - base} threads left after the iterators were collected`);
  // the loader itself still works
  assert.equal((await epoch(loader)).ys, range(64));
  assert.is(hy.data.activeWorkers(), base);
});

s('a dropped iterator of persistent workers keeps them for the next epoch, which is complete', async () => {
  const loader = new hy.data.DataLoader(new RangeDataset(64), { batchSize: 4, numWorkers: 2, persistentWorkers: true });
  await (async () => {
    const it = loader[Symbol.asyncIterator]();
    for (let k = 0; k < 3; k++) for (const t of (await it.next()).value as hy.Tensor[]) t.dispose();
  })();
  await collectGarbage();
  await sleep(20);
  assert.is(hy.data.activeWorkers(), 2);
  assert.equal((await epoch(loader)).ys, range(64), 'no batch of the dropped epoch leaks into the next');
  await loader.close();
  assert.is(hy.data.activeWorkers(), 0);
});

s('a process that drops iterators with live workers exits by itself, and their threads stop once collected', async () => {
  const script = `
    const hy = require(process.argv[2]);
    (async () => {
      const x = hy.zeros([40, 2]);
      const y = hy.zeros([40], { dtype: 'int32' });
      const loader = new hy.data.DataLoader(new hy.data.TensorDataset(x, y), { batchSize: 4, numWorkers: 2 });
      x.dispose();
      y.dispose();
      // In a function of its own: a suspended async function keeps stale locals in its frame.
      const dropFive = async () => {
        for (let i = 0; i < 5; i++) {
          const it = loader[Symbol.asyncIterator]();
          const r = await it.next();
          for (const t of r.value) t.dispose();
        }
      };
      await dropFive();
      console.log('dropped: ' + hy.data.activeWorkers());
      const end = Date.now() + 5000;
      while (hy.data.activeWorkers() > 0 && Date.now() < end) {
        global.gc();
        await new Promise((r) => setTimeout(r, 10));
      }
      console.log('collected: ' + hy.data.activeWorkers());
    })();
  `;
  const r = await runChild(script, ['--expose-gc'], 30_000);
  assert.is(r.code, 0, `exit code (stderr: ${r.stderr})`);
  assert.is(r.stdout, 'dropped: 10\ncollected: 0\n');
});

// ---- 4. the numWorkers bound ----

s(`numWorkers is at most ${MAX_WORKERS}`, () => {
  const ds = new RangeDataset(4);
  assert.is(MAX_WORKERS, 64);
  assert.is(new hy.data.DataLoader(ds, { numWorkers: 64 }).numWorkers, 64, 'the bound itself is allowed (no thread starts before an epoch)');
  for (const bad of [65, 1000, 1e9]) {
    assertThrows(() => new hy.data.DataLoader(ds, { numWorkers: bad }), RangeError, new RegExp(`^DataLoader: numWorkers must be at most 64 worker threads, got ${bad}$`));
  }
  assertThrows(() => new hy.data.DataLoader(ds, { numWorkers: -1 }), RangeError, /^DataLoader: numWorkers must be an integer >= 0, got -1$/);
});

// ---- 5. event-loop turns in numWorkers 0 mode ----

s('numWorkers 0: a for-await that never awaits still lets the event loop turn', async () => {
  const loader = new hy.data.DataLoader(new SlowDataset(400, 25), { batchSize: 4, numWorkers: 0 }); // 0.1 ms a batch
  let ranAt = -1;
  let k = 0;
  setImmediate(() => (ranAt = k));
  const t0 = performance.now();
  for await (const [x, y] of loader) {
    k++;
    x.dispose();
    y.dispose();
  }
  const ms = performance.now() - t0;
  assert.is(k, 100);
  assert.ok(ranAt >= 0 && ranAt < k, `a setImmediate scheduled before the loop ran at batch ${ranAt} of ${k} (${ms.toFixed(1)} ms)`);
});

s('numWorkers 0: undisposed tensors of a for-await that never awaits are freed by their finalizers', async () => {
  await collectGarbage();
  const base = hy.memory.stats('cpu').liveBytes;
  const x = hy.randn([256, 784]);
  const y = hy.zeros([256], { dtype: 'int32' });
  const loader = new hy.data.DataLoader(new hy.data.TensorDataset(x, y), { batchSize: 16, numWorkers: 0 });
  const start = hy.memory.stats('cpu').liveBytes;
  // In a function of its own, so that no stale local of a suspended frame holds the last batch.
  const run = async (): Promise<number[]> => {
    const samples: number[] = [];
    let step = 0;
    for (let e = 0; e < 25; e++) {
      for await (const [xb] of loader) {
        hy.sum(hy.mul(xb, 2)); // never disposed: the batch, the product and the sum are garbage
        // A step of some 0.1 ms, so that the loader's turns (one where the event loop has had none
        // for 1 ms) come several times between two collections.
        const end = performance.now() + 0.1;
        while (performance.now() < end) {
          // the rest of a training step
        }
        if (++step % 20 === 0) {
          samples.push(hy.memory.stats('cpu').liveBytes - start);
          gc(); // their finalizers are queued; they run on the event loop's next turn
        }
      }
    }
    return samples;
  };
  const samples = await run();
  const quarter = samples.slice(2, Math.floor(samples.length / 4));
  const lastHalf = samples.slice(Math.floor(samples.length / 2));
  // A collection's finalizers may run after the next sample, so a sample may hold two cycles of garbage.
  assert.ok(
    Math.max(...lastHalf) <= 2 * Math.max(...quarter) + 65536,
    `live bytes above the start: first quarter up to ${Math.max(...quarter)}, last half up to ${Math.max(...lastHalf)} (${samples.join(' ')})`,
  );
  x.dispose();
  y.dispose();
  await hy.cpu.synchronize();
  await collectGarbage();
  assert.is(hy.memory.stats('cpu').liveBytes, base);
});

s.after(() => rmSync(dir, { recursive: true, force: true }));

s.run();
