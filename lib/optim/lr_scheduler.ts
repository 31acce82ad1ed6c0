// hy.optim learning-rate schedulers, torch.optim.lr_scheduler semantics. A scheduler reads and
// writes only the `lr` of its optimizer's param groups. Construction performs the initial step, so
// lastEpoch is 0 and every group's lr is the schedule's epoch-0 value; each step() advances one epoch.
//
// Every schedule is a closed form of (epoch, base lrs): step() never multiplies the group's current
// lr as PyTorch's "chainable" get_lr() does, so stateDict() + loadStateDict() + step() gives the
// same lrs, bit for bit, as an uninterrupted run, whatever lr the optimizer holds when the state is
// loaded. The cost: a change made to a group's lr from outside the scheduler is overwritten at the
// next step instead of compounding with the schedule (compose schedules with ChainedScheduler).
//
// The base lrs are PyTorch's `initial_lr`: the first scheduler built on a param group records the
// group's lr then, and every later scheduler on that group reads the recorded value (setdefault),
// so a CosineAnnealingLR built after a LinearLR anneals from the group's own lr, not from the
// warm-up's first value. OneCycleLR overwrites the record with maxLr / divFactor, as PyTorch does.
import { describe } from '../errors';
import { checkOptions } from '../tensor';
import { booleanArg, fail, Shown } from '../validate';

/** What a scheduler needs of an optimizer: its param groups' learning rates. */
export interface SchedulableOptimizer {
  readonly paramGroups: Array<{ lr: number }>;
}

/** A JSON value: what a state dict holds. */
export type StateValue = number | string | boolean | StateValue[] | { [key: string]: StateValue };

/** A scheduler's state: plain JSON (JSON.parse(JSON.stringify(sd)) loads the same). */
export interface SchedulerState {
  /** The class that wrote it; loadStateDict refuses another class's state. */
  scheduler: string;
  lastEpoch: number;
  baseLrs: number[];
  [option: string]: StateValue;
}

// PyTorch's group['initial_lr'], kept beside the group object rather than written into it.
const initialLrs = new WeakMap<object, number>();

// ---------------------------------------------------------------------------------------------
// Argument checks, in lib/validate.ts's message style: "<Class>: <option> must be <expected>, got <value>".

function intArg(cls: string, name: string, v: unknown, min: number): number {
  const expected = `an integer >= ${min}`;
  if (typeof v !== 'number') fail('type', cls, name, expected, v);
  if (!Number.isInteger(v) || v < min) fail('range', cls, name, expected, v);
  return v;
}

/** A finite number in the range (`min`, with `minOpen` for a strict bound) to `max` (inclusive). */
function finiteArg(cls: string, name: string, v: unknown, min: number, minOpen = false, max = Infinity): number {
  const expected = `a finite number ${minOpen ? '>' : '>='} ${min}${max === Infinity ? '' : ` and <= ${max}`}`;
  if (typeof v !== 'number') fail('type', cls, name, expected, v);
  if (!Number.isFinite(v) || (minOpen ? v <= min : v < min) || v > max) fail('range', cls, name, expected, v);
  return v;
}

/** An array of integers >= min, ascending (strictly when `strict`). */
function milestonesArg(cls: string, name: string, v: unknown, min: number, strict: boolean): number[] {
  if (!Array.isArray(v)) fail('type', cls, name, `an array of integers >= ${min}`, v);
  const out = v.map((m, i) => intArg(cls, `${name}[${i}]`, m, min));
  for (let i = 1; i < out.length; i++) {
    if (strict ? out[i] <= out[i - 1] : out[i] < out[i - 1]) {
      fail('range', cls, name, strict ? 'strictly increasing' : 'sorted in ascending order', v);
    }
  }
  return out;
}

/** A finite lr >= 0 per param group: one number for every group, or an array of one per group. */
function perGroupArg(cls: string, name: string, v: unknown, groups: number): number[] {
  if (Array.isArray(v)) {
    if (v.length !== groups) fail('range', cls, name, `one value per param group (${groups})`, v);
    return v.map((x, i) => finiteArg(cls, `${name}[${i}]`, x, 0));
  }
  if (typeof v !== 'number') fail('type', cls, name, 'a number or an array of one number per param group', v);
  return new Array<number>(groups).fill(finiteArg(cls, name, v, 0));
}

function checkOptimizer(cls: string, optimizer: unknown): SchedulableOptimizer {
  const groups = (optimizer as { paramGroups?: unknown } | null | undefined)?.paramGroups;
  if (optimizer === null || typeof optimizer !== 'object' || !Array.isArray(groups)) {
    throw new TypeError(`${cls}: optimizer must be an optimizer with paramGroups (an array of { lr }), got ${describe(optimizer)}`);
  }
  if (groups.length === 0) throw new RangeError(`${cls}: optimizer.paramGroups must not be empty`);
  groups.forEach((g: unknown, i) => {
    if (g === null || typeof g !== 'object') fail('type', cls, `optimizer.paramGroups[${i}]`, 'an object with an lr', g);
    finiteArg(cls, `optimizer.paramGroups[${i}].lr`, (g as { lr?: unknown }).lr, 0);
  });
  return optimizer as SchedulableOptimizer;
}

/** An option's value, or its default when it is absent (undefined; null is a value, and rejected). */
function orDefault(v: unknown, dflt: unknown): unknown {
  return v === undefined ? dflt : v;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function sameLength(cls: string, what: string, values: readonly unknown[], groups: number): void {
  if (values.length !== groups) {
    throw new RangeError(`${cls}: ${what} has ${values.length} values but the optimizer has ${groups} param groups`);
  }
}

// ---------------------------------------------------------------------------------------------

/**
 * The base of every scheduler. A subclass writes lrsAt(epoch, input), the closed form of its
 * schedule, and, when it has options, optionsState() and parseOptions() for its state dict; its
 * constructor checks its options and ends with initialStep().
 *
 * @example
 * ```ts
 * const sched: hy.optim.LRScheduler = new hy.optim.StepLR(opt, { stepSize: 30 }); // any subclass
 * for (let epoch = 0; epoch < 90; epoch++) { trainOneEpoch(); sched.step(); } // opt.step() per batch, sched.step() per epoch
 * ```
 */
export abstract class LRScheduler {
  /** The class name, as errors and state dicts say it. */
  readonly name: string;
  readonly optimizer: SchedulableOptimizer;
  #baseLrs: number[] = [];
  #epoch = 0;
  #lastLr: number[] = [];
  /** The composite that steps this scheduler, when it is part of one. */
  #owner: string | undefined;

  /** Checks the optimizer; changes nothing (initialStep() does, once the options are checked). */
  protected constructor(name: string, optimizer: unknown) {
    if (new.target === LRScheduler) throw new TypeError('LRScheduler: the base class of the schedulers; construct one of them, such as hy.optim.StepLR');
    if (typeof name !== 'string') throw new TypeError(`LRScheduler: name must be a string, got ${describe(name)}`);
    this.name = name;
    this.optimizer = checkOptimizer(name, optimizer);
  }

  /**
   * The lrs of every param group at `epoch` (an integer >= 0), from `input`: the base lrs, or, in a
   * ChainedScheduler, the lrs the schedulers before this one produced. A pure function of its
   * arguments and the options; throws a RangeError for an epoch the schedule does not reach.
   */
  protected abstract lrsAt(epoch: number, input: readonly number[]): number[];

  /** The options, for stateDict(). */
  protected optionsState(): Record<string, StateValue> {
    return {};
  }

  /** Checks a state dict's options (every key but scheduler, lastEpoch and baseLrs); returns what sets them. */
  protected parseOptions(o: Record<string, unknown>, _lastEpoch: number): () => void {
    checkStateKeys(this.name, o, []);
    return () => undefined;
  }

  /** Called with the new epoch after every change of it (composites update their schedulers here). */
  protected onEpoch(_epoch: number): void {}

  /**
   * The constructor's step: records the base lrs (the groups' initial lrs, or `baseLrs`) and sets
   * every group's lr to the schedule's epoch-0 value.
   */
  protected initialStep(baseLrs?: readonly number[]): void {
    const groups = this.optimizer.paramGroups;
    if (baseLrs === undefined) {
      for (const g of groups) if (!initialLrs.has(g)) initialLrs.set(g, g.lr);
      this.#baseLrs = groups.map((g) => initialLrs.get(g) as number);
    } else {
      this.#baseLrs = baseLrs.slice();
    }
    this.#commit(0, this.lrsAt(0, this.#baseLrs));
  }

  /** The epoch of the current lrs: 0 after construction, one more after each step(). */
  get lastEpoch(): number {
    return this.#epoch;
  }

  /** Every group's base lr (PyTorch's base_lrs). */
  get baseLrs(): number[] {
    return this.#baseLrs.slice();
  }

  /**
   * The lrs this scheduler last set, one per param group.
   *
   * @example
   * ```ts
   * const sched = new hy.optim.ExponentialLR(opt, { gamma: 0.5 });
   * sched.step();
   * sched.getLastLr(); // [base * 0.5], one per param group
   * ```
   */
  getLastLr(): number[] {
    return this.#lastLr.slice();
  }

  /**
   * Advances one epoch and sets every group's lr.
   *
   * @example
   * ```ts
   * const sched = new hy.optim.CosineAnnealingLR(opt, { tMax: 100 });
   * opt.step();
   * sched.step(); // after the optimizer steps of the epoch
   * ```
   */
  step(): void {
    this.#free('step');
    this.#checkGroups();
    const epoch = this.#epoch + 1;
    this.#commit(epoch, this.lrsAt(epoch, this.#baseLrs)); // lrsAt may throw: nothing has changed then
  }

  /**
   * The scheduler's state as plain JSON: the class, lastEpoch, baseLrs and the options.
   *
   * @example
   * ```ts
   * const saved = JSON.stringify(sched.stateDict()); // plain JSON
   * ```
   */
  stateDict(): SchedulerState {
    return { scheduler: this.name, lastEpoch: this.#epoch, baseLrs: this.#baseLrs.slice(), ...this.optionsState() };
  }

  /**
   * Restores a state from stateDict() (the options included, as PyTorch's load_state_dict does) and
   * sets every group's lr to the restored epoch's value, so training continues as it would have.
   * A state that does not check leaves the scheduler as it was.
   *
   * @example
   * ```ts
   * const saved = JSON.stringify(sched.stateDict()); // at a checkpoint
   * sched.loadStateDict(JSON.parse(saved)); // back to that epoch and its lrs
   * ```
   */
  loadStateDict(sd: unknown): void {
    this.#free('loadStateDict');
    this.#load(sd);
  }

  #load(sd: unknown): void {
    const apply = this.#parseState(sd);
    const undo = this.#parseState(this.stateDict());
    apply();
    try {
      this.#commit(this.#epoch, this.lrsAt(this.#epoch, this.#baseLrs));
    } catch (e) {
      undo();
      throw e;
    }
  }

  #parseState(sd: unknown): () => void {
    const cls = this.name;
    if (!isRecord(sd)) throw new TypeError(`${cls}: loadStateDict expects a state dict object, got ${describe(sd)}`);
    const { scheduler, lastEpoch, baseLrs, ...options } = sd;
    if (scheduler !== cls) {
      throw new RangeError(`${cls}: the state dict is not a ${cls}'s (its scheduler is ${describe(scheduler)})`);
    }
    const epoch = intArg(cls, 'state dict lastEpoch', lastEpoch, 0);
    if (!Array.isArray(baseLrs)) fail('type', cls, 'state dict baseLrs', 'an array of numbers', baseLrs);
    const bases = baseLrs.map((b, i) => finiteArg(cls, `state dict baseLrs[${i}]`, b, 0));
    sameLength(cls, 'the state dict baseLrs', bases, this.optimizer.paramGroups.length);
    const applyOptions = this.parseOptions(options, epoch);
    return () => {
      applyOptions();
      this.#epoch = epoch;
      this.#baseLrs = bases;
    };
  }

  #commit(epoch: number, lrs: number[]): void {
    this.#epoch = epoch;
    this.#lastLr = lrs;
    if (this.#owner === undefined) {
      const groups = this.optimizer.paramGroups;
      for (let i = 0; i < groups.length; i++) groups[i].lr = lrs[i];
    }
    this.onEpoch(epoch);
  }

  #free(method: string): void {
    if (this.#owner !== undefined) {
      throw new RangeError(`${this.name}: ${method}() of a scheduler inside a ${this.#owner}: call the ${this.#owner}'s ${method}()`);
    }
  }

  #checkGroups(): void {
    sameLength(this.name, 'baseLrs', this.#baseLrs, this.optimizer.paramGroups.length);
  }

  // What composites do to the schedulers they hold (protected members of a sibling class are only
  // reachable from LRScheduler's own body).

  /** Checks that `s` is a fresh simple scheduler of `optimizer` that no composite holds. */
  protected static checkChild(cls: string, what: string, s: unknown, optimizer: SchedulableOptimizer): LRScheduler {
    if (!(s instanceof LRScheduler)) fail('type', cls, what, 'an LRScheduler', s);
    if (s instanceof SequentialLR || s instanceof ChainedScheduler) {
      fail('type', cls, what, 'a simple scheduler (composites do not nest)', new Shown(`a ${s.name}`));
    }
    if (s.optimizer !== optimizer) {
      throw new RangeError(`${cls}: ${what} (a ${s.name}) schedules another optimizer`);
    }
    if (s.#owner !== undefined) throw new RangeError(`${cls}: ${what} (a ${s.name}) is already inside a ${s.#owner}`);
    if (s.#epoch !== 0) {
      throw new RangeError(`${cls}: ${what} (a ${s.name}) has been stepped (lastEpoch ${s.#epoch}); pass freshly built schedulers`);
    }
    return s;
  }

  /** Marks `s` as stepped by a composite: its own step() and loadStateDict() refuse from then on. */
  protected static adopt(s: LRScheduler, owner: string): void {
    s.#owner = owner;
  }

  protected static lrsOf(s: LRScheduler, epoch: number, input: readonly number[]): number[] {
    return s.lrsAt(epoch, input);
  }

  protected static baseLrsOf(s: LRScheduler): readonly number[] {
    return s.#baseLrs;
  }

  /** Sets what `s` reports (lastEpoch, getLastLr()); its composite writes the groups. */
  protected static showEpoch(s: LRScheduler, epoch: number, lrs: number[]): void {
    s.#epoch = epoch;
    s.#lastLr = lrs;
  }

  /** Checks a held scheduler's state dict; returns what loads it. */
  protected static parseStateOf(s: LRScheduler, sd: unknown): () => void {
    return s.#parseState(sd);
  }
}

/** Rejects a state dict's keys other than `allowed`. */
function checkStateKeys(cls: string, o: Record<string, unknown>, allowed: readonly string[]): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) {
      const known = ['scheduler', 'lastEpoch', 'baseLrs', ...allowed].join(', ');
      throw new TypeError(`${cls}: unknown state dict key '${k}' (expected ${known})`);
    }
  }
}

/** A state dict's options checked as the constructor checks them. */
function stateOptions(cls: string, o: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  checkStateKeys(cls, o, keys);
  for (const k of keys) if (!(k in o)) throw new TypeError(`${cls}: the state dict has no '${k}'`);
  return o;
}

// ---------------------------------------------------------------------------------------------

export interface StepLROptions {
  /** Epochs between decays: an integer >= 1. */
  stepSize: number;
  /** The decay factor, > 0. Default 0.1. */
  gamma?: number;
}

/**
 * lr = base * gamma ^ floor(epoch / stepSize).
 *
 * @example
 * ```ts
 * const sched = new hy.optim.StepLR(opt, { stepSize: 30, gamma: 0.1 }); // lr / 10 every 30 epochs
 * ```
 */
export class StepLR extends LRScheduler {
  readonly stepSize!: number;
  readonly gamma!: number;

  constructor(optimizer: SchedulableOptimizer, opts: StepLROptions) {
    super('StepLR', optimizer);
    this.parseOptions(checkOptions('StepLR', opts, ['stepSize', 'gamma']), 0, true)();
    this.initialStep();
  }

  protected override lrsAt(epoch: number, input: readonly number[]): number[] {
    return input.map((base) => base * this.gamma ** Math.floor(epoch / this.stepSize));
  }

  protected override optionsState(): Record<string, StateValue> {
    return { stepSize: this.stepSize, gamma: this.gamma };
  }

  protected override parseOptions(o: Record<string, unknown>, _lastEpoch: number, defaults = false): () => void {
    if (!defaults) stateOptions(this.name, o, ['stepSize', 'gamma']);
    const stepSize = intArg(this.name, 'stepSize', o.stepSize, 1);
    const gamma = finiteArg(this.name, 'gamma', orDefault(o.gamma, 0.1), 0, true);
    return () => Object.assign(this, { stepSize, gamma });
  }
}

export interface MultiStepLROptions {
  /** Epochs at which the lr decays: ascending integers >= 0 (a repeated one decays that many times). */
  milestones: number[];
  /** The decay factor, > 0. Default 0.1. */
  gamma?: number;
}

/**
 * lr = base * gamma ^ (the number of milestones <= epoch).
 *
 * @example
 * ```ts
 * const sched = new hy.optim.MultiStepLR(opt, { milestones: [30, 80], gamma: 0.1 });
 * ```
 */
export class MultiStepLR extends LRScheduler {
  readonly milestones!: number[];
  readonly gamma!: number;

  constructor(optimizer: SchedulableOptimizer, opts: MultiStepLROptions) {
    super('MultiStepLR', optimizer);
    this.parseOptions(checkOptions('MultiStepLR', opts, ['milestones', 'gamma']), 0, true)();
    this.initialStep();
  }

  protected override lrsAt(epoch: number, input: readonly number[]): number[] {
    let passed = 0; // bisect_right(milestones, epoch)
    while (passed < this.milestones.length && this.milestones[passed] <= epoch) passed++;
    return input.map((base) => base * this.gamma ** passed);
  }

  protected override optionsState(): Record<string, StateValue> {
    return { milestones: this.milestones.slice(), gamma: this.gamma };
  }

  protected override parseOptions(o: Record<string, unknown>, _lastEpoch: number, defaults = false): () => void {
    if (!defaults) stateOptions(this.name, o, ['milestones', 'gamma']);
    const milestones = milestonesArg(this.name, 'milestones', o.milestones, 0, false);
    const gamma = finiteArg(this.name, 'gamma', orDefault(o.gamma, 0.1), 0, true);
    return () => Object.assign(this, { milestones, gamma });
  }
}

export interface ExponentialLROptions {
  /** The decay factor per epoch, > 0. */
  gamma: number;
}

/**
 * lr = base * gamma ^ epoch.
 *
 * @example
 * ```ts
 * const sched = new hy.optim.ExponentialLR(opt, { gamma: 0.95 });
 * ```
 */
export class ExponentialLR extends LRScheduler {
  readonly gamma!: number;

  constructor(optimizer: SchedulableOptimizer, opts: ExponentialLROptions) {
    super('ExponentialLR', optimizer);
    this.parseOptions(checkOptions('ExponentialLR', opts, ['gamma']), 0, true)();
    this.initialStep();
  }

  protected override lrsAt(epoch: number, input: readonly number[]): number[] {
    return input.map((base) => base * this.gamma ** epoch);
  }

  protected override optionsState(): Record<string, StateValue> {
    return { gamma: this.gamma };
  }

  protected override parseOptions(o: Record<string, unknown>, _lastEpoch: number, defaults = false): () => void {
    if (!defaults) stateOptions(this.name, o, ['gamma']);
    const gamma = finiteArg(this.name, 'gamma', o.gamma, 0, true);
    return () => Object.assign(this, { gamma });
  }
}

export interface LinearLROptions {
  /** The factor at epoch 0, in (0, 1]. Default 1/3. */
  startFactor?: number;
  /** The factor from totalIters on, in [0, 1]. Default 1. */
  endFactor?: number;
  /** Epochs from startFactor to endFactor: an integer >= 1. Default 5. */
  totalIters?: number;
}

/**
 * lr = base * (startFactor + (endFactor - startFactor) * min(totalIters, epoch) / totalIters): the warm-up.
 *
 * @example
 * ```ts
 * const warmup = new hy.optim.LinearLR(opt, { startFactor: 0.1, totalIters: 5 }); // 0.1 * lr up to lr in 5 epochs
 * ```
 */
export class LinearLR extends LRScheduler {
  readonly startFactor!: number;
  readonly endFactor!: number;
  readonly totalIters!: number;

  constructor(optimizer: SchedulableOptimizer, opts?: LinearLROptions) {
    super('LinearLR', optimizer);
    this.parseOptions(checkOptions('LinearLR', opts, ['startFactor', 'endFactor', 'totalIters']), 0, true)();
    this.initialStep();
  }

  protected override lrsAt(epoch: number, input: readonly number[]): number[] {
    const f = this.startFactor + ((this.endFactor - this.startFactor) * Math.min(this.totalIters, epoch)) / this.totalIters;
    return input.map((base) => base * f);
  }

  protected override optionsState(): Record<string, StateValue> {
    return { startFactor: this.startFactor, endFactor: this.endFactor, totalIters: this.totalIters };
  }

  protected override parseOptions(o: Record<string, unknown>, _lastEpoch: number, defaults = false): () => void {
    if (!defaults) stateOptions(this.name, o, ['startFactor', 'endFactor', 'totalIters']);
    // PyTorch (2.x) rejects startFactor 0 too: its chainable form divides by it.
    const startFactor = finiteArg(this.name, 'startFactor', orDefault(o.startFactor, 1 / 3), 0, true, 1);
    const endFactor = finiteArg(this.name, 'endFactor', orDefault(o.endFactor, 1), 0, false, 1);
    const totalIters = intArg(this.name, 'totalIters', orDefault(o.totalIters, 5), 1);
    return () => Object.assign(this, { startFactor, endFactor, totalIters });
  }
}

export interface CosineAnnealingLROptions {
  /** The half period in epochs: an integer >= 1. */
  tMax: number;
  /** The lr at epoch tMax, >= 0. Default 0. */
  etaMin?: number;
}

/**
 * lr = etaMin + (base - etaMin) * (1 + cos(pi * epoch / tMax)) / 2. Past tMax the cosine goes on
 * (the lr rises again over the next tMax epochs), as PyTorch's does.
 *
 * @example
 * ```ts
 * const sched = new hy.optim.CosineAnnealingLR(opt, { tMax: 100, etaMin: 1e-5 });
 * ```
 */
export class CosineAnnealingLR extends LRScheduler {
  readonly tMax!: number;
  readonly etaMin!: number;

  constructor(optimizer: SchedulableOptimizer, opts: CosineAnnealingLROptions) {
    super('CosineAnnealingLR', optimizer);
    this.parseOptions(checkOptions('CosineAnnealingLR', opts, ['tMax', 'etaMin']), 0, true)();
    this.initialStep();
  }

  protected override lrsAt(epoch: number, input: readonly number[]): number[] {
    const c = 1 + Math.cos((Math.PI * epoch) / this.tMax);
    return input.map((base) => this.etaMin + ((base - this.etaMin) * c) / 2);
  }

  protected override optionsState(): Record<string, StateValue> {
    return { tMax: this.tMax, etaMin: this.etaMin };
  }

  protected override parseOptions(o: Record<string, unknown>, _lastEpoch: number, defaults = false): () => void {
    if (!defaults) stateOptions(this.name, o, ['tMax', 'etaMin']);
    const tMax = intArg(this.name, 'tMax', o.tMax, 1);
    const etaMin = finiteArg(this.name, 'etaMin', orDefault(o.etaMin, 0), 0);
    return () => Object.assign(this, { tMax, etaMin });
  }
}

export interface OneCycleLROptions {
  /** The peak lr: one for every group, or one per group. */
  maxLr: number | number[];
  /** The steps in the cycle: an integer >= 1. lastEpoch may reach totalSteps; stepping past it is a RangeError. */
  totalSteps: number;
  /** The fraction of the cycle spent raising the lr, in [0, 1]. Default 0.3. */
  pctStart?: number;
  /** 'cos' (default) or 'linear'. */
  annealStrategy?: 'cos' | 'linear';
  /** initial lr = maxLr / divFactor, > 0. Default 25. */
  divFactor?: number;
  /** min lr = initial lr / finalDivFactor, > 0. Default 1e4. */
  finalDivFactor?: number;
  /** Up to maxLr, back down to the initial lr, then down to the min lr (PyTorch's three_phase). Default false. */
  threePhase?: boolean;
}

type Anchor = 'initial' | 'max' | 'min';

/**
 * The 1cycle policy (PyTorch's OneCycleLR): from maxLr / divFactor up to maxLr at step
 * pctStart * totalSteps - 1, then down to the initial lr / finalDivFactor at step totalSteps - 1,
 * annealing by cosine or linearly. PyTorch's cycle_momentum is not implemented: this scheduler sets
 * only the lrs, never a momentum (a SchedulableOptimizer exposes no momentum to cycle).
 *
 * @example
 * ```ts
 * const sched = new hy.optim.OneCycleLR(opt, { maxLr: 0.1, totalSteps: 10_000 });
 * opt.step();
 * sched.step(); // once per batch, not per epoch
 * ```
 */
export class OneCycleLR extends LRScheduler {
  readonly maxLrs!: number[];
  readonly totalSteps!: number;
  readonly pctStart!: number;
  readonly annealStrategy!: 'cos' | 'linear';
  readonly divFactor!: number;
  readonly finalDivFactor!: number;
  readonly threePhase!: boolean;
  #phases: Array<{ end: number; from: Anchor; to: Anchor }> = [];

  constructor(optimizer: SchedulableOptimizer, opts: OneCycleLROptions) {
    super('OneCycleLR', optimizer);
    const keys = ['maxLr', 'totalSteps', 'pctStart', 'annealStrategy', 'divFactor', 'finalDivFactor', 'threePhase'];
    this.parseOptions(checkOptions('OneCycleLR', opts, keys), 0, true)();
    const initial = this.maxLrs.map((m) => m / this.divFactor);
    this.optimizer.paramGroups.forEach((g, i) => initialLrs.set(g, initial[i])); // PyTorch sets group['initial_lr']
    this.initialStep(initial);
  }

  protected override lrsAt(epoch: number, _input: readonly number[]): number[] {
    if (epoch > this.totalSteps) {
      throw new RangeError(`OneCycleLR: cannot step past totalSteps = ${this.totalSteps} (lastEpoch would be ${epoch})`);
    }
    return this.maxLrs.map((max) => {
      const initial = max / this.divFactor;
      const anchors = { initial, max, min: initial / this.finalDivFactor };
      let start = 0;
      for (let i = 0; i < this.#phases.length; i++) {
        const phase = this.#phases[i];
        if (epoch <= phase.end || i === this.#phases.length - 1) {
          const pct = (epoch - start) / (phase.end - start);
          const from = anchors[phase.from];
          const to = anchors[phase.to];
          return this.annealStrategy === 'cos' ? to + ((from - to) / 2) * (Math.cos(Math.PI * pct) + 1) : (to - from) * pct + from;
        }
        start = phase.end;
      }
      throw new Error('unreachable');
    });
  }

  protected override optionsState(): Record<string, StateValue> {
    return {
      maxLr: this.maxLrs.slice(),
      totalSteps: this.totalSteps,
      pctStart: this.pctStart,
      annealStrategy: this.annealStrategy,
      divFactor: this.divFactor,
      finalDivFactor: this.finalDivFactor,
      threePhase: this.threePhase,
    };
  }

  protected override parseOptions(o: Record<string, unknown>, lastEpoch: number, defaults = false): () => void {
    const cls = this.name;
    if (!defaults) stateOptions(cls, o, ['maxLr', 'totalSteps', 'pctStart', 'annealStrategy', 'divFactor', 'finalDivFactor', 'threePhase']);
    const maxLrs = perGroupArg(cls, 'maxLr', o.maxLr, this.optimizer.paramGroups.length);
    const totalSteps = intArg(cls, 'totalSteps', o.totalSteps, 1);
    const pctStart = finiteArg(cls, 'pctStart', orDefault(o.pctStart, 0.3), 0, false, 1);
    const strategy = orDefault(o.annealStrategy, 'cos');
    if (typeof strategy !== 'string') fail('type', cls, 'annealStrategy', "'cos' or 'linear'", strategy);
    if (strategy !== 'cos' && strategy !== 'linear') fail('range', cls, 'annealStrategy', "'cos' or 'linear'", strategy);
    const divFactor = finiteArg(cls, 'divFactor', orDefault(o.divFactor, 25), 0, true);
    const finalDivFactor = finiteArg(cls, 'finalDivFactor', orDefault(o.finalDivFactor, 1e4), 0, true);
    const threePhase = booleanArg(cls, 'threePhase', o.threePhase, false);
    // PyTorch's phases, with its float arithmetic.
    const up = pctStart * totalSteps - 1;
    const phases: Array<{ end: number; from: Anchor; to: Anchor }> = threePhase
      ? [
          { end: up, from: 'initial', to: 'max' },
          { end: 2 * pctStart * totalSteps - 2, from: 'max', to: 'initial' },
          { end: totalSteps - 1, from: 'initial', to: 'min' },
        ]
      : [
          { end: up, from: 'initial', to: 'max' },
          { end: totalSteps - 1, from: 'max', to: 'min' },
        ];
    // A phase of no length that a step reaches divides by zero in PyTorch (ZeroDivisionError).
    if (threePhase && pctStart > 0.5) {
      fail('range', cls, 'pctStart', 'a finite number >= 0 and <= 0.5 with threePhase (the phases would overlap)', pctStart);
    }
    if (up === 0) {
      throw new RangeError(`${cls}: pctStart * totalSteps must not be 1 (the first phase would have no length), got pctStart ${pctStart} with totalSteps ${totalSteps}`);
    }
    if (phases[phases.length - 1].end === phases[phases.length - 2].end) {
      throw new RangeError(`${cls}: the last phase would have no length with pctStart ${pctStart} and totalSteps ${totalSteps}`);
    }
    if (lastEpoch > totalSteps) fail('range', cls, 'state dict lastEpoch', `<= totalSteps (${totalSteps})`, lastEpoch);
    return () => {
      Object.assign(this, { maxLrs, totalSteps, pctStart, annealStrategy: strategy, divFactor, finalDivFactor, threePhase });
      this.#phases = phases;
    };
  }
}

export interface LambdaLROptions {
  /** epoch => factor (finite, >= 0): one for every group, or an array of one per group. */
  lrLambda: ((epoch: number) => number) | Array<(epoch: number) => number>;
}

/**
 * lr = base * lrLambda(epoch). The functions are not part of the state dict (PyTorch saves only
 * callable objects' attributes); loadStateDict keeps this scheduler's. In a ChainedScheduler it
 * overrides the schedulers before it, as PyTorch's does (its formula reads base lrs, not the current).
 *
 * @example
 * ```ts
 * const sched = new hy.optim.LambdaLR(opt, { lrLambda: (epoch) => 0.95 ** epoch });
 * ```
 */
export class LambdaLR extends LRScheduler {
  readonly lrLambdas: Array<(epoch: number) => number>;

  constructor(optimizer: SchedulableOptimizer, opts: LambdaLROptions) {
    super('LambdaLR', optimizer);
    const o = checkOptions('LambdaLR', opts, ['lrLambda']);
    const groups = this.optimizer.paramGroups.length;
    const expected = `a function or an array of one function per param group (${groups})`;
    const f = o.lrLambda;
    if (typeof f === 'function') {
      this.lrLambdas = new Array(groups).fill(f);
    } else if (Array.isArray(f)) {
      if (f.length !== groups) fail('range', 'LambdaLR', 'lrLambda', expected, f);
      f.forEach((fi, i) => {
        if (typeof fi !== 'function') fail('type', 'LambdaLR', `lrLambda[${i}]`, 'a function', fi);
      });
      this.lrLambdas = f.slice();
    } else {
      fail('type', 'LambdaLR', 'lrLambda', expected, f);
    }
    this.initialStep();
  }

  protected override lrsAt(epoch: number, _input: readonly number[]): number[] {
    const bases = this.baseLrs;
    return this.lrLambdas.map((fn, i) => {
      const factor: unknown = fn(epoch);
      const what = `lrLambda(${epoch})`;
      if (typeof factor !== 'number') fail('type', 'LambdaLR', what, 'a finite number >= 0', factor);
      if (!Number.isFinite(factor) || factor < 0) fail('range', 'LambdaLR', what, 'a finite number >= 0', factor);
      return bases[i] * factor;
    });
  }
}

// ---------------------------------------------------------------------------------------------

export interface SequentialLROptions {
  /** Freshly built schedulers of this optimizer, one more than milestones. */
  schedulers: LRScheduler[];
  /** The epochs at which the next scheduler takes over: strictly increasing integers >= 1. */
  milestones: number[];
}

/**
 * Runs schedulers one after another: schedulers[i] from epoch milestones[i - 1] (0 for the first),
 * restarted there at its own epoch 0 (PyTorch's step(0)), with its own base lrs. The canonical use is
 * a warm-up: LinearLR for the first milestone epochs, then CosineAnnealingLR (see warmupCosine).
 * The schedulers are stepped by this one only; its state dict holds theirs.
 *
 * @example
 * ```ts
 * const warmup = new hy.optim.LinearLR(opt, { startFactor: 0.01, totalIters: 5 });
 * const cosine = new hy.optim.CosineAnnealingLR(opt, { tMax: 95 });
 * const sched = new hy.optim.SequentialLR(opt, { schedulers: [warmup, cosine], milestones: [5] });
 * ```
 */
export class SequentialLR extends LRScheduler {
  readonly schedulers: readonly LRScheduler[];
  readonly milestones!: number[];

  constructor(optimizer: SchedulableOptimizer, opts: SequentialLROptions) {
    super('SequentialLR', optimizer);
    const o = checkOptions('SequentialLR', opts, ['schedulers', 'milestones']);
    if (!Array.isArray(o.schedulers)) fail('type', 'SequentialLR', 'schedulers', 'an array of LRSchedulers', o.schedulers);
    if (o.schedulers.length === 0) fail('range', 'SequentialLR', 'schedulers', 'a non-empty array of LRSchedulers', o.schedulers);
    const list = o.schedulers.map((s, i) => LRScheduler.checkChild('SequentialLR', `schedulers[${i}]`, s, this.optimizer));
    if (new Set(list).size !== list.length) throw new RangeError('SequentialLR: schedulers holds the same scheduler twice');
    this.schedulers = list;
    const milestones = milestonesArg('SequentialLR', 'milestones', o.milestones, 1, true);
    if (milestones.length !== list.length - 1) {
      throw new RangeError(`SequentialLR: milestones must have one entry fewer than schedulers (${list.length - 1}), got ${describe(o.milestones)}`);
    }
    this.milestones = milestones;
    for (const s of list) LRScheduler.adopt(s, 'SequentialLR');
    this.initialStep();
  }

  /** The scheduler active at `epoch` and its own epoch. */
  #active(epoch: number): [number, number] {
    let idx = 0; // bisect_right(milestones, epoch)
    while (idx < this.milestones.length && this.milestones[idx] <= epoch) idx++;
    return [idx, idx === 0 ? epoch : epoch - this.milestones[idx - 1]];
  }

  protected override lrsAt(epoch: number, _input: readonly number[]): number[] {
    const [idx, local] = this.#active(epoch);
    const s = this.schedulers[idx];
    return LRScheduler.lrsOf(s, local, LRScheduler.baseLrsOf(s));
  }

  protected override onEpoch(epoch: number): void {
    // What each scheduler reports: the active one its epoch, those before it their last, those after it their epoch 0.
    const [idx, local] = this.#active(epoch);
    this.schedulers.forEach((s, i) => {
      const e = i < idx ? this.milestones[i] - (i === 0 ? 0 : this.milestones[i - 1]) - 1 : i === idx ? local : 0;
      LRScheduler.showEpoch(s, e, LRScheduler.lrsOf(s, e, LRScheduler.baseLrsOf(s)));
    });
  }

  protected override optionsState(): Record<string, StateValue> {
    return { milestones: this.milestones.slice(), schedulers: this.schedulers.map((s) => s.stateDict()) };
  }

  protected override parseOptions(o: Record<string, unknown>, _lastEpoch: number): () => void {
    stateOptions(this.name, o, ['milestones', 'schedulers']);
    const milestones = milestonesArg(this.name, 'state dict milestones', o.milestones, 1, true);
    sameCount(this.name, 'milestones', milestones, this.schedulers.length - 1);
    const children = childStates(this.name, o.schedulers, this.schedulers, (s, sd) => LRScheduler.parseStateOf(s, sd));
    return () => {
      Object.assign(this, { milestones });
      for (const apply of children) apply();
    };
  }
}

/**
 * Steps several schedulers of one optimizer together, each applied to the lrs the ones before it
 * produced (PyTorch's ChainedScheduler): LinearLR then ExponentialLR gives base * linear(t) * gamma^t.
 * LambdaLR and OneCycleLR, whose formulas read fixed lrs, override what comes before them, as in
 * PyTorch. Each scheduler's closed form takes its predecessor's output as its base, which is what
 * PyTorch's chainable (multiplicative) forms compute; PyTorch's recursive cosine differs from that
 * only where it is path-dependent (etaMin > 0 in a chain, or the step after tMax, where it adds an
 * increment computed from the original base lrs).
 *
 * @example
 * ```ts
 * const sched = new hy.optim.ChainedScheduler([
 *   new hy.optim.LinearLR(opt, { startFactor: 0.1, totalIters: 5 }),
 *   new hy.optim.ExponentialLR(opt, { gamma: 0.9 }),
 * ]);
 * ```
 */
export class ChainedScheduler extends LRScheduler {
  readonly schedulers: readonly LRScheduler[];

  constructor(schedulers: LRScheduler[]) {
    super('ChainedScheduler', firstOptimizer(schedulers));
    const list = schedulers.map((s, i) => LRScheduler.checkChild('ChainedScheduler', `schedulers[${i}]`, s, this.optimizer));
    if (new Set(list).size !== list.length) throw new RangeError('ChainedScheduler: schedulers holds the same scheduler twice');
    this.schedulers = list;
    for (const s of list) LRScheduler.adopt(s, 'ChainedScheduler');
    this.initialStep(LRScheduler.baseLrsOf(list[0]));
  }

  #fold(epoch: number, input: readonly number[], each?: (s: LRScheduler, lrs: number[]) => void): number[] {
    let lrs = input.slice();
    for (const s of this.schedulers) {
      lrs = LRScheduler.lrsOf(s, epoch, lrs);
      each?.(s, lrs);
    }
    return lrs;
  }

  protected override lrsAt(epoch: number, input: readonly number[]): number[] {
    return this.#fold(epoch, input);
  }

  protected override onEpoch(epoch: number): void {
    this.#fold(epoch, this.baseLrs, (s, lrs) => LRScheduler.showEpoch(s, epoch, lrs));
  }

  protected override optionsState(): Record<string, StateValue> {
    return { schedulers: this.schedulers.map((s) => s.stateDict()) };
  }

  protected override parseOptions(o: Record<string, unknown>, _lastEpoch: number): () => void {
    stateOptions(this.name, o, ['schedulers']);
    const children = childStates(this.name, o.schedulers, this.schedulers, (s, sd) => LRScheduler.parseStateOf(s, sd));
    return () => {
      for (const apply of children) apply();
    };
  }
}

function firstOptimizer(schedulers: unknown): unknown {
  if (!Array.isArray(schedulers)) fail('type', 'ChainedScheduler', 'schedulers', 'an array of LRSchedulers', schedulers);
  if (schedulers.length === 0) fail('range', 'ChainedScheduler', 'schedulers', 'a non-empty array of LRSchedulers', schedulers);
  const first: unknown = schedulers[0];
  if (!(first instanceof LRScheduler)) fail('type', 'ChainedScheduler', 'schedulers[0]', 'an LRScheduler', first);
  return first.optimizer;
}

function sameCount(cls: string, what: string, values: readonly unknown[], n: number): void {
  if (values.length !== n) throw new RangeError(`${cls}: the state dict ${what} has ${values.length} entries, expected ${n}`);
}

/** Checks a composite's state dict `schedulers` against the schedulers it holds. */
function childStates(
  cls: string,
  v: unknown,
  held: readonly LRScheduler[],
  parse: (s: LRScheduler, sd: unknown) => () => void,
): Array<() => void> {
  if (!Array.isArray(v)) fail('type', cls, 'state dict schedulers', 'an array of state dicts', v);
  sameCount(cls, 'schedulers', v, held.length);
  return held.map((s, i) => parse(s, v[i]));
}

// ---------------------------------------------------------------------------------------------

export interface WarmupCosineOptions {
  /** Epochs of linear warm-up from startFactor * base to base: an integer >= 0. */
  warmupSteps: number;
  /** The epoch at which the cosine reaches etaMin: an integer > warmupSteps. */
  totalSteps: number;
  /** The final lr, >= 0. Default 0. */
  etaMin?: number;
  /** The warm-up's first factor, in (0, 1]. Default 1e-3. */
  startFactor?: number;
}

/**
 * Linear warm-up then cosine annealing: a SequentialLR of LinearLR(startFactor, 1, warmupSteps) and
 * CosineAnnealingLR(tMax = totalSteps - warmupSteps, etaMin), milestone warmupSteps. The lr is
 * base * (startFactor + (1 - startFactor) * t / warmupSteps) for t < warmupSteps, base at
 * warmupSteps, and etaMin at totalSteps. warmupSteps 0 is the cosine alone.
 *
 * @example
 * ```ts
 * const sched = hy.optim.warmupCosine(opt, { warmupSteps: 500, totalSteps: 10_000 });
 * ```
 */
export function warmupCosine(optimizer: SchedulableOptimizer, opts: WarmupCosineOptions): SequentialLR {
  const cls = 'warmupCosine';
  checkOptimizer(cls, optimizer);
  const o = checkOptions(cls, opts, ['warmupSteps', 'totalSteps', 'etaMin', 'startFactor']);
  const warmupSteps = intArg(cls, 'warmupSteps', o.warmupSteps, 0);
  const totalSteps = intArg(cls, 'totalSteps', o.totalSteps, 1);
  if (totalSteps <= warmupSteps) fail('range', cls, 'totalSteps', `an integer > warmupSteps (${warmupSteps})`, totalSteps);
  const etaMin = finiteArg(cls, 'etaMin', orDefault(o.etaMin, 0), 0);
  const startFactor = finiteArg(cls, 'startFactor', orDefault(o.startFactor, 1e-3), 0, true, 1);
  const cosine = (): CosineAnnealingLR => new CosineAnnealingLR(optimizer, { tMax: totalSteps - warmupSteps, etaMin });
  if (warmupSteps === 0) return new SequentialLR(optimizer, { schedulers: [cosine()], milestones: [] });
  const warmup = new LinearLR(optimizer, { startFactor, endFactor: 1, totalIters: warmupSteps });
  return new SequentialLR(optimizer, { schedulers: [warmup, cosine()], milestones: [warmupSteps] });
}
