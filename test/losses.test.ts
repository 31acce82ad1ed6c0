// The regression and binary losses (mseLoss, l1Loss, smoothL1Loss, binaryCrossEntropy and its
// logits form) and their modules, on every backend: values against float64 formulas, gradients
// against central differences of those formulas, every reduction, and the argument errors.
import * as assert from 'uvu/assert';

import * as hy from '../lib/index';
import type { Tensor } from '../lib/index';
import { assertClose, assertThrows, eachBackend, randomArray, suite } from './harness';
import { finiteDiff } from './reference/ops';

const s = suite('losses');
const F = hy.nn.functional;

type Pointwise = (x: number, t: number) => number;
const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));
const CASES: [string, (x: Tensor, t: Tensor, o?: hy.nn.functional.LossOptions) => Tensor, Pointwise, [number, number], [number, number]][] = [
  ['mseLoss', F.mseLoss, (x, t) => (x - t) ** 2, [-2, 2], [-2, 2]],
  ['l1Loss', F.l1Loss, (x, t) => Math.abs(x - t), [-2, 2], [-2, 2]],
  ['smoothL1Loss', F.smoothL1Loss, (x, t) => (Math.abs(x - t) < 1 ? 0.5 * (x - t) ** 2 : Math.abs(x - t) - 0.5), [-3, 3], [-1, 1]],
  ['binaryCrossEntropy', F.binaryCrossEntropy, (p, t) => -(t * Math.log(p) + (1 - t) * Math.log(1 - p)), [0.05, 0.95], [0, 1]],
  ['binaryCrossEntropyWithLogits', F.binaryCrossEntropyWithLogits, (x, t) => -(t * Math.log(sigmoid(x)) + (1 - t) * Math.log(1 - sigmoid(x))), [-4, 4], [0, 1]],
];

for (const [name, fn, f, xr, tr] of CASES) {
  eachBackend(s, `${name}: values and gradients for every reduction`, (device) => {
    const n = 37;
    // away from |x - t| = 0 and 1, where l1 and smoothL1 have kinks
    const t = Array.from(randomArray(n, 2, tr[0], tr[1]), Math.fround);
    const x = Array.from(randomArray(n, 1, xr[0], xr[1]), (v, i) => {
      const d = Math.abs(v - t[i]);
      return Math.fround(d < 0.05 || Math.abs(d - 1) < 0.05 ? v + 0.1 : v);
    });
    for (const reduction of ['mean', 'sum', 'none'] as const) {
      hy.tidy(() => {
        const xt = hy.tensor(x, { device, requiresGrad: true });
        const tt = hy.tensor(t, { device });
        const out = fn(xt, tt, { reduction });
        const per = x.map((v, i) => f(v, t[i]));
        const total = per.reduce((a, b) => a + b, 0);
        const expected = reduction === 'none' ? per : [reduction === 'mean' ? total / n : total];
        assert.equal(out.shape, reduction === 'none' ? [n] : [], `${name} ${reduction}: shape`);
        assertClose(out.dataSync(), expected, { rtol: 2e-5, atol: 2e-6 }, `${name} ${reduction} [${device}]`);
        const w = reduction === 'none' ? Array.from(randomArray(n, 3)) : [1];
        out.mul(hy.tensor(reduction === 'none' ? w : w[0], { device })).sum().backward();
        const fd = finiteDiff((v) => {
          const p = Array.from(v, (xi, i) => f(xi, t[i]));
          const s2 = p.reduce((a, b) => a + b, 0);
          return Float64Array.from(reduction === 'none' ? p : [reduction === 'mean' ? s2 / n : s2]);
        }, x, w);
        assertClose(xt.grad!.dataSync(), fd, { rtol: 1e-3, atol: 1e-4 }, `${name} ${reduction} gradient [${device}]`);
      });
    }
  });
}

eachBackend(s, 'the loss modules call their functions with the reduction given at construction, and print it', (device) => {
  hy.tidy(() => {
    const x = hy.tensor([[2, 0.5, -1], [0, 1, 3]], { device });
    const y = hy.tensor([0, 2], { dtype: 'int32', device });
    assertClose(new hy.nn.CrossEntropyLoss().forward(x, y).dataSync(), F.crossEntropy(x, y).dataSync(), { rtol: 0, atol: 0 });
    assertClose(new hy.nn.NLLLoss({ reduction: 'sum' }).forward(F.logSoftmax(x, 1), y).dataSync(), F.nllLoss(F.logSoftmax(x, 1), y, { reduction: 'sum' }).dataSync(), { rtol: 0, atol: 0 });
    assertClose(new hy.nn.MSELoss({ reduction: 'none' }).forward(x, x.mul(2)).dataSync(), x.square().dataSync(), { rtol: 1e-6, atol: 0 });
    assert.is(String(new hy.nn.MSELoss({ reduction: 'sum' })), "MSELoss(reduction='sum')");
    assert.is(String(new hy.nn.CrossEntropyLoss()), 'CrossEntropyLoss()');
    const sm = new hy.nn.Softmax(1).forward(x);
    assertClose(sm.sum(1).dataSync(), [1, 1], { rtol: 1e-6, atol: 1e-6 });
  });
});

eachBackend(s, 'bad loss arguments name the op and the value', (device) => {
  hy.tidy(() => {
    const x = hy.zeros([2, 3], { device });
    assertThrows(() => F.mseLoss(x, hy.zeros([3, 2], { device })), RangeError, /^mseLoss: target shape \[3, 2\] must match input shape \[2, 3\]$/);
    assertThrows(() => F.l1Loss(x, x, { reduction: 'avg' as never }), RangeError, /^l1Loss: reduction must be 'mean', 'sum' or 'none', got 'avg'$/);
    assertThrows(() => F.smoothL1Loss(x, x, { beta: -1 }), RangeError, /^smoothL1Loss: beta must be a finite number >= 0, got -1$/);
    assertThrows(() => F.binaryCrossEntropy(x, hy.zeros([2, 3], { device, dtype: 'int32' })), TypeError, /^binaryCrossEntropy: target must be a float32 or float16 tensor/);
    assertThrows(() => new hy.nn.MSELoss({ reduction: 'all' as never }), RangeError, /^MSELoss: reduction must be 'mean', 'sum' or 'none', got 'all'$/);
  });
});

s.run();
