// The base of every optimizer. A subclass says only which native update rule it runs (an
// OptimizerKind of ops/optim.h), its options with their defaults and checks, and which float32
// state buffers a parameter needs; this class does the rest the same way for all of them:
//
// - parameter groups with their own options (PyTorch's param_groups, addParamGroup);
// - one fused multi-tensor launch per group, device and dtype per step (`foreach: false` runs one
//   launch per parameter instead: the per-tensor loop the benchmarks compare against);
// - all or nothing: every parameter is checked and every new state buffer allocated before the
//   first launch, so a bad gradient or an OutOfMemoryError leaves weights and state as they were;
// - the GradScaler's device-side skip (stepUnlessInf): the kernels read its found-inf flag, so a
//   scaled step needs no host round trip;
// - zeroGrad() setting gradients to none (tip 6.1), stateDict()/loadStateDict() that resume bit
//   for bit, and dispose().
import { describe } from '../errors';
import { native } from '../native';
import type { StorageHandle } from '../native';
import { keep } from '../scope';
import { Tensor, zeros } from '../tensor';
import type { DType, Device } from '../dtype';
import { fail, finiteAtLeast } from '../validate';

/** A group as the user passes it: its parameters and any options that differ from the defaults. */
/** Elements per chunk of a multi-tensor launch (core/optim_math.h kChunk). */
const CHUNK = 32768;

export interface ParamGroupInput {
  params: Iterable<Tensor>;
  [option: string]: unknown;
}

export type ParamsInput = Iterable<Tensor> | Iterable<ParamGroupInput>;

/** A group as the optimizer holds it: parameters and every option (schedulers write `lr`). */
export type ParamGroup<O extends object = Record<string, unknown>> = O & { params: Tensor[]; lr: number };

/** One option: its default (undefined: required) and its check, which returns the value to keep. */
export interface OptionSpec {
  default?: unknown;
  check(optimizer: string, name: string, v: unknown): unknown;
}

export const finiteOption = (min: number): OptionSpec['check'] => (op, name, v) => finiteAtLeast(op, name, v, min);
export const fractionOption: OptionSpec['check'] = (op, name, v) => {
  const x = finiteAtLeast(op, name, v, 0);
  if (x >= 1) fail('range', op, name, 'a finite number in [0, 1)', v);
  return x;
};
export const booleanOption: OptionSpec['check'] = (op, name, v) => {
  if (typeof v !== 'boolean') fail('type', op, name, 'a boolean', v);
  return v;
};
export const betasOption: OptionSpec['check'] = (op, name, v) => {
  if (!Array.isArray(v) || v.length !== 2) fail('type', op, name, 'a pair [beta1, beta2]', v);
  return [fractionOption(op, `${name}[0]`, v[0]), fractionOption(op, `${name}[1]`, v[1])];
};

/** What the native step of one group needs (ops/optim.h OptimizerStepArgs' numbers and flags). */
export interface NativeHyper {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  momentum?: number;
  dampening?: number;
  rho?: number;
  trustCoefficient?: number;
  maxGradNorm?: number;
  nesterov?: boolean;
  decoupled?: boolean;
  amsgrad?: boolean;
  biasCorrection?: boolean;
  nvLamb?: boolean;
}

interface ParamState {
  /** The parameter's step count, int32 [1] on its device: the kernels advance it (unless skipped). */
  step: Tensor;
  /** The float32 buffers, in the order of stateNames(). */
  buffers: Tensor[];
}

/** A saved optimizer: per-parameter state by index (in group order) and the groups' options. */
export interface OptimizerStateDict {
  state: Record<number, { step: number; [buffer: string]: Tensor | number }>;
  paramGroups: Record<string, unknown>[];
}

/**
 * The base of every optimizer (torch.optim.Optimizer): parameter groups with their own options,
 * one fused launch per group per step, zeroGrad(), and state dicts that resume bit for bit.
 *
 * @example
 * ```ts
 * const opt = new hy.optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 }); // any subclass
 * opt.zeroGrad();
 * hy.nn.functional.crossEntropy(model.forward(x), y).backward();
 * opt.step();
 * ```
 */
export abstract class Optimizer<O extends object = Record<string, unknown>> {
  readonly paramGroups: ParamGroup<O>[] = [];
  /** The options every group starts from. */
  readonly defaults: Readonly<O>;
  /** Per-parameter state, kept out of tidy() scopes until dispose(). */
  protected readonly state = new Map<Tensor, ParamState>();
  /** One launch per group (true, default) or one per parameter (false: the per-tensor loop). */
  readonly foreach: boolean;
  private readonly specs: Record<string, OptionSpec>;

  protected constructor(
    readonly name: string,
    protected readonly kind: 'sgd' | 'adam' | 'adadelta' | 'lamb' | 'lars',
    params: ParamsInput,
    specs: Record<string, OptionSpec>,
    opts: unknown,
  ) {
    if (new.target === Optimizer) throw new TypeError('Optimizer: the base class of the optimizers; construct one of them, such as hy.optim.SGD');
    if (typeof name !== 'string') throw new TypeError(`Optimizer: name must be a string, got ${describe(name)}`);
    this.specs = specs;
    // params first, as torch.optim: SGD(5) names params, not the lr it was not given.
    if (params === null || typeof params !== 'object' || typeof (params as Iterable<unknown>)[Symbol.iterator] !== 'function') {
      fail('type', name, 'params', 'an iterable of tensors or of parameter groups', params);
    }
    if (opts !== undefined && (opts === null || typeof opts !== 'object' || Array.isArray(opts))) {
      fail('type', name, 'options', 'an object', opts);
    }
    const given = { ...(opts as Record<string, unknown> | undefined) };
    const foreach = given.foreach;
    delete given.foreach;
    if (foreach !== undefined && typeof foreach !== 'boolean') fail('type', name, 'foreach', 'a boolean', foreach);
    this.foreach = foreach !== false;
    this.defaults = Object.freeze(this.checkGroupOptions(given, true)) as Readonly<O>;
    const list = [...(params as Iterable<Tensor | ParamGroupInput>)];
    if (list.length === 0) throw new RangeError(`${name}: params is an empty list (an optimizer needs at least one parameter)`);
    const isGroup = (g: unknown): boolean => g !== null && typeof g === 'object' && !(g instanceof Tensor) && 'params' in g;
    if (!list.every(isGroup)) {
      this.addParamGroup({ params: list as Tensor[] });
    } else {
      for (const g of list) this.addParamGroup(g as ParamGroupInput);
    }
  }

  /**
   * Adds a group of parameters with its own options (the others from the defaults).
   *
   * @example
   * ```ts
   * const opt = new hy.optim.SGD(backbone.parameters(), { lr: 0.1, momentum: 0.9 });
   * opt.addParamGroup({ params: head.parameters(), lr: 0.01 }); // momentum 0.9 from the defaults
   * ```
   */
  addParamGroup(group: ParamGroupInput): void {
    if (group === null || typeof group !== 'object' || group instanceof Tensor) {
      fail('type', this.name, 'a parameter group', 'an object {params, ...options}', group);
    }
    const { params, ...options } = group;
    if (params === null || typeof params !== 'object' || typeof (params as Iterable<unknown>)[Symbol.iterator] !== 'function') {
      fail('type', this.name, 'params of a parameter group', 'an iterable of tensors', params);
    }
    const list = params instanceof Tensor ? [params] : [...params];
    const seen = new Set(this.paramGroups.flatMap((g) => g.params));
    for (const [i, p] of list.entries()) {
      if (!(p instanceof Tensor)) throw new TypeError(`${this.name}: parameter ${i} is not a Tensor, got ${describe(p)}`);
      p.live(this.name);
      if (!p.requiresGrad || !p.isLeaf) throw new RangeError(`${this.name}: parameter ${i} must be a leaf tensor that requires grad`);
      if (p.dtype === 'int32') throw new TypeError(`${this.name}: parameter ${i} must be float32 or float16, got int32`);
      if (seen.has(p)) throw new RangeError(`${this.name}: parameter ${i} appears in more than one parameter group`);
      seen.add(p);
    }
    const checked = { ...this.defaults, ...this.checkGroupOptions(options, false) };
    this.paramGroups.push({ ...checked, params: list } as ParamGroup<O>);
  }

  /** Every parameter, in group order. */
  get params(): Tensor[] {
    return this.paramGroups.flatMap((g) => g.params);
  }

  /** The learning rate of the first group (a shorthand for paramGroups[0].lr). */
  get lr(): number {
    return this.paramGroups[0].lr;
  }
  set lr(v: number) {
    const lr = finiteAtLeast(this.name, 'lr', v, 0);
    for (const g of this.paramGroups) g.lr = lr;
  }

  /** The float32 state buffers one parameter of this group needs, by stateDict name. */
  protected abstract stateNames(group: ParamGroup<O>): string[];
  /** The native step's numbers and flags for one group. */
  protected abstract hyper(group: ParamGroup<O>): NativeHyper;
  /** Checks across options (Nesterov needs momentum, say); throws the error naming them. */
  protected checkCombination(_group: Record<string, unknown>): void {}

  /**
   * One update of every parameter that has a gradient.
   *
   * @example
   * ```ts
   * opt.zeroGrad();
   * hy.nn.functional.crossEntropy(model.forward(x), y).backward();
   * opt.step();
   * ```
   */
  step(): void {
    this.run(null);
  }

  /**
   * @internal The GradScaler's step: the kernels skip every write when foundInf (float32 [1] on the
   * parameters' device) is nonzero, so no host round trip decides it.
   */
  stepUnlessInf(foundInf: Tensor): void {
    this.run(foundInf);
  }

  /**
   * Sets gradients to none (PyTorch's set_to_none=True, the default); {setToNone: false} zeroes them.
   *
   * @example
   * ```ts
   * opt.zeroGrad(); // every grad is null
   * opt.zeroGrad({ setToNone: false }); // every grad is filled with zeros instead
   * ```
   */
  zeroGrad(opts?: { setToNone?: boolean }): void {
    if (opts !== undefined && (opts === null || typeof opts !== 'object')) fail('type', `${this.name}.zeroGrad`, 'options', 'an object', opts);
    const setToNone = opts?.setToNone ?? true;
    if (typeof setToNone !== 'boolean') fail('type', `${this.name}.zeroGrad`, 'setToNone', 'a boolean', setToNone);
    for (const p of this.params) {
      if (p.grad === null) continue;
      if (setToNone || p.grad.isDisposed) {
        if (!p.grad.isDisposed) p.grad.dispose();
        p.grad = null;
      } else {
        native.run('fill', { out: p.grad.live('zeroGrad'), dtype: p.grad.dtype, n: p.grad.numel, value: 0 });
      }
    }
  }

  /**
   * The state to save: every buffer cloned, step counts read back, and every group's options.
   *
   * @example
   * ```ts
   * const saved = opt.stateDict(); // { state, paramGroups }: buffers cloned, step counts as numbers
   * ```
   */
  stateDict(): OptimizerStateDict {
    const index = new Map(this.params.map((p, i) => [p, i]));
    const state: OptimizerStateDict['state'] = {};
    for (const group of this.paramGroups) {
      const names = this.stateNames(group);
      for (const p of group.params) {
        const s = this.state.get(p);
        if (s === undefined) continue;
        const step = s.step.item();
        if (step === 0) continue; // made for a step the GradScaler skipped: as if never made
        const entry: { step: number; [b: string]: Tensor | number } = { step };
        names.forEach((n, k) => {
          entry[n] = keep(s.buffers[k].copy());
        });
        state[index.get(p)!] = entry;
      }
    }
    const paramGroups = this.paramGroups.map(({ params, ...options }) => ({ ...structuredClone(options), params: params.map((p) => index.get(p)!) }));
    return { state, paramGroups };
  }

  /**
   * Restores a stateDict() of an optimizer over parameters of the same shapes, group by group.
   *
   * @example
   * ```ts
   * const saved = opt.stateDict(); // at a checkpoint
   * opt.loadStateDict(saved); // back to that state (from an optimizer of the same class and shapes)
   * ```
   */
  loadStateDict(sd: OptimizerStateDict): void {
    const op = `${this.name}.loadStateDict`;
    if (sd === null || typeof sd !== 'object' || !Array.isArray(sd.paramGroups) || sd.state === null || typeof sd.state !== 'object') {
      fail('type', op, 'stateDict', 'an object {state, paramGroups}', sd);
    }
    if (sd.paramGroups.length !== this.paramGroups.length) {
      throw new RangeError(`${op}: the state has ${sd.paramGroups.length} parameter groups, the optimizer ${this.paramGroups.length}`);
    }
    const params = this.params;
    // Check and build everything first: a bad state dict changes nothing.
    const groups = sd.paramGroups.map((g, gi) => {
      const { params: ids, ...options } = g as { params: unknown };
      if (!Array.isArray(ids) || ids.length !== this.paramGroups[gi].params.length) {
        throw new RangeError(`${op}: group ${gi} of the state has ${Array.isArray(ids) ? ids.length : 'no'} parameters, the optimizer's ${this.paramGroups[gi].params.length}`);
      }
      return { ...this.paramGroups[gi], ...this.checkGroupOptions(options, false) };
    });
    const fresh = new Map<Tensor, ParamState>();
    try {
      for (const [key, entry] of Object.entries(sd.state)) {
        const i = Number(key);
        const p = params[i];
        if (!Number.isInteger(i) || p === undefined) throw new RangeError(`${op}: state for parameter ${key}, which the optimizer does not have`);
        const group = groups.find((g) => g.params.includes(p))!;
        const names = this.stateNames(group as ParamGroup<O>);
        const step = entry.step;
        if (typeof step !== 'number' || !Number.isInteger(step) || step < 0 || step > 2 ** 31 - 1) fail('range', op, `state[${key}].step`, 'an integer in [0, 2^31 - 1]', step);
        const s: ParamState = { step: keep(zeros([1], { dtype: 'int32', device: p.device })), buffers: [] };
        fresh.set(p, s);
        for (const n of names) {
          const b = entry[n];
          if (!(b instanceof Tensor)) fail('type', op, `state[${key}].${n}`, 'a Tensor', b);
          if (b.numel !== p.numel) throw new RangeError(`${op}: state[${key}].${n} has ${b.numel} elements, the parameter ${p.numel}`);
          s.buffers.push(keep(copyAsState(b, p)));
        }
        native.run('fill', { out: s.step.live(op), dtype: 'int32', n: 1, value: step });
      }
    } catch (e) {
      for (const s of fresh.values()) disposeState(s);
      throw e;
    }
    this.dispose();
    for (const [p, s] of fresh) this.state.set(p, s);
    groups.forEach((g, gi) => Object.assign(this.paramGroups[gi], g));
  }

  /**
   * Frees the optimizer's state (the parameters are the caller's).
   *
   * @example
   * ```ts
   * opt.dispose(); // frees the momentum and moment buffers; the parameters stay
   * ```
   */
  dispose(): void {
    for (const s of this.state.values()) disposeState(s);
    this.state.clear();
  }

  private checkGroupOptions(given: Record<string, unknown>, fillDefaults: boolean): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(given)) {
      if (!(key in this.specs)) {
        throw new TypeError(`${this.name}: unknown option '${key}' (known: ${Object.keys(this.specs).join(', ')})`);
      }
    }
    for (const [key, spec] of Object.entries(this.specs)) {
      let v = given[key];
      if (v === undefined) {
        if (!fillDefaults) continue;
        v = spec.default;
        if (v === undefined) throw new TypeError(`${this.name}: option ${key} is required`);
      }
      out[key] = spec.check(this.name, key, v);
    }
    this.checkCombination({ ...(fillDefaults ? {} : this.defaults), ...out });
    return out;
  }

  /** The step: checks, then state, then launches. */
  private run(foundInf: Tensor | null): void {
    // 1. Check every parameter and gradient before anything is written.
    interface Work {
      group: ParamGroup<O>;
      p: Tensor;
      g: Tensor;
    }
    const work: Work[] = [];
    for (const [gi, group] of this.paramGroups.entries()) {
      if (typeof group.lr !== 'number' || !Number.isFinite(group.lr) || group.lr < 0) fail('range', this.name, `lr of group ${gi}`, 'a finite number >= 0', group.lr);
      const names = this.stateNames(group);
      for (const [i, p] of group.params.entries()) {
        const where = `parameter ${i} of group ${gi}`;
        const s = this.state.get(p);
        if (s !== undefined && s.buffers.length !== names.length) {
          throw new RangeError(`${this.name}: the options of group ${gi} now need the state ${names.join(', ') || '(none)'}, but ${where} was stepped with ${s.buffers.length} state buffers; make a new optimizer to change that option`);
        }
        if (p.isDisposed) {
          throw new Error(`${this.name}: ${where} was disposed (was the model moved with .to() after the optimizer was made? build the optimizer over the new parameters)`);
        }
        const g = p.grad;
        if (g === null) continue;
        if (g.isDisposed) throw new Error(`${this.name}: the gradient of ${where} was disposed`);
        if (g.device !== p.device) throw new RangeError(`${this.name}: the gradient of ${where} is on ${g.device}, the parameter on ${p.device}`);
        if (g.dtype !== p.dtype) throw new TypeError(`${this.name}: the gradient of ${where} is ${g.dtype}, the parameter ${p.dtype}`);
        if (g.numel !== p.numel) throw new RangeError(`${this.name}: the gradient of ${where} has ${g.numel} elements, the parameter ${p.numel}`);
        work.push({ group, p, g });
      }
    }
    if (work.length === 0) return;
    if (foundInf !== null) {
      foundInf.live(`${this.name}: foundInf`);
      const devices = new Set(work.map((w) => w.p.device));
      if (devices.size > 1 || !devices.has(foundInf.device)) {
        throw new RangeError(`${this.name}: the GradScaler's state is on ${foundInf.device}, the parameters on ${[...devices].join(' and ')}`);
      }
    }
    // 2. Allocate what this step needs (new state, LAMB's norm) before the first launch.
    const created: [Tensor, ParamState][] = [];
    const temps: Tensor[] = [];
    let calls: { group: ParamGroup<O>; device: Device; dtype: DType; items: Work[] }[];
    try {
      for (const w of work) {
        if (this.state.has(w.p)) continue;
        const names = this.stateNames(w.group);
        const s: ParamState = { step: keep(zeros([1], { dtype: 'int32', device: w.p.device })), buffers: [] };
        created.push([w.p, s]);
        for (let k = 0; k < names.length; k++) s.buffers.push(keep(zeros([...w.p.shape], { device: w.p.device })));
      }
      calls = this.partition(work);
      const gradNorm = this.kind === 'lamb' ? this.globalGradNorm(work, temps) : null;
      // LAMB and LARS reduce per-tensor norms in a scratch per call: two floats per chunk and per tensor.
      const scratch = calls.map((c) => {
        if (this.kind !== 'lamb' && this.kind !== 'lars') return null;
        const chunks = c.items.reduce((a, w) => a + Math.ceil(w.p.numel / CHUNK), 0);
        const t = zeros([2 * chunks + 2 * c.items.length], { device: c.device });
        temps.push(t);
        return t;
      });
      for (const [p, s] of created) this.state.set(p, s);
      // 3. Launch: nothing past this point allocates.
      calls.forEach((c, i) => this.launch(c.group, c.dtype, c.items, foundInf, gradNorm, scratch[i]));
    } catch (e) {
      for (const [p, s] of created) {
        this.state.delete(p);
        disposeState(s);
      }
      throw e;
    } finally {
      for (const t of temps) t.dispose();
    }
  }

  /** The launches of one step: per group, device and dtype (or per parameter without foreach). */
  private partition<W extends { group: ParamGroup<O>; p: Tensor }>(work: W[]): { group: ParamGroup<O>; device: Device; dtype: DType; items: W[] }[] {
    const calls = new Map<string, { group: ParamGroup<O>; device: Device; dtype: DType; items: W[] }>();
    for (const [k, w] of work.entries()) {
      const gi = this.paramGroups.indexOf(w.group);
      const key = this.foreach ? `${gi}/${w.p.device}/${w.p.dtype}` : String(k);
      let c = calls.get(key);
      if (c === undefined) {
        c = { group: w.group, device: w.p.device, dtype: w.p.dtype, items: [] };
        calls.set(key, c);
      }
      c.items.push(w);
    }
    return [...calls.values()];
  }

  /** LAMB's global gradient norm over every parameter with a gradient (one device and dtype). */
  private globalGradNorm(work: { p: Tensor; g: Tensor }[], temps: Tensor[]): Tensor {
    const devices = new Set(work.map((w) => w.p.device));
    if (devices.size > 1) throw new RangeError(`${this.name}: the global gradient norm needs every parameter on one device, got ${[...devices].join(' and ')}`);
    const dtypes = new Set(work.map((w) => w.p.dtype));
    if (dtypes.size > 1) throw new TypeError(`${this.name}: the global gradient norm needs every parameter in one dtype, got ${[...dtypes].join(' and ')}`);
    const device = work[0].p.device;
    const norms = zeros([work.length], { device });
    temps.push(norms);
    const total = zeros([1], { device });
    temps.push(total);
    native.run('multiTensorNorm', {
      tensors: work.map((w) => w.g.live(this.name)),
      numels: work.map((w) => w.g.numel),
      norms: norms.live(this.name),
      total: total.live(this.name),
      dtype: work[0].g.dtype,
    });
    return total;
  }

  private launch(group: ParamGroup<O>, dtype: DType, items: { p: Tensor; g: Tensor }[], foundInf: Tensor | null, gradNorm: Tensor | null, scratch: Tensor | null): void {
    const h = this.hyper(group);
    const lists: StorageHandle[][] = [[], [], []];
    const n = this.stateNames(group).length;
    for (const { p } of items) {
      const s = this.state.get(p)!;
      for (let k = 0; k < n; k++) lists[k].push(s.buffers[k].live(this.name));
    }
    for (const { p } of items) p.bumpVersion();
    native.run('optimizerStep', {
      kind: this.kind,
      params: items.map((w) => w.p.live(this.name)),
      grads: items.map((w) => w.g.live(this.name)),
      state0: lists[0],
      state1: lists[1],
      state2: lists[2],
      steps: items.map((w) => this.state.get(w.p)!.step.live(this.name)),
      numels: items.map((w) => w.p.numel),
      foundInf: foundInf?.live(this.name) ?? null,
      gradNorm: gradNorm?.live(this.name) ?? null,
      scratch: scratch?.live(this.name) ?? null,
      dtype,
      lr: h.lr,
      beta1: h.beta1 ?? 0,
      beta2: h.beta2 ?? 0,
      eps: h.eps ?? 0,
      weightDecay: h.weightDecay ?? 0,
      momentum: h.momentum ?? 0,
      dampening: h.dampening ?? 0,
      rho: h.rho ?? 0,
      trustCoefficient: h.trustCoefficient ?? 0,
      maxGradNorm: h.maxGradNorm ?? 0,
      nesterov: h.nesterov ?? false,
      decoupled: h.decoupled ?? false,
      amsgrad: h.amsgrad ?? false,
      biasCorrection: h.biasCorrection ?? true,
      nvLamb: h.nvLamb ?? false,
    });
  }
}

/** A float32 copy of b on p's device, never an alias of the caller's tensor. */
function copyAsState(b: Tensor, p: Tensor): Tensor {
  const moved = b.convert(p.device);
  const cast = moved.convert('float32');
  const owned = cast === b ? b.copy() : cast;
  if (moved !== b && moved !== owned) moved.dispose();
  const shaped = owned.aliasAs([...p.shape]);
  owned.dispose();
  return shaped;
}

function disposeState(s: ParamState): void {
  s.step.dispose();
  for (const b of s.buffers) b.dispose();
}
