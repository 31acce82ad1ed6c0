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
  let shown: string | undefined;
  try {
    if (got instanceof Shown) shown = got.text;
  } catch {
    // instanceof runs a Proxy's getPrototypeOf trap (or throws on a revoked Proxy): describe it
  }
  const message = `${op}: ${argument} must be ${expected}, got ${shown ?? describe(got)}`;
  throw kind === 'type' ? new TypeError(message) : new RangeError(message);
}

/** v instanceof Tensor, false where the check itself throws (a revoked Proxy, a throwing getPrototypeOf trap). */
export function isTensorValue(v: unknown): v is Tensor {
  try {
    return v instanceof Tensor;
  } catch {
    return false;
  }
}

export function tensorArg(op: string, name: string, v: unknown): Tensor {
  if (!isTensorValue(v)) fail('type', op, name, 'a Tensor', v);
  v.live(op);
  return v;
}

export function floatTensor(op: string, name: string, v: unknown): Tensor {
  const t = tensorArg(op, name, v);
  if (t.dtype === 'int32' || t.dtype === 'bool') fail('type', op, name, "a float32 or float16 tensor (convert with .to('float32'))", new Shown(`a${t.dtype === 'int32' ? 'n' : ''} ${t.dtype} tensor`));
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

/**
 * An options object: undefined (no options) or an object whose own keys are all in `allowed`; a
 * snake_case key whose camelCase form is allowed (PyTorch's retain_graph for retainGraph) is named
 * with its spelling here. Returns the own properties.
 */
export function optionsArg(op: string, opts: unknown, allowed: readonly string[]): Record<string, unknown> {
  if (opts === undefined) return {};
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) fail('type', op, 'options', 'an object', opts);
  const own: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(opts)) {
    if (!allowed.includes(k)) {
      const camel = k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
      const hint = camel !== k && allowed.includes(camel) ? `did you mean '${camel}'? ` : '';
      throw new TypeError(`${op}: unknown option '${k}' (${hint}expected ${allowed.join(', ')})`);
    }
    own[k] = v;
  }
  return own;
}

/** An integer (a dim, a size); the range is the caller's to check. */
export function integerArg(op: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) fail('type', op, name, 'an integer', v);
  return v;
}
