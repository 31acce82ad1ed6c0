// The public API as the fuzz of test/api-fuzz.test.ts sees it: every function and class exported
// by the package (namespaces walked), and every method of Tensor. Shared by the parent (which
// lists the targets and starts one child per target) and the child (which calls one).
import * as hy from '../lib/index';

export interface Target {
  /** hy.nn.functional.gelu, new hy.nn.Linear, Tensor.prototype.permute, ... */
  name: string;
  kind: 'function' | 'class' | 'method';
  get(): (...a: unknown[]) => unknown;
}

// Tensor members marked @internal (kept out of the published types): not public API.
const INTERNAL_METHODS = new Set(['aliasAs', 'bumpVersion', 'convert', 'copy', 'live', 'saveForBackward']);

// Namespaces of the package (objects of functions and classes), walked for their exports.
const NAMESPACES = new Set(['nn', 'functional', 'models', 'optim', 'data', 'amp', 'train', 'serialize', 'backends', 'memory', 'cuda', 'cpu']);

function isClass(f: unknown): boolean {
  return typeof f === 'function' && /^class\b/.test(Function.prototype.toString.call(f));
}

export function targets(): Target[] {
  const out: Target[] = [];
  const walk = (obj: Record<string, unknown>, path: string): void => {
    for (const key of Object.keys(obj).sort()) {
      const v = obj[key];
      const name = `${path}.${key}`;
      if (typeof v === 'function') {
        out.push({ name: isClass(v) ? `new ${name}` : name, kind: isClass(v) ? 'class' : 'function', get: () => v as (...a: unknown[]) => unknown });
      } else if (v !== null && typeof v === 'object' && NAMESPACES.has(key)) {
        walk(v as Record<string, unknown>, name);
      }
    }
  };
  walk(hy as unknown as Record<string, unknown>, 'hy');
  const proto = hy.Tensor.prototype as unknown as Record<string, unknown>;
  for (const key of Object.getOwnPropertyNames(proto).sort()) {
    if (key === 'constructor' || INTERNAL_METHODS.has(key)) continue;
    const d = Object.getOwnPropertyDescriptor(proto, key)!;
    if (typeof d.value !== 'function') continue;
    out.push({ name: `Tensor.${key}`, kind: 'method', get: () => d.value as (...a: unknown[]) => unknown });
  }
  return out;
}
