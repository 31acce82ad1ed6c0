// Float64 oracle of 2-D convolution (cross-correlation, NCHW, as torch.nn.functional.conv2d) in
// its three directions, written from the definition with plain loops over every index:
//   y[n, k, p, q]  = bias[k] + sum over c < C/G, r, s of x[n, g*C/G + c, ih, iw] * w[k, c, r, s]
//   dx[n, ch, h, w] = sum of dy[n, k, p, q] * w[k, c, r, s] over every (k, p, q, r, s) whose (ih, iw) is (h, w)
//   dw[k, c, r, s] = sum over n, p, q of dy[n, k, p, q] * x[n, g*C/G + c, ih, iw];  db[k] = sum of dy[n, k, :, :]
// with g = k's group (k / (K/G)), ih = p*strideH - padH + r*dilationH, iw = q*strideW - padW + s*dilationW,
// and positions outside the input reading zero. Every size may differ in height and width.

export interface ConvGeometry {
  N: number;
  C: number;
  H: number;
  W: number;
  K: number;
  R: number;
  S: number;
  strideH: number;
  strideW: number;
  padH: number;
  padW: number;
  dilationH: number;
  dilationW: number;
  groups: number;
}

/** Output height and width: floor((H + 2 pad - dil (R - 1) - 1) / stride) + 1 (likewise Q). */
export function outSize(g: ConvGeometry): { P: number; Q: number } {
  const P = Math.floor((g.H + 2 * g.padH - g.dilationH * (g.R - 1) - 1) / g.strideH) + 1;
  const Q = Math.floor((g.W + 2 * g.padW - g.dilationW * (g.S - 1) - 1) / g.strideW) + 1;
  return { P, Q };
}

export const xCount = (g: ConvGeometry): number => g.N * g.C * g.H * g.W;
export const wCount = (g: ConvGeometry): number => g.K * (g.C / g.groups) * g.R * g.S;
export function yCount(g: ConvGeometry): number {
  const { P, Q } = outSize(g);
  return g.N * g.K * P * Q;
}

/**
 * Visits every (input element, weight element, output element) triple the convolution multiplies,
 * by flat index: the one loop nest the three directions share.
 */
function eachProduct(g: ConvGeometry, visit: (xi: number, wi: number, yi: number) => void): void {
  const { P, Q } = outSize(g);
  const Cg = g.C / g.groups;
  const Kg = g.K / g.groups;
  if (!Number.isInteger(Cg) || !Number.isInteger(Kg)) throw new RangeError(`conv oracle: C ${g.C} and K ${g.K} must be divisible by groups ${g.groups}`);
  if (P < 1 || Q < 1) throw new RangeError(`conv oracle: empty output ${P}x${Q}`);
  for (let n = 0; n < g.N; n++) {
    for (let k = 0; k < g.K; k++) {
      const grp = Math.floor(k / Kg);
      for (let p = 0; p < P; p++) {
        for (let q = 0; q < Q; q++) {
          const yi = ((n * g.K + k) * P + p) * Q + q;
          for (let c = 0; c < Cg; c++) {
            const ch = grp * Cg + c;
            for (let r = 0; r < g.R; r++) {
              const ih = p * g.strideH - g.padH + r * g.dilationH;
              if (ih < 0 || ih >= g.H) continue;
              for (let s = 0; s < g.S; s++) {
                const iw = q * g.strideW - g.padW + s * g.dilationW;
                if (iw < 0 || iw >= g.W) continue;
                visit(((n * g.C + ch) * g.H + ih) * g.W + iw, ((k * Cg + c) * g.R + r) * g.S + s, yi);
              }
            }
          }
        }
      }
    }
  }
}

/** y [N, K, P, Q] = conv(x [N, C, H, W], w [K, C/G, R, S]) + bias [K] (bias null: none). */
export function conv2d(x: ArrayLike<number>, w: ArrayLike<number>, bias: ArrayLike<number> | null, g: ConvGeometry): Float64Array {
  const { P, Q } = outSize(g);
  const y = new Float64Array(yCount(g));
  if (bias !== null) for (let i = 0; i < y.length; i++) y[i] = bias[Math.floor(i / (P * Q)) % g.K];
  eachProduct(g, (xi, wi, yi) => {
    y[yi] += x[xi] * w[wi];
  });
  return y;
}

/** dx [N, C, H, W]: the gradient of sum(dy * conv2d(x, w)) with respect to x. */
export function conv2dBackwardData(dy: ArrayLike<number>, w: ArrayLike<number>, g: ConvGeometry): Float64Array {
  const dx = new Float64Array(xCount(g));
  eachProduct(g, (xi, wi, yi) => {
    dx[xi] += dy[yi] * w[wi];
  });
  return dx;
}

/** dw [K, C/G, R, S] and db [K]: the gradients of sum(dy * (conv2d(x, w) + b)) with respect to w and b. */
export function conv2dBackwardFilter(x: ArrayLike<number>, dy: ArrayLike<number>, g: ConvGeometry): { gradWeight: Float64Array; gradBias: Float64Array } {
  const { P, Q } = outSize(g);
  const dw = new Float64Array(wCount(g));
  eachProduct(g, (xi, wi, yi) => {
    dw[wi] += dy[yi] * x[xi];
  });
  const db = new Float64Array(g.K);
  for (let i = 0; i < yCount(g); i++) db[Math.floor(i / (P * Q)) % g.K] += dy[i];
  return { gradWeight: dw, gradBias: db };
}

const abs = (v: ArrayLike<number>): Float64Array => Float64Array.from(v, Math.abs);

/**
 * The sums of |products| behind each output element of the three directions (plus |bias|, or
 * |dy| for the bias gradient): the scale a float32 accumulation's rounding error grows with.
 */
export function conv2dAbs(x: ArrayLike<number>, w: ArrayLike<number>, bias: ArrayLike<number> | null, g: ConvGeometry): Float64Array {
  return conv2d(abs(x), abs(w), bias === null ? null : abs(bias), g);
}
export function conv2dBackwardDataAbs(dy: ArrayLike<number>, w: ArrayLike<number>, g: ConvGeometry): Float64Array {
  return conv2dBackwardData(abs(dy), abs(w), g);
}
export function conv2dBackwardFilterAbs(x: ArrayLike<number>, dy: ArrayLike<number>, g: ConvGeometry): { gradWeight: Float64Array; gradBias: Float64Array } {
  return conv2dBackwardFilter(abs(x), abs(dy), g);
}
