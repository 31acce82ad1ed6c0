// The supervised classification loop: one training epoch and one evaluation pass over a
// DataLoader of [input, int32 class] batches. It lives in the library rather than in the CLI so
// that npm start, fit, the examples and the tests train the same way.
import { autocast } from '../amp/autocast';
import type { GradScaler } from '../amp/grad_scaler';
import { noGrad } from '../autograd';
import { synchronize } from '../cuda';
import type { DataLoader } from '../data/dataloader';
import type { Device } from '../dtype';
import { crossEntropy } from '../nn/functional';
import { Module } from '../nn/modules';
import { Optimizer } from '../optim/optimizer';
import { tidy } from '../tensor';
import { describe } from '../errors';
import type { GraphedStep } from './graphed_step';
import type { Tensor } from '../tensor';

export interface TrainEpochOptions {
  /** The device the batches are on; for 'cuda' the epoch waits for the device before it is timed. */
  device?: Device;
  /** Read the loss back every this many steps (default 20): a sparse read keeps the device busy. */
  lossEvery?: number;
  /** loss(output, target) (default crossEntropy). */
  loss?: (output: Tensor, target: Tensor) => Tensor;
  /** With a GradScaler the forward runs under autocast (float16) and the step through the scaler. */
  scaler?: GradScaler;
  /** Stops at the next step; the result says stopped. */
  signal?: { readonly aborted: boolean };
  /** Called after every step with the steps done and the loss when it was read back. */
  onStep?: (done: number, loss: number | null) => void;
  /** Called after every optimizer step (a per-batch scheduler). */
  afterStep?: () => void;
  /** For messages: the epoch's number. */
  epoch?: number;
  /** zeroGrad's setToNone (default true: gradients set to none, the seed's tip 6.1). */
  setToNone?: boolean;
  /** @internal fit's cudaGraph: the step captured once and replayed (it outlives the epoch). */
  graphed?: GraphedStep;
}

export interface EpochResult {
  steps: number;
  samples: number;
  /** Wall time of the epoch, device work included. */
  seconds: number;
  /** The mean of the losses read back (every lossEvery-th step), an estimate of the epoch's loss. */
  loss: number;
  /** True when the signal stopped the epoch early. */
  stopped: boolean;
}

export interface EvalResult {
  /** The mean loss over every sample. */
  loss: number;
  /** The fraction of samples whose highest-scoring class is the label. */
  accuracy: number;
}

/** Resolves on the event loop's next turn (after timers and I/O that are due). */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

const defaultLoss = (out: Tensor, y: Tensor): Tensor => crossEntropy(out, y);

/** The arguments every loop takes, checked before anything runs. */
function checkLoopArgs(op: string, model: unknown, loader: unknown, opts: unknown): void {
  if (!(model instanceof Module)) throw new TypeError(`${op}: model must be a hy.nn.Module, got ${describe(model)}`);
  if (loader === null || typeof loader !== 'object' || typeof (loader as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] !== 'function') {
    throw new TypeError(`${op}: loader must be a hy.data.DataLoader (an async iterable of batches), got ${describe(loader)}`);
  }
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) throw new TypeError(`${op}: options must be an object, got ${describe(opts)}`);
}

/**
 * One pass over loader: zeroGrad (to none), forward, loss, backward and step for every batch.
 *
 * @example
 * ```ts
 * const model = new hy.nn.Sequential(new hy.nn.Flatten(), new hy.nn.Linear(784, 10));
 * const loader = new hy.data.DataLoader(new hy.data.MNIST(), { batchSize: 64, shuffle: true });
 * const optimizer = new hy.optim.SGD(model.parameters(), { lr: 0.1 });
 * const { loss, seconds } = await hy.train.trainEpoch(model, loader, optimizer);
 * ```
 */
export async function trainEpoch(model: Module, loader: DataLoader, optimizer: Optimizer, opts: TrainEpochOptions = {}): Promise<EpochResult> {
  checkLoopArgs('trainEpoch', model, loader, opts);
  if (!(optimizer instanceof Optimizer)) throw new TypeError(`trainEpoch: optimizer must be a hy.optim optimizer, got ${describe(optimizer)}`);
  const lossEvery = opts.lossEvery ?? 20;
  const lossFn = opts.loss ?? defaultLoss;
  const scaler = opts.scaler;
  const graphed = opts.graphed;
  const setToNone = opts.setToNone ?? true;
  // zeroGrad, forward, loss, backward and the optimizer step: run as is, or captured and replayed.
  const step = (xb: Tensor, yb: Tensor): Tensor => {
    optimizer.zeroGrad({ setToNone });
    const forward = (): Tensor => tidy(() => lossFn(model.forward(xb), yb));
    const loss = scaler !== undefined ? autocast(forward) : forward();
    if (scaler !== undefined) {
      const scaled = scaler.scale(loss);
      scaled.backward();
      scaled.dispose();
      scaler.step(optimizer);
      scaler.update();
    } else {
      loss.backward();
      optimizer.step();
    }
    return loss;
  };
  const t0 = performance.now();
  let lossSum = 0;
  let reads = 0;
  let steps = 0;
  let samples = 0;
  let stopped = false;
  model.train();
  for await (const [x, y] of loader) {
    if (opts.signal?.aborted) {
      x.dispose();
      y.dispose();
      stopped = true;
      break; // the loader's iterator is closed by the for-await
    }
    const { loss, owned } = graphed !== undefined ? graphed.run(x, y, step) : { loss: step(x, y), owned: true };
    opts.afterStep?.();
    let read: number | null = null;
    // An awaited read: the CPU queue and the GPU keep computing while the event loop runs.
    // The last step is read too, so a loss that turned NaN between reads is caught in its epoch,
    // before a checkpoint of the weights it spoiled is written.
    if (steps % lossEvery === 0 || steps === loader.length - 1) {
      read = (await loss.data())[0];
      if (!Number.isFinite(read)) {
        for (const t of owned ? [x, y, loss] : [x, y]) t.dispose();
        throw new Error(`fit: the loss is ${read} at epoch ${opts.epoch ?? '?'}, step ${steps + 1}; training stopped`);
      }
      lossSum += read;
      reads++;
    } else {
      // A turn of the event loop every step: the device queues keep the compute going meanwhile,
      // and timers and I/O never wait for more than one step's JavaScript.
      await nextTurn();
    }
    steps++;
    samples += x.shape[0];
    for (const t of owned ? [x, y, loss] : [x, y]) t.dispose();
    opts.onStep?.(steps, read);
  }
  if (opts.device === 'cuda') synchronize();
  const seconds = (performance.now() - t0) / 1000;
  return { steps, samples, seconds, loss: reads > 0 ? lossSum / reads : NaN, stopped };
}

export interface EvaluateOptions {
  /** loss(output, target, ...) summed over the batch's samples (default crossEntropy). */
  loss?: (output: Tensor, target: Tensor) => Tensor;
  /** Forward under autocast. */
  amp?: boolean;
}

/**
 * The mean loss and the accuracy of model over loader, in eval mode and without gradients.
 *
 * @example
 * ```ts
 * const model = new hy.nn.Sequential(new hy.nn.Flatten(), new hy.nn.Linear(784, 10));
 * const test = new hy.data.DataLoader(new hy.data.MNIST({ train: false }), { batchSize: 1000 });
 * const { loss, accuracy } = await hy.train.evaluate(model, test);
 * ```
 */
export async function evaluate(model: Module, loader: DataLoader, opts: EvaluateOptions = {}): Promise<EvalResult> {
  checkLoopArgs('evaluate', model, loader, opts);
  const lossFn = opts.loss ?? defaultLoss;
  model.eval();
  let correct = 0;
  let total = 0;
  let lossSum = 0;
  try {
    for await (const [x, y] of loader) {
      const run = (): [Tensor, Tensor] =>
        noGrad(() => {
          const out = model.forward(x);
          return [out, lossFn(out, y)];
        });
      const [logits, loss] = opts.amp === true ? autocast(run) : run();
      const scores = await logits.data();
      const labels = await y.data();
      const classes = logits.shape[1];
      for (let r = 0; r < labels.length; r++) {
        let best = 0;
        for (let c = 1; c < classes; c++) if (scores[r * classes + c] > scores[r * classes + best]) best = c;
        if (best === labels[r]) correct++;
      }
      // the loss is the batch's mean: weighted by its samples
      lossSum += (await loss.data())[0] * labels.length;
      total += labels.length;
      for (const t of [x, y, logits, loss]) t.dispose();
    }
  } finally {
    model.train();
  }
  return { loss: lossSum / total, accuracy: correct / total };
}
