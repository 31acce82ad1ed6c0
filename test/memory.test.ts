import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as assert from 'uvu/assert';

import * as hy from '../lib/index';
import { loadAddon, native, nativeAddonPath } from '../lib/native';
import { assertThrows, collectGarbage, eachBackend, skipPart, suite } from './harness';

const s = suite('memory');

eachBackend(s, 'stats count allocations, frees, live and peak bytes', (device) => {
  hy.memory.emptyCache(device);
  const before = hy.memory.stats(device);
  const t = hy.zeros([1000], { device });
  const during = hy.memory.stats(device);
  assert.is(during.allocations, before.allocations + 1);
  assert.is(during.liveBytes, before.liveBytes + 4096, '4000 bytes round up to 512-byte blocks');
  assert.is(during.requestedBytes, before.requestedBytes + 4000);
  assert.ok(during.peakLiveBytes >= during.liveBytes);
  t.dispose();
  const after = hy.memory.stats(device);
  assert.is(after.frees, before.frees + 1);
  assert.is(after.liveBytes, before.liveBytes);
  assert.is(after.requestedBytes, before.requestedBytes);
});

eachBackend(s, 'freed blocks are reused from the cache', (device) => {
  // Exact split/merge behaviour is tested on a private allocator in test/native/allocator_test.cpp;
  // here other tests' live tensors share the pools, so only what must hold regardless is checked.
  const a = hy.empty([256], { device });
  a.dispose();
  const s1 = hy.memory.stats(device);
  const b = hy.empty([256], { device });
  const s2 = hy.memory.stats(device);
  assert.is(s2.segmentAllocations, s1.segmentAllocations, 'served from the cache');
  assert.is(s2.cacheHits, s1.cacheHits + 1);
  b.dispose();
  const big = hy.empty([5 << 18], { device });
  big.dispose();
  hy.memory.emptyCache(device);
  const s3 = hy.memory.stats(device);
  // 30 MiB: larger than any free remainder a live tensor can leave (those sit in 20 MiB segments),
  // so it takes a fresh segment of exactly its size.
  const again = hy.empty([30 << 18], { device });
  const s4 = hy.memory.stats(device);
  assert.is(s4.segmentAllocations, s3.segmentAllocations + 1);
  assert.is(s4.reservedBytes - s3.reservedBytes, 30 << 20);
  again.dispose();
  hy.memory.emptyCache(device);
  assert.is(hy.memory.stats(device).reservedBytes, s3.reservedBytes, 'emptyCache gives every wholly free segment back');
});

eachBackend(s, 'out of memory: the cache is emptied, retried once, then OutOfMemoryError with stats', (device) => {
  hy.memory.emptyCache(device);
  const cached = hy.zeros([3 << 18], { device }); // 3 MiB -> 20 MiB segment, kept in cache after dispose
  cached.dispose();
  const reserved = hy.memory.stats(device).reservedBytes;
  assert.ok(reserved >= 20 << 20);
  hy.memory.setLimit(device, reserved + (24 << 20));
  try {
    // 30 MiB does not fit next to the cached 20 MiB, but fits once the cache is emptied.
    const fits = hy.empty([30 << 18], { device });
    const s1 = hy.memory.stats(device);
    assert.ok(s1.oomRetries >= 1, 'retried after emptying the cache');
    let caught: unknown;
    try {
      hy.empty([64 << 18], { device });
    } catch (e) {
      caught = e;
    }
    assert.instance(caught, hy.OutOfMemoryError);
    const err = caught as hy.OutOfMemoryError;
    assert.is(err.code, 'ERR_OUT_OF_MEMORY');
    assert.match(err.message, /out of memory allocating 67108864 bytes/);
    assert.is(err.stats.limitBytes, reserved + (24 << 20));
    assert.ok(err.stats.liveBytes >= 30 << 20);
    fits.dispose();
    const ok = hy.empty([30 << 18], { device });
    ok.dispose();
  } finally {
    hy.memory.setLimit(device, 0);
  }
});

eachBackend(s, 'live memory stays flat over many allocate/dispose rounds', (device) => {
  const before = hy.memory.stats(device);
  for (let i = 0; i < 500; i++) {
    hy.tidy(() => hy.rand([1 + (i % 97) * 31], { device }).to('float16')).dispose();
  }
  const after = hy.memory.stats(device);
  assert.is(after.liveBytes, before.liveBytes);
  assert.ok(after.segmentAllocations - before.segmentAllocations <= 2, 'the cache served the rounds');
});

s('bad pool names are rejected', () => {
  assertThrows(() => hy.memory.stats('gpu' as never), RangeError, /memory.stats: device must be 'cpu', 'cuda' or 'pinned', got 'gpu'/);
  assertThrows(() => hy.memory.setLimit('cpu', -1), RangeError, /memory.setLimit: limit in bytes must be a non-negative integer, got -1/);
  if (!hy.cuda.isAvailable()) {
    assertThrows(() => hy.memory.stats('pinned'), RangeError, /pinned memory needs CUDA/);
  }
});

eachBackend(s, 'a loop of large ops reuses one output block while the queue runs behind it', async (device) => {
  // The CPU ops run on a queue behind the caller; a disposed output goes back to the cache at once,
  // in queue order, as a CUDA block freed on its stream does, instead of when its op has run.
  const n = 1 << 20; // 4 MiB of float32
  const x = hy.randn([n], { device });
  await x.data();
  hy.memory.emptyCache(device);
  hy.memory.resetPeakStats(device);
  const before = hy.memory.stats(device);
  for (let i = 0; i < 64; i++) hy.mul(x, 2.5).dispose();
  const after = hy.memory.stats(device);
  // 64 outputs of 4 MiB: a few blocks in flight at most, never one per queued op.
  assert.ok(
    after.peakReservedBytes - before.reservedBytes <= 4 * 4 * n,
    `reserved grew by ${after.peakReservedBytes - before.reservedBytes} bytes over 64 ops`,
  );
  // Reuse in queue order keeps every value: y's block is handed to w while z still has to read y.
  const y = hy.mul(x, 2);
  const z = hy.add(y, 1);
  y.dispose();
  const w = hy.mul(x, 3);
  const [xs, zs, ws] = [await x.data(), await z.data(), await w.data()];
  for (const i of [0, 1, n >> 1, n - 1]) {
    assert.ok(Math.abs(zs[i] - (2 * xs[i] + 1)) <= 1e-5 * (1 + Math.abs(zs[i])), `z[${i}]`);
    assert.ok(Math.abs(ws[i] - 3 * xs[i]) <= 1e-5 * (1 + Math.abs(ws[i])), `w[${i}]`);
  }
  for (const t of [x, z, w]) t.dispose();
});

eachBackend(s, 'emptyCache while queued ops still use a disposed block frees it only after they ran', async (device) => {
  const n = 1 << 22; // 16 MiB: a segment of its own, unmapped when given back
  const x = hy.randn([n], { device });
  await x.data();
  const results: hy.Tensor[] = [];
  for (let i = 0; i < 4; i++) {
    const y = hy.mul(x, 2);
    results.push(hy.add(y, i));
    y.dispose(); // its block is free while the add still has to read it
    hy.memory.emptyCache(device);
  }
  const xs = await x.data();
  for (let i = 0; i < 4; i++) {
    const r = await results[i].data();
    for (const j of [0, n >> 1, n - 1]) assert.ok(Math.abs(r[j] - (2 * xs[j] + i)) <= 1e-5 * (1 + Math.abs(r[j])), `result ${i}[${j}]`);
    results[i].dispose();
  }
  x.dispose();
});

s('host memory is reported to V8 once per net rise, so leaks are collected and disposal costs nothing', () => {
  // V8 counts every positive report toward its next full collection; the binding keeps a disposed
  // handle's bytes as a credit (at most 64 MiB) for the next allocations (binding/storage.cpp).
  const external = (): number => native.externalReportedBytes();
  const MiB = 2 ** 20;
  const keep = hy.empty([1 << 22]); // 16 MiB
  keep.dispose(); // leaves a credit of at least 16 MiB
  const start = external();
  for (let i = 0; i < 100; i++) hy.empty([1 << 22]).dispose();
  const afterChurn = external();
  assert.ok(Math.abs(afterChurn - start) < MiB, `100 alloc/dispose pairs of 16 MiB moved V8's external memory by ${((afterChurn - start) / MiB).toFixed(1)} MiB`);
  const leaked = Array.from({ length: 12 }, () => hy.empty([1 << 22]));
  const grown = external() - afterChurn;
  // 192 MiB held: all of it reported, less what the credit (at most 64 MiB) covered.
  assert.ok(grown >= 128 * MiB && grown <= 192 * MiB + MiB, `192 MiB of live tensors reported as ${(grown / MiB).toFixed(1)} MiB`);
  for (const t of leaked) t.dispose();
  assert.ok(external() - afterChurn <= 64 * MiB + MiB, 'disposing gives back all but the credit');
});

s('storages come only from alloc: the Storage constructor refuses a direct call', () => {
  for (const args of [[], [{}], ['cpu', 256]]) {
    assertThrows(() => new native.Storage(...args), TypeError, /^Storage: use alloc\(\) to create storage, not the constructor$/);
  }
  const h = native.alloc('cpu', 256);
  assert.is(h.nbytes, 256);
  h.dispose();
  assert.ok(h.disposed);
});

s('a freed storage id stays refused as disposed after its slot is reused, and numbers that were never ids are refused', () => {
  const old = native.alloc('cpu', 64);
  native.write(old, 'float32', new Float32Array(16).fill(1));
  old.dispose();
  // The next allocations take the freed slot first, under a new generation.
  const fresh = Array.from({ length: 4 }, () => native.alloc('cpu', 64));
  for (const [i, f] of fresh.entries()) native.write(f, 'float32', new Float32Array(16).fill(i + 2));
  assert.ok(old.disposed);
  assert.is(old.nbytes, 0);
  assert.is(old.device, 'disposed');
  assertThrows(() => native.read(old, 'float32', 16), Error, /^read: storage: the tensor's storage was disposed$/);
  for (const [i, f] of fresh.entries()) assert.equal(Array.from(native.read(f, 'float32', 16) as Float32Array), new Array(16).fill(i + 2), `storage ${i} kept its own values`);
  for (const v of [0, 1, 64, 2 ** 26 - 1, 2 ** 53, -1, 1.5, NaN]) {
    assertThrows(() => native.read(v as never, 'float32', 1), TypeError, /^read: storage must be a Storage, got /, `the number ${v}`);
  }
  assertThrows(() => native.read(Object.create(fresh[0]) as never, 'float32', 1), TypeError, /^read: storage must be a Storage, got /, 'an object inheriting from a handle');
  for (const f of fresh) f.dispose();
  fresh[0].dispose(); // a second dispose is a no-op
});

s('a storage nobody disposed is freed after a collection finds its handle unreachable', async () => {
  await collectGarbage();
  const before = native.memoryStats('cpu').liveBytes;
  const MiB = 2 ** 20;
  (() => {
    for (let i = 0; i < 8; i++) native.alloc('cpu', MiB); // dropped undisposed
  })();
  assert.ok(native.memoryStats('cpu').liveBytes - before >= 8 * MiB, 'the dropped storages are live until a collection');
  await collectGarbage();
  const after = native.memoryStats('cpu').liveBytes;
  assert.ok(after - before < MiB, `after a collection ${(after - before) / MiB} MiB of the 8 dropped are still live`);
});

s('host tensors of several MiB sit on huge pages where the kernel offers them', () => {
  // core/dispatch.cpp aligns host segments of 2 MiB and more to 2 MiB and advises huge pages.
  const label = 'memory > host tensors of several MiB sit on huge pages';
  let mode = '';
  try {
    mode = fs.readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8');
  } catch {
    // not Linux, or no transparent huge pages at all
  }
  if (!/\[(always|madvise)\]/.test(mode) || !fs.existsSync('/proc/self/smaps_rollup')) {
    skipPart(`${label}: transparent huge pages are off or not reported here (${mode.trim() || 'no setting'})`);
    return;
  }
  // In a fresh process: here a segment an earlier test touched may be reused (and counted before
  // as well as after), and a long run fragments what the kernel can hand out as huge pages.
  const child = `
    const fs = require('fs');
    const hy = require(${JSON.stringify(path.join(__dirname, '..', 'lib', 'index.js'))});
    const hugeKiB = () => Number(/AnonHugePages:\\s+(\\d+) kB/.exec(fs.readFileSync('/proc/self/smaps_rollup', 'utf8'))[1]);
    const before = hugeKiB();
    const t = hy.full([16 << 20], 1); // 64 MiB, written by the fill
    if (t.dataSync()[(16 << 20) - 1] !== 1) throw new Error('the fill did not reach the end');
    process.stdout.write(String(hugeKiB() - before));
  `;
  const r = spawnSync(process.execPath, ['-e', child], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  const gained = Number(r.stdout);
  // The kernel may give fewer huge pages than asked where memory is fragmented, but with the advice
  // it gives some, and without it none (transparent huge pages 'madvise' mode).
  assert.ok(gained >= 2048, `a 64 MiB host tensor gained ${gained} KiB of huge pages`);
});

s('a second load of the addon finds it wrapped and wraps it no further', () => {
  const again = loadAddon(nativeAddonPath); // require() gives back the one exports object
  assert.is(again, native);
  const h = again.alloc('cpu', 16);
  again.write(h, 'float32', new Float32Array([1, 2, 3, 4]));
  assert.equal(Array.from(native.read(h, 'float32', 4) as Float32Array), [1, 2, 3, 4]);
  h.dispose();
  assert.ok(h.disposed);
});

s.run();
