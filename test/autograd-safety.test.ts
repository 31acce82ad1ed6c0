// Autograd that never lies (issue item 3): a tensor modified in place after it was saved for
// backward makes backward throw, naming the op, before any gradient is written; to(dtype), to(device)
// and clone() are differentiable; disposing a graph's output without backward frees what the
// graph saved, while an op built on it keeps it.
import * as assert from 'uvu/assert';

import * as hy from '../lib/index';
import { assertClose, assertThrows, eachBackend, suite } from './harness';

const s = suite('autograd-safety');

eachBackend(s, 'an optimizer step between forward and backward makes backward throw, naming the op, and leaves grads untouched', (device) => {
  hy.tidy(() => {
    const w = hy.tensor([1, 2, 3], { device, requiresGrad: true });
    const opt = new hy.optim.SGD([w], { lr: 0.1 });
    w.mul(2).sum().backward(); // a first gradient, so the step changes w
    opt.step();
    const before = Array.from(w.grad!.dataSync());
    const loss = w.mul(w).sum();
    opt.step(); // w changes in place: mul saved the old w
    assertThrows(() => loss.backward(), Error, /^backward: a tensor of shape \[3\] that mul saved for its gradient was modified in place \(it is at version 2; mul saved version 1\)/);
    assert.equal(Array.from(w.grad!.dataSync()), before, 'the gradient is as it was');
    // computed again after the step, the loss backpropagates
    opt.zeroGrad();
    const again = w.mul(w).sum();
    again.backward();
    const wv = Array.from(w.dataSync());
    assertClose(w.grad!.dataSync(), wv.map((v) => 2 * v), { rtol: 1e-6, atol: 0 });
  });
});

eachBackend(s, 'loading a state dict into a module after its forward is caught the same way', (device) => {
  hy.tidy(() => {
    const lin = new hy.nn.Linear(3, 2, { device });
    const out = lin.forward(hy.ones([1, 3], { device })).sum();
    lin.loadStateDict(lin.stateDict());
    assertThrows(() => out.backward(), Error, /^backward: a tensor of shape \[2, 3\] that linear saved for its gradient was modified in place/);
  });
});

eachBackend(s, 'to(dtype), to(device) and clone() pass gradients back in the source dtype', (device) => {
  hy.tidy(() => {
    const x = hy.tensor([1, -2, 3], { device, requiresGrad: true });
    const y = x.to('float16').mul(hy.tensor([1, 2, 3], { device, dtype: 'float16' })).float().sum().add(x.clone().mul(10).sum());
    y.backward();
    assert.is(x.grad!.dtype, 'float32');
    assertClose(x.grad!.dataSync(), [11, 12, 13], { rtol: 0, atol: 0 });
    assert.is(x.to('int32').requiresGrad, false, 'an integer copy is cut from the graph');
    const other = device === 'cpu' && hy.info().backends.includes('cuda') ? 'cuda' : null;
    if (other !== null) {
      const z = hy.tensor([1, 2], { device, requiresGrad: true });
      z.to(other).mul(3).sum().backward();
      assert.is(z.grad!.device, device);
      assertClose(z.grad!.dataSync(), [3, 3], { rtol: 0, atol: 0 });
    }
  });
});

eachBackend(s, "disposing a graph's output without backward frees what it saved; an op built on it keeps it", (device) => {
  const base = hy.memory.stats(device).liveBytes;
  const x = hy.randn([1 << 16], { device, requiresGrad: true });
  const withX = hy.memory.stats(device).liveBytes;
  const a = x.exp(); // exp saves its output
  const b = a.sum();
  a.dispose(); // b's node reads a's node: a's storage stays for b's backward
  assert.ok(hy.memory.stats(device).liveBytes > withX, 'the saved output is kept while b can still backpropagate');
  b.dispose(); // nothing can reach exp's node now
  assert.is(hy.memory.stats(device).liveBytes, withX, 'the graph gave its saved tensors back');
  // and the kept case still backpropagates correctly
  const c = x.exp();
  const m = c.mul(2);
  const d = m.sum();
  c.dispose();
  m.dispose();
  d.backward();
  const ex = Array.from(x.dataSync(), (v) => 2 * Math.exp(v));
  assertClose(x.grad!.dataSync(), ex, { rtol: 1e-5, atol: 1e-6 });
  d.dispose();
  x.dispose();
  assert.is(hy.memory.stats(device).liveBytes, base);
});

s.run();
