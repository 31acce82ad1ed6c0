// hy.nn modules: stateful layers over hy.nn.functional, with PyTorch's Module conventions
// (parameters, buffers, train / eval, state dicts). Call a module through forward().
import { DTYPE_BYTES, isDType, isFloating } from '../dtype';
import type { Device, DType } from '../dtype';
import { describe } from '../errors';
import { native } from '../native';
import { detach, flatten, gelu, GeluOptions, noGrad, relu } from '../ops';
import { linear } from '../linalg';
import { checkOptions, ones, rand, Tensor, zeros } from '../tensor';
import { keep } from '../scope';
import * as F from './functional';

export type StateDict = Record<string, Tensor>;

export interface LoadStateDictOptions {
  /** Require exactly the module's keys (default true). */
  strict?: boolean;
}

export abstract class Module {
  /** True in training mode (the default); switched by train() and eval(). */
  training = true;
  private readonly params = new Map<string, Tensor | null>();
  private readonly buffers = new Map<string, Tensor | null>();
  private readonly children = new Map<string, Module>();

  abstract forward(...inputs: Tensor[]): Tensor;

  /** Registers a parameter (a leaf that requires grad) under name; null registers an absent one. */
  protected registerParameter(name: string, t: Tensor | null): void {
    if (t !== null) {
      keep(t);
      if (!t.isLeaf) throw new TypeError(`registerParameter: '${name}' must be a leaf tensor`);
      t.requiresGrad = true;
    }
    this.params.set(name, t);
  }

  /** Registers state that is not trained but is saved and moved with the module (e.g. running statistics). */
  protected registerBuffer(name: string, t: Tensor | null): void {
    if (t !== null) keep(t);
    this.buffers.set(name, t);
  }

  protected registerModule(name: string, m: Module): Module {
    if (!(m instanceof Module)) throw new TypeError(`registerModule: '${name}' must be a Module, got ${describe(m)}`);
    this.children.set(name, m);
    return m;
  }

  /** @internal */
  protected param(name: string): Tensor | null {
    return this.params.get(name) ?? null;
  }

  /** @internal */
  protected buffer(name: string): Tensor | null {
    return this.buffers.get(name) ?? null;
  }

  /** [name, module] for the direct submodules, in registration order. */
  namedChildren(): [string, Module][] {
    return [...this.children.entries()];
  }

  /** Every parameter with its dotted name ("0.weight"), submodules included. */
  namedParameters(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [k, t] of this.params) if (t !== null) out.push([prefix + k, t]);
    for (const [k, m] of this.children) out.push(...m.namedParameters(`${prefix}${k}.`));
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  namedBuffers(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [k, t] of this.buffers) if (t !== null) out.push([prefix + k, t]);
    for (const [k, m] of this.children) out.push(...m.namedBuffers(`${prefix}${k}.`));
    return out;
  }

  /** Sets training mode here and in every submodule; returns this. */
  train(mode = true): this {
    if (typeof mode !== 'boolean') throw new TypeError(`train: mode must be a boolean, got ${describe(mode)}`);
    this.training = mode;
    for (const m of this.children.values()) m.train(mode);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Frees every parameter's gradient and sets it to null (cheaper than zero-filling; backward then assigns). */
  zeroGrad(): void {
    for (const p of this.parameters()) {
      if (p.grad !== null) p.grad.dispose();
      p.grad = null;
    }
  }

  /**
   * Moves parameters and buffers to a device, or casts the floating-point parameters to a dtype.
   * Buffers keep their dtype on a dtype change (batch-norm statistics stay float32, as the
   * kernels keep them). Gradients are dropped when a parameter is replaced. Returns this.
   */
  to(target: Device | DType | 'cuda:0'): this {
    const dtypeChange = isDType(target);
    if (dtypeChange && !isFloating(target as DType)) throw new RangeError(`to: modules can only be cast to a floating-point dtype, got ${describe(target)}`);
    const convert = (map: Map<string, Tensor | null>, isParam: boolean): void => {
      for (const [k, t] of map) {
        if (t === null || (dtypeChange && !isParam)) continue;
        const moved = t.to(target);
        if (moved === t) continue;
        keep(moved);
        moved.requiresGrad = t.requiresGrad;
        t.dispose();
        map.set(k, moved);
      }
    };
    convert(this.params, true);
    convert(this.buffers, false);
    for (const m of this.children.values()) m.to(target);
    return this;
  }

  /** Parameters and buffers by dotted name, as detached aliases sharing their storage. */
  stateDict(): StateDict {
    const out: StateDict = {};
    for (const [k, t] of [...this.namedParameters(), ...this.namedBuffers()]) out[k] = detach(t);
    return out;
  }

  /** Copies values from a state dict into the module's tensors in place (casting dtype and device as needed). */
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
        const onDevice = src.to(t.device);
        if (onDevice.dtype === t.dtype) {
          native.copy(t.live(op), onDevice.live(op), t.numel * DTYPE_BYTES[t.dtype], false);
        } else {
          native.run('cast', { x: onDevice.live(op), xDtype: onDevice.dtype, out: t.live(op), dtype: t.dtype, n: t.numel });
        }
        if (onDevice !== src) onDevice.dispose();
      }
    });
  }

  /** Frees every parameter, gradient and buffer, submodules included. */
  dispose(): void {
    for (const t of this.params.values()) t?.dispose();
    for (const t of this.buffers.values()) t?.dispose();
    for (const m of this.children.values()) m.dispose();
  }
}

/** Runs its modules in order, each on the previous one's output. */
export class Sequential extends Module {
  constructor(...modules: Module[]) {
    super();
    modules.forEach((m, i) => this.registerModule(String(i), m));
  }

  forward(x: Tensor): Tensor {
    let y = x;
    for (const [, m] of this.namedChildren()) y = m.forward(y);
    return y;
  }

  get length(): number {
    return this.namedChildren().length;
  }

  at(i: number): Module {
    const c = this.namedChildren()[i < 0 ? i + this.length : i];
    if (c === undefined) throw new RangeError(`Sequential.at: index ${i} is out of range for ${this.length} modules`);
    return c[1];
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
}

export interface Conv2dModuleOptions extends FactoryOptions, F.Conv2dOptions {
  bias?: boolean;
}

/**
 * 2-D convolution, as torch.nn.Conv2d: weight [out, in / groups, kH, kW] and bias [out] start
 * Kaiming-uniform (a = sqrt(5)), U(-1/sqrt(fanIn), 1/sqrt(fanIn)) with fanIn = in / groups * kH * kW.
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
}

export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return relu(x);
  }
}

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
}

/** Flattens dimensions startDim..endDim (default 1..-1: everything but the batch). */
export class Flatten extends Module {
  constructor(readonly startDim = 1, readonly endDim = -1) {
    super();
  }
  forward(x: Tensor): Tensor {
    return flatten(x, this.startDim, this.endDim);
  }
}

/** Dropout in training mode; the identity in eval mode. */
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
}

export class MaxPool2d extends Module {
  constructor(readonly kernelSize: number | [number, number], readonly opts: F.MaxPool2dOptions = {}) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.maxPool2d(x, this.kernelSize, this.opts);
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
}

/** Batch norm over [N, C] or [N, C, L]. */
export class BatchNorm1d extends BatchNormBase {
  constructor(numFeatures: number, opts?: BatchNormModuleOptions) {
    super('BatchNorm1d', [2, 3], numFeatures, opts);
  }
}

/** Batch norm over [N, C, H, W]. */
export class BatchNorm2d extends BatchNormBase {
  constructor(numFeatures: number, opts?: BatchNormModuleOptions) {
    super('BatchNorm2d', [4], numFeatures, opts);
  }
}

export class LogSoftmax extends Module {
  constructor(readonly dim = -1) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.logSoftmax(x, this.dim);
  }
}
