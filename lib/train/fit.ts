// hy.train.fit: the training loop with every tip switchable. Per epoch: trainEpoch (autocast and
// the GradScaler when amp is on, gradients set to none, the loss read back every lossEvery steps
// so the device never waits for the host), the scheduler, an evaluation pass, a checkpoint
// (written atomically) and a report. A checkpoint holds the weights, the optimizer's, scheduler's
// and scaler's state, the random generator's state and the loader's epoch, so a resumed run ends
// where the uninterrupted one does, bit for bit on the same device.
import { GradScaler } from '../amp/grad_scaler';
import { getGeneratorState, setGeneratorState } from '../random';
import type { DataLoader } from '../data/dataloader';
import type { Device } from '../dtype';
import { crossEntropy } from '../nn/functional';
import type { Module } from '../nn/modules';
import type { Optimizer, OptimizerStateDict } from '../optim/optimizer';
import { load, save, tensorsIn } from '../serialize';
import type { Tensor } from '../tensor';
import { fail } from '../validate';
import { GraphedStep } from './graphed_step';
import { evaluate, trainEpoch } from './loop';
import { makeReporter } from './progress';
import type { EpochReport, ProgressMode } from './progress';

/** What fit needs of a scheduler: hy.optim's all qualify. */
export interface FitScheduler {
  step(): void;
  stateDict(): object;
  loadStateDict(sd: never): void;
}

export interface FitOptions {
  epochs: number;
  optimizer: Optimizer;
  scheduler?: FitScheduler;
  /** When the scheduler steps: after every epoch (default, as the seed's StepLR) or every batch. */
  schedulerStep?: 'epoch' | 'batch';
  /** loss(output, target); default crossEntropy (use nllLoss for a model ending in logSoftmax). */
  loss?: (output: Tensor, target: Tensor) => Tensor;
  /** Autocast (float16) with a GradScaler (default: false). */
  amp?: boolean;
  /** The GradScaler amp uses (default: a new one). */
  scaler?: GradScaler;
  evalLoader?: DataLoader;
  /** What the evaluation reports (default both). */
  metrics?: ('loss' | 'accuracy')[];
  /** Write a checkpoint to this file after every epoch (or every `every` epochs). */
  checkpoint?: string | { path: string; every?: number };
  /** Resume from a checkpoint: a file, or true for the checkpoint option's file when it exists. */
  resume?: string | boolean;
  /**
   * Capture the steady-state step in a CUDA graph and replay it once per batch: no per-kernel
   * launches and no host synchronisation (default false; CUDA only). The first two steps run
   * eagerly; a batch of another shape runs eagerly; a change of learning rate means a new capture.
   */
  cudaGraph?: boolean;
  /** Stops cleanly at the next step: the epoch in progress is not checkpointed, the result says stopped. */
  signal?: { readonly aborted: boolean };
  /** The batches' device (default: where the first parameter is). */
  device?: Device;
  /** 'auto' (default): a progress bar on a terminal, a line per epoch otherwise; 'json': a JSON line per epoch. */
  progress?: ProgressMode;
  /** Where report lines go (default console.log). */
  log?: (line: string) => void;
  /** Read the loss back every this many steps (default 20). */
  lossEvery?: number;
  onEpoch?: (r: EpochReport) => void;
}

export interface FitResult {
  epochs: EpochReport[];
  /** Wall time of the epochs run by this call (training and evaluation). */
  seconds: number;
  /** Training samples per second over those epochs (training time only). */
  samplesPerSecond: number;
  /** The last evaluation's accuracy, when there was one. */
  testAccuracy?: number;
  /** True when the signal stopped training. */
  stopped: boolean;
  /** The epoch training resumed after (0 for a fresh start). */
  resumedFrom: number;
  /** With cudaGraph: the captures made (one, plus one per change of learning rate) and the steps replayed. */
  cudaGraph?: { captures: number; replays: number };
}

const FORMAT = 'hayate.fit/1';

interface Checkpoint {
  format: string;
  epoch: number;
  model: Record<string, Tensor>;
  optimizer: OptimizerStateDict;
  scheduler: object | null;
  scaler: object | null;
  generator: { seed: number; offset: number };
  history: EpochReport[];
}

function checkOptions(opts: FitOptions): void {
  if (opts === null || typeof opts !== 'object') fail('type', 'fit', 'options', 'an object', opts);
  const known = ['epochs', 'optimizer', 'scheduler', 'schedulerStep', 'loss', 'amp', 'scaler', 'evalLoader', 'metrics', 'checkpoint', 'resume', 'cudaGraph', 'signal', 'device', 'progress', 'log', 'lossEvery', 'onEpoch'];
  for (const k of Object.keys(opts)) if (!known.includes(k)) throw new TypeError(`fit: unknown option '${k}' (known: ${known.join(', ')})`);
  if (typeof opts.epochs !== 'number' || !Number.isInteger(opts.epochs) || opts.epochs < 1) fail('range', 'fit', 'epochs', 'an integer >= 1', opts.epochs);
  if (opts.optimizer === undefined || typeof (opts.optimizer as { step?: unknown }).step !== 'function') fail('type', 'fit', 'optimizer', 'an optimizer', opts.optimizer);
  if (opts.cudaGraph !== undefined && typeof opts.cudaGraph !== 'boolean') fail('type', 'fit', 'cudaGraph', 'a boolean', opts.cudaGraph);
  if (opts.cudaGraph === true && opts.schedulerStep === 'batch') {
    throw new RangeError("fit: cudaGraph with schedulerStep 'batch' would capture the step again after every batch (learning rates are kernel arguments); step the scheduler per epoch or leave cudaGraph off");
  }
  if (opts.schedulerStep !== undefined && opts.schedulerStep !== 'epoch' && opts.schedulerStep !== 'batch') fail('range', 'fit', 'schedulerStep', "'epoch' or 'batch'", opts.schedulerStep);
  if (opts.progress !== undefined && !['auto', 'bar', 'lines', 'json', 'none'].includes(opts.progress)) fail('range', 'fit', 'progress', "'auto', 'bar', 'lines', 'json' or 'none'", opts.progress);
  if (opts.resume !== undefined && typeof opts.resume !== 'boolean' && typeof opts.resume !== 'string') fail('type', 'fit', 'resume', 'a file or a boolean', opts.resume);
  if (opts.lossEvery !== undefined && (typeof opts.lossEvery !== 'number' || !Number.isInteger(opts.lossEvery) || opts.lossEvery < 1)) fail('range', 'fit', 'lossEvery', 'an integer >= 1', opts.lossEvery);
  if (opts.resume === true && checkpointPath(opts) === null) throw new TypeError('fit: resume: true needs the checkpoint option (the file to resume from)');
}

function checkpointPath(opts: FitOptions): string | null {
  const c = opts.checkpoint;
  if (c === undefined) return null;
  if (typeof c === 'string') return c;
  if (c === null || typeof c !== 'object' || typeof c.path !== 'string') fail('type', 'fit', 'checkpoint', 'a file or {path, every}', c);
  return c.path;
}

function checkpointEvery(opts: FitOptions): number {
  const c = opts.checkpoint;
  const every = typeof c === 'object' && c !== null ? c.every ?? 1 : 1;
  if (!Number.isInteger(every) || every < 1) fail('range', 'fit', 'checkpoint.every', 'an integer >= 1', every);
  return every;
}

/**
 * Trains model on loader for opts.epochs epochs; see FitOptions.
 *
 * @example
 * ```ts
 * const model = new hy.nn.Sequential(new hy.nn.Flatten(), new hy.nn.Linear(784, 128), new hy.nn.ReLU(), new hy.nn.Linear(128, 10));
 * const loader = new hy.data.DataLoader(new hy.data.MNIST(), { batchSize: 64, shuffle: true });
 * const evalLoader = new hy.data.DataLoader(new hy.data.MNIST({ train: false }), { batchSize: 1000 });
 * const { testAccuracy } = await hy.train.fit(model, loader, { epochs: 3, optimizer: new hy.optim.Adam(model.parameters()), evalLoader, checkpoint: 'mnist.safetensors', resume: true });
 * ```
 */
export async function fit(model: Module, loader: DataLoader, opts: FitOptions): Promise<FitResult> {
  checkOptions(opts);
  const log = opts.log ?? ((line: string) => console.log(line));
  const reporter = makeReporter(opts.progress ?? 'auto', log);
  const path = checkpointPath(opts);
  const every = checkpointEvery(opts);
  const optimizer = opts.optimizer;
  const device = opts.device ?? model.parameters()[0]?.device ?? 'cpu';
  const scaler = opts.amp === true ? opts.scaler ?? new GradScaler() : undefined;
  const ownScaler = opts.amp === true && opts.scaler === undefined;
  const lossFn = opts.loss ?? ((out: Tensor, y: Tensor) => crossEntropy(out, y));
  if (opts.cudaGraph === true && device !== 'cuda') throw new RangeError(`fit: cudaGraph needs the model on a CUDA device (it is on ${device})`);
  const history: EpochReport[] = [];
  let start = 0;
  const resumeFrom = opts.resume === true ? path : typeof opts.resume === 'string' ? opts.resume : null;
  if (resumeFrom !== null && !(opts.resume === true && !(await exists(resumeFrom)))) {
    start = restore(resumeFrom, model, optimizer, opts.scheduler, scaler, device, history);
    loader.setEpoch(start);
  }
  // The epoch the checkpoint file holds, for the message of a failure (null: no file written yet).
  let written: number | null = resumeFrom !== null && resumeFrom === path && start > 0 ? start : null;
  const t0 = performance.now();
  let trainSeconds = 0;
  let trainSamples = 0;
  let stopped = false;
  const graphed = opts.cudaGraph === true ? new GraphedStep(optimizer) : undefined;
  try {
    for (let epoch = start + 1; epoch <= opts.epochs; epoch++) {
      if (opts.signal?.aborted) {
        stopped = true;
        break;
      }
      const lr = optimizer.paramGroups[0].lr;
      reporter.epochStart(epoch, opts.epochs, loader.length);
      const tr = await trainEpoch(model, loader, optimizer, {
        device,
        lossEvery: opts.lossEvery,
        loss: lossFn,
        scaler,
        signal: opts.signal,
        onStep: (done, loss) => reporter.step(done, loss),
        afterStep: opts.schedulerStep === 'batch' ? () => opts.scheduler?.step() : undefined,
        epoch,
        graphed,
      });
      if (tr.stopped) {
        reporter.stop();
        stopped = true;
        break;
      }
      if (opts.scheduler !== undefined && opts.schedulerStep !== 'batch') opts.scheduler.step();
      trainSeconds += tr.seconds;
      trainSamples += tr.samples;
      const report: EpochReport = { epoch, trainLoss: tr.loss, trainSamples: tr.samples, steps: tr.steps, seconds: tr.seconds, samplesPerSecond: tr.samples / tr.seconds, lr };
      if (opts.evalLoader !== undefined) {
        const ev = await evaluate(model, opts.evalLoader, { loss: lossFn, amp: opts.amp === true });
        const metrics = opts.metrics ?? ['loss', 'accuracy'];
        if (metrics.includes('loss')) report.evalLoss = ev.loss;
        if (metrics.includes('accuracy')) report.evalAccuracy = ev.accuracy;
      }
      history.push(report);
      if (path !== null && (epoch % every === 0 || epoch === opts.epochs)) {
        writeCheckpoint(path, epoch, model, optimizer, opts.scheduler, scaler, history);
        written = epoch;
      }
      reporter.epochEnd(report);
      opts.onEpoch?.(report);
    }
  } catch (e) {
    reporter.stop();
    const kept = path !== null && written !== null ? ` (the last good checkpoint, ${path}, holds epoch ${written})` : '';
    if (e instanceof Error && kept !== '' && !e.message.includes(kept)) e.message += kept;
    throw e;
  } finally {
    graphed?.release();
    if (ownScaler) scaler!.dispose();
  }
  const last = history[history.length - 1];
  return {
    epochs: history,
    seconds: (performance.now() - t0) / 1000,
    samplesPerSecond: trainSeconds > 0 ? trainSamples / trainSeconds : 0,
    testAccuracy: last?.evalAccuracy,
    stopped,
    resumedFrom: start,
    ...(graphed !== undefined ? { cudaGraph: { captures: graphed.captures, replays: graphed.replays } } : {}),
  };
}

async function exists(file: string): Promise<boolean> {
  const { access } = await import('node:fs/promises');
  return access(file).then(
    () => true,
    () => false,
  );
}

function writeCheckpoint(path: string, epoch: number, model: Module, optimizer: Optimizer, scheduler: FitScheduler | undefined, scaler: GradScaler | undefined, history: EpochReport[]): void {
  const weights = model.stateDict();
  const opt = optimizer.stateDict();
  try {
    const ck: Checkpoint = {
      format: FORMAT,
      epoch,
      model: weights,
      optimizer: opt,
      scheduler: scheduler?.stateDict() ?? null,
      scaler: scaler?.stateDict() ?? null,
      generator: getGeneratorState(),
      history,
    };
    save(ck as unknown as Record<string, unknown>, path);
  } finally {
    for (const t of Object.values(weights)) t.dispose();
    for (const s of Object.values(opt.state)) for (const v of Object.values(s)) if (typeof v === 'object') v.dispose();
  }
}

/** Loads a checkpoint into the model, optimizer, scheduler and scaler; returns its epoch. A file that cannot be read changes nothing. */
function restore(path: string, model: Module, optimizer: Optimizer, scheduler: FitScheduler | undefined, scaler: GradScaler | undefined, device: Device, history: EpochReport[]): number {
  let ck: Checkpoint;
  try {
    ck = load(path, { device }) as unknown as Checkpoint;
  } catch (e) {
    throw new Error(`fit: cannot resume from ${path}: ${(e as Error).message}`, { cause: e });
  }
  try {
    if (ck === null || typeof ck !== 'object' || ck.format !== FORMAT || !Number.isInteger(ck.epoch) || ck.epoch < 0) {
      throw new Error(`fit: ${path} is not a hayate fit checkpoint (format '${String((ck as { format?: unknown })?.format)}')`);
    }
    model.loadStateDict(ck.model);
    optimizer.loadStateDict(ck.optimizer);
    if (scheduler !== undefined && ck.scheduler !== null) scheduler.loadStateDict(ck.scheduler as never);
    if (scaler !== undefined && ck.scaler !== null && Object.keys(ck.scaler).length > 0) scaler.loadStateDict(ck.scaler as never);
    setGeneratorState(ck.generator);
    history.push(...(ck.history ?? []));
    return ck.epoch;
  } catch (e) {
    if (e instanceof Error && !e.message.includes(path)) e.message = `fit: cannot resume from ${path}: ${e.message}`;
    throw e;
  } finally {
    // every tensor the file held, whatever its layout (a file that is not a checkpoint included)
    for (const t of tensorsIn(ck)) t.dispose();
  }
}
