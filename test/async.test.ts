import * as assert from 'uvu/assert';

import * as hy from '../lib/index';
import { eachBackend, suite } from './harness';

const s = suite('async');

eachBackend(s, 'await data() keeps the event loop turning while a large read is pending', async (device) => {
  const n = 48 << 20; // 192 MiB of float32
  const t = hy.full([n], 1.5, { device });
  let ticks = 0;
  let pending = true;
  const timer = setInterval(() => ticks++, 0);
  const spin = (): void => {
    if (!pending) return;
    ticks++;
    setImmediate(spin);
  };
  setImmediate(spin);
  const read = t.data();
  assert.is(ticks, 0, 'nothing ran before the read was queued');
  const values = await read;
  pending = false;
  clearInterval(timer);
  assert.is(values.length, n);
  assert.is(values[0], 1.5);
  assert.is(values[n - 1], 1.5);
  assert.ok(ticks > 0, `the event loop ran ${ticks} callbacks while the read was pending`);
  t.dispose();
});

eachBackend(s, 'a disposed tensor rejects data() instead of throwing synchronously', async (device) => {
  const t = hy.zeros([4], { device });
  t.dispose();
  let err: unknown;
  await t.data().catch((e) => (err = e));
  assert.instance(err, hy.DisposedError);
});

eachBackend(s, 'disposing a tensor while its read is pending is safe', async (device) => {
  const t = hy.full([1 << 20], 2, { device });
  const read = t.data();
  t.dispose();
  const v = await read;
  assert.is(v[(1 << 20) - 1], 2);
});

eachBackend(s, 'a read is ordered against later writes: it sees the values of its place in the queue', async (device) => {
  const model = new hy.nn.Linear(256, 256).to(device);
  const before = Float32Array.from(model.weight.dataSync());
  const read = model.weight.data();
  // loadStateDict writes the weights in place after the read was queued: the read must not tear.
  const zeros = { weight: hy.zeros([256, 256], { device }), bias: hy.zeros([256], { device }) };
  model.loadStateDict(zeros);
  const got = await read;
  assert.equal(Array.from(got.subarray(0, 8)), Array.from(before.subarray(0, 8)));
  let same = 0;
  for (let i = 0; i < got.length; i++) if (got[i] === before[i]) same++;
  assert.is(same, before.length, 'every value is the one before the write');
  assert.is(model.weight.dataSync()[0], 0, 'and the write landed after it');
  model.dispose();
  for (const t of Object.values(zeros)) t.dispose();
});

eachBackend(s, 'an error a queued op raises surfaces at the next read, once', async (device) => {
  const logits = hy.ones([3, 4], { device });
  const bad = hy.tensor(Int32Array.from([0, 9, 1]), { device });
  const loss = hy.nn.functional.crossEntropy(logits, bad); // returns: the kernel finds the target later
  let err: unknown;
  await loss.data().catch((e) => (err = e));
  assert.instance(err, RangeError);
  assert.match((err as Error).message, /^crossEntropy: target 9 at row 1 is outside \[0, 4\)$/);
  const fine = hy.ones([2], { device });
  assert.equal(Array.from(await fine.data()), [1, 1], 'the error was reported once; the next read succeeds');
  for (const t of [logits, bad, loss, fine]) t.dispose();
});

s('hy.cpu.synchronize waits for the CPU queue without reading, and raises its errors', async () => {
  const a = hy.rand([512, 512]);
  const c = hy.matmul(a, a);
  await hy.cpu.synchronize();
  const logp = hy.zeros([2, 3]);
  const target = hy.tensor(Int32Array.from([0, 3]));
  const loss = hy.nn.functional.nllLoss(logp, target);
  let err: unknown;
  await hy.cpu.synchronize().catch((e) => (err = e));
  assert.instance(err, RangeError);
  await hy.cpu.synchronize(); // cleared: it resolves
  for (const t of [a, c, logp, target, loss]) t.dispose();
});

s.run();
