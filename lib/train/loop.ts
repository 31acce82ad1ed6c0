// The supervised classification loop: one training epoch and one evaluation pass over a
// DataLoader of [input, int32 class] batches, with cross-entropy as the loss. It lives in the
// library rather than in the CLI so that npm start, the examples and the tests train the same way.
import { noGrad } from '../autograd';
import { synchronize } from '../cuda';
import type { DataLoader } from '../data/dataloader';
import type { Device } from '../dtype';
import { crossEntropy } from '../nn/functional';
import type { Module } from '../nn/modules';
import type { Optimizer } from '../optim/optimizer';
import { tidy } from '../tensor';

export interface TrainEpochOptions {
  /** The device the batches are on; for 'cuda' the epoch waits for the device before it is timed. */
  device?: Device;
  /** Read the loss back every this many steps (default 20): a sparse read keeps the device busy. */
  lossEvery?: number;
}

export interface EpochResult {
  steps: number;
  /** Wall time of the epoch, device work included. */
  seconds: number;
  /** The mean of the losses read back (every lossEvery-th step), an estimate of the epoch's loss. */
  loss: number;
}

export interface EvalResult {
  /** The mean cross-entropy over every sample. */
  loss: number;
  /** The fraction of samples whose highest-scoring class is the label. */
  accuracy: number;
}

/** Resolves on the event loop's next turn (after timers and I/O that are due). */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** One pass over loader: zeroGrad, forward, cross-entropy, backward and step for every batch. */
export async function trainEpoch(model: Module, loader: DataLoader, optimizer: Optimizer, opts: TrainEpochOptions = {}): Promise<EpochResult> {
  const lossEvery = opts.lossEvery ?? 20;
  const t0 = performance.now();
  let lossSum = 0;
  let steps = 0;
  for await (const [x, y] of loader) {
    optimizer.zeroGrad();
    const loss = tidy(() => crossEntropy(model.forward(x), y));
    loss.backward();
    optimizer.step();
    // An awaited read: the CPU queue and the GPU keep computing while the event loop runs.
    if (steps % lossEvery === 0) lossSum += (await loss.data())[0];
    // A turn of the event loop every step: the device queues keep the compute going meanwhile,
    // and timers and I/O never wait for more than one step's JavaScript.
    else await nextTurn();
    steps++;
    for (const t of [x, y, loss]) t.dispose();
  }
  if (opts.device === 'cuda') synchronize();
  const seconds = (performance.now() - t0) / 1000;
  return { steps, seconds, loss: lossSum / Math.ceil(steps / lossEvery) };
}

/** The mean loss and the accuracy of model over loader, in eval mode and without gradients. */
export async function evaluate(model: Module, loader: DataLoader): Promise<EvalResult> {
  model.eval();
  let correct = 0;
  let total = 0;
  let lossSum = 0;
  for await (const [x, y] of loader) {
    const [logits, loss] = noGrad(() => {
      const out = model.forward(x);
      return [out, crossEntropy(out, y, { reduction: 'sum' })];
    });
    const scores = await logits.data();
    const labels = await y.data();
    const classes = logits.shape[1];
    for (let r = 0; r < labels.length; r++) {
      let best = 0;
      for (let c = 1; c < classes; c++) if (scores[r * classes + c] > scores[r * classes + best]) best = c;
      if (best === labels[r]) correct++;
    }
    lossSum += (await loss.data())[0];
    total += labels.length;
    for (const t of [x, y, logits, loss]) t.dispose();
  }
  model.train();
  return { loss: lossSum / total, accuracy: correct / total };
}

export interface FitOptions extends TrainEpochOptions {
  epochs: number;
  /** Called after each epoch with its training and evaluation results. */
  onEpoch?: (epoch: number, train: EpochResult, test: EvalResult) => void;
}

/** epochs rounds of trainEpoch on trainLoader, each followed by evaluate on testLoader. */
export async function fit(model: Module, trainLoader: DataLoader, testLoader: DataLoader, optimizer: Optimizer, opts: FitOptions): Promise<void> {
  for (let epoch = 1; epoch <= opts.epochs; epoch++) {
    const train = await trainEpoch(model, trainLoader, optimizer, opts);
    const test = await evaluate(model, testLoader);
    opts.onEpoch?.(epoch, train, test);
  }
}
