// hy.cuda.CUDAGraph: GPU work captured once and replayed with one launch and no host
// synchronisation (torch.cuda.CUDAGraph). The capture records the compute stream; every tensor the
// captured work allocates comes from the graph's private memory pool, so replays write the same
// addresses, and dropout inside the graph reads its Philox counter from a device slot that each
// replay fills first, so every replay draws fresh masks exactly as the same steps run eagerly would.
import { describe } from './errors';
import { native } from './native';
import { beginGraphDraws, endGraphDraws, takeReplayCounters } from './random';
import { createdDuring } from './scope';
import { allocTensor, cudaState } from './tensor';
import type { Tensor } from './tensor';

// Graphs nobody disposed are released when collected.
const released = new FinalizationRegistry<number>((id) => {
  try {
    native.graphDestroy(id);
  } catch {
    // the addon is shutting down
  }
});

/**
 * True while a CUDA graph is being captured (torch.cuda.is_current_stream_capturing).
 *
 * @example
 * ```ts
 * if (!hy.cuda.isCapturing()) console.log(loss.item()); // a read would break a capture
 * ```
 */
export function isCapturing(): boolean {
  return cudaState().available && native.graphCapturing();
}

/**
 * A CUDA graph, as torch.cuda.CUDAGraph: `capture(fn)` records the GPU work fn queues (without
 * running it), `replay()` runs that work again on the same tensors. Inputs are read from, and
 * outputs written to, the tensors the capture used: copy new data into the static inputs before
 * each replay, read the outputs after it. Run fn once before capturing (the autotuner times new
 * shapes, optimizers make their state); fn must not read tensors back, synchronise, or copy
 * through the host (a clear error says which). Learning rates and other numbers given to kernels
 * are fixed at capture: capture again after changing them. A capture that fails ran none of fn's
 * GPU work, so state fn created lazily (an optimizer's buffers, a GradScaler's scale) exists but
 * was never initialised: the warm-up run avoids that too.
 *
 * @example
 * ```ts
 * const x = hy.randn([64, 784], { device: 'cuda' });
 * const step = () => { opt.zeroGrad(); const loss = hy.nn.functional.crossEntropy(model.forward(x), y); loss.backward(); opt.step(); return loss; };
 * step(); // warm-up, eagerly
 * const graph = new hy.cuda.CUDAGraph();
 * const loss = graph.capture(step); // recorded, not run
 * for (const batch of batches) { x.copy_(batch); graph.replay(); }
 * console.log(loss.item());
 * graph.dispose();
 * ```
 */
export class CUDAGraph {
  private id = 0;
  private counter: Tensor | null = null;
  private draws = 0;

  /**
   * Records the GPU work fn queues into this graph and returns fn's result (its tensors are the
   * graph's static outputs). The work is not run: call replay().
   *
   * @example
   * ```ts
   * const graph = new hy.cuda.CUDAGraph();
   * const y = graph.capture(() => hy.nn.functional.gelu(x));
   * graph.replay(); // y holds gelu(x)
   * ```
   */
  capture<T>(fn: () => T): T {
    const op = 'cuda.CUDAGraph.capture';
    if (typeof fn !== 'function') throw new TypeError(`${op}: fn must be a function, got ${describe(fn)}`);
    if (this.id !== 0) throw new Error(`${op}: this graph is already captured; dispose() it first or make another`);
    if (!cudaState().available) throw new RangeError(`${op}: CUDA graphs need a CUDA device (${cudaState().reason ?? 'none available'})`);
    const counter = allocTensor(op, [4], 'int32', 'cuda'); // {seed, base}: two uint64
    let id: number;
    try {
      id = native.graphBegin();
    } catch (e) {
      counter.dispose();
      throw e;
    }
    beginGraphDraws(counter);
    let result: T;
    let created = new Set<Tensor>();
    try {
      ({ result, created } = createdDuring(fn));
      if (result instanceof Promise) {
        result.catch(() => undefined);
        throw new TypeError(`${op}: fn must be synchronous (it returned a Promise): work queued after capture() returns is not in the graph`);
      }
    } catch (e) {
      endGraphDraws();
      try {
        native.graphEnd(id);
      } catch {
        // the capture was broken by the error itself
      }
      native.graphDestroy(id);
      counter.dispose();
      throw e;
    }
    const draws = endGraphDraws();
    try {
      native.graphEnd(id);
    } catch (e) {
      counter.dispose();
      // The outputs fn made were never computed: nothing will ever fill them. Tensors it returned
      // that existed before are the caller's.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { tensorsIn } = require('./serialize') as typeof import('./serialize');
      for (const t of tensorsIn(result)) if (created.has(t)) t.dispose();
      throw e;
    }
    this.id = id;
    this.counter = counter;
    this.draws = draws;
    released.register(this, id, this);
    return result;
  }

  /**
   * Runs the captured work once more, queued on the GPU with no host synchronisation.
   *
   * @example
   * ```ts
   * for (const batch of batches) { staticInput.copy_(batch); graph.replay(); }
   * ```
   */
  replay(): void {
    const op = 'cuda.CUDAGraph.replay';
    if (this.id === 0) throw new Error(`${op}: nothing captured (call capture() first, and not after dispose())`);
    if (this.draws > 0) {
      const [seed, base] = takeReplayCounters(this.draws);
      native.run('philoxCounter', { counter: this.counter!.live(op), seed, base });
    }
    native.graphReplay(this.id);
  }

  /** True once capture() has succeeded, until dispose(). */
  get captured(): boolean {
    return this.id !== 0;
  }

  /**
   * Releases the graph and its private memory pool (the static outputs stay valid).
   *
   * @example
   * ```ts
   * graph.dispose(); // the graph's pool becomes ordinary cached memory
   * ```
   */
  dispose(): void {
    if (this.id === 0) return;
    released.unregister(this);
    native.graphDestroy(this.id);
    this.id = 0;
    this.counter?.dispose();
    this.counter = null;
  }
}
