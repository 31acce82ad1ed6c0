// Argument checks and dtype helpers shared by the functional ops: every family checks its inputs
// the same way (errors name the op and the value) and casts gradients around float32 kernels alike.
import type { DType } from '../../dtype';
import { sameDevice as checkSameDevice } from '../../validate';
import { checkFloat, checkTensor } from '../../ops';
import type { Tensor } from '../../tensor';

export function floatInput(op: string, name: string, v: unknown): Tensor {
  const t = checkTensor(op, name, v);
  checkFloat(op, t);
  return t;
}

export function shapeStr(t: Tensor): string {
  return `[${t.shape.join(', ')}]`;
}

/** g in dtype; g itself when it already is (the caller disposes the result only if it differs). */
export function inDtype(g: Tensor, dtype: DType): Tensor {
  return g.dtype === dtype ? g : g.to(dtype);
}

/** g cast to like's dtype; g is disposed when a cast was needed. */
export function castBack(g: Tensor | null, dtype: DType): Tensor | null {
  if (g === null || g.dtype === dtype) return g;
  const c = g.to(dtype);
  g.dispose();
  return c;
}

export { booleanArg as checkBoolean, numberArg as checkNumber } from '../../validate';

export function sameDevice(op: string, x: Tensor, name: string, t: Tensor): void {
  checkSameDevice(op, 'input', x, name, t);
}
