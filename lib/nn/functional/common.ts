// Argument checks shared by the functional ops, so every family checks its inputs the same way
// (lib/validate.ts: errors name the op, the argument and the value). Dtype casts are runOp's.
import { checkFloat, checkTensor } from '../../ops';
import type { Tensor } from '../../tensor';

export function floatInput(op: string, name: string, v: unknown): Tensor {
  const t = checkTensor(op, name, v);
  checkFloat(op, t, name);
  return t;
}

export function shapeStr(t: Tensor): string {
  return `[${t.shape.join(', ')}]`;
}

export { booleanArg as checkBoolean, numberArg as checkNumber } from '../../validate';
