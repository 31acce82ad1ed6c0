// Define-by-run autograd: each op that sees an input requiring a gradient records a node on its
// output; backward() walks the nodes in reverse topological order, accumulating gradients into
// leaves' .grad and freeing each node's saved buffers as soon as its backward has run.
import { AsyncLocalStorage } from 'node:async_hooks';

import { describe } from './errors';
import type { Tensor } from './tensor';
import { booleanArg, optionsArg, sameDevice, tensorArg } from './validate';

export interface GradNode {
  readonly name: string;
  /** The op's tensor inputs (null where an input is not a tensor or needs no gradient). */
  readonly inputs: readonly (Tensor | null)[];
  /** Gradients with respect to each input, given the gradient of the output. */
  backward(gradOutput: Tensor): (Tensor | null)[];
  /** Frees the tensors saved for backward. */
  release(): void;
  released: boolean;
  /** The aliases backward reads (their savedVersion checked against their storage's version). */
  readonly saved: readonly Tensor[];
  /**
   * One use per live tensor this node made and per node that reads one of them. When the last
   * goes (the output disposed with no backward, and no op built on it), the node releases its
   * saved tensors and gives up its uses of the nodes it reads: a dropped graph frees its memory.
   */
  dropUse(): void;
  /** A new use: a node built on this node's output. */
  addUse(): void;
  /** @internal Drops one use; true when it was the last. */
  take(): boolean;
}

/** Drops one use of each node in `start`, releasing every node whose last use goes (iteratively: graphs can be long). */
function dropUses(start: GradNode[]): void {
  const work = start;
  while (work.length > 0) {
    const node = work.pop()!;
    if (!node.take()) continue;
    if (!node.released) node.release();
    for (const t of node.inputs) if (t !== null && t.gradFn !== null) work.push(t.gradFn);
  }
}

// Grad mode lives in the async context, not in a process-wide flag: noGrad(async () => ...) turns
// recording off for fn and every continuation fn creates (its awaits, timers, callbacks), while
// code outside fn, including code that runs while fn is awaiting, keeps its own mode. The store
// holds a boolean (no allocation per op); undefined, outside every region, means enabled.
const gradMode = new AsyncLocalStorage<boolean>();

/**
 * Whether ops record a graph in the current async context (torch.is_grad_enabled).
 *
 * @example
 * ```ts
 * hy.isGradEnabled(); // true
 * hy.noGrad(() => hy.isGradEnabled()); // false
 * ```
 */
export function isGradEnabled(): boolean {
  return gradMode.getStore() !== false;
}

function checkFn(op: string, fn: unknown): void {
  if (typeof fn !== 'function') throw new TypeError(`${op}: expected a function, got ${describe(fn)}`);
}

/**
 * Runs fn with grad mode set to `enabled` (torch.set_grad_enabled as a context): sync or async fn;
 * the mode holds for fn and the async work it starts, and is the caller's again when this returns
 * (at once, for an async fn: the caller is unaffected while fn awaits). An exception restores too.
 *
 * @example
 * ```ts
 * const w = hy.randn([3], { requiresGrad: true });
 * const y = hy.setGradEnabled(false, () => w.mul(2)); // y.requiresGrad is false
 * ```
 */
export function setGradEnabled<T>(enabled: boolean, fn: () => T): T {
  if (typeof enabled !== 'boolean') throw new TypeError(`setGradEnabled: enabled must be a boolean, got ${describe(enabled)}`);
  checkFn('setGradEnabled', fn);
  return gradMode.run(enabled, fn);
}

/**
 * Runs fn without recording operations for autograd (torch.no_grad); see setGradEnabled.
 *
 * @example
 * ```ts
 * const w = hy.randn([3], { requiresGrad: true });
 * const y = hy.noGrad(() => w.mul(2)); // no graph: y.requiresGrad is false
 * ```
 */
export function noGrad<T>(fn: () => T): T {
  checkFn('noGrad', fn);
  return gradMode.run(false, fn);
}

/**
 * Runs fn with recording on, inside a noGrad region too (torch.enable_grad); see setGradEnabled.
 *
 * @example
 * ```ts
 * const w = hy.randn([3], { requiresGrad: true });
 * const y = hy.noGrad(() => hy.enableGrad(() => w.mul(2))); // recorded: y.requiresGrad is true
 * ```
 */
export function enableGrad<T>(fn: () => T): T {
  checkFn('enableGrad', fn);
  return gradMode.run(true, fn);
}

/** True when an op on these inputs must be recorded. */
export function needsGrad(...inputs: (Tensor | number | null | undefined)[]): boolean {
  if (gradMode.getStore() === false) return false;
  for (const t of inputs) if (t !== null && typeof t === 'object' && t.requiresGrad) return true;
  return false;
}

/**
 * Records `name` on `output`. `saved` are aliases that keep the storages backward reads alive even
 * if the user disposes the originals; they are released after backward (or by the finalizer).
 */
export function record(
  output: Tensor,
  name: string,
  inputs: (Tensor | null)[],
  backward: (g: Tensor) => (Tensor | null)[],
  saved: Tensor[] = [],
): Tensor {
  let uses = 1; // the output
  const node: GradNode = {
    name,
    inputs: inputs.map((t) => (t !== null && t.requiresGrad ? t : null)),
    backward,
    released: false,
    saved,
    release() {
      for (const s of saved) s.dispose();
      saved.length = 0;
      this.released = true;
    },
    dropUse() {
      dropUses([this]);
    },
    addUse() {
      uses++;
    },
    take() {
      return --uses === 0;
    },
  };
  for (const t of node.inputs) if (t !== null && t.gradFn !== null) t.gradFn.addUse();
  output.requiresGrad = true;
  output.gradFn = node;
  return output;
}

export interface BackwardOptions {
  /** Keep the saved buffers so backward can run through the graph again. */
  retainGraph?: boolean;
}

/** Hooks the engine needs from the tensor layer (set once by ops.ts, avoiding an import cycle). */
export interface EngineOps {
  onesLike(t: Tensor): Tensor;
  add(a: Tensor, b: Tensor): Tensor;
  addInto(target: Tensor, g: Tensor): void;
  keep(t: Tensor): Tensor;
}
let engine: EngineOps | undefined;
export function setEngineOps(ops: EngineOps): void {
  engine = ops;
}

export function runBackward(root: Tensor, gradient: unknown, opts?: unknown): void {
  const ops = engine!;
  const op = 'backward';
  // Every argument is checked before anything runs, so a rejected call leaves the graph as it was.
  const grad = gradient === undefined || gradient === null ? null : tensorArg(op, 'gradient', gradient);
  const o = optionsArg(op, opts, ['retainGraph']);
  const retainGraph = booleanArg(op, 'retainGraph', o.retainGraph, false);
  if (!root.requiresGrad) throw new Error('backward: the tensor does not require grad and has no grad_fn');
  let rootGrad: Tensor;
  if (grad === null) {
    if (root.numel !== 1) throw new RangeError(`backward: a gradient must be given for a tensor of ${root.numel} elements (only scalars get an implicit one)`);
    rootGrad = noGrad(() => ops.onesLike(root));
  } else {
    sameDevice(op, 'the tensor', root, 'gradient', grad);
    if (grad.shape.length !== root.shape.length || grad.shape.some((d, i) => d !== root.shape[i])) {
      throw new RangeError(`backward: gradient shape [${grad.shape.join(', ')}] does not match the tensor's [${root.shape.join(', ')}]`);
    }
    rootGrad = grad.dtype === root.dtype ? grad.copy() : grad.convert(root.dtype);
  }
  ops.keep(rootGrad);
  if (root.gradFn === null) {
    accumulateLeaf(root, rootGrad, ops);
    return;
  }
  // Reverse topological order by iterative depth-first search.
  const order: GradNode[] = [];
  const visited = new Set<GradNode>();
  const stack: [GradNode, number][] = [[root.gradFn, 0]];
  visited.add(root.gradFn);
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const [node, i] = top;
    if (i < node.inputs.length) {
      top[1]++;
      const next = node.inputs[i]?.gradFn ?? null;
      if (next !== null && !visited.has(next)) {
        visited.add(next);
        stack.push([next, 0]);
      }
    } else {
      stack.pop();
      order.push(node);
    }
  }
  // A saved tensor changed in place since (an optimizer step between forward and backward) would
  // give a wrong gradient: refuse before any gradient is written, as PyTorch does.
  for (const node of order) {
    if (node.released) continue;
    for (const t of node.saved) {
      const st = t.storage;
      if (st !== null && t.savedVersion >= 0 && st.version !== t.savedVersion) {
        rootGrad.dispose();
        throw new Error(
          `backward: a tensor of shape [${t.shape.join(', ')}] that ${node.name} saved for its gradient was modified in place ` +
            `(it is at version ${st.version}; ${node.name} saved version ${t.savedVersion}): run backward before optimizer.step(), ` +
            'or compute the loss again after the step',
        );
      }
    }
  }
  const grads = new Map<GradNode, Tensor>([[root.gradFn, rootGrad]]);
  for (let k = order.length - 1; k >= 0; k--) {
    const node = order[k];
    const g = grads.get(node);
    if (g === undefined) continue;
    grads.delete(node);
    if (node.released) {
      g.dispose();
      throw new Error(`backward: the graph through ${node.name} was already freed; pass {retainGraph: true} to the first backward to run it twice`);
    }
    const inputGrads = noGrad(() => node.backward(g));
    g.dispose();
    if (!retainGraph) node.release();
    node.inputs.forEach((input, i) => {
      const ig = inputGrads[i] ?? null;
      if (ig === null) return;
      ops.keep(ig);
      if (input === null) {
        ig.dispose();
        return;
      }
      if (input.gradFn !== null) {
        const prev = grads.get(input.gradFn);
        if (prev === undefined) {
          grads.set(input.gradFn, ig);
        } else {
          ops.addInto(prev, ig);
          ig.dispose();
        }
      } else {
        accumulateLeaf(input, ig, ops);
      }
    });
  }
  for (const g of grads.values()) g.dispose();
}

function accumulateLeaf(leaf: Tensor, g: Tensor, ops: EngineOps): void {
  if (leaf.grad === null || leaf.grad.isDisposed) {
    leaf.grad = g;
  } else {
    noGrad(() => ops.addInto(leaf.grad!, g));
    g.dispose();
  }
}
