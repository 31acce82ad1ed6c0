// SGD with momentum, Nesterov and weight decay (torch.optim.SGD semantics). The update runs in
// place on the parameters' devices with the elementwise kernels; the parameter list, zeroGrad()
// (gradients set to none) and the momentum buffers' lifetime come from Optimizer.
import { describe } from '../errors';
import { native } from '../native';
import { keep } from '../scope';
import { allocTensor, checkOptions } from '../tensor';
import type { Tensor } from '../tensor';
import { checkHyperparameter, Optimizer } from './optimizer';


export interface SGDOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

function checkNumber(name: string, v: unknown, min: number): number {
  return checkHyperparameter('SGD', name, v, min);
}

/** out = a + alpha * b, elementwise over same-shaped tensors (out may be a). */
function axpy(out: Tensor, a: Tensor, alpha: number, b: Tensor): void {
  const scaled = allocTensor('SGD', b.shape.slice(), b.dtype, b.device);
  try {
    native.run('scalar', { op: 'mul', x: b.live('SGD'), out: scaled.live('SGD'), dtype: b.dtype, n: b.numel, s: alpha });
    native.run('binary', { op: 'add', a: a.live('SGD'), b: scaled.live('SGD'), out: out.live('SGD'), dtype: out.dtype, shape: [out.numel], stridesA: [1], stridesB: [1] });
  } finally {
    scaled.dispose();
  }
}

export class SGD extends Optimizer {
  readonly momentum: number;
  readonly dampening: number;
  readonly weightDecay: number;
  readonly nesterov: boolean;

  constructor(params: Iterable<Tensor>, opts: SGDOptions) {
    const o = checkOptions('SGD', opts, ['lr', 'momentum', 'dampening', 'weightDecay', 'nesterov']);
    super('SGD', params, o.lr);
    this.momentum = checkNumber('momentum', o.momentum ?? 0, 0);
    this.dampening = checkNumber('dampening', o.dampening ?? 0, 0);
    this.weightDecay = checkNumber('weightDecay', o.weightDecay ?? 0, 0);
    if (o.nesterov !== undefined && typeof o.nesterov !== 'boolean') throw new TypeError(`SGD: nesterov must be a boolean, got ${describe(o.nesterov)}`);
    this.nesterov = o.nesterov === true;
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) {
      throw new RangeError('SGD: nesterov needs momentum > 0 and dampening 0');
    }
  }

  /** One update of every parameter that has a gradient. */
  override step(): void {
    for (const p of this.params) {
      const g0 = p.grad;
      if (g0 === null || g0.isDisposed) continue;
      let d = g0;
      let owned = false; // d is a temporary of this step
      const temp = (): Tensor => allocTensor('SGD', g0.shape.slice(), g0.dtype, g0.device);
      if (this.weightDecay !== 0) {
        const t = temp();
        axpy(t, g0, this.weightDecay, p);
        d = t;
        owned = true;
      }
      if (this.momentum !== 0) {
        let buf = this.state.get(p);
        if (buf === undefined) {
          buf = keep(d.clone()); // optimizer state outlives any tidy() scope
          this.state.set(p, buf);
        } else {
          native.run('scalar', { op: 'mul', x: buf.live('SGD'), out: buf.live('SGD'), dtype: buf.dtype, n: buf.numel, s: this.momentum });
          axpy(buf, buf, 1 - this.dampening, d);
        }
        if (owned) d.dispose();
        if (this.nesterov) {
          const t = temp();
          axpy(t, g0, this.momentum, buf);
          if (this.weightDecay !== 0) axpy(t, t, this.weightDecay, p);
          d = t;
          owned = true;
        } else {
          d = buf;
          owned = false;
        }
      }
      axpy(p, p, -this.lr, d);
      if (owned) d.dispose();
    }
  }
}
