// The dtype policy, in one wrapper every op runs through: which dtype its kernels compute in,
// the casts of its inputs to that dtype, the tensors saved for backward, and each gradient cast
// back to its input's dtype. Ops say only which rule applies to them; autocast (lib/amp) is a
// per-op list that overrides the rule here, as PyTorch's autocast_mode.cpp does, not an edit of
// every op. The override is looked up in the current async context (AsyncLocalStorage), so an
// autocast region covers its own code and the async work it starts, and nothing else.
import { AsyncLocalStorage } from 'node:async_hooks';

import { needsGrad, record } from './autograd';
import { isFloating } from './dtype';
import type { DType } from './dtype';
import type { Tensor } from './tensor';

/**
 * promote: float16 with float32 computes in float32, as PyTorch's type promotion;
 * input: the first tensor input's dtype (an op of one floating input);
 * float32: float32 whatever the inputs.
 */
export type DtypeRule = 'promote' | 'input' | 'float32';

/** An override of ops' rules by op name, installed for an async context (autocast installs one). */
export interface DtypeOverride {
  /** The dtype op computes in here, or null to keep the op's own rule. */
  dtypeFor(op: string, inputs: readonly (Tensor | null)[]): DType | null;
  /**
   * t cast to dtype from a cache the override owns (autocast's weight cache), or null for an
   * ordinary cast. runOp never disposes what this returns; the override frees it.
   */
  cachedCast?(t: Tensor, dtype: DType): Tensor | null;
}

const overrides = new AsyncLocalStorage<DtypeOverride | undefined>();

/** The override of the current async context, if any. */
export function currentDtypeOverride(): DtypeOverride | undefined {
  return overrides.getStore();
}

/** Runs fn (and the async work it starts) with `o` as the override; the caller's is untouched. */
export function runWithDtypeOverride<T>(o: DtypeOverride | undefined, fn: () => T): T {
  return overrides.run(o, fn);
}

/**
 * Makes `o` the override of the rest of the current synchronous execution and of what it schedules
 * from now on (AsyncLocalStorage.enterWith): the disposable form of autocast, whose limits it has.
 */
export function enterDtypeOverride(o: DtypeOverride | undefined): void {
  overrides.enterWith(o);
}

/** The dtype the current override gives op on these inputs, or null where none applies. */
export function overriddenDtype(op: string, inputs: readonly (Tensor | null)[]): DType | null {
  const o = overrides.getStore();
  return o === undefined ? null : o.dtypeFor(op, inputs);
}

export function computeDtype(op: string, rule: DtypeRule, inputs: readonly (Tensor | null)[]): DType {
  const o = overriddenDtype(op, inputs);
  if (o !== null) return o;
  return ruleDtype(rule, inputs);
}

function ruleDtype(rule: DtypeRule, inputs: readonly (Tensor | null)[]): DType {
  if (rule === 'float32') return 'float32';
  let first: DType | null = null;
  for (const t of inputs) {
    if (t === null || !isFloating(t.dtype)) continue;
    if (rule === 'input') return t.dtype;
    if (t.dtype === 'float32') return 'float32';
    first ??= t.dtype;
  }
  return first ?? 'float32';
}

export interface Forward {
  /** The output, in the compute dtype (or any dtype the op chose, such as a float32 loss). */
  out: Tensor;
  /** Tensors backward reads: kept alive (as untracked aliases) until the backward has run. */
  save?: Tensor[];
  /** Intermediates that are not the output: disposed once backward's aliases of them are taken. */
  temps?: Tensor[];
  /** Gradients of each input given the output's gradient, both in the compute dtype. */
  backward?: (g: Tensor, saved: Tensor[]) => (Tensor | null)[];
}

export interface OpCall {
  op: string;
  rule: DtypeRule;
  /** The op's tensor inputs in argument order; null for an absent optional one. */
  inputs: (Tensor | null)[];
  /** Indices of inputs the kernel always reads as float32 (batch-norm parameters, say). */
  float32?: number[];
  /**
   * The output's dtype when the forward's is not it: 'compute' casts the output to the compute
   * dtype (a loss whose kernel writes float32 comes out in the dtype the op computed in).
   */
  outDtype?: DType | 'compute';
  forward(inputs: (Tensor | null)[], dtype: DType): Forward;
}

function castTo(t: Tensor, dtype: DType): Tensor {
  return t.dtype === dtype ? t : t.convert(dtype);
}

/** g cast to dtype; g is disposed when a cast was needed. */
function castBack(g: Tensor | null, dtype: DType | undefined): Tensor | null {
  if (g === null || dtype === undefined || g.dtype === dtype || !isFloating(dtype)) return g;
  const c = g.convert(dtype);
  g.dispose();
  return c;
}

/** Runs one op under its dtype rule; see the file header. */
export function runOp(call: OpCall): Tensor {
  const o = overrides.getStore();
  const forced = o === undefined ? null : o.dtypeFor(call.op, call.inputs);
  const dtype = forced ?? ruleDtype(call.rule, call.inputs);
  const f32 = call.float32;
  const cast: (Tensor | null)[] = [];
  // owned[i]: cast[i] is runOp's own copy, disposed once the forward has taken what it needs
  // (a copy from the override's cache is the override's to free)
  const owned: boolean[] = [];
  try {
    for (let i = 0; i < call.inputs.length; i++) {
      const t = call.inputs[i];
      const target = f32 !== undefined && f32.includes(i) ? 'float32' : dtype;
      if (t === null || !isFloating(t.dtype) || t.dtype === target) {
        cast.push(t);
        owned.push(false);
        continue;
      }
      const cached = o?.cachedCast?.(t, target) ?? null;
      cast.push(cached ?? t.convert(target));
      owned.push(cached === null);
    }
  } catch (e) {
    disposeCasts(cast, owned);
    throw e;
  }
  let fwd: Forward;
  try {
    fwd = call.forward(cast, dtype);
  } catch (e) {
    disposeCasts(cast, owned);
    throw e;
  }
  const kernelDtype = fwd.out.dtype;
  let out = fwd.out;
  const outDtype = call.outDtype === 'compute' ? dtype : call.outDtype;
  if (outDtype !== undefined && out.dtype !== outDtype) {
    const c = out.convert(outDtype);
    out.dispose();
    out = c;
  }
  const backward = fwd.backward;
  const grad = backward !== undefined && needsGrad(...call.inputs);
  // Saved tensors are aliases, so the casts and temporaries can go as soon as they are taken.
  const saved = grad ? (fwd.save ?? []).map((t) => t.saveForBackward()) : [];
  disposeCasts(cast, owned);
  for (const t of fwd.temps ?? []) t.dispose();
  if (!grad) return out;
  const inputDtypes = call.inputs.map((t) => t?.dtype);
  record(out, call.op, call.inputs, (gOut) => {
    const g = castTo(gOut, kernelDtype);
    const grads = backward!(g, saved);
    if (g !== gOut) g.dispose();
    return grads.map((gi, i) => castBack(gi, inputDtypes[i]));
  }, saved);
  return out;
}

function disposeCasts(cast: (Tensor | null)[], owned: boolean[]): void {
  for (let i = 0; i < owned.length; i++) {
    const c = cast[i];
    if (owned[i] && c !== null && !c.isDisposed) c.dispose();
  }
}
