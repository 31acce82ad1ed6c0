import * as assert from 'uvu/assert';

import * as hy from '../lib/index';
import { enableGrad, setGradEnabled } from '../lib/autograd';
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

// ---- grad mode per async context ----

/** A promise and the function that resolves it: a gate a test opens when it chooses. */
function gate(): [Promise<void>, () => void] {
  let open!: () => void;
  const p = new Promise<void>((resolve) => {
    open = resolve;
  });
  return [p, open];
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

eachBackend(s, 'two overlapping async noGrad calls keep grad off inside and on outside', async (device) => {
  const x = hy.tensor([1, 2], { device, requiresGrad: true });
  const [gateA, openA] = gate();
  const [gateB, openB] = gate();
  const seen: string[] = [];
  const inside = (who: string): void => {
    const y = hy.mul(x, 2);
    assert.is(y.gradFn, null, `${who}: records nothing`);
    assert.is(hy.isGradEnabled(), false, `${who}: grad off`);
    y.dispose();
  };
  const a = hy.noGrad(async () => {
    inside('a before its await');
    await gateA;
    inside('a after gate');
    await tick();
    inside('a after a tick');
    seen.push('a');
    return 'a';
  });
  const b = hy.noGrad(async () => {
    await gateB;
    inside('b after gate');
    await new Promise((resolve) => setTimeout(resolve, 1));
    inside('b after a timer');
    seen.push('b');
    return 'b';
  });
  const recorded = (what: string): void => {
    assert.is(hy.isGradEnabled(), true, `${what}: grad on`);
    const z = hy.mul(x, 3);
    assert.ok(z.gradFn !== null, `${what}: an op records a graph`);
    z.dispose();
  };
  recorded('outside, both pending');
  await tick();
  recorded('outside after a tick, both pending');
  openA();
  assert.is(await a, 'a');
  recorded('outside, a done and b pending');
  openB();
  assert.is(await b, 'b');
  assert.equal(seen, ['a', 'b']);
  recorded('after both');
  // b finishing last must not leave grad off (the process-wide flag did)
  const w = hy.sum(hy.mul(x, x));
  w.backward();
  assert.equal(Array.from(await x.grad!.data()), [2, 4]);
  w.dispose();
  x.dispose();
});

eachBackend(s, 'nested noGrad, enableGrad and setGradEnabled, sync and async', async (device) => {
  const x = hy.tensor([1], { device, requiresGrad: true });
  const records = (): boolean => {
    const y = hy.mul(x, 2);
    const r = y.gradFn !== null;
    y.dispose();
    return r;
  };
  const modes = hy.noGrad(() => {
    const out = [records(), hy.isGradEnabled()];
    enableGrad(() => {
      out.push(records(), hy.isGradEnabled());
      hy.noGrad(() => out.push(records()));
      out.push(records());
    });
    out.push(records());
    setGradEnabled(true, () => out.push(records()));
    return out;
  });
  assert.equal(modes, [false, false, true, true, false, true, false, true]);
  assert.is(setGradEnabled(false, () => hy.isGradEnabled()), false);
  const inner = await hy.noGrad(async () => {
    await tick();
    const e = await enableGrad(async () => {
      await tick();
      return records();
    });
    return [e, records()];
  });
  assert.equal(inner, [true, false]);
  assert.ok(records());
  // a timer started inside keeps the mode of where it started
  const timer = await hy.noGrad(() => new Promise<boolean>((resolve) => setTimeout(() => resolve(hy.isGradEnabled()), 1)));
  assert.is(timer, false);
  assert.ok(hy.isGradEnabled());
  x.dispose();
});

s('an exception inside noGrad or enableGrad restores the mode; bad arguments are TypeErrors', async () => {
  assertThrows(() => hy.noGrad(() => {
    throw new Error('boom');
  }), Error, /^boom$/);
  assert.ok(hy.isGradEnabled());
  hy.noGrad(() => {
    assertThrows(() => enableGrad(() => {
      assert.ok(hy.isGradEnabled());
      throw new RangeError('inner');
    }), RangeError, /^inner$/);
    assert.not.ok(hy.isGradEnabled(), 'back to off after enableGrad threw');
  });
  let rejected = false;
  await hy.noGrad(async () => {
    await tick();
    throw new Error('async boom');
  }).catch((e: Error) => {
    rejected = e.message === 'async boom';
  });
  assert.ok(rejected);
  assert.ok(hy.isGradEnabled());
  assertThrows(() => hy.noGrad(5 as never), TypeError, /^noGrad: expected a function, got 5$/);
  assertThrows(() => enableGrad(undefined as never), TypeError, /^enableGrad: expected a function, got undefined$/);
  assertThrows(() => setGradEnabled('yes' as never, () => 1), TypeError, /^setGradEnabled: enabled must be a boolean, got 'yes'$/);
  assertThrows(() => setGradEnabled(true, null as never), TypeError, /^setGradEnabled: expected a function, got null$/);
});

s.run();
