// Float64 oracles for the elementwise family and reductions: plain loops over explicit indices.
export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function broadcastShape(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    out.push(Math.max(da, db));
  }
  return out;
}

/** Index into a tensor of `shape` for the output coordinate `coord` under broadcasting. */
function sourceIndex(shape: readonly number[], coord: number[]): number {
  const off = coord.length - shape.length;
  let idx = 0;
  for (let i = 0; i < shape.length; i++) idx = idx * shape[i] + (shape[i] === 1 ? 0 : coord[i + off]);
  return idx;
}

function coordOf(i: number, shape: readonly number[]): number[] {
  const c = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    c[d] = i % shape[d];
    i = Math.floor(i / shape[d]);
  }
  return c;
}

export function binary(f: (x: number, y: number) => number, a: ArrayLike<number>, as: readonly number[], b: ArrayLike<number>, bs: readonly number[]): Float64Array {
  const shape = broadcastShape(as, bs);
  const out = new Float64Array(numel(shape));
  for (let i = 0; i < out.length; i++) {
    const c = coordOf(i, shape);
    out[i] = f(a[sourceIndex(as, c)], b[sourceIndex(bs, c)]);
  }
  return out;
}

/** Sum over `dims` of a tensor of `shape`, keeping them as size 1. */
export function sumDims(x: ArrayLike<number>, shape: readonly number[], dims: number[]): Float64Array {
  const outShape = shape.map((d, i) => (dims.includes(i) ? 1 : d));
  const out = new Float64Array(numel(outShape));
  for (let i = 0; i < x.length; i++) {
    const c = coordOf(i, shape).map((v, d) => (dims.includes(d) ? 0 : v));
    let idx = 0;
    for (let d = 0; d < outShape.length; d++) idx = idx * outShape[d] + c[d];
    out[idx] += x[i];
  }
  return out;
}

export function erf(x: number): number {
  // Abramowitz-Stegun 7.1.26 is too coarse for an oracle; use the series / continued fraction.
  const ax = Math.abs(x);
  if (ax < 3) {
    let sum = x;
    let term = x;
    for (let n = 1; n < 200; n++) {
      term *= (-x * x) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc continued fraction for large |x|
  let f = 0;
  for (let n = 60; n >= 1; n--) f = n / 2 / (ax + f);
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f);
  return x > 0 ? 1 - erfc : erfc - 1;
}

export const gelu = (x: number): number => 0.5 * x * (1 + erf(x / Math.SQRT2));
export const geluTanh = (x: number): number => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));

/** Gradient of sum(w * f(x)) with respect to x by central differences in float64. */
export function finiteDiff(f: (x: Float64Array) => Float64Array, x: ArrayLike<number>, w: ArrayLike<number>, eps = 1e-6): Float64Array {
  const base = Float64Array.from(x);
  const grad = new Float64Array(base.length);
  for (let i = 0; i < base.length; i++) {
    const orig = base[i];
    base[i] = orig + eps;
    const up = f(base);
    base[i] = orig - eps;
    const down = f(base);
    base[i] = orig;
    let s = 0;
    for (let k = 0; k < up.length; k++) s += w[k] * (up[k] - down[k]);
    grad[i] = s / (2 * eps);
  }
  return grad;
}

/**
 * finiteDiff for an elementwise f, one element at a time: y[k] depends on x[k] alone, so every other
 * term of finiteDiff's sum is exactly zero and this gives the same values in O(n) instead of O(n^2).
 */
export function finiteDiffElementwise(f: (x: number) => number, x: ArrayLike<number>, w: ArrayLike<number>, eps = 1e-6): Float64Array {
  const grad = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) grad[i] = (w[i] * (f(x[i] + eps) - f(x[i] - eps))) / (2 * eps);
  return grad;
}
