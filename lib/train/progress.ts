// How fit() reports: a progress bar on a terminal (cli-progress), plain lines when the output is
// not a terminal, JSON lines for machines, or nothing. Each reporter hears the same three events.
import { SingleBar } from 'cli-progress';

export interface EpochReport {
  epoch: number;
  /** The mean of the training losses read back (every lossEvery-th step). */
  trainLoss: number;
  trainSamples: number;
  steps: number;
  seconds: number;
  samplesPerSecond: number;
  /** The learning rate of the first parameter group during the epoch. */
  lr: number;
  evalLoss?: number;
  evalAccuracy?: number;
  /** Steps whose update the GradScaler skipped on an inf/NaN gradient are not counted here: they are on the device. */
}

export type ProgressMode = 'auto' | 'bar' | 'lines' | 'json' | 'none';

export interface Reporter {
  epochStart(epoch: number, epochs: number, steps: number): void;
  step(done: number, loss: number | null): void;
  epochEnd(r: EpochReport): void;
  /** Ends the bar, if any (an error or an abort in the middle of an epoch). */
  stop(): void;
}

function epochLine(r: EpochReport): string {
  const evalPart = r.evalAccuracy !== undefined ? `, test loss ${r.evalLoss!.toFixed(4)}, test accuracy ${(100 * r.evalAccuracy).toFixed(2)}%` : '';
  return `epoch ${r.epoch}: ${r.seconds.toFixed(2)} s, ${r.samplesPerSecond.toFixed(0)} samples/s, lr ${r.lr.toPrecision(3)}, train loss ~${r.trainLoss.toFixed(4)}${evalPart}`;
}

/** @internal (its stream is a NodeJS.WriteStream: kept out of the types) */
export function makeReporter(mode: ProgressMode, write: (line: string) => void, stream: NodeJS.WriteStream = process.stderr): Reporter {
  const resolved = mode === 'auto' ? (stream.isTTY ? 'bar' : 'lines') : mode;
  if (resolved === 'none') return { epochStart() {}, step() {}, epochEnd() {}, stop() {} };
  if (resolved === 'json') {
    return { epochStart() {}, step() {}, epochEnd: (r) => write(JSON.stringify({ event: 'epoch', ...r })), stop() {} };
  }
  if (resolved === 'lines') return { epochStart() {}, step() {}, epochEnd: (r) => write(epochLine(r)), stop() {} };
  let bar: SingleBar | null = null;
  return {
    epochStart(epoch, epochs, steps) {
      bar = new SingleBar({ format: `epoch ${epoch}/${epochs} {bar} {value}/{total} steps | loss {loss} | {eta_formatted} left`, stream, hideCursor: true, clearOnComplete: true });
      bar.start(steps, 0, { loss: '-' });
    },
    step(done, loss) {
      bar?.update(done, loss === null ? {} : { loss: loss.toFixed(4) });
    },
    epochEnd(r) {
      bar?.stop();
      bar = null;
      write(epochLine(r));
    },
    stop() {
      bar?.stop();
      bar = null;
    },
  };
}
