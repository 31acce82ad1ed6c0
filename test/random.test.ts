import * as assert from 'uvu/assert';

import * as hy from '../lib/index';
import { assertClose, assertThrows, eachBackend, suite } from './harness';
import { roundToHalf } from './reference/half';
import * as philox from './reference/philox';

const s = suite('random');

eachBackend(s, 'rand matches the Philox oracle bit for bit', async (device) => {
  hy.manualSeed(1234);
  const n = 1023;
  const a = await hy.rand([n], { device }).data();
  const b = await hy.rand([3, 11], { device }).data();
  const expectedA = Array.from({ length: n }, (_, i) => philox.uniform(1234, 0, i));
  const expectedB = Array.from({ length: 33 }, (_, i) => philox.uniform(1234, Math.ceil(n / 4), i));
  assertClose(a, expectedA, { rtol: 0, atol: 0 }, 'first draw');
  assertClose(b, expectedB, { rtol: 0, atol: 0 }, 'second draw continues the counter');
  for (const v of a) assert.ok(v >= 0 && v < 1);
});

eachBackend(s, 'randn matches the Box-Muller oracle and has the right moments', async (device) => {
  hy.manualSeed(7);
  const small = await hy.randn([33], { device }).data();
  assertClose(small, Array.from({ length: 33 }, (_, i) => Math.fround(philox.normal(7, 0, i))), { rtol: 2e-7, atol: 1e-7 }, 'oracle');
  const big = await hy.randn([200000], { device }).data();
  let sum = 0;
  let sq = 0;
  for (const v of big) {
    sum += v;
    sq += v * v;
  }
  const mean = sum / big.length;
  const std = Math.sqrt(sq / big.length - mean * mean);
  assert.ok(Math.abs(mean) < 0.01, `mean ${mean}`);
  assert.ok(Math.abs(std - 1) < 0.01, `std ${std}`);
  const half = await hy.randn([33], { device, dtype: 'float16' }).data();
  assert.is(half.length, 33);
  hy.manualSeed(7);
  const again = await hy.randn([33], { device, dtype: 'float16' }).data();
  assertClose(again, Array.from(small, (v) => roundToHalf(v)), { rtol: 0, atol: 0 }, 'float16 rounds the float32 value');
});

eachBackend(s, 'the same seed gives the same values, a new seed different ones', async (device) => {
  hy.manualSeed(99);
  const a = Array.from(await hy.rand([64], { device }).data());
  hy.manualSeed(99);
  const b = Array.from(await hy.rand([64], { device }).data());
  hy.manualSeed(100);
  const c = Array.from(await hy.rand([64], { device }).data());
  assert.equal(a, b);
  assert.not.equal(a, c);
  const state = hy.getGeneratorState();
  const d = Array.from(await hy.rand([8], { device }).data());
  hy.setGeneratorState(state);
  assert.equal(Array.from(await hy.rand([8], { device }).data()), d, 'generator state restores');
});

s('cpu and cuda produce the same values from one seed', async () => {
  if (!hy.cuda.isAvailable()) return;
  hy.manualSeed(5);
  const cpu = await hy.randn([4099]).data();
  hy.manualSeed(5);
  const cuda = await hy.randn([4099], { device: 'cuda' }).data();
  assertClose(cuda, cpu, { rtol: 2e-7, atol: 1e-7 }, 'randn cpu vs cuda');
});

s('bad seeds and dtypes are rejected', () => {
  assertThrows(() => hy.manualSeed(-1), RangeError, /manualSeed: seed must be an integer from 0 to 2\^53 - 1, got -1/);
  assertThrows(() => hy.manualSeed(1.5), RangeError, /manualSeed/);
  assertThrows(() => hy.manualSeed('1' as never), TypeError, /manualSeed: seed must be a number, got '1'/);
  assertThrows(() => hy.rand([2], { dtype: 'int32' }), RangeError, /rand: dtype must be floating point, got int32/);
  assertThrows(() => hy.randn([-1]), RangeError, /randn: shape entries must be non-negative integers, got -1/);
});

s.run();
