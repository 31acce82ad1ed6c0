// Classification losses: cross-entropy (logSoftmax and nllLoss fused in one kernel) forward and
// its fused backward, and nllLoss on log-probabilities forward and backward, reduction 'mean', at
// a wide shape (4096 classes) and at the MNIST network's logits (64 x 10). bench/peers/crossentropy.py
// times torch.nn.functional.cross_entropy / nll_loss and their autograd backward (PyTorch runs
// log_softmax and nll_loss kernels for cross_entropy) at the same shapes.
import * as hy from '../lib/index';
import type { Device, Tensor } from '../lib/index';
import { backwardOf, BenchRow, benchDtypes, caseName, disposeAll, ESIZE, PlannedCase, releaseGraph, runAll, runAsMain } from './harness';

export const covers = ['crossEntropy', 'crossEntropyBackward', 'nllLoss', 'nllLossBackward'];

function shapes(device: Device): [number, number][] {
  return [device === 'cuda' ? [8192, 4096] : [1024, 4096], [64, 10]];
}

/** Class indices spread over every class, the same on both sides (bench/peers/crossentropy.py). */
export function targets(rows: number, cols: number): Int32Array {
  return Int32Array.from({ length: rows }, (_, i) => (i * 7919) % cols);
}

const F = hy.nn.functional;

export function plan(device: Device): PlannedCase[] {
  return shapes(device).flatMap(([rows, cols]) =>
    benchDtypes(device).flatMap((dtype): PlannedCase[] => {
      const shape = [rows, cols];
      const n = rows * cols;
      const es = ESIZE[dtype];
      const opts = { device, dtype };
      const target = (): Tensor => hy.tensor(targets(rows, cols), { device });
      const shapeName = `${rows}x${cols} ${dtype}`;
      return [
        {
          case: caseName(device, `crossEntropy ${shapeName} forward`),
          bytes: n * es + 4 * rows, // read logits and targets; the loss is one value
          setup: () => {
            const x = hy.randn(shape, opts);
            const t = target();
            return { fn: () => F.crossEntropy(x, t).dispose(), dispose: () => disposeAll(x, t) };
          },
        },
        {
          case: caseName(device, `crossEntropy ${shapeName} backward fused`),
          bytes: 2 * n * es + 4 * rows, // read logits and targets, write gradLogits
          setup: () => {
            const x = hy.randn(shape, { ...opts, requiresGrad: true });
            const t = target();
            const loss = F.crossEntropy(x, t);
            const g = hy.ones([], opts);
            return { fn: backwardOf(loss, g), dispose: () => (releaseGraph(loss), disposeAll(x, t, g)) };
          },
        },
        {
          case: caseName(device, `nllLoss ${shapeName} forward`),
          bytes: rows * (es + 4), // read one log-probability and one target per row
          setup: () => {
            const logp = hy.noGrad(() => F.logSoftmax(hy.randn(shape, opts)));
            const t = target();
            return { fn: () => F.nllLoss(logp, t).dispose(), dispose: () => disposeAll(logp, t) };
          },
        },
        {
          case: caseName(device, `nllLoss ${shapeName} backward`),
          bytes: n * es + 4 * rows, // read targets, write gradIn (zeros but one entry per row)
          setup: () => {
            const logp = hy.noGrad(() => F.logSoftmax(hy.randn(shape, opts))).requiresGrad_();
            const t = target();
            const loss = F.nllLoss(logp, t);
            const g = hy.ones([], opts);
            return { fn: backwardOf(loss, g), dispose: () => (releaseGraph(loss), disposeAll(logp, t, g)) };
          },
        },
      ];
    }),
  );
}

export function caseNames(device: Device): string[] {
  return plan(device).map((c) => c.case);
}

export const run = (): Promise<BenchRow[]> => runAll('crossentropy', plan, (d) => ({ budgetMs: d === 'cuda' ? 300 : 1000 }));

if (require.main === module) runAsMain(run);
