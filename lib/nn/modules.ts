// hy.nn modules: stateful layers over hy.nn.functional, with PyTorch's Module conventions
// (parameters, buffers, submodules registered by assigning them to fields, train / eval, state
// dicts, printing). Call a module through forward().
import { inspect } from 'node:util';

import { DTYPE_BYTES, isDType, isFloating } from '../dtype';
import type { Device, DType } from '../dtype';
import { describe } from '../errors';
import { native } from '../native';
import { detach, flatten, gelu, GeluOptions, noGrad, relu } from '../ops';
import { linear } from '../linalg';
import { checkOptions, ones, rand, Tensor, zeros } from '../tensor';
import { keep } from '../scope';
import { load as loadTensors, save as saveTensors, tensorsIn } from '../serialize/safetensors';
import * as F from './functional';
import type { LossOptions, Reduction, SmoothL1Options } from './functional/loss';
import { conv2dOptions, samePadding } from './functional/conv';
import { maxPool2dWindow } from './functional/pooling';
import { finiteAtLeast, integerArg } from '../validate';

export type StateDict = Record<string, Tensor>;

export interface LoadStateDictOptions {
  /** Require exactly the module's keys (default true). */
  strict?: boolean;
}

// ---- registration ----
//
// A field that holds a Module or a parameter (a leaf tensor with requiresGrad) registers it, as
// PyTorch's Module.__setattr__ does: `class Net extends Module { fc1 = new Linear(784, 128) }`.
// Class fields are defined after the base constructor returns, so the constructor cannot see them;
// Module's constructor therefore returns a Proxy of the instance whose only traps are
// defineProperty and deleteProperty. Both a class field definition and a plain assignment
// (`this.fc = m`: [[Set]] without a set trap ends in the receiver's [[DefineOwnProperty]]) reach
// the defineProperty trap, so registration happens at the write, in write order (insertion order,
// as PyTorch's dicts keep it), and a replaced field replaces its registration in place.
//
// Why a write-only Proxy rather than discovering fields lazily in parameters() and the other
// walks: registration is immediate and exact (order, replacement, deletion, PyTorch's type
// errors for a wrong value in a registered name), the bias-before-batch-norm check sees the
// children when they are assigned, and no walk has to re-scan every field. Reads have no trap,
// but a read through a proxy still skips V8's inline caches: about 25 ns instead of ~1 ns, and
// a layer costs two (the field, then its forward), against several microseconds for the layer's
// op. Measured (Node 20, CPU): a Sequential(Linear, ReLU, Linear, ReLU, Linear, LogSoftmax) on [4, 32],
// 44-47 us per forward (best of 15 runs) before and after; a Sequential of 6 identity modules,
// ~0.21 us per forward before and after; a user module calling 6 identity fields, 0.0013 us
// before (inlined away, and registering nothing) and ~0.28 us after.
//
// Plain arrays are not looked into, as in PyTorch: `layers = [new Linear(...), ...]` registers
// nothing; hold them in a ModuleList. Internal state lives under a non-enumerable symbol, so a
// subclass's own field names cannot collide with it.

interface ModuleState {
  /** The proxy every caller holds (what the constructor returned). */
  self: Module;
  /** The instance behind the proxy (fields are written here directly, bypassing the traps). */
  readonly target: Module;
  readonly params: Map<string, Tensor | null>;
  readonly buffers: Map<string, Tensor | null>;
  readonly modules: Map<string, Module | null>;
}

const STATE = Symbol('hayate.nn.Module.state');

function stateOf(m: Module): ModuleState {
  return (m as unknown as { [STATE]: ModuleState })[STATE];
}

function className(s: ModuleState): string {
  return s.target.constructor.name;
}

function describeValue(v: unknown): string {
  if (v instanceof Tensor) return !v.isLeaf ? 'a tensor computed by an op (not a leaf)' : 'a tensor that does not require grad';
  if (v instanceof Module) return `a ${v.constructor.name}`;
  return describe(v);
}

const FIELD_TRAPS: ProxyHandler<Module> = {
  defineProperty(target, key, desc) {
    if (typeof key === 'string' && 'value' in desc) assignField(stateOf(target), key, desc.value);
    return Reflect.defineProperty(target, key, desc);
  },
  deleteProperty(target, key) {
    if (typeof key === 'string') {
      const s = stateOf(target);
      s.params.delete(key);
      s.buffers.delete(key);
      s.modules.delete(key);
    }
    return Reflect.deleteProperty(target, key);
  },
};

/** A field write: registers, re-registers or unregisters key as PyTorch's __setattr__ does. */
function assignField(s: ModuleState, key: string, value: unknown): void {
  if (value instanceof Module) {
    s.params.delete(key);
    s.buffers.delete(key);
    setChild(s, key, value);
  } else if (value instanceof Tensor && value.requiresGrad && value.isLeaf) {
    s.modules.delete(key);
    s.buffers.delete(key);
    s.params.set(key, keep(value));
  } else if (s.params.has(key)) {
    if (value !== null && value !== undefined) {
      throw new TypeError(`${className(s)}: cannot assign ${describeValue(value)} to parameter '${key}': expected a leaf tensor that requires grad, or null`);
    }
    s.params.set(key, null);
  } else if (s.buffers.has(key)) {
    if (value !== null && value !== undefined && !(value instanceof Tensor)) {
      throw new TypeError(`${className(s)}: cannot assign ${describeValue(value)} to buffer '${key}': expected a Tensor or null`);
    }
    s.buffers.set(key, value instanceof Tensor ? keep(value) : null);
  } else if (s.modules.has(key)) {
    if (value !== null && value !== undefined) {
      throw new TypeError(`${className(s)}: cannot assign ${describeValue(value)} to submodule '${key}': expected a Module or null`);
    }
    s.modules.set(key, null);
  }
}

/** Where each module was first registered, for the dotted paths that warnings name. */
const parents = new WeakMap<ModuleState, { parent: ModuleState; name: string }>();

function setChild(s: ModuleState, key: string, m: Module): void {
  const c = stateOf(m);
  if (c === s) throw new TypeError(`${className(s)}: a module cannot be its own submodule ('${key}')`);
  s.modules.set(key, c.self);
  const p = parents.get(c);
  if (p === undefined || p.parent.modules.get(p.name) !== c.self) parents.set(c, { parent: s, name: key });
  scheduleAudit(s);
}

/** The dotted path of s from its outermost registered parent ('' for a root). */
function pathOf(s: ModuleState): string {
  const parts: string[] = [];
  const seen = new Set<ModuleState>();
  let cur = s;
  for (;;) {
    const p = parents.get(cur);
    if (p === undefined || seen.has(cur) || p.parent.modules.get(p.name) !== cur.self) break;
    seen.add(cur);
    parts.unshift(p.name);
    cur = p.parent;
  }
  return parts.join('.');
}

/** Makes a registered name readable as a field (`this.mask` after registerBuffer('mask', ...)), as in PyTorch. */
function exposeField(s: ModuleState, name: string, value: unknown): void {
  const own = Reflect.getOwnPropertyDescriptor(s.target, name);
  if (own !== undefined) {
    if ('value' in own && own.writable) Reflect.defineProperty(s.target, name, { value });
  } else if (!(name in s.target)) {
    // Not an accessor of the class either (Linear's weight getter reads the registry itself).
    Reflect.defineProperty(s.target, name, { value, writable: true, enumerable: true, configurable: true });
  }
}

/** After to() replaced a tensor: a field that held the old one now holds the new one. */
function syncField(s: ModuleState, name: string, old: Tensor, moved: Tensor): void {
  const own = Reflect.getOwnPropertyDescriptor(s.target, name);
  if (own !== undefined && own.value === old) Reflect.defineProperty(s.target, name, { value: moved });
}

function checkName(op: string, s: ModuleState, name: unknown, kind: 'params' | 'buffers' | 'modules'): string {
  if (typeof name !== 'string') throw new TypeError(`${op}: name must be a string, got ${describe(name)}`);
  if (name === '' || name.includes('.')) throw new RangeError(`${op}: name must be non-empty and contain no '.', got ${describe(name)}`);
  if (name in Module.prototype || name === 'training') throw new RangeError(`${op}: '${name}' is a Module member; choose another name`);
  const words = { params: 'a parameter', buffers: 'a buffer', modules: 'a submodule' } as const;
  for (const other of ['params', 'buffers', 'modules'] as const) {
    if (other !== kind && s[other].has(name)) throw new RangeError(`${op}: '${name}' is already ${words[other]} of this ${className(s)}`);
  }
  return name;
}

// ---- the bias-before-batch-norm check (PyTorch performance guide, tip 6.2) ----
//
// A Linear or Conv2d with a bias whose output goes straight into a batch norm wastes the bias: the
// batch norm subtracts the per-channel mean, bias included. The check runs on the next tick after
// a module gains a child, when the synchronous code that builds the model (nested containers
// included) has finished, so the warning names the layer's full path ('features.3'). Adjacent
// children are checked (a Sequential's order, or a user module's registration order); a
// Sequential child is looked into for its first or last layer. Each layer warns at most once.

const pendingAudits = new Set<ModuleState>();
const warnedLayers = new WeakSet<ModuleState>();

function scheduleAudit(s: ModuleState): void {
  if (pendingAudits.size === 0) process.nextTick(runAudits);
  pendingAudits.add(s);
}

function runAudits(): void {
  const list = [...pendingAudits];
  pendingAudits.clear();
  for (const s of list) auditBiasBeforeNorm(s);
}

/** The first or last layer inside nested Sequentials, with its path relative to m. */
function edgeLayer(m: Module, path: string, which: 'first' | 'last'): [string, Module] {
  let cur = m;
  let p = path;
  const seen = new Set<Module>();
  while (cur instanceof Sequential && !seen.has(cur)) {
    seen.add(cur);
    const kids = [...stateOf(cur).modules].filter((e): e is [string, Module] => e[1] !== null);
    if (kids.length === 0) break;
    const [k, c] = kids[which === 'first' ? 0 : kids.length - 1];
    p = `${p}.${k}`;
    cur = c;
  }
  return [p, cur];
}

function auditBiasBeforeNorm(s: ModuleState): void {
  const kids = [...s.modules].filter((e): e is [string, Module] => e[1] !== null);
  let base: string | undefined;
  for (let i = 0; i + 1 < kids.length; i++) {
    const [layerPath, layer] = edgeLayer(kids[i][1], kids[i][0], 'last');
    const [normPath, norm] = edgeLayer(kids[i + 1][1], kids[i + 1][0], 'first');
    if (!(layer instanceof Linear || layer instanceof Conv2d) || layer.bias === null || !(norm instanceof BatchNormBase)) continue;
    const ls = stateOf(layer);
    if (warnedLayers.has(ls)) continue;
    warnedLayers.add(ls);
    base ??= pathOf(s);
    const full = (p: string): string => (base === '' ? p : `${base}.${p}`);
    process.emitWarning(
      `${layer.constructor.name} '${full(layerPath)}' feeds ${norm.constructor.name} '${full(normPath)}' and has a bias: the bias is redundant, ` +
        "because the batch norm's mean subtraction cancels it; set bias: false on the layer",
      { type: 'HayateWarning', code: 'HAYATE_BIAS_BEFORE_BATCHNORM' },
    );
  }
}

// ---- printing ----

/** A number as Python prints a float where the two differ most visibly: 1e-05, not 0.00001. */
function formatNumber(v: number): string {
  const a = Math.abs(v);
  if (v !== 0 && Number.isFinite(v) && (a < 1e-4 || a >= 1e16)) {
    const [mantissa, exp] = v.toExponential().split('e');
    const sign = exp.startsWith('-') ? '-' : '+';
    return `${mantissa}e${sign}${exp.replace(/^[+-]/, '').padStart(2, '0')}`;
  }
  return String(v);
}

/** An option's value in a module's printed form: numbers, booleans, 'strings', [pairs]. */
export function formatValue(v: unknown): string {
  if (typeof v === 'number') return formatNumber(v);
  if (typeof v === 'string') return `'${v}'`;
  if (Array.isArray(v)) return `[${v.map(formatValue).join(', ')}]`;
  return String(v);
}

/** PyTorch's _addindent: every line but the first indented by n spaces. */
function addIndent(s: string, n: number): string {
  const lines = s.split('\n');
  if (lines.length === 1) return s;
  const pad = ' '.repeat(n);
  return [lines[0], ...lines.slice(1).map((l) => pad + l)].join('\n');
}

/**
 * The base of every layer and model, as torch.nn.Module: modules and parameters assigned to fields
 * register themselves (parameters(), to(), stateDict() see them). Call a module through forward().
 *
 * @example
 * ```ts
 * class Net extends hy.nn.Module {
 *   fc = new hy.nn.Linear(784, 10); // a field holding a module registers it
 *   forward(x: hy.Tensor) { return this.fc.forward(x); }
 * }
 * ```
 */
export abstract class Module {
  /** True in training mode (the default); switched by train() and eval(). */
  training = true;

  constructor() {
    const s: ModuleState = { self: this, target: this, params: new Map(), buffers: new Map(), modules: new Map() };
    Object.defineProperty(this, STATE, { value: s });
    // See "registration" above: fields assigned from here on register themselves.
    const proxy = new Proxy(this, FIELD_TRAPS);
    s.self = proxy;
    return proxy;
  }

  /**
   * The module's computation, implemented by each subclass; call the module through it.
   *
   * @example
   * ```ts
   * const lin = new hy.nn.Linear(4, 2);
   * const y = lin.forward(hy.randn([3, 4])); // [3, 2]
   * ```
   */
  abstract forward(...inputs: Tensor[]): Tensor;

  /**
   * Registers a parameter (a leaf that requires grad) under name; null registers an absent one.
   * Assigning the tensor to a field does the same.
   *
   * @example
   * ```ts
   * const lin = new hy.nn.Linear(4, 2);
   * lin.registerParameter('scale', hy.ones([1], { requiresGrad: true }));
   * lin.namedParameters().map(([k]) => k); // ['weight', 'bias', 'scale']
   * ```
   */
  registerParameter(name: string, t: Tensor | null): void {
    const op = 'registerParameter';
    const s = stateOf(this);
    checkName(op, s, name, 'params');
    if (t !== null) {
      if (!(t instanceof Tensor)) throw new TypeError(`${op}: '${name}' must be a Tensor or null, got ${describe(t)}`);
      keep(t);
      if (!t.isLeaf) throw new TypeError(`${op}: '${name}' must be a leaf tensor`);
      t.requiresGrad = true;
    }
    s.params.set(name, t);
    exposeField(s, name, t);
  }

  /**
   * Registers state that is not trained but is saved and moved with the module (e.g. running statistics).
   *
   * @example
   * ```ts
   * const lin = new hy.nn.Linear(4, 2);
   * lin.registerBuffer('mask', hy.ones([2]));
   * lin.namedBuffers().map(([k]) => k); // ['mask']
   * ```
   */
  registerBuffer(name: string, t: Tensor | null): void {
    const op = 'registerBuffer';
    const s = stateOf(this);
    checkName(op, s, name, 'buffers');
    if (t !== null) {
      if (!(t instanceof Tensor)) throw new TypeError(`${op}: '${name}' must be a Tensor or null, got ${describe(t)}`);
      keep(t);
    }
    s.buffers.set(name, t);
    exposeField(s, name, t);
  }

  /**
   * Registers a submodule under name and returns it; assigning it to a field does the same.
   *
   * @example
   * ```ts
   * const model = new hy.nn.Sequential();
   * const fc = model.registerModule('fc', new hy.nn.Linear(4, 2));
   * ```
   */
  registerModule<M extends Module>(name: string, m: M): M {
    const s = stateOf(this);
    if (!(m instanceof Module)) throw new TypeError(`registerModule: '${name}' must be a Module, got ${describe(m)}`);
    checkName('registerModule', s, name, 'modules');
    setChild(s, name, m);
    exposeField(s, name, stateOf(m).self);
    return m;
  }

  /** @internal */
  protected param(name: string): Tensor | null {
    return stateOf(this).params.get(name) ?? null;
  }

  /** @internal */
  protected buffer(name: string): Tensor | null {
    return stateOf(this).buffers.get(name) ?? null;
  }

  /**
   * [name, module] for the direct submodules, in registration order (each module once).
   *
   * @example
   * ```ts
   * const model = new hy.nn.Sequential(new hy.nn.Linear(4, 8), new hy.nn.ReLU());
   * for (const [name, child] of model.namedChildren()) console.log(name, String(child));
   * ```
   */
  namedChildren(): [string, Module][] {
    const out: [string, Module][] = [];
    const seen = new Set<Module>();
    for (const [k, m] of stateOf(this).modules) {
      if (m === null || seen.has(m)) continue;
      seen.add(m);
      out.push([k, m]);
    }
    return out;
  }

  /**
   * The direct submodules, in registration order (each module once).
   *
   * @example
   * ```ts
   * const model = new hy.nn.Sequential(new hy.nn.Linear(4, 8), new hy.nn.ReLU());
   * model.children().length; // 2
   * ```
   */
  children(): Module[] {
    return this.namedChildren().map(([, m]) => m);
  }

  /**
   * This module (named prefix, '' by default) and every submodule below it by dotted path, depth
   * first in registration order, each module once (as torch.nn.Module.named_modules).
   *
   * @example
   * ```ts
   * const model = new hy.nn.Sequential(new hy.nn.Linear(4, 2));
   * model.namedModules().map(([k]) => k); // ['', '0']
   * ```
   */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [];
    const seen = new Set<ModuleState>();
    const walk = (s: ModuleState, path: string): void => {
      if (seen.has(s)) return;
      seen.add(s);
      out.push([path, s.self]);
      for (const [k, c] of s.modules) if (c !== null) walk(stateOf(c), path === '' ? k : `${path}.${k}`);
    };
    walk(stateOf(this), prefix);
    return out;
  }

  /**
   * This module and every submodule below it, depth first in registration order (each module once).
   *
   * @example
   * ```ts
   * const model = new hy.nn.Sequential(new hy.nn.Linear(4, 8), new hy.nn.ReLU());
   * model.modules().length; // 3: the Sequential, the Linear and the ReLU
   * ```
   */
  modules(): Module[] {
    return this.namedModules().map(([, m]) => m);
  }

  private namedTensors(kind: 'params' | 'buffers', prefix: string): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    const seen = new Set<Tensor>();
    for (const [path, m] of this.namedModules(prefix)) {
      for (const [k, t] of stateOf(m)[kind]) {
        if (t === null || seen.has(t)) continue;
        seen.add(t);
        out.push([path === '' ? k : `${path}.${k}`, t]);
      }
    }
    return out;
  }

  /**
   * Every parameter with its dotted name ("0.weight"), submodules included; a shared one once.
   *
   * @example
   * ```ts
   * const model = new hy.nn.Sequential(new hy.nn.Linear(4, 2));
   * model.namedParameters().map(([k]) => k); // ['0.weight', '0.bias']
   * ```
   */
  namedParameters(prefix = ''): [string, Tensor][] {
    return this.namedTensors('params', prefix);
  }

  /**
   * Every parameter, submodules included, in the order of namedParameters(); a shared one once.
   *
   * @example
   * ```ts
   * const model = new hy.nn.Linear(784, 10);
   * const opt = new hy.optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
   * ```
   */
  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  /**
   * Every buffer with its dotted name ("0.runningMean"), submodules included; a shared one once.
   *
   * @example
   * ```ts
   * const model = new hy.nn.Sequential(new hy.nn.BatchNorm1d(8));
   * model.namedBuffers().map(([k]) => k); // ['0.runningMean', '0.runningVar']
   * ```
   */
  namedBuffers(prefix = ''): [string, Tensor][] {
    return this.namedTensors('buffers', prefix);
  }

  /**
   * Every buffer, submodules included, in the order of namedBuffers().
   *
   * @example
   * ```ts
   * const bn = new hy.nn.BatchNorm2d(16);
   * bn.buffers().length; // 2: runningMean and runningVar
   * ```
   */
  buffers(): Tensor[] {
    return this.namedBuffers().map(([, t]) => t);
  }

  /**
   * Sets training mode here and in every submodule; returns this.
   *
   * @example
   * ```ts
   * const model = new hy.nn.Sequential(new hy.nn.Linear(4, 4), new hy.nn.Dropout(0.5));
   * model.train(); // dropout active, batch norm uses batch statistics
   * model.train(false); // the same as model.eval()
   * ```
   */
  train(mode = true): this {
    if (typeof mode !== 'boolean') throw new TypeError(`train: mode must be a boolean, got ${describe(mode)}`);
    this.training = mode;
    for (const m of this.children()) m.train(mode);
    return this;
  }

  /**
   * Sets evaluation mode here and in every submodule (train(false)); returns this.
   *
   * @example
   * ```ts
   * const model = new hy.nn.Sequential(new hy.nn.Linear(4, 4), new hy.nn.Dropout(0.5));
   * const y = model.eval().forward(hy.randn([2, 4])); // dropout is the identity now
   * ```
   */
  eval(): this {
    return this.train(false);
  }

  /**
   * Frees every parameter's gradient and sets it to null (cheaper than zero-filling; backward then assigns).
   *
   * @example
   * ```ts
   * const lin = new hy.nn.Linear(4, 2);
   * hy.sum(lin.forward(hy.randn([3, 4]))).backward();
   * lin.zeroGrad(); // lin.weight.grad is null again
   * ```
   */
  zeroGrad(): void {
    for (const p of this.parameters()) {
      if (p.grad !== null) p.grad.dispose();
      p.grad = null;
    }
  }

  /**
   * Moves parameters and buffers to a device, or casts the floating-point parameters to a dtype.
   * Buffers keep their dtype on a dtype change (batch-norm statistics stay float32, as the
   * kernels keep them). Gradients are dropped when a parameter is replaced; a tensor shared by
   * several modules stays shared. Returns this.
   *
   * @example
   * ```ts
   * const model = new hy.nn.Linear(784, 10).to('cuda');
   * model.to('float16'); // cast the parameters
   * ```
   */
  to(target: Device | DType | 'cuda:0'): this {
    const dtypeChange = isDType(target);
    if (dtypeChange && !isFloating(target as DType)) throw new RangeError(`to: modules can only be cast to a floating-point dtype, got ${describe(target)}`);
    const moved = new Map<Tensor, Tensor>();
    const convert = (s: ModuleState, map: Map<string, Tensor | null>): void => {
      for (const [k, t] of map) {
        if (t === null) continue;
        let m = moved.get(t);
        if (m === undefined) {
          m = t.convert(target);
          if (m !== t) {
            keep(m);
            m.requiresGrad = t.requiresGrad;
            t.dispose();
          }
          moved.set(t, m);
        }
        if (m === t) continue;
        map.set(k, m);
        syncField(s, k, t, m);
      }
    };
    for (const mod of this.modules()) {
      const s = stateOf(mod);
      convert(s, s.params);
      if (!dtypeChange) convert(s, s.buffers);
    }
    return this;
  }

  /**
   * Parameters and buffers by dotted name, as detached aliases sharing their storage.
   *
   * @example
   * ```ts
   * const lin = new hy.nn.Linear(4, 2);
   * Object.keys(lin.stateDict()); // ['weight', 'bias']
   * ```
   */
  stateDict(): StateDict {
    const out: StateDict = {};
    for (const [k, t] of [...this.namedParameters(), ...this.namedBuffers()]) out[k] = detach(t);
    return out;
  }

  /**
   * Writes the state dict to a safetensors file, atomically (PyTorch's safetensors.torch.load_file reads it).
   *
   * @example
   * ```ts
   * const model = new hy.nn.models.MnistNet();
   * model.save('mnist.safetensors');
   * ```
   */
  save(file: string): void {
    const sd = this.stateDict();
    try {
      saveTensors(sd, file);
    } finally {
      for (const t of Object.values(sd)) t.dispose();
    }
  }

  /**
   * Loads a safetensors file into the module: a state dict written by save() or by PyTorch's
   * safetensors, or a hy.train.fit checkpoint (its model part). Returns the module.
   *
   * @example
   * ```ts
   * const model = new hy.nn.models.MnistNet().load('mnist.safetensors');
   * ```
   */
  load(file: string, opts?: LoadStateDictOptions): this {
    const loaded = loadTensors(file) as Record<string, unknown>;
    const all = tensorsIn(loaded);
    try {
      const fitCheckpoint = typeof loaded.format === 'string' && loaded.format.startsWith('hayate.fit/') && loaded.model !== null && typeof loaded.model === 'object';
      this.loadStateDict((fitCheckpoint ? loaded.model : loaded) as StateDict, opts);
    } finally {
      for (const t of all) t.dispose();
    }
    return this;
  }

  /**
   * Copies values from a state dict into the module's tensors in place (casting dtype and device as needed).
   *
   * @example
   * ```ts
   * const a = new hy.nn.Linear(4, 2);
   * const b = new hy.nn.Linear(4, 2);
   * b.loadStateDict(a.stateDict()); // b now has a's weights
   * ```
   */
  loadStateDict(dict: StateDict, opts?: LoadStateDictOptions): void {
    const op = 'loadStateDict';
    if (dict === null || typeof dict !== 'object') throw new TypeError(`${op}: expected an object of tensors, got ${describe(dict)}`);
    const o = checkOptions(op, opts, ['strict']);
    const strict = o.strict ?? true;
    if (typeof strict !== 'boolean') throw new TypeError(`${op}: strict must be a boolean, got ${describe(strict)}`);
    const own = new Map([...this.namedParameters(), ...this.namedBuffers()]);
    if (strict) {
      const missing = [...own.keys()].filter((k) => !(k in dict));
      const unexpected = Object.keys(dict).filter((k) => !own.has(k));
      if (missing.length > 0 || unexpected.length > 0) {
        throw new RangeError(`${op}: missing keys [${missing.join(', ')}], unexpected keys [${unexpected.join(', ')}]`);
      }
    }
    // Check everything before writing anything.
    for (const [k, t] of own) {
      const src = dict[k];
      if (src === undefined) continue;
      if (!(src instanceof Tensor)) throw new TypeError(`${op}: '${k}' must be a Tensor, got ${describe(src)}`);
      if (src.shape.length !== t.shape.length || src.shape.some((d, i) => d !== t.shape[i])) {
        throw new RangeError(`${op}: '${k}' has shape [${src.shape.join(', ')}], the module's is [${t.shape.join(', ')}]`);
      }
      src.live(op);
    }
    noGrad(() => {
      for (const [k, t] of own) {
        const src = dict[k];
        if (src === undefined) continue;
        const onDevice = src.convert(t.device);
        t.bumpVersion();
        if (onDevice.dtype === t.dtype) {
          native.copy(t.live(op), onDevice.live(op), t.numel * DTYPE_BYTES[t.dtype], false);
        } else {
          native.run('cast', { x: onDevice.live(op), xDtype: onDevice.dtype, out: t.live(op), dtype: t.dtype, n: t.numel });
        }
        if (onDevice !== src) onDevice.dispose();
      }
    });
  }

  /**
   * Frees every parameter, gradient and buffer, submodules included.
   *
   * @example
   * ```ts
   * const model = new hy.nn.Linear(784, 10);
   * model.dispose(); // frees its parameters and buffers
   * ```
   */
  dispose(): void {
    for (const m of this.modules()) {
      const s = stateOf(m);
      for (const t of s.params.values()) t?.dispose();
      for (const t of s.buffers.values()) t?.dispose();
    }
  }

  /**
   * dispose(), for `using`: the module is freed at the end of the block.
   *
   * @example
   * ```ts
   * {
   *   using model = new hy.nn.Linear(784, 10);
   *   model.forward(hy.randn([1, 784]));
   * } // model.dispose() ran here
   * ```
   */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /**
   * The module's own settings for its printed form, as torch.nn.Module.extra_repr: one line
   * (`inFeatures=784, outFeatures=128, bias=true`) or several; '' for none. Override it in a
   * subclass to show its options.
   *
   * @example
   * ```ts
   * class Scale extends hy.nn.Module {
   *   forward(x: hy.Tensor) { return hy.mul(x, 2); }
   *   override extraRepr() { return 'factor=2'; }
   * } // String(new Scale()) is 'Scale(factor=2)'
   * ```
   */
  extraRepr(): string {
    return '';
  }

  /**
   * PyTorch's layout: `Name(extra)` for a leaf, and for a container one `(name): Child(...)` line
   * per submodule, indented by two spaces, nested containers indented again.
   *
   * @example
   * ```ts
   * String(new hy.nn.Linear(4, 2)); // 'Linear(inFeatures=4, outFeatures=2, bias=true)'
   * console.log(String(new hy.nn.Sequential(new hy.nn.Linear(4, 2), new hy.nn.ReLU()))); // a '(0): Linear(...)' line per child
   * ```
   */
  toString(): string {
    const extra = this.extraRepr();
    const extraLines = extra === '' ? [] : extra.split('\n');
    const childLines: string[] = [];
    for (const [k, m] of stateOf(this).modules) childLines.push(`(${k}): ${addIndent(m === null ? 'null' : String(m), 2)}`);
    return reprOf(this.constructor.name, extraLines, childLines);
  }

  /** @internal console.log(model) prints what String(model) does (kept out of the types: node:util). */
  [inspect.custom](): string {
    // Through the proxy, whatever receiver util.inspect calls this with.
    return stateOf(this).self.toString();
  }
}

function reprOf(name: string, extraLines: string[], childLines: string[]): string {
  const lines = [...extraLines, ...childLines];
  let s = `${name}(`;
  if (lines.length > 0) s += extraLines.length === 1 && childLines.length === 0 ? extraLines[0] : `\n  ${lines.join('\n  ')}\n`;
  return `${s})`;
}

/** The direct submodules in registration order, null entries skipped, duplicates kept (a container's order). */
function orderedChildren(m: Module): Module[] {
  const out: Module[] = [];
  for (const c of stateOf(m).modules.values()) if (c !== null) out.push(c);
  return out;
}

/** The name append() gives: the count of entries, or the next free number after it. */
function nextIndex(m: Module): string {
  const names = stateOf(m).modules;
  let i = names.size;
  while (names.has(String(i))) i++;
  return String(i);
}

function checkIndex(op: string, i: unknown, length: number): number {
  if (typeof i !== 'number' || !Number.isInteger(i)) throw new TypeError(`${op}: index must be an integer, got ${describe(i)}`);
  const j = i < 0 ? i + length : i;
  if (j < 0 || j >= length) throw new RangeError(`${op}: index ${i} is out of range for ${length} modules`);
  return j;
}

/**
 * Runs its modules in order, each on the previous one's output.
 *
 * @example
 * ```ts
 * const model = new hy.nn.Sequential(new hy.nn.Linear(784, 128), new hy.nn.ReLU(), new hy.nn.Linear(128, 10));
 * const logits = model.forward(hy.randn([64, 784])); // [64, 10]
 * ```
 */
export class Sequential extends Module implements Iterable<Module> {
  constructor(...modules: Module[]) {
    super();
    modules.forEach((m, i) => this.registerModule(String(i), m));
  }

  forward(x: Tensor): Tensor {
    let y = x;
    for (const m of stateOf(this).modules.values()) if (m !== null) y = m.forward(y);
    return y;
  }

  get length(): number {
    return orderedChildren(this).length;
  }

  /**
   * The module at index i (negative counts from the end).
   *
   * @example
   * ```ts
   * const model = new hy.nn.Sequential(new hy.nn.Linear(4, 8), new hy.nn.ReLU(), new hy.nn.Linear(8, 2));
   * const last = model.at(-1); // the Linear(8, 2)
   * ```
   */
  at(i: number): Module {
    const kids = orderedChildren(this);
    return kids[checkIndex('Sequential.at', i, kids.length)];
  }

  /**
   * Adds a module at the end (named by its index); returns this.
   *
   * @example
   * ```ts
   * const model = new hy.nn.Sequential(new hy.nn.Linear(4, 2));
   * model.append(new hy.nn.LogSoftmax(1)); // registered as '1'
   * ```
   */
  append(m: Module): this {
    this.registerModule(nextIndex(this), m);
    return this;
  }

  /**
   * Iterates over the modules in order.
   *
   * @example
   * ```ts
   * const model = new hy.nn.Sequential(new hy.nn.Linear(4, 8), new hy.nn.ReLU());
   * for (const layer of model) console.log(String(layer));
   * ```
   */
  [Symbol.iterator](): Iterator<Module> {
    return orderedChildren(this)[Symbol.iterator]();
  }
}

/**
 * Holds submodules in a list, as torch.nn.ModuleList: they are registered (named '0', '1', ...),
 * so parameters(), to() and the state dict see them, where a plain array in a field is not looked
 * into. It has no forward of its own: call its modules from the owner's forward.
 *
 * @example
 * ```ts
 * class Mlp extends hy.nn.Module {
 *   layers = new hy.nn.ModuleList([new hy.nn.Linear(8, 8), new hy.nn.Linear(8, 2)]);
 *   forward(x: hy.Tensor) { for (const l of this.layers) x = l.forward(x); return x; }
 * }
 * ```
 */
export class ModuleList<M extends Module = Module> extends Module implements Iterable<M> {
  constructor(modules: Iterable<M> = []) {
    super();
    this.extend(modules);
  }

  forward(): Tensor {
    throw new TypeError('ModuleList: a ModuleList has no forward; call its modules from your own forward');
  }

  get length(): number {
    return orderedChildren(this).length;
  }

  /**
   * The module at index i (negative counts from the end).
   *
   * @example
   * ```ts
   * const layers = new hy.nn.ModuleList([new hy.nn.Linear(8, 8), new hy.nn.Linear(8, 2)]);
   * const first = layers.at(0); // a Linear
   * ```
   */
  at(i: number): M {
    const kids = orderedChildren(this);
    return kids[checkIndex('ModuleList.at', i, kids.length)] as M;
  }

  /**
   * Adds a module at the end (named by its index); returns this.
   *
   * @example
   * ```ts
   * const layers = new hy.nn.ModuleList();
   * layers.append(new hy.nn.Linear(8, 8)).append(new hy.nn.ReLU());
   * ```
   */
  append(m: M): this {
    this.registerModule(nextIndex(this), m);
    return this;
  }

  /**
   * Appends every module of an iterable, in order; returns this.
   *
   * @example
   * ```ts
   * const layers = new hy.nn.ModuleList();
   * layers.extend([new hy.nn.Linear(8, 8), new hy.nn.ReLU()]);
   * ```
   */
  extend(modules: Iterable<M>): this {
    if (modules === null || typeof (modules as Partial<Iterable<M>>)[Symbol.iterator] !== 'function') {
      throw new TypeError(`ModuleList: modules must be an iterable of Modules, got ${describe(modules)}`);
    }
    for (const m of modules) this.append(m);
    return this;
  }

  /**
   * Inserts m before index (negative counts from the end); the modules are renumbered.
   *
   * @example
   * ```ts
   * const layers = new hy.nn.ModuleList([new hy.nn.Linear(8, 8), new hy.nn.ReLU()]);
   * layers.insert(0, new hy.nn.Flatten()); // the Flatten is '0' now, the Linear '1'
   * ```
   */
  insert(index: number, m: M): this {
    const kids = orderedChildren(this) as M[];
    if (typeof index !== 'number' || !Number.isInteger(index)) throw new TypeError(`ModuleList.insert: index must be an integer, got ${describe(index)}`);
    if (!(m instanceof Module)) throw new TypeError(`ModuleList.insert: module must be a Module, got ${describe(m)}`);
    const at = Math.min(Math.max(index < 0 ? index + kids.length : index, 0), kids.length);
    kids.splice(at, 0, m);
    const self = this as unknown as Record<string, unknown>;
    for (const k of [...stateOf(this).modules.keys()]) delete self[k];
    kids.forEach((c, i) => this.registerModule(String(i), c));
    return this;
  }

  /**
   * Iterates over the modules in order.
   *
   * @example
   * ```ts
   * const layers = new hy.nn.ModuleList([new hy.nn.Linear(8, 8), new hy.nn.Linear(8, 2)]);
   * for (const layer of layers) console.log(layer.outFeatures);
   * ```
   */
  [Symbol.iterator](): Iterator<M> {
    return (orderedChildren(this) as M[])[Symbol.iterator]();
  }

  /** PyTorch's ModuleList form: a run of identical modules prints once, as `(0-2): 3 x Linear(...)`. */
  override toString(): string {
    const entries = [...stateOf(this).modules].map(([k, m]) => [k, m === null ? 'null' : String(m)] as const);
    if (entries.length === 0) return `${this.constructor.name}()`;
    const lines: string[] = [];
    for (let i = 0; i < entries.length;) {
      let j = i;
      while (j + 1 < entries.length && entries[j + 1][1] === entries[i][1]) j++;
      const head = i === j ? `(${entries[i][0]})` : `(${entries[i][0]}-${entries[j][0]}): ${j - i + 1} x`;
      lines.push(addIndent(i === j ? `${head}: ${entries[i][1]}` : `${head} ${entries[i][1]}`, 2));
      i = j + 1;
    }
    return reprOf(this.constructor.name, [], lines);
  }
}

function checkSize(op: string, name: string, v: unknown): number {
  if (typeof v !== 'number') throw new TypeError(`${op}: ${name} must be a number, got ${describe(v)}`);
  if (!Number.isInteger(v) || v <= 0) throw new RangeError(`${op}: ${name} must be a positive integer, got ${describe(v)}`);
  return v;
}

export interface FactoryOptions {
  device?: Device;
  dtype?: DType;
}

/** Uniform values in [-bound, bound) drawn through hy.rand. */
function uniform(shape: number[], bound: number, opts: FactoryOptions): Tensor {
  const t = rand(shape, { device: opts.device, dtype: opts.dtype });
  native.run('scalar', { op: 'mul', x: t.live('uniform'), out: t.live('uniform'), dtype: t.dtype, n: t.numel, s: 2 * bound });
  native.run('scalar', { op: 'add', x: t.live('uniform'), out: t.live('uniform'), dtype: t.dtype, n: t.numel, s: -bound });
  return t;
}

export interface LinearOptions extends FactoryOptions {
  bias?: boolean;
}

/**
 * y = x W^T + b. W [out, in] and b [out] start as PyTorch's do: Kaiming-uniform with a = sqrt(5),
 * which is U(-1/sqrt(in), 1/sqrt(in)), and the bias from the same bound.
 *
 * @example
 * ```ts
 * const lin = new hy.nn.Linear(784, 128);
 * const y = lin.forward(hy.randn([64, 784])); // [64, 128]
 * const noBias = new hy.nn.Linear(128, 10, { bias: false });
 * ```
 */
export class Linear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;

  constructor(inFeatures: number, outFeatures: number, opts?: LinearOptions) {
    super();
    const op = 'Linear';
    this.inFeatures = checkSize(op, 'inFeatures', inFeatures);
    this.outFeatures = checkSize(op, 'outFeatures', outFeatures);
    const o = checkOptions(op, opts, ['bias', 'device', 'dtype']) as LinearOptions;
    if (o.bias !== undefined && typeof o.bias !== 'boolean') throw new TypeError(`${op}: bias must be a boolean, got ${describe(o.bias)}`);
    const bound = 1 / Math.sqrt(inFeatures);
    this.registerParameter('weight', uniform([outFeatures, inFeatures], bound, o));
    this.registerParameter('bias', o.bias === false ? null : uniform([outFeatures], bound, o));
  }

  get weight(): Tensor {
    return this.param('weight')!;
  }

  get bias(): Tensor | null {
    return this.param('bias');
  }

  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }

  override extraRepr(): string {
    return `inFeatures=${this.inFeatures}, outFeatures=${this.outFeatures}, bias=${this.bias !== null}`;
  }
}

export interface Conv2dModuleOptions extends FactoryOptions, F.Conv2dOptions {
  bias?: boolean;
}

/**
 * 2-D convolution, as torch.nn.Conv2d: weight [out, in / groups, kH, kW] and bias [out] start
 * Kaiming-uniform (a = sqrt(5)), U(-1/sqrt(fanIn), 1/sqrt(fanIn)) with fanIn = in / groups * kH * kW.
 *
 * @example
 * ```ts
 * const conv = new hy.nn.Conv2d(3, 16, 3, { padding: 1 });
 * const y = conv.forward(hy.randn([8, 3, 32, 32])); // [8, 16, 32, 32]
 * ```
 */
export class Conv2d extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: [number, number];
  readonly options: F.Conv2dOptions;

  constructor(inChannels: number, outChannels: number, kernelSize: number | [number, number], opts?: Conv2dModuleOptions) {
    super();
    const op = 'Conv2d';
    this.inChannels = checkSize(op, 'inChannels', inChannels);
    this.outChannels = checkSize(op, 'outChannels', outChannels);
    const k = typeof kernelSize === 'number' ? [kernelSize, kernelSize] : kernelSize;
    if (!Array.isArray(k) || k.length !== 2 || !k.every((v) => Number.isInteger(v) && v > 0)) {
      throw new RangeError(`${op}: kernelSize must be a positive integer or a pair of them, got ${describe(kernelSize)}`);
    }
    this.kernelSize = [k[0], k[1]];
    const o = checkOptions(op, opts, ['bias', 'device', 'dtype', 'stride', 'padding', 'dilation', 'groups']) as Conv2dModuleOptions;
    if (o.bias !== undefined && typeof o.bias !== 'boolean') throw new TypeError(`${op}: bias must be a boolean, got ${describe(o.bias)}`);
    const groups = o.groups ?? 1;
    if (!Number.isInteger(groups) || groups < 1 || inChannels % groups !== 0 || outChannels % groups !== 0) {
      throw new RangeError(`${op}: groups must be a positive integer dividing inChannels ${inChannels} and outChannels ${outChannels}, got ${describe(o.groups)}`);
    }
    // stride, padding and dilation are checked now, not at the first forward (groups just above).
    const checked = conv2dOptions(op, { stride: o.stride, padding: o.padding, dilation: o.dilation }, ['stride', 'padding', 'dilation']);
    if (checked.padding === 'same') samePadding(op, k[0], k[1], checked.dilation);
    this.options = { stride: o.stride, padding: o.padding, dilation: o.dilation, groups };
    const bound = 1 / Math.sqrt((inChannels / groups) * k[0] * k[1]);
    this.registerParameter('weight', uniform([outChannels, inChannels / groups, k[0], k[1]], bound, o));
    this.registerParameter('bias', o.bias === false ? null : uniform([outChannels], bound, o));
  }

  get weight(): Tensor {
    return this.param('weight')!;
  }

  get bias(): Tensor | null {
    return this.param('bias');
  }

  forward(x: Tensor): Tensor {
    return F.conv2d(x, this.weight, this.bias, this.options);
  }

  /** PyTorch's: channels, kernel and stride always; padding, dilation, groups and bias where not the default. */
  override extraRepr(): string {
    const pair = (v: unknown, d: number): unknown => (v === undefined ? [d, d] : typeof v === 'number' ? [v, v] : v);
    const o = this.options;
    let s = `${this.inChannels}, ${this.outChannels}, kernelSize=${formatValue(this.kernelSize)}, stride=${formatValue(pair(o.stride, 1))}`;
    const padding = typeof o.padding === 'string' ? o.padding : pair(o.padding, 0);
    if (typeof padding === 'string' || (padding as number[]).some((v) => v !== 0)) s += `, padding=${formatValue(padding)}`;
    const dilation = pair(o.dilation, 1) as number[];
    if (dilation.some((v) => v !== 1)) s += `, dilation=${formatValue(dilation)}`;
    if ((o.groups ?? 1) !== 1) s += `, groups=${o.groups}`;
    if (this.bias === null) s += ', bias=false';
    return s;
  }
}

/**
 * max(x, 0) elementwise, as torch.nn.ReLU.
 *
 * @example
 * ```ts
 * const y = new hy.nn.ReLU().forward(hy.randn([4, 8])); // max(x, 0)
 * ```
 */
export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return relu(x);
  }
}

/**
 * GELU elementwise, as torch.nn.GELU: the exact form, or the tanh approximation with { approximate: 'tanh' }.
 *
 * @example
 * ```ts
 * const act = new hy.nn.GELU(); // exact (erf) form
 * const fast = new hy.nn.GELU({ approximate: 'tanh' });
 * const y = act.forward(hy.randn([4, 8]));
 * ```
 */
export class GELU extends Module {
  readonly approximate: 'none' | 'tanh';
  constructor(opts?: GeluOptions) {
    super();
    const o = checkOptions('GELU', opts, ['approximate']);
    const a = o.approximate ?? 'none';
    if (a !== 'none' && a !== 'tanh') throw new RangeError(`GELU: approximate must be 'none' or 'tanh', got ${describe(a)}`);
    this.approximate = a;
  }
  forward(x: Tensor): Tensor {
    return gelu(x, { approximate: this.approximate });
  }
  override extraRepr(): string {
    return this.approximate === 'none' ? '' : `approximate=${formatValue(this.approximate)}`;
  }
}

/**
 * Flattens dimensions startDim..endDim (default 1..-1: everything but the batch).
 *
 * @example
 * ```ts
 * const y = new hy.nn.Flatten().forward(hy.randn([8, 16, 4, 4])); // [8, 256]
 * ```
 */
export class Flatten extends Module {
  constructor(readonly startDim = 1, readonly endDim = -1) {
    super();
    // Their range depends on the input; that they are integers is checked now.
    integerArg('Flatten', 'startDim', startDim);
    integerArg('Flatten', 'endDim', endDim);
  }
  forward(x: Tensor): Tensor {
    return flatten(x, this.startDim, this.endDim);
  }
  override extraRepr(): string {
    return `startDim=${this.startDim}, endDim=${this.endDim}`;
  }
}

/**
 * Dropout in training mode; the identity in eval mode.
 *
 * @example
 * ```ts
 * const drop = new hy.nn.Dropout(0.25);
 * const y = drop.forward(hy.randn([4, 8])); // about a quarter zeroed, the rest scaled by 4/3
 * drop.eval(); // forward returns its input now
 * ```
 */
export class Dropout extends Module {
  readonly p: number;
  constructor(p = 0.5) {
    super();
    if (typeof p !== 'number') throw new TypeError(`Dropout: p must be a number, got ${describe(p)}`);
    if (!(p >= 0 && p <= 1)) throw new RangeError(`Dropout: p must be in [0, 1], got ${describe(p)}`);
    this.p = p;
  }
  forward(x: Tensor): Tensor {
    return F.dropout(x, { p: this.p, training: this.training });
  }
  override extraRepr(): string {
    return `p=${formatValue(this.p)}`;
  }
}

/**
 * 2-D max pooling over [N, C, H, W] (or [C, H, W]), as torch.nn.MaxPool2d; the stride defaults to the
 * kernel size.
 *
 * @example
 * ```ts
 * const pool = new hy.nn.MaxPool2d(2);
 * const y = pool.forward(hy.randn([8, 16, 32, 32])); // [8, 16, 16, 16]
 * const overlapping = new hy.nn.MaxPool2d(3, { stride: 2, padding: 1 });
 * ```
 */
export class MaxPool2d extends Module {
  constructor(readonly kernelSize: number | [number, number], readonly opts: F.MaxPool2dOptions = {}) {
    super();
    maxPool2dWindow('MaxPool2d', kernelSize, opts); // kernel, stride and padding are checked now, not at the first forward
  }
  forward(x: Tensor): Tensor {
    return F.maxPool2d(x, this.kernelSize, this.opts);
  }
  override extraRepr(): string {
    const stride = this.opts.stride ?? this.kernelSize;
    return `kernelSize=${formatValue(this.kernelSize)}, stride=${formatValue(stride)}, padding=${formatValue(this.opts.padding ?? 0)}`;
  }
}

export interface BatchNormModuleOptions extends FactoryOptions {
  momentum?: number;
  eps?: number;
  /** Learn a per-channel weight and bias (default true). */
  affine?: boolean;
}

class BatchNormBase extends Module {
  readonly numFeatures: number;
  readonly momentum: number;
  readonly eps: number;

  constructor(op: string, private readonly dims: number[], numFeatures: number, opts?: BatchNormModuleOptions) {
    super();
    this.numFeatures = checkSize(op, 'numFeatures', numFeatures);
    const o = checkOptions(op, opts, ['momentum', 'eps', 'affine', 'device', 'dtype']) as BatchNormModuleOptions;
    for (const k of ['momentum', 'eps'] as const) {
      if (o[k] !== undefined && typeof o[k] !== 'number') throw new TypeError(`${op}: ${k} must be a number, got ${describe(o[k])}`);
    }
    // The ranges F.batchNorm enforces, checked now rather than at the first forward.
    if (o.momentum !== undefined && !Number.isFinite(o.momentum)) throw new RangeError(`${op}: momentum must be a finite number, got ${describe(o.momentum)}`);
    if (o.eps !== undefined) finiteAtLeast(op, 'eps', o.eps, 0);
    if (o.affine !== undefined && typeof o.affine !== 'boolean') throw new TypeError(`${op}: affine must be a boolean, got ${describe(o.affine)}`);
    this.momentum = o.momentum ?? 0.1;
    this.eps = o.eps ?? 1e-5;
    const device = o.device ?? 'cpu';
    const affine = o.affine ?? true;
    this.registerParameter('weight', affine ? ones([numFeatures], { device, dtype: o.dtype }) : null);
    this.registerParameter('bias', affine ? zeros([numFeatures], { device, dtype: o.dtype }) : null);
    // The kernels keep statistics in float32 whatever the input's dtype.
    this.registerBuffer('runningMean', zeros([numFeatures], { device }));
    this.registerBuffer('runningVar', ones([numFeatures], { device }));
    this.op = op;
  }

  private readonly op: string;

  get weight(): Tensor | null {
    return this.param('weight');
  }
  get bias(): Tensor | null {
    return this.param('bias');
  }
  get runningMean(): Tensor {
    return this.buffer('runningMean')!;
  }
  get runningVar(): Tensor {
    return this.buffer('runningVar')!;
  }

  forward(x: Tensor): Tensor {
    if (!(x instanceof Tensor)) throw new TypeError(`${this.op}: input must be a Tensor, got ${describe(x)}`);
    if (!this.dims.includes(x.ndim)) {
      throw new RangeError(`${this.op}: expected a ${this.dims.join('-D or ')}-D input, got shape [${x.shape.join(', ')}]`);
    }
    return F.batchNorm(x, this.runningMean, this.runningVar, {
      weight: this.weight, bias: this.bias, training: this.training, momentum: this.momentum, eps: this.eps,
    });
  }

  /** PyTorch's form; trackRunningStats is always true here (the layer always keeps running statistics). */
  override extraRepr(): string {
    const affine = this.weight !== null;
    return `${this.numFeatures}, eps=${formatValue(this.eps)}, momentum=${formatValue(this.momentum)}, affine=${affine}, trackRunningStats=true`;
  }
}

/**
 * Batch norm over [N, C] or [N, C, L].
 *
 * @example
 * ```ts
 * const bn = new hy.nn.BatchNorm1d(64);
 * const y = bn.forward(hy.randn([32, 64])); // normalised per feature
 * ```
 */
export class BatchNorm1d extends BatchNormBase {
  constructor(numFeatures: number, opts?: BatchNormModuleOptions) {
    super('BatchNorm1d', [2, 3], numFeatures, opts);
  }
}

/**
 * Batch norm over [N, C, H, W].
 *
 * @example
 * ```ts
 * const bn = new hy.nn.BatchNorm2d(16, { momentum: 0.01, eps: 1e-3 });
 * const y = bn.forward(hy.randn([8, 16, 32, 32])); // normalised per channel
 * ```
 */
export class BatchNorm2d extends BatchNormBase {
  constructor(numFeatures: number, opts?: BatchNormModuleOptions) {
    super('BatchNorm2d', [4], numFeatures, opts);
  }
}

/**
 * log(softmax(x)) along dim (default the last), as torch.nn.LogSoftmax.
 *
 * @example
 * ```ts
 * const logp = new hy.nn.LogSoftmax(1).forward(hy.randn([4, 10]));
 * ```
 */
export class LogSoftmax extends Module {
  constructor(readonly dim = -1) {
    super();
    integerArg('LogSoftmax', 'dim', dim); // its range depends on the input
  }
  forward(x: Tensor): Tensor {
    return F.logSoftmax(x, this.dim);
  }
  override extraRepr(): string {
    return `dim=${this.dim}`;
  }
}

/**
 * softmax(x) along dim (default the last), as torch.nn.Softmax.
 *
 * @example
 * ```ts
 * const probs = new hy.nn.Softmax(1).forward(hy.randn([4, 10])); // each row sums to 1
 * ```
 */
export class Softmax extends Module {
  constructor(readonly dim = -1) {
    super();
    integerArg('Softmax', 'dim', dim); // its range depends on the input
  }
  forward(x: Tensor): Tensor {
    return F.softmax(x, this.dim);
  }
  override extraRepr(): string {
    return `dim=${this.dim}`;
  }
}

// ---- losses as modules: forward(input, target), the reduction fixed at construction ----

function lossReduction(name: string, opts: unknown, extra: readonly string[] = []): { reduction: Reduction; rest: Record<string, unknown> } {
  const o = checkOptions(name, opts, ['reduction', ...extra]);
  const reduction = (o.reduction ?? 'mean') as Reduction;
  if (reduction !== 'mean' && reduction !== 'sum' && reduction !== 'none') {
    throw new RangeError(`${name}: reduction must be 'mean', 'sum' or 'none', got ${describe(reduction)}`);
  }
  return { reduction, rest: o };
}

abstract class Loss extends Module {
  readonly reduction: Reduction;
  constructor(name: string, opts: unknown) {
    super();
    this.reduction = lossReduction(name, opts).reduction;
  }
  abstract override forward(input: Tensor, target: Tensor): Tensor;
  override extraRepr(): string {
    return this.reduction === 'mean' ? '' : `reduction=${formatValue(this.reduction)}`;
  }
}

/**
 * F.crossEntropy as a module: logits [N, C] and int32 class targets [N].
 *
 * @example
 * ```ts
 * const lossFn = new hy.nn.CrossEntropyLoss();
 * const loss = lossFn.forward(hy.randn([4, 10]), hy.tensor([1, 0, 9, 3], { dtype: 'int32' }));
 * ```
 */
export class CrossEntropyLoss extends Loss {
  constructor(opts?: LossOptions) { super('CrossEntropyLoss', opts); }
  forward(input: Tensor, target: Tensor): Tensor { return F.crossEntropy(input, target, { reduction: this.reduction }); }
}
/**
 * F.nllLoss as a module: log-probabilities [N, C] and int32 class targets [N].
 *
 * @example
 * ```ts
 * const lossFn = new hy.nn.NLLLoss({ reduction: 'sum' });
 * const loss = lossFn.forward(hy.nn.functional.logSoftmax(hy.randn([4, 10]), 1), hy.randint(10, [4]));
 * ```
 */
export class NLLLoss extends Loss {
  constructor(opts?: LossOptions) { super('NLLLoss', opts); }
  forward(input: Tensor, target: Tensor): Tensor { return F.nllLoss(input, target, { reduction: this.reduction }); }
}
/**
 * F.mseLoss as a module: the squared error between input and a target of the same shape.
 *
 * @example
 * ```ts
 * const lossFn = new hy.nn.MSELoss();
 * const loss = lossFn.forward(hy.randn([8, 3]), hy.zeros([8, 3]));
 * ```
 */
export class MSELoss extends Loss {
  constructor(opts?: LossOptions) { super('MSELoss', opts); }
  forward(input: Tensor, target: Tensor): Tensor { return F.mseLoss(input, target, { reduction: this.reduction }); }
}
/**
 * F.l1Loss as a module: the absolute error between input and a target of the same shape.
 *
 * @example
 * ```ts
 * const lossFn = new hy.nn.L1Loss({ reduction: 'sum' });
 * const loss = lossFn.forward(hy.randn([8, 3]), hy.zeros([8, 3]));
 * ```
 */
export class L1Loss extends Loss {
  constructor(opts?: LossOptions) { super('L1Loss', opts); }
  forward(input: Tensor, target: Tensor): Tensor { return F.l1Loss(input, target, { reduction: this.reduction }); }
}
/**
 * F.binaryCrossEntropy as a module: probabilities against targets of the same shape.
 *
 * @example
 * ```ts
 * const lossFn = new hy.nn.BCELoss();
 * const loss = lossFn.forward(hy.rand([8]), hy.ones([8])); // input: probabilities in [0, 1]
 * ```
 */
export class BCELoss extends Loss {
  constructor(opts?: LossOptions) { super('BCELoss', opts); }
  forward(input: Tensor, target: Tensor): Tensor { return F.binaryCrossEntropy(input, target, { reduction: this.reduction }); }
}
/**
 * F.binaryCrossEntropyWithLogits as a module: logits against targets of the same shape.
 *
 * @example
 * ```ts
 * const lossFn = new hy.nn.BCEWithLogitsLoss();
 * const loss = lossFn.forward(hy.randn([8]), hy.ones([8])); // input: logits
 * ```
 */
export class BCEWithLogitsLoss extends Loss {
  constructor(opts?: LossOptions) { super('BCEWithLogitsLoss', opts); }
  forward(input: Tensor, target: Tensor): Tensor { return F.binaryCrossEntropyWithLogits(input, target, { reduction: this.reduction }); }
}
/**
 * F.smoothL1Loss as a module, with its beta (default 1) fixed at construction.
 *
 * @example
 * ```ts
 * const lossFn = new hy.nn.SmoothL1Loss({ beta: 0.5 });
 * const loss = lossFn.forward(hy.randn([8, 3]), hy.zeros([8, 3]));
 * ```
 */
export class SmoothL1Loss extends Loss {
  readonly beta: number;
  constructor(opts?: SmoothL1Options) {
    const o = checkOptions('SmoothL1Loss', opts, ['reduction', 'beta']);
    super('SmoothL1Loss', o.reduction === undefined ? undefined : { reduction: o.reduction });
    const beta = o.beta ?? 1;
    if (typeof beta !== 'number' || !(beta >= 0) || !Number.isFinite(beta)) throw new RangeError(`SmoothL1Loss: beta must be a finite number >= 0, got ${describe(beta)}`);
    this.beta = beta;
  }
  forward(input: Tensor, target: Tensor): Tensor { return F.smoothL1Loss(input, target, { reduction: this.reduction, beta: this.beta }); }
}
