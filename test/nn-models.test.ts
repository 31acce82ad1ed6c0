// hy.nn.models: MnistNet, PyTorch's examples/mnist network: its parameter names (PyTorch's
// state_dict keys), count and printout, a forward equal to the functional ops on the same weights,
// and a backward that reaches every parameter.
import * as assert from 'uvu/assert';

import * as hy from '../lib/index';
import type { Device, Tensor } from '../lib/index';
import { assertClose, assertThrows, collectGarbage, eachBackend, suite } from './harness';

const s = suite('nn-models');
const F = hy.nn.functional;
const { MnistNet } = hy.nn.models;

/** PyTorch's `Net().state_dict()` keys and shapes, in order. */
const PYTORCH_KEYS: [string, number[]][] = [
  ['conv1.weight', [32, 1, 3, 3]], ['conv1.bias', [32]],
  ['conv2.weight', [64, 32, 3, 3]], ['conv2.bias', [64]],
  ['fc1.weight', [128, 9216]], ['fc1.bias', [128]],
  ['fc2.weight', [10, 128]], ['fc2.bias', [10]],
];

const PRINTED = [
  'MnistNet(',
  '  (conv1): Conv2d(1, 32, kernelSize=[3, 3], stride=[1, 1])',
  '  (conv2): Conv2d(32, 64, kernelSize=[3, 3], stride=[1, 1])',
  '  (dropout1): Dropout(p=0.25)',
  '  (dropout2): Dropout(p=0.5)',
  '  (fc1): Linear(inFeatures=9216, outFeatures=128, bias=true)',
  '  (fc2): Linear(inFeatures=128, outFeatures=10, bias=true)',
  ')',
];

async function liveBytes(device: Device): Promise<number> {
  if (device === 'cuda') hy.cuda.synchronize();
  await hy.cpu.synchronize();
  await collectGarbage();
  return hy.memory.stats(device).liveBytes;
}

s("MnistNet: PyTorch's parameter names and shapes in order, 1,199,882 parameters, its printout", () => {
  hy.manualSeed(0);
  const m = new MnistNet();
  assert.equal(m.namedParameters().map(([k, t]) => [k, t.shape]), PYTORCH_KEYS);
  assert.is(m.parameters().reduce((a, p) => a + p.numel, 0), 1_199_882);
  assert.equal(m.namedChildren().map(([k]) => k), ['conv1', 'conv2', 'dropout1', 'dropout2', 'fc1', 'fc2']);
  assert.equal(m.namedBuffers(), []);
  assert.is(String(m), PRINTED.join('\n'));
  assert.ok(m.parameters().every((p) => p.dtype === 'float32' && p.device === 'cpu' && p.isLeaf && p.requiresGrad));

  // weights keyed as PyTorch's state_dict load strictly (every key, no others)
  const dict: hy.nn.StateDict = Object.fromEntries(PYTORCH_KEYS.map(([k, shape], i) => [k, hy.full(shape, i / 10)]));
  m.loadStateDict(dict);
  assertClose(m.fc2.bias!.dataSync(), new Array(10).fill(0.7), { rtol: 1e-6, atol: 0 }, 'fc2.bias loaded');
  for (const t of Object.values(dict)) t.dispose();

  const g = new MnistNet({ activation: 'gelu', dtype: 'float16' });
  assert.is(String(g), [PRINTED[0], "  activation='gelu'", ...PRINTED.slice(1)].join('\n'));
  assert.ok(g.parameters().every((p) => p.dtype === 'float16'));
  assertThrows(() => new MnistNet({ activation: 'tanh' as never }), RangeError, /^MnistNet: activation must be 'relu', 'gelu' or 'geluUnfused', got 'tanh'$/);
  assertThrows(() => new MnistNet({ layers: 3 } as never), TypeError, /^MnistNet: unknown option 'layers'/);
  m.dispose();
  g.dispose();
});

/** The example's forward written with the functional ops on m's weights (eval mode: no dropout). */
function functionalForward(m: InstanceType<typeof MnistNet>, x: Tensor, act: (t: Tensor) => Tensor): Tensor {
  return hy.tidy(() => {
    let h = act(F.conv2d(x, m.conv1.weight, m.conv1.bias, { stride: 1 }));
    h = act(F.conv2d(h, m.conv2.weight, m.conv2.bias, { stride: 1 }));
    h = F.maxPool2d(h, 2);
    h = hy.flatten(h, 1);
    h = act(F.linear(h, m.fc1.weight, m.fc1.bias));
    h = F.linear(h, m.fc2.weight, m.fc2.bias);
    return F.logSoftmax(h, 1);
  });
}

eachBackend(s, 'MnistNet forward: [N, 10] log-probabilities equal to the functional ops on its weights; backward reaches all 8 parameters', async (device) => {
  const before = await liveBytes(device);
  const acts = { relu: F.relu, gelu: (t: Tensor) => F.gelu(t), geluUnfused: F.geluUnfused } as const;
  for (const activation of ['relu', 'gelu', 'geluUnfused'] as const) {
    hy.manualSeed(21);
    const m = new MnistNet({ device, activation });
    const x = hy.randn([3, 1, 28, 28], { device });
    m.eval();
    // Inference records no graph (a recorded one would keep the weights' storage until collected).
    const y = hy.noGrad(() => m.forward(x));
    assert.equal(y.shape, [3, 10]);
    const logp = await y.data();
    for (let i = 0; i < 3; i++) {
      const total = Array.from(logp.subarray(i * 10, i * 10 + 10)).reduce((a, v) => a + Math.exp(v), 0);
      assertClose([total], [1], { rtol: 1e-5, atol: 1e-5 }, `${activation}: row ${i} is a distribution`);
    }
    const ref = hy.noGrad(() => functionalForward(m, x, acts[activation]));
    assertClose(logp, await ref.data(), { rtol: 1e-5, atol: 1e-5 }, `${activation}: the module equals the functional composition`);

    m.train();
    const labels = hy.tensor(Int32Array.from([3, 7, 1]), { device });
    hy.tidy(() => F.nllLoss(m.forward(x), labels).backward());
    for (const [k, p] of m.namedParameters()) {
      assert.ok(p.grad !== null, `${activation}: ${k} has a gradient`);
      assert.equal(p.grad.shape, p.shape, `${activation}: ${k} gradient shape`);
      const g = await p.grad.data();
      assert.ok(g.every((v) => Number.isFinite(v)) && g.some((v) => v !== 0), `${activation}: ${k} gradient finite and not all zero`);
    }
    for (const t of [x, y, ref, labels]) t.dispose();
    m.dispose();
  }
  assert.is(await liveBytes(device), before, 'every tensor of the test was freed');
});

s.run();
