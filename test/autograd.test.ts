import * as assert from 'uvu/assert';

import * as hy from '../lib/index';
import { assertThrows, eachBackend, suite } from './harness';

const s = suite('autograd');

eachBackend(s, 'gradients accumulate across backward calls; leaves and intermediates', async (device) => {
  const x = hy.tensor([1, 2, 3], { device, requiresGrad: true });
  assert.ok(x.isLeaf);
  const y = hy.mul(x, x); // dy/dx = 2x
  assert.not.ok(y.isLeaf);
  assert.ok(y.requiresGrad);
  hy.sum(y).backward();
  assert.equal(Array.from(await x.grad!.data()), [2, 4, 6]);
  hy.sum(hy.mul(x, 3)).backward();
  assert.equal(Array.from(await x.grad!.data()), [5, 7, 9], 'second backward adds');
  assert.is(y.grad, null, 'intermediates keep no grad');
  // a tensor used twice gets both contributions
  const z = hy.tensor([2], { device, requiresGrad: true });
  const w = hy.add(hy.mul(z, z), z); // 2z + 1 = 5
  w.backward();
  assert.equal(Array.from(await z.grad!.data()), [5]);
});

eachBackend(s, 'noGrad records nothing; detach cuts the graph', (device) => {
  const x = hy.tensor([1, 2], { device, requiresGrad: true });
  const y = hy.noGrad(() => hy.mul(x, 2));
  assert.not.ok(y.requiresGrad);
  assert.is(y.gradFn, null);
  assert.is(hy.isGradEnabled(), true);
  const d = hy.mul(x, 2).detach();
  assert.not.ok(d.requiresGrad);
  assertThrows(() => d.sum().backward(), Error, /backward: the tensor does not require grad/);
});

eachBackend(s, 'a second backward through a freed graph is a clear error; retainGraph allows it', async (device) => {
  const x = hy.tensor([3], { device, requiresGrad: true });
  const y = hy.mul(x, x);
  y.backward(undefined, { retainGraph: true });
  y.backward();
  assert.equal(Array.from(await x.grad!.data()), [12]);
  assertThrows(() => y.backward(), Error, /backward: the graph through mul was already freed/);
  assertThrows(() => hy.mul(x, hy.ones([2], { device })).backward(), RangeError, /backward: a gradient must be given for a tensor of 2 elements/);
});

eachBackend(s, 'backward frees intermediate buffers: live memory returns to where it was', (device) => {
  const x = hy.randn([256, 256], { device, requiresGrad: true });
  const w = hy.randn([256, 256], { device });
  const pool = device === 'cuda' ? 'cuda' : 'cpu';
  // warm the grad once so its buffer is part of the baseline
  hy.tidy(() => hy.sum(hy.nn.functional.gelu(hy.mul(x, w))).backward());
  const before = hy.memory.stats(pool).liveBytes;
  for (let i = 0; i < 5; i++) {
    const loss = hy.tidy(() => hy.mean(hy.nn.functional.gelu(hy.add(hy.mul(x, w), 1))));
    const during = hy.memory.stats(pool).liveBytes;
    assert.ok(during > before, 'the graph holds saved buffers until backward');
    loss.backward();
    loss.dispose();
    assert.is(hy.memory.stats(pool).liveBytes, before, `round ${i}: saved buffers and temporary grads freed`);
  }
});

eachBackend(s, 'backward with an explicit gradient, and on a leaf', async (device) => {
  const x = hy.tensor([1, 2, 3], { device, requiresGrad: true });
  hy.mul(x, 2).backward(hy.tensor([1, 10, 100], { device }));
  assert.equal(Array.from(await x.grad!.data()), [2, 20, 200]);
  const leaf = hy.tensor([5], { device, requiresGrad: true });
  leaf.backward();
  assert.equal(Array.from(await leaf.grad!.data()), [1]);
  assertThrows(() => hy.mul(x, 2).backward(hy.ones([2], { device })), RangeError, /gradient shape \[2\] does not match the tensor's \[3\]/);
});

s('requiresGrad only on floating-point leaves', () => {
  assertThrows(() => hy.zeros([2], { dtype: 'int32', requiresGrad: true }), RangeError, /only floating-point tensors can require gradients/);
  const x = hy.ones([2], { requiresGrad: true });
  assertThrows(() => hy.mul(x, 2).requiresGrad_(false), RangeError, /only leaf tensors/);
  assert.ok(hy.ones([1]).requiresGrad_().requiresGrad);
});

s.run();
