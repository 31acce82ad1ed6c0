// Float64 oracles of the optimizers' update rules, written from the formulas with plain loops over
// plain number arrays. Each runs several steps over a list of parameters (flat arrays); a step gives
// one gradient per parameter, or null for a parameter without one: that parameter is left alone and
// its step counter does not advance (as torch.optim skips p.grad None). t below is the parameter's
// own step count after incrementing, starting at 1. `lrs`, where given, is the learning rate of
// each step (a scheduler's sequence) and overrides lr.
//   SGD (torch.optim.SGD):      d = g + wd w; with momentum: buf = first ? d : mu buf + (1 - damp) d,
//                               d = nesterov ? d + mu buf : buf; w -= lr d
//   Adam / AdamW (torch.optim): decoupled ? w *= 1 - lr wd : g += wd w; m = b1 m + (1 - b1) g;
//                               v = b2 v + (1 - b2) g^2; vmax = max(vmax, v) (amsgrad);
//                               w -= lr / (1 - b1^t) * m / (sqrt(v or vmax) / sqrt(1 - b2^t) + eps)
//   Adadelta (torch.optim):     g += wd w; sq = rho sq + (1 - rho) g^2; delta = sqrt(acc + eps) / sqrt(sq + eps) g;
//                               acc = rho acc + (1 - rho) delta^2; w -= lr delta
//   LAMB (apex FusedLAMB, adam_w_mode, grad averaging): g /= clip from the global norm of every
//                               gradient of the step; Adam moments; u = mh / (sqrt(vh) + eps) + wd w;
//                               w -= lr (||w|| / ||u||) u
//   LARS (arXiv 1708.03888):    d = trustCoefficient ||w|| / (||g|| + wd ||w|| + eps) (g + wd w), then SGD's momentum
// gradScalerRef follows torch.cuda.amp.GradScaler's scale updates.

export interface RefParam {
  w: number[];
}

/** One step's gradients, one entry per parameter; null skips that parameter this step. */
export type RefGrads = (number[] | null)[];

function checkShapes(fn: string, w0: number[][], steps: RefGrads[], lrs: number[] | undefined): void {
  if (lrs !== undefined && lrs.length < steps.length) throw new RangeError(`${fn}: ${steps.length} steps but only ${lrs.length} learning rates`);
  steps.forEach((grads, s) => {
    if (grads.length !== w0.length) throw new RangeError(`${fn}: step ${s} has ${grads.length} gradients for ${w0.length} parameters`);
    grads.forEach((g, i) => {
      if (g !== null && g.length !== w0[i].length) throw new RangeError(`${fn}: step ${s} gradient ${i} has ${g.length} elements, parameter has ${w0[i].length}`);
    });
  });
}

const stepLr = (lr: number, lrs: number[] | undefined, s: number): number => (lrs === undefined ? lr : lrs[s]);

function norm(x: readonly number[]): number {
  let s = 0;
  for (const v of x) s += v * v;
  return Math.sqrt(s);
}

/**
 * The SGD momentum rule on d for one parameter, in place on d: buf = first ? copy(d) : momentum buf +
 * (1 - dampening) d; d = nesterov ? d + momentum buf : buf. Returns the buffer (null without momentum).
 */
function momentumRule(d: number[], buf: number[] | null, momentum: number, dampening: number, nesterov: boolean): number[] | null {
  if (momentum === 0) return buf;
  if (buf === null) buf = d.slice();
  else for (let j = 0; j < d.length; j++) buf[j] = momentum * buf[j] + (1 - dampening) * d[j];
  for (let j = 0; j < d.length; j++) d[j] = nesterov ? d[j] + momentum * buf[j] : buf[j];
  return buf;
}

export interface SGDRefOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
  lrs?: number[];
}

export interface SGDRefState {
  momentumBuffer: number[] | null;
  step: number;
}

export function sgdRef(w0: number[][], steps: RefGrads[], o: SGDRefOptions): { w: number[][]; state: SGDRefState[] } {
  checkShapes('sgdRef', w0, steps, o.lrs);
  const momentum = o.momentum ?? 0;
  const dampening = o.dampening ?? 0;
  const wd = o.weightDecay ?? 0;
  const nesterov = o.nesterov ?? false;
  const w = w0.map((p) => p.slice());
  const state: SGDRefState[] = w0.map(() => ({ momentumBuffer: null, step: 0 }));
  steps.forEach((grads, s) => {
    const lr = stepLr(o.lr, o.lrs, s);
    grads.forEach((g, i) => {
      if (g === null) return;
      const p = w[i];
      const st = state[i];
      st.step += 1;
      const d = g.map((gj, j) => gj + wd * p[j]);
      st.momentumBuffer = momentumRule(d, st.momentumBuffer, momentum, dampening, nesterov);
      for (let j = 0; j < p.length; j++) p[j] -= lr * d[j];
    });
  });
  return { w, state };
}

export interface AdamRefOptions {
  lr: number;
  /** default [0.9, 0.999] */
  betas?: [number, number];
  /** default 1e-8 */
  eps?: number;
  /** default 0 */
  weightDecay?: number;
  /** default false */
  amsgrad?: boolean;
  /** true: AdamW's decoupled weight decay (w *= 1 - lr wd); false: Adam's L2 term in the gradient. Default false. */
  decoupled?: boolean;
  lrs?: number[];
}

export interface AdamRefState {
  expAvg: number[];
  expAvgSq: number[];
  /** amsgrad only, else null */
  maxExpAvgSq: number[] | null;
  step: number;
}

export function adamRef(w0: number[][], steps: RefGrads[], o: AdamRefOptions): { w: number[][]; state: AdamRefState[] } {
  checkShapes('adamRef', w0, steps, o.lrs);
  const [b1, b2] = o.betas ?? [0.9, 0.999];
  const eps = o.eps ?? 1e-8;
  const wd = o.weightDecay ?? 0;
  const amsgrad = o.amsgrad ?? false;
  const decoupled = o.decoupled ?? false;
  const w = w0.map((p) => p.slice());
  const state: AdamRefState[] = w0.map((p) => ({
    expAvg: p.map(() => 0),
    expAvgSq: p.map(() => 0),
    maxExpAvgSq: amsgrad ? p.map(() => 0) : null,
    step: 0,
  }));
  steps.forEach((grads, s) => {
    const lr = stepLr(o.lr, o.lrs, s);
    grads.forEach((g0, i) => {
      if (g0 === null) return;
      const p = w[i];
      const st = state[i];
      st.step += 1;
      const t = st.step;
      let g = g0.slice();
      if (decoupled) for (let j = 0; j < p.length; j++) p[j] *= 1 - lr * wd;
      else g = g.map((gj, j) => gj + wd * p[j]);
      const bc1 = 1 - b1 ** t;
      const bc2 = 1 - b2 ** t;
      for (let j = 0; j < p.length; j++) {
        st.expAvg[j] = b1 * st.expAvg[j] + (1 - b1) * g[j];
        st.expAvgSq[j] = b2 * st.expAvgSq[j] + (1 - b2) * g[j] * g[j];
        let v = st.expAvgSq[j];
        if (st.maxExpAvgSq !== null) {
          st.maxExpAvgSq[j] = Math.max(st.maxExpAvgSq[j], v);
          v = st.maxExpAvgSq[j];
        }
        const denom = Math.sqrt(v) / Math.sqrt(bc2) + eps;
        p[j] -= (lr / bc1) * (st.expAvg[j] / denom);
      }
    });
  });
  return { w, state };
}

export interface AdadeltaRefOptions {
  /** default 1 */
  lr?: number;
  /** default 0.9 */
  rho?: number;
  /** default 1e-6 */
  eps?: number;
  /** default 0 */
  weightDecay?: number;
  lrs?: number[];
}

export interface AdadeltaRefState {
  squareAvg: number[];
  accDelta: number[];
  step: number;
}

export function adadeltaRef(w0: number[][], steps: RefGrads[], o: AdadeltaRefOptions): { w: number[][]; state: AdadeltaRefState[] } {
  checkShapes('adadeltaRef', w0, steps, o.lrs);
  const rho = o.rho ?? 0.9;
  const eps = o.eps ?? 1e-6;
  const wd = o.weightDecay ?? 0;
  const w = w0.map((p) => p.slice());
  const state: AdadeltaRefState[] = w0.map((p) => ({ squareAvg: p.map(() => 0), accDelta: p.map(() => 0), step: 0 }));
  steps.forEach((grads, s) => {
    const lr = stepLr(o.lr ?? 1, o.lrs, s);
    grads.forEach((g0, i) => {
      if (g0 === null) return;
      const p = w[i];
      const st = state[i];
      st.step += 1;
      for (let j = 0; j < p.length; j++) {
        const g = g0[j] + wd * p[j];
        st.squareAvg[j] = rho * st.squareAvg[j] + (1 - rho) * g * g;
        const std = Math.sqrt(st.squareAvg[j] + eps);
        const delta = (Math.sqrt(st.accDelta[j] + eps) / std) * g;
        st.accDelta[j] = rho * st.accDelta[j] + (1 - rho) * delta * delta;
        p[j] -= lr * delta;
      }
    });
  });
  return { w, state };
}

export interface LambRefOptions {
  lr: number;
  /** default [0.9, 0.999] */
  betas?: [number, number];
  /** default 1e-6 (apex FusedLAMB) */
  eps?: number;
  /** default 0 */
  weightDecay?: number;
  /** default true */
  biasCorrection?: boolean;
  /** global gradient-norm clip; 0 or less disables it. Default 1. */
  maxGradNorm?: number;
  /** apply the trust ratio even when weightDecay is 0. Default false. */
  useNvLamb?: boolean;
  lrs?: number[];
}

export interface LambRefState {
  expAvg: number[];
  expAvgSq: number[];
  step: number;
}

export function lambRef(w0: number[][], steps: RefGrads[], o: LambRefOptions): { w: number[][]; state: LambRefState[] } {
  checkShapes('lambRef', w0, steps, o.lrs);
  const [b1, b2] = o.betas ?? [0.9, 0.999];
  const eps = o.eps ?? 1e-6;
  const wd = o.weightDecay ?? 0;
  const biasCorrection = o.biasCorrection ?? true;
  const maxGradNorm = o.maxGradNorm ?? 1;
  const useNvLamb = o.useNvLamb ?? false;
  const w = w0.map((p) => p.slice());
  const state: LambRefState[] = w0.map((p) => ({ expAvg: p.map(() => 0), expAvgSq: p.map(() => 0), step: 0 }));
  steps.forEach((grads, s) => {
    const lr = stepLr(o.lr, o.lrs, s);
    // One global norm over every gradient of this step.
    let sumSq = 0;
    for (const g of grads) if (g !== null) for (const v of g) sumSq += v * v;
    const globalNorm = Math.sqrt(sumSq);
    const clip = maxGradNorm > 0 && globalNorm > maxGradNorm ? globalNorm / maxGradNorm : 1;
    grads.forEach((g0, i) => {
      if (g0 === null) return;
      const p = w[i];
      const st = state[i];
      st.step += 1;
      const t = st.step;
      const bc1 = biasCorrection ? 1 - b1 ** t : 1;
      const bc2 = biasCorrection ? 1 - b2 ** t : 1;
      const u = new Array<number>(p.length);
      for (let j = 0; j < p.length; j++) {
        const g = g0[j] / clip;
        st.expAvg[j] = b1 * st.expAvg[j] + (1 - b1) * g;
        st.expAvgSq[j] = b2 * st.expAvgSq[j] + (1 - b2) * g * g;
        const mh = st.expAvg[j] / bc1;
        const vh = st.expAvgSq[j] / bc2;
        u[j] = mh / (Math.sqrt(vh) + eps) + wd * p[j];
      }
      const wn = norm(p);
      const un = norm(u);
      const ratio = (useNvLamb || wd !== 0) && wn > 0 && un > 0 ? wn / un : 1;
      for (let j = 0; j < p.length; j++) p[j] -= lr * ratio * u[j];
    });
  });
  return { w, state };
}

export interface LarsRefOptions {
  lr: number;
  /** default 0.9 */
  momentum?: number;
  /** default 0 */
  dampening?: number;
  /** default 0 */
  weightDecay?: number;
  /** default 0.001 */
  trustCoefficient?: number;
  /** default 1e-8 */
  eps?: number;
  /** default false */
  nesterov?: boolean;
  lrs?: number[];
}

export interface LarsRefState {
  momentumBuffer: number[] | null;
  step: number;
}

export function larsRef(w0: number[][], steps: RefGrads[], o: LarsRefOptions): { w: number[][]; state: LarsRefState[] } {
  checkShapes('larsRef', w0, steps, o.lrs);
  const momentum = o.momentum ?? 0.9;
  const dampening = o.dampening ?? 0;
  const wd = o.weightDecay ?? 0;
  const trustCoefficient = o.trustCoefficient ?? 0.001;
  const eps = o.eps ?? 1e-8;
  const nesterov = o.nesterov ?? false;
  const w = w0.map((p) => p.slice());
  const state: LarsRefState[] = w0.map(() => ({ momentumBuffer: null, step: 0 }));
  steps.forEach((grads, s) => {
    const lr = stepLr(o.lr, o.lrs, s);
    grads.forEach((g, i) => {
      if (g === null) return;
      const p = w[i];
      const st = state[i];
      st.step += 1;
      const wn = norm(p);
      const gn = norm(g);
      const trust = wn > 0 && gn > 0 ? (trustCoefficient * wn) / (gn + wd * wn + eps) : 1;
      const d = g.map((gj, j) => trust * (gj + wd * p[j]));
      st.momentumBuffer = momentumRule(d, st.momentumBuffer, momentum, dampening, nesterov);
      for (let j = 0; j < p.length; j++) p[j] -= lr * d[j];
    });
  });
  return { w, state };
}

export interface GradScalerRefOptions {
  initScale: number;
  growthFactor: number;
  backoffFactor: number;
  growthInterval: number;
}

/**
 * torch.cuda.amp.GradScaler's update() over a sequence of steps: a step with an inf/NaN gradient
 * multiplies the scale by backoffFactor and resets the growth tracker to 0; a finite one adds 1 to
 * the tracker, and on reaching growthInterval multiplies the scale by growthFactor and resets it.
 * Returns the scale after each update() and the final tracker.
 */
export function gradScalerRef(steps: { finite: boolean }[], o: GradScalerRefOptions): { scales: number[]; growthTracker: number } {
  let scale = o.initScale;
  let tracker = 0;
  const scales: number[] = [];
  for (const s of steps) {
    if (!s.finite) {
      scale *= o.backoffFactor;
      tracker = 0;
    } else {
      tracker += 1;
      if (tracker === o.growthInterval) {
        scale *= o.growthFactor;
        tracker = 0;
      }
    }
    scales.push(scale);
  }
  return { scales, growthTracker: tracker };
}
