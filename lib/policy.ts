// The dtype policy, in one wrapper every op runs through: which dtype its kernels compute in,
// the casts of its inputs to that dtype, the tensors saved for backward, and each gradient cast
// back to its input's dtype. Ops say only which rule applies to them; autocast (the AMP work)
// will be a per-op list that overrides the rule here, as PyTorch's autocast_mode.cpp does, not an
// edit of every op.
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

/** An override of an op's rule by name (autocast installs one); null keeps the op's own rule. */
export type DtypeOverride = (op: string, inputs: readonly (Tensor | null)[]) => DType | null;
let override: DtypeOverride | null = null;

export function setDtypeOverride(fn: DtypeOverride | null): DtypeOverride | null {
  const prev = override;
  override = fn;
  return prev;
}

export function computeDtype(op: string, rule: DtypeRule, inputs: readonly (Tensor | null)[]): DType {
  const o = override?.(op, inputs) ?? null;
  if (o !== null) return o;
  const floats = inputs.filter((t): t is Tensor => t !== null && isFloating(t.dtype));
  if (rule === 'float32' || floats.length === 0) return 'float32';
  if (rule === 'input') return floats[0].dtype;
  return floats.some((t) => t.dtype === 'float32') ? 'float32' : floats[0].dtype;
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
  /** The output's dtype when it is not the compute dtype (a loss in the input's dtype). */
  outDtype?: DType;
  forward(inputs: (Tensor | null)[], dtype: DType): Forward;
}

function castTo(t: Tensor, dtype: DType): Tensor {
  return t.dtype === dtype ? t : t.to(dtype);
}

/** g cast to dtype; g is disposed when a cast was needed. */
function castBack(g: Tensor | null, dtype: DType | undefined): Tensor | null {
  if (g === null || dtype === undefined || g.dtype === dtype || !isFloating(dtype)) return g;
  const c = g.to(dtype);
  g.dispose();
  return c;
}

/** Runs one op under its dtype rule; see the file header. */
export function runOp(call: OpCall): Tensor {
  const dtype = computeDtype(call.op, call.rule, call.inputs);
  const f32 = new Set(call.float32 ?? []);
  const cast = call.inputs.map((t, i) => (t === null || !isFloating(t.dtype) ? t : castTo(t, f32.has(i) ? 'float32' : dtype)));
  let fwd: Forward;
  try {
    fwd = call.forward(cast, dtype);
  } catch (e) {
    disposeCasts(cast, call.inputs);
    throw e;
  }
  const kernelDtype = fwd.out.dtype;
  let out = fwd.out;
  if (call.outDtype !== undefined && out.dtype !== call.outDtype) {
    const o = out.to(call.outDtype);
    out.dispose();
    out = o;
  }
  const backward = fwd.backward;
  const grad = backward !== undefined && needsGrad(...call.inputs);
  // Saved tensors are aliases, so the casts and temporaries can go as soon as they are taken.
  const saved = grad ? (fwd.save ?? []).map((t) => t.saveForBackward()) : [];
  disposeCasts(cast, call.inputs);
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

function disposeCasts(cast: (Tensor | null)[], inputs: (Tensor | null)[]): void {
  cast.forEach((c, i) => {
    if (c !== null && c !== inputs[i] && !c.isDisposed) c.dispose();
  });
}
