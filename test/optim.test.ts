import * as assert from 'uvu/assert';

import * as hy from '../lib/index';
import { assertClose, assertThrows, eachBackend, suite } from './harness';

const s = suite('optim');

/** torch.optim.SGD's update rule in float64 (oracle). */
function sgdRef(p: number[], grads: number[][], o: { lr: number; momentum?: number; dampening?: number; weightDecay?: number; nesterov?: boolean }): number[] {
  const m = o.momentum ?? 0, damp = o.dampening ?? 0, wd = o.weightDecay ?? 0;
  let buf: number[] | null = null;
  let w = p.slice();
  for (const g of grads) {
    let d = g.map((gi, i) => gi + wd * w[i]);
    if (m !== 0) {
      const cur: number[] = buf === null ? d.slice() : buf.map((b, i) => m * b + (1 - damp) * d[i]);
      buf = cur;
      d = o.nesterov ? d.map((di, i) => di + m * cur[i]) : cur;
    }
    w = w.map((wi, i) => wi - o.lr * d[i]);
  }
  return w;
}

eachBackend(s, 'SGD matches torch.optim.SGD for plain, momentum, dampening, weight decay and Nesterov', async (device) => {
  const grads = [[0.5, -1, 2], [1, 1, -0.5], [-2, 0.25, 1]];
  const configs = [
    { lr: 0.1 },
    { lr: 0.1, momentum: 0.9 },
    { lr: 0.05, momentum: 0.9, dampening: 0.5 },
    { lr: 0.1, weightDecay: 0.01 },
    { lr: 0.1, momentum: 0.8, nesterov: true, weightDecay: 0.1 },
  ];
  for (const cfg of configs) {
    const p = hy.tensor([1, 2, 3], { device, requiresGrad: true });
    const opt = new hy.optim.SGD([p], cfg);
    for (const g of grads) {
      opt.zeroGrad();
      assert.is(p.grad, null, 'zeroGrad sets gradients to none');
      hy.sum(hy.mul(p, hy.tensor(g, { device }))).backward(); // d/dp = g
      opt.step();
    }
    assertClose(await p.data(), sgdRef([1, 2, 3], grads, cfg).map(Math.fround), { rtol: 1e-6, atol: 1e-6 }, JSON.stringify(cfg));
    opt.dispose();
  }
});

eachBackend(s, 'a parameter without a gradient is left as it was', async (device) => {
  const a = hy.tensor([1], { device, requiresGrad: true });
  const b = hy.tensor([5], { device, requiresGrad: true });
  const opt = new hy.optim.SGD([a, b], { lr: 1, momentum: 0.9 });
  hy.mul(a, 2).backward();
  opt.step();
  assert.equal(Array.from(await a.data()), [-1]);
  assert.equal(Array.from(await b.data()), [5]);
});

s('bad options are rejected', () => {
  const p = hy.ones([1], { requiresGrad: true });
  assertThrows(() => new hy.optim.SGD([p], { lr: -1 }), RangeError, /SGD: lr must be a finite number >= 0, got -1/);
  assertThrows(() => new hy.optim.SGD([p], { lr: 0.1, nesterov: true }), RangeError, /nesterov needs momentum > 0/);
  assertThrows(() => new hy.optim.SGD([hy.ones([1])], { lr: 0.1 }), RangeError, /SGD: parameter 0 must be a leaf tensor that requires grad/);
  assertThrows(() => new hy.optim.SGD([p], { lr: 0.1, momentun: 0.9 } as never), TypeError, /SGD: unknown option 'momentun'/);
});

s.run();
