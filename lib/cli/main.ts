// npm start: report the devices, then train a small network on the MNIST digits on the best one.
// (The seed's convolutional network replaces the MLP once convolutions land.)
import { parseArgs } from 'node:util';

import * as hy from '../index';

function formatBytes(n: number): string {
  return n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(1)} GiB` : `${(n / 2 ** 20).toFixed(1)} MiB`;
}

function report(): 'cpu' | 'cuda' {
  const info = hy.info();
  console.log(`hayate ${info.version} — backends: ${info.backends.join(', ')}`);
  if (info.cuda.available && info.cuda.device) {
    const d = info.cuda.device;
    console.log(`cuda: ${d.name} (sm_${d.computeCapability.replace('.', '')}, ${d.multiProcessors} SMs, ${formatBytes(d.totalMemory)}), driver ${info.cuda.driverVersion}, runtime ${info.cuda.runtimeVersion}`);
    return 'cuda';
  }
  console.log(`cuda: not used — ${info.cuda.reason}`);
  return 'cpu';
}

async function evaluate(model: hy.nn.Module, loader: hy.data.DataLoader): Promise<[number, number]> {
  model.eval();
  let correct = 0;
  let total = 0;
  let lossSum = 0;
  for await (const [x, y] of loader) {
    const [logits, loss] = hy.noGrad(() => {
      const out = model.forward(x);
      return [out, hy.nn.functional.crossEntropy(out, y, { reduction: 'sum' })];
    });
    const scores = await logits.data();
    const labels = await y.data();
    const classes = logits.shape[1];
    for (let r = 0; r < labels.length; r++) {
      let best = 0;
      for (let c = 1; c < classes; c++) if (scores[r * classes + c] > scores[r * classes + best]) best = c;
      if (best === labels[r]) correct++;
    }
    lossSum += loss.item();
    total += labels.length;
    for (const t of [x, y, logits, loss]) t.dispose();
  }
  model.train();
  return [lossSum / total, correct / total];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      epochs: { type: 'string', default: '3' },
      'batch-size': { type: 'string', default: '64' },
      lr: { type: 'string', default: '0.05' },
      device: { type: 'string' },
      workers: { type: 'string' },
      data: { type: 'string' },
    },
  });
  const best = report();
  const device = (values.device ?? best) as 'cpu' | 'cuda';
  const epochs = Number(values.epochs);
  const batchSize = Number(values['batch-size']);
  if (!Number.isInteger(epochs) || epochs < 1) throw new RangeError(`--epochs must be a positive integer, got ${values.epochs}`);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`--batch-size must be a positive integer, got ${values['batch-size']}`);
  hy.manualSeed(1);
  const root = values.data;
  const train = new hy.data.MNIST({ train: true, root });
  const test = new hy.data.MNIST({ train: false, root });
  const numWorkers = values.workers === undefined ? undefined : Number(values.workers);
  const trainLoader = new hy.data.DataLoader(train, { batchSize, shuffle: true, seed: 1, device, numWorkers, persistentWorkers: true });
  const testLoader = new hy.data.DataLoader(test, { batchSize: 256, device, numWorkers, persistentWorkers: true });
  const nn = hy.nn;
  const model = new nn.Sequential(new nn.Flatten(), new nn.Linear(784, 128), new nn.GELU(), new nn.Linear(128, 10)).to(device);
  const optimizer = new hy.optim.SGD(model.parameters(), { lr: Number(values.lr), momentum: 0.9 });
  console.log(`training an MLP (784-128-GELU-10) on ${train.length} MNIST digits, testing on ${test.length}; device ${device}, batch ${batchSize}, ${trainLoader.length} steps an epoch`);
  for (let epoch = 1; epoch <= epochs; epoch++) {
    const t0 = performance.now();
    let lossSum = 0;
    let steps = 0;
    for await (const [x, y] of trainLoader) {
      optimizer.zeroGrad();
      const loss = hy.tidy(() => hy.nn.functional.crossEntropy(model.forward(x), y));
      loss.backward();
      optimizer.step();
      if (steps % 20 === 0) lossSum += loss.item(); // a sparse read keeps the device busy
      steps++;
      for (const t of [x, y, loss]) t.dispose();
    }
    if (device === 'cuda') hy.cuda.synchronize();
    const seconds = (performance.now() - t0) / 1000;
    const [testLoss, accuracy] = await evaluate(model, testLoader);
    console.log(`epoch ${epoch}: ${seconds.toFixed(2)} s (${(steps / seconds).toFixed(0)} steps/s), train loss ~${(lossSum / Math.ceil(steps / 20)).toFixed(4)}, test loss ${testLoss.toFixed(4)}, test accuracy ${(accuracy * 100).toFixed(2)}%`);
  }
  trainLoader.close();
  testLoader.close();
  const s = hy.memory.stats(device);
  console.log(`${device} allocator: ${formatBytes(s.reservedBytes)} reserved, peak live ${formatBytes(s.peakLiveBytes)}, ${s.allocations} allocations, ${((100 * s.cacheHits) / Math.max(1, s.allocations)).toFixed(1)}% from the cache`);
  optimizer.dispose();
  model.dispose();
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
