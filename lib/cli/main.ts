// npm start: report the devices, then train a small network on the MNIST digits on the best one.
// This file only parses the arguments and reports; the training loop is hy.train's.
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
  await hy.train.fit(model, trainLoader, testLoader, optimizer, {
    epochs,
    device,
    onEpoch: (epoch, tr, te) => {
      console.log(`epoch ${epoch}: ${tr.seconds.toFixed(2)} s (${(tr.steps / tr.seconds).toFixed(0)} steps/s), train loss ~${tr.loss.toFixed(4)}, test loss ${te.loss.toFixed(4)}, test accuracy ${(te.accuracy * 100).toFixed(2)}%`);
    },
  });
  console.log(`data: ${trainLoader.describe()}`);
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
