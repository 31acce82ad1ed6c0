// GradScaler: dynamic loss scaling for float16 training (torch.cuda.amp.GradScaler semantics).
// The scale, the growth tracker and each optimizer's found-inf flag live on the loss's device:
// unscale() is one fused multi-tensor launch per dtype (unscale and inf/NaN check together),
// step() hands the flag to the fused optimizer kernels, which skip their writes on the device, and
// update() moves the scale on the device. None of them waits for the device; only getScale() and
// stateDict() read it back.
import type { Device } from '../dtype';
import { native } from '../native';
import { mul } from '../ops';
import { Optimizer } from '../optim/optimizer';
import { keep } from '../scope';
import { full, Tensor, zeros, checkOptions } from '../tensor';
import { fail, finiteAtLeast } from '../validate';

export interface GradScalerOptions {
  initScale?: number;
  growthFactor?: number;
  backoffFactor?: number;
  growthInterval?: number;
  enabled?: boolean;
}

export interface GradScalerStateDict {
  scale: number;
  growthFactor: number;
  backoffFactor: number;
  growthInterval: number;
  growthTracker: number;
}

/** The one method a non-hayate optimizer needs to be stepped by a GradScaler. */
export interface Steppable {
  step(): void;
  readonly paramGroups: readonly { params: readonly Tensor[] }[];
}

type Stage = 'unscaled' | 'stepped';

/**
 * Dynamic loss scaling for float16 training (torch.cuda.amp.GradScaler): scale the loss, step the
 * optimizer through the scaler, then update() the scale; the scale stays on the loss's device.
 *
 * @example
 * ```ts
 * const scaler = new hy.amp.GradScaler();
 * scaler.scale(hy.amp.autocast(() => hy.nn.functional.crossEntropy(model.forward(x), y))).backward();
 * scaler.step(opt); // skipped on the device after an inf or NaN gradient
 * scaler.update();
 * ```
 */
export class GradScaler {
  readonly growthFactor: number;
  readonly backoffFactor: number;
  readonly growthInterval: number;
  private readonly enabled: boolean;
  private initScale: number;
  private initTracker = 0;
  private device: Device | null = null;
  private scaleT: Tensor | null = null;
  private trackerT: Tensor | null = null;
  private readonly foundInf = new Map<Steppable, Tensor>();
  private readonly stages = new Map<Steppable, Stage>();

  constructor(opts: GradScalerOptions = {}) {
    const o = checkOptions('GradScaler', opts, ['initScale', 'growthFactor', 'backoffFactor', 'growthInterval', 'enabled']);
    this.initScale = positive('initScale', o.initScale ?? 2 ** 16);
    this.growthFactor = finiteAtLeast('GradScaler', 'growthFactor', o.growthFactor ?? 2, 1);
    if (this.growthFactor === 1) fail('range', 'GradScaler', 'growthFactor', 'a finite number > 1', 1);
    this.backoffFactor = positive('backoffFactor', o.backoffFactor ?? 0.5);
    if (this.backoffFactor >= 1) fail('range', 'GradScaler', 'backoffFactor', 'a finite number in (0, 1)', this.backoffFactor);
    const interval = o.growthInterval ?? 2000;
    if (typeof interval !== 'number') fail('type', 'GradScaler', 'growthInterval', 'an integer >= 1', interval);
    if (!Number.isInteger(interval) || interval < 1 || interval > 2 ** 31 - 1) fail('range', 'GradScaler', 'growthInterval', 'an integer in [1, 2^31 - 1]', interval);
    this.growthInterval = interval;
    if (o.enabled !== undefined && typeof o.enabled !== 'boolean') fail('type', 'GradScaler', 'enabled', 'a boolean', o.enabled);
    this.enabled = o.enabled !== false;
  }

  /**
   * Whether the scaler scales (its `enabled` option, default true).
   *
   * @example
   * ```ts
   * new hy.amp.GradScaler({ enabled: false }).isEnabled(); // false: scale, step and update pass through
   * ```
   */
  isEnabled(): boolean {
    return this.enabled;
  }

  /**
   * loss * scale (differentiable); the loss itself when disabled.
   *
   * @example
   * ```ts
   * scaler.scale(loss).backward(); // the gradients are scaled too
   * ```
   */
  scale(loss: Tensor): Tensor {
    if (!(loss instanceof Tensor)) fail('type', 'GradScaler.scale', 'loss', 'a Tensor', loss);
    loss.live('GradScaler.scale');
    if (!this.enabled) return loss;
    this.ensureState(loss.device, 'GradScaler.scale');
    return mul(loss, this.scaleT!);
  }

  /**
   * Divides the optimizer's gradients by the scale in place and records whether any was inf or NaN.
   *
   * @example
   * ```ts
   * scaler.scale(loss).backward();
   * scaler.unscale(opt); // the gradients are true gradients now: inspect or clip them here
   * scaler.step(opt); // does not unscale again
   * scaler.update();
   * ```
   */
  unscale(optimizer: Steppable): void {
    if (!this.enabled) return;
    const stage = this.stages.get(optimizer);
    if (stage === 'unscaled') throw new Error('GradScaler.unscale: unscale() was already called on this optimizer since the last update()');
    if (stage === 'stepped') throw new Error('GradScaler.unscale: unscale() is being called after step(); call update() first');
    if (this.scaleT === null) throw new Error('GradScaler.unscale: no loss was scaled yet (call scale(loss) and backward first)');
    const flag = this.flagOf(optimizer);
    const byDtype = new Map<string, Tensor[]>();
    for (const group of optimizer.paramGroups) {
      for (const p of group.params) {
        const g = p.grad;
        if (g === null || g.isDisposed) continue;
        if (g.device !== this.device) throw new RangeError(`GradScaler.unscale: a gradient is on ${g.device}, the scaler's state on ${this.device}`);
        const list = byDtype.get(g.dtype) ?? [];
        list.push(g);
        byDtype.set(g.dtype, list);
      }
    }
    for (const [dtype, grads] of byDtype) {
      if (dtype === 'int32') continue;
      native.run('ampUnscale', {
        grads: grads.map((g) => g.live('GradScaler.unscale')),
        numels: grads.map((g) => g.numel),
        scale: this.scaleT.live('GradScaler.unscale'),
        foundInf: flag.live('GradScaler.unscale'),
        dtype,
      });
    }
    this.stages.set(optimizer, 'unscaled');
  }

  /**
   * Unscales (unless unscale() already did) and steps the optimizer, skipping the update when a
   * gradient was inf or NaN: on the device for hayate's optimizers, by reading the flag for others.
   *
   * @example
   * ```ts
   * scaler.scale(loss).backward();
   * scaler.step(opt);
   * scaler.update();
   * ```
   */
  step(optimizer: Steppable): void {
    if (!this.enabled) {
      optimizer.step();
      return;
    }
    if (this.stages.get(optimizer) === 'stepped') throw new Error('GradScaler.step: step() was already called on this optimizer since the last update()');
    if (this.stages.get(optimizer) !== 'unscaled') this.unscale(optimizer);
    const flag = this.flagOf(optimizer);
    if (optimizer instanceof Optimizer) {
      optimizer.stepUnlessInf(flag);
    } else if (flag.item() === 0) {
      optimizer.step();
    }
    this.stages.set(optimizer, 'stepped');
  }

  /**
   * Moves the scale for the next step: backed off after an inf/NaN, grown after growthInterval clean steps.
   *
   * @example
   * ```ts
   * scaler.update(); // after step(): back off or grow the scale
   * scaler.update(1024); // or set it
   * ```
   */
  update(newScale?: number): void {
    if (!this.enabled) return;
    if (this.scaleT === null) throw new Error('GradScaler.update: no loss was scaled yet');
    if (newScale !== undefined) {
      positive('newScale', newScale);
      native.run('fill', { out: this.scaleT.live('GradScaler.update'), dtype: 'float32', n: 1, value: newScale });
    } else {
      const flags = [...this.stages.keys()].map((o) => this.flagOf(o));
      if (flags.length === 0) throw new Error('GradScaler.update: no optimizer was unscaled or stepped since the last update()');
      const first = flags[0];
      for (const f of flags.slice(1)) {
        native.run('binary', { op: 'add', a: first.live('GradScaler.update'), b: f.live('GradScaler.update'), out: first.live('GradScaler.update'), dtype: 'float32', shape: [1], stridesA: [1], stridesB: [1] });
      }
      native.run('ampUpdateScale', {
        scale: this.scaleT.live('GradScaler.update'),
        growthTracker: this.trackerT!.live('GradScaler.update'),
        foundInf: first.live('GradScaler.update'),
        growthFactor: this.growthFactor,
        backoffFactor: this.backoffFactor,
        growthInterval: this.growthInterval,
      });
    }
    for (const f of this.foundInf.values()) native.run('fill', { out: f.live('GradScaler.update'), dtype: 'float32', n: 1, value: 0 });
    this.stages.clear();
  }

  /**
   * The current scale (reads it back from the device); 1 when disabled.
   *
   * @example
   * ```ts
   * new hy.amp.GradScaler().getScale(); // 65536
   * ```
   */
  getScale(): number {
    if (!this.enabled) return 1;
    return this.scaleT === null ? this.initScale : this.scaleT.item();
  }

  /**
   * The consecutive clean (no inf or NaN) steps counted toward the next growth of the scale (reads
   * it back from the device).
   *
   * @example
   * ```ts
   * const cleanSteps = scaler.getGrowthTracker();
   * ```
   */
  getGrowthTracker(): number {
    return this.trackerT === null ? this.initTracker : this.trackerT.item();
  }

  /**
   * The scale, the growth tracker, the factors and the interval as plain numbers ({} when disabled).
   *
   * @example
   * ```ts
   * const saved = scaler.stateDict(); // { scale, growthFactor, backoffFactor, growthInterval, growthTracker }
   * ```
   */
  stateDict(): GradScalerStateDict | Record<string, never> {
    if (!this.enabled) return {};
    return {
      scale: this.getScale(),
      growthFactor: this.growthFactor,
      backoffFactor: this.backoffFactor,
      growthInterval: this.growthInterval,
      growthTracker: this.getGrowthTracker(),
    };
  }

  /**
   * Restores a stateDict(); the factors and interval must match this scaler's.
   *
   * @example
   * ```ts
   * const saved = JSON.stringify(scaler.stateDict());
   * const resumed = new hy.amp.GradScaler();
   * resumed.loadStateDict(JSON.parse(saved));
   * ```
   */
  loadStateDict(sd: GradScalerStateDict): void {
    if (!this.enabled) return;
    if (sd === null || typeof sd !== 'object') fail('type', 'GradScaler.loadStateDict', 'stateDict', 'an object', sd);
    const scale = positive('scale', sd.scale);
    const tracker = sd.growthTracker;
    if (typeof tracker !== 'number' || !Number.isInteger(tracker) || tracker < 0) fail('range', 'GradScaler.loadStateDict', 'growthTracker', 'an integer >= 0', tracker);
    for (const k of ['growthFactor', 'backoffFactor', 'growthInterval'] as const) {
      if (sd[k] !== this[k]) throw new RangeError(`GradScaler.loadStateDict: ${k} is ${String(sd[k])} in the state, ${this[k]} in this scaler`);
    }
    this.initScale = scale;
    this.initTracker = tracker;
    if (this.scaleT !== null) {
      native.run('fill', { out: this.scaleT.live('GradScaler.loadStateDict'), dtype: 'float32', n: 1, value: scale });
      native.run('fill', { out: this.trackerT!.live('GradScaler.loadStateDict'), dtype: 'int32', n: 1, value: tracker });
    }
  }

  /**
   * Frees the device state (a later scale() makes it again from the last values read).
   *
   * @example
   * ```ts
   * scaler.dispose(); // the next scale() makes the state again from the last values
   * ```
   */
  dispose(): void {
    if (this.scaleT !== null) {
      this.initScale = this.scaleT.item();
      this.initTracker = this.trackerT!.item();
    }
    this.scaleT?.dispose();
    this.trackerT?.dispose();
    for (const f of this.foundInf.values()) f.dispose();
    this.scaleT = this.trackerT = null;
    this.device = null;
    this.foundInf.clear();
    this.stages.clear();
  }

  private ensureState(device: Device, op: string): void {
    if (this.scaleT !== null) {
      if (device !== this.device) throw new RangeError(`${op}: the loss is on ${device}, the scaler's state on ${this.device}`);
      return;
    }
    this.device = device;
    this.scaleT = keep(full([1], this.initScale, { device }));
    this.trackerT = keep(full([1], this.initTracker, { device, dtype: 'int32' }));
  }

  private flagOf(optimizer: Steppable): Tensor {
    let f = this.foundInf.get(optimizer);
    if (f === undefined) {
      f = keep(zeros([1], { device: this.device! }));
      this.foundInf.set(optimizer, f);
    }
    return f;
  }
}

function positive(name: string, v: unknown): number {
  if (typeof v !== 'number') fail('type', 'GradScaler', name, 'a finite number > 0', v);
  if (!Number.isFinite(v) || v <= 0) fail('range', 'GradScaler', name, 'a finite number > 0', v);
  return v;
}
