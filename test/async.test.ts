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

s.run();
