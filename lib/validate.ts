// What argument values mean is checked here, once, for every op, in one message style:
//   "<op>: <argument> must be <expected>, got <value>"
// TypeError when the value has the wrong type, RangeError when it has the right type but is out of
// range (a device mismatch included, as the binding reports it). The binding checks memory safety
// again (extents, overflow, devices) whatever TypeScript passes; these checks give the user the
// error in the terms of the call they wrote.
import { DTYPES } from './dtype';
import type { Device, DType } from './dtype';
import { describe } from './errors';
import { Tensor } from './tensor';

/** What a message shows as the value when describe(value) would say less, e.g. "an int32 tensor". */
export class Shown {
  constructor(readonly text: string) {}
}

/** Throws the one message style; `kind` is the JS error class. */
export function fail(kind: 'type' | 'range', op: string, argument: string, expected: string, got: unknown): never {
  const message = `${op}: ${argument} must be ${expected}, got ${got instanceof Shown ? got.text : describe(got)}`;
  throw kind === 'type' ? new TypeError(message) : new RangeError(message);
}

export function tensorArg(op: string, name: string, v: unknown): Tensor {
  if (!(v instanceof Tensor)) fail('type', op, name, 'a Tensor', v);
  v.live(op);
  return v;
}

export function floatTensor(op: string, name: string, v: unknown): Tensor {
  const t = tensorArg(op, name, v);
  if (t.dtype === 'int32') fail('type', op, name, "a float32 or float16 tensor (convert with .to('float32'))", new Shown('an int32 tensor'));
  return t;
}

/** t must be on the device of `like` (named likeName). */
export function sameDevice(op: string, likeName: string, like: Tensor, name: string, t: Tensor): void {
  if (t.device !== like.device) fail('range', op, name, `on ${like.device} like ${likeName}`, t.device);
}

export function dtypeArg(op: string, v: unknown): DType {
  const expected = `one of ${DTYPES.join(', ')}`;
  if (typeof v !== 'string') fail('type', op, 'dtype', expected, v);
  if (!(DTYPES as readonly string[]).includes(v)) fail('range', op, 'dtype', expected, v);
  return v as DType;
}

/** Accepts 'cpu', 'cuda' and 'cuda:0' (one GPU is supported). */
export function deviceArg(op: string, v: unknown): Device {
  if (typeof v !== 'string') fail('type', op, 'device', "'cpu' or 'cuda'", v);
  if (v === 'cpu' || v === 'cuda') return v;
  if (v === 'cuda:0') return 'cuda';
  return fail('range', op, 'device', "'cpu', 'cuda' or 'cuda:0'", v);
}

export function booleanArg(op: string, name: string, v: unknown, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') fail('type', op, name, 'a boolean', v);
  return v;
}

export function numberArg(op: string, name: string, v: unknown, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number') fail('type', op, name, 'a number', v);
  return v;
}

/** A finite number >= min (learning rates, momenta, decays). */
export function finiteAtLeast(op: string, name: string, v: unknown, min: number): number {
  if (typeof v !== 'number') fail('type', op, name, 'a number', v);
  if (!Number.isFinite(v) || v < min) fail('range', op, name, `a finite number >= ${min}`, v);
  return v;
}
