// fit's cudaGraph option: the training step captured in a CUDA graph and replayed once per batch.
// The first steps run eagerly (the autotuner times new shapes, the optimizer and GradScaler make
// their state), then one step is captured against static input tensors and every later batch is
// copied into them and replayed: one launch per step, no host synchronisation. A batch of another
// shape (the last, partial one) runs eagerly; a learning rate that changed since the capture (a
// per-epoch scheduler), or any other option of a group, means a new capture: they are kernel arguments.
import { CUDAGraph } from '../cuda_graph';
import type { Optimizer } from '../optim/optimizer';
import type { Tensor } from '../tensor';

/** Eager steps before the capture: the first creates state, the second runs in steady state. */
const WARMUP_STEPS = 2;

export interface StepResult {
  loss: Tensor;
  /** False for the graph's static loss, which the caller must not dispose. */
  owned: boolean;
}

export class GraphedStep {
  private graph: CUDAGraph | null = null;
  private x: Tensor | null = null;
  private y: Tensor | null = null;
  private loss: Tensor | null = null;
  private rates: string[] = [];
  private eager = 0;
  /** Steps run by replay, and captures made (for reports and tests). */
  replays = 0;
  captures = 0;

  constructor(private readonly optimizer: Optimizer) {}

  /** One training step on (x, y): replayed, captured then replayed, or eager. */
  run(x: Tensor, y: Tensor, step: (x: Tensor, y: Tensor) => Tensor): StepResult {
    if (this.graph !== null && !this.sameRates()) this.release();
    if (this.graph !== null) {
      if (!sameShape(x, this.x!) || !sameShape(y, this.y!) || x.dtype !== this.x!.dtype || y.dtype !== this.y!.dtype) {
        return { loss: step(x, y), owned: true };
      }
      this.x!.copy_(x);
      this.y!.copy_(y);
      this.graph.replay();
      this.replays++;
      return { loss: this.loss!, owned: false };
    }
    if (this.eager < WARMUP_STEPS) {
      this.eager++;
      return { loss: step(x, y), owned: true };
    }
    const sx = x.copy();
    const sy = y.copy();
    const graph = new CUDAGraph();
    let loss: Tensor;
    try {
      loss = graph.capture(() => step(sx, sy));
    } catch (e) {
      sx.dispose();
      sy.dispose();
      throw e;
    }
    this.graph = graph;
    this.x = sx;
    this.y = sy;
    this.loss = loss;
    this.rates = this.currentRates();
    this.captures++;
    graph.replay();
    this.replays++;
    return { loss, owned: false };
  }

  /** Gives back the graph, its memory pool and the static tensors. */
  release(): void {
    this.graph?.dispose();
    for (const t of [this.x, this.y, this.loss]) t?.dispose();
    this.graph = this.x = this.y = this.loss = null;
  }

  // Every group's numbers (lr, momentum, betas, weight decay, ...): schedulers may move any of them.
  private currentRates(): string[] {
    return this.optimizer.paramGroups.map(({ params, ...options }) => JSON.stringify(options));
  }

  private sameRates(): boolean {
    const now = this.currentRates();
    return now.length === this.rates.length && now.every((r, i) => r === this.rates[i]);
  }
}

function sameShape(a: Tensor, b: Tensor): boolean {
  return a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]);
}
