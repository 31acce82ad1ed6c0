// Float64 oracles of the neural-network kernels: plain loops, obviously right, small sizes. Most
// backward passes are not restated here: tests take finite differences of these forwards. Those of
// log-softmax and cross-entropy are, in closed form, because differences of a whole row's softmax
// cost O(n^2) at the sizes the kernels need; nn.test.ts checks them against numericGrad first.

export function logSoftmax(x: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let m = -Infinity;
    for (let j = 0; j < cols; j++) m = Math.max(m, x[r * cols + j]);
    let s = 0;
    for (let j = 0; j < cols; j++) s += Math.exp(x[r * cols + j] - m);
    for (let j = 0; j < cols; j++) out[r * cols + j] = x[r * cols + j] - m - Math.log(s);
  }
  return out;
}

/** Gradient of sum(g * logSoftmax(x)) with respect to x, per row: g - softmax(x) * sum(g). */
export function logSoftmaxBackward(x: ArrayLike<number>, g: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const out = logSoftmax(x, rows, cols);
  for (let r = 0; r < rows; r++) {
    let gs = 0;
    for (let j = 0; j < cols; j++) gs += g[r * cols + j];
    for (let j = 0; j < cols; j++) out[r * cols + j] = g[r * cols + j] - Math.exp(out[r * cols + j]) * gs;
  }
  return out;
}

/** softmax per row: exp(logSoftmax). */
export function softmax(x: ArrayLike<number>, rows: number, cols: number): Float64Array {
  return logSoftmax(x, rows, cols).map(Math.exp);
}

/** Gradient of sum(g * softmax(x)) with respect to x, per row: y * (g - sum(g * y)). */
export function softmaxBackward(x: ArrayLike<number>, g: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const y = softmax(x, rows, cols);
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let dot = 0;
    for (let j = 0; j < cols; j++) dot += g[r * cols + j] * y[r * cols + j];
    for (let j = 0; j < cols; j++) out[r * cols + j] = y[r * cols + j] * (g[r * cols + j] - dot);
  }
  return out;
}

/**
 * Gradient of sum(up * crossEntropy(logits, target)) with respect to the logits:
 * (softmax(row) - onehot(target)) times the row's weight, which is up[r] (reduction 0, none),
 * up[0] / rows (1, mean) or up[0] (2, sum).
 */
export function crossEntropyBackward(
  logits: ArrayLike<number>, target: ArrayLike<number>, rows: number, cols: number, reduction: number, up: ArrayLike<number>,
): Float64Array {
  const out = logSoftmax(logits, rows, cols);
  for (let r = 0; r < rows; r++) {
    const scale = reduction === 0 ? up[r] : reduction === 1 ? up[0] / rows : up[0];
    for (let j = 0; j < cols; j++) out[r * cols + j] = scale * (Math.exp(out[r * cols + j]) - (j === target[r] ? 1 : 0));
  }
  return out;
}

/** Reduction codes as in the binding: 0 none, 1 mean, 2 sum. */
export function reduce(perRow: Float64Array, reduction: number): Float64Array {
  if (reduction === 0) return perRow;
  let s = 0;
  for (const v of perRow) s += v;
  return Float64Array.of(reduction === 1 ? s / perRow.length : s);
}

export function nllLoss(logp: ArrayLike<number>, target: ArrayLike<number>, rows: number, cols: number, reduction: number): Float64Array {
  const per = new Float64Array(rows);
  for (let r = 0; r < rows; r++) per[r] = -logp[r * cols + target[r]];
  return reduce(per, reduction);
}

export function crossEntropy(logits: ArrayLike<number>, target: ArrayLike<number>, rows: number, cols: number, reduction: number): Float64Array {
  return nllLoss(logSoftmax(logits, rows, cols), target, rows, cols, reduction);
}

export interface Pool2d {
  N: number; C: number; H: number; W: number; kH: number; kW: number; sH: number; sW: number; pH: number; pW: number;
  outH: number; outW: number;
}

export function poolGeometry(N: number, C: number, H: number, W: number, kH: number, kW: number, sH: number, sW: number, pH: number, pW: number): Pool2d {
  return { N, C, H, W, kH, kW, sH, sW, pH, pW, outH: Math.floor((H + 2 * pH - kH) / sH) + 1, outW: Math.floor((W + 2 * pW - kW) / sW) + 1 };
}

/** Max over each window; the index is the first maximum's h * W + w within its plane. */
export function maxPool2d(x: ArrayLike<number>, p: Pool2d): { out: Float64Array; indices: Int32Array } {
  const n = p.N * p.C * p.outH * p.outW;
  const out = new Float64Array(n);
  const indices = new Int32Array(n);
  for (let plane = 0; plane < p.N * p.C; plane++) {
    for (let oh = 0; oh < p.outH; oh++) {
      for (let ow = 0; ow < p.outW; ow++) {
        let best = -Infinity;
        let bestIdx = -1;
        for (let kh = 0; kh < p.kH; kh++) {
          for (let kw = 0; kw < p.kW; kw++) {
            const h = oh * p.sH - p.pH + kh;
            const w = ow * p.sW - p.pW + kw;
            if (h < 0 || h >= p.H || w < 0 || w >= p.W) continue;
            const v = x[plane * p.H * p.W + h * p.W + w];
            if (bestIdx < 0 || v > best) {
              best = v;
              bestIdx = h * p.W + w;
            }
          }
        }
        const o = (plane * p.outH + oh) * p.outW + ow;
        out[o] = best;
        indices[o] = bestIdx;
      }
    }
  }
  return { out, indices };
}

export interface BatchNormResult {
  out: Float64Array;
  mean: Float64Array;
  invStd: Float64Array;
  runningMean: Float64Array;
  runningVar: Float64Array;
}

/** x: (N, C, HW). weight / bias null means 1 / 0. */
export function batchNorm(
  x: ArrayLike<number>, weight: ArrayLike<number> | null, bias: ArrayLike<number> | null, runningMean: ArrayLike<number>,
  runningVar: ArrayLike<number>, N: number, C: number, HW: number, training: boolean, momentum: number, eps: number,
): BatchNormResult {
  const M = N * HW;
  const r: BatchNormResult = {
    out: new Float64Array(N * C * HW), mean: new Float64Array(C), invStd: new Float64Array(C),
    runningMean: Float64Array.from(runningMean), runningVar: Float64Array.from(runningVar),
  };
  const at = (n: number, c: number, k: number): number => (n * C + c) * HW + k;
  for (let c = 0; c < C; c++) {
    let mean: number;
    let variance: number;
    if (training) {
      let s = 0;
      for (let n = 0; n < N; n++) for (let k = 0; k < HW; k++) s += x[at(n, c, k)];
      mean = s / M;
      let q = 0;
      for (let n = 0; n < N; n++) for (let k = 0; k < HW; k++) q += (x[at(n, c, k)] - mean) ** 2;
      variance = q / M;
      r.runningMean[c] = (1 - momentum) * runningMean[c] + momentum * mean;
      r.runningVar[c] = (1 - momentum) * runningVar[c] + momentum * (variance * M) / (M - 1);
    } else {
      mean = runningMean[c];
      variance = runningVar[c];
    }
    r.mean[c] = mean;
    r.invStd[c] = 1 / Math.sqrt(variance + eps);
    const w = weight ? weight[c] : 1;
    const b = bias ? bias[c] : 0;
    for (let n = 0; n < N; n++) for (let k = 0; k < HW; k++) r.out[at(n, c, k)] = (x[at(n, c, k)] - mean) * r.invStd[c] * w + b;
  }
  return r;
}

export function dropout(x: ArrayLike<number>, keep: ArrayLike<number>, p: number): Float64Array {
  return Float64Array.from(x, (v, i) => (keep[i] ? v / (1 - p) : 0));
}

/** Central differences of a scalar function of x: the gradient oracle for every backward. */
export function numericGrad(f: (x: Float64Array) => number, x: ArrayLike<number>, h = 1e-5): Float64Array {
  const xs = Float64Array.from(x);
  const g = new Float64Array(xs.length);
  for (let i = 0; i < xs.length; i++) {
    const v = xs[i];
    xs[i] = v + h;
    const up = f(xs);
    xs[i] = v - h;
    const down = f(xs);
    xs[i] = v;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}
