// Float64 oracles of the shape and indexing ops, written as index arithmetic on coordinates (not
// strides, which is how the library does it). A copy-like op is a Mapping: for every output
// element, the input and flat index it comes from; its forward is the gather of those values and
// its gradient the scatter-add of the upstream weights back to them, for every op alike.

export type Source = [input: number, index: number];
export interface Mapping {
  shape: number[];
  src: Source[];
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function unravel(i: number, shape: readonly number[]): number[] {
  const c = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    c[d] = i % shape[d];
    i = Math.floor(i / shape[d]);
  }
  return c;
}

export function ravel(c: readonly number[], shape: readonly number[]): number {
  let i = 0;
  for (let d = 0; d < shape.length; d++) i = i * shape[d] + c[d];
  return i;
}

/** A mapping from a function of output coordinates to a source. */
function build(shape: number[], f: (c: number[]) => Source): Mapping {
  const src: Source[] = [];
  for (let i = 0; i < numel(shape); i++) src.push(f(unravel(i, shape)));
  return { shape, src };
}

export function apply(m: Mapping, x: ArrayLike<number>[]): Float64Array {
  return Float64Array.from(m.src, ([k, i]) => x[k][i]);
}

/** d(sum(w * out))/d(input k) for each input: the upstream weights added back to their sources. */
export function grad(m: Mapping, sizes: number[], w: ArrayLike<number>): Float64Array[] {
  const g = sizes.map((n) => new Float64Array(n));
  m.src.forEach(([k, i], o) => (g[k][i] += w[o]));
  return g;
}

export const permute = (shape: number[], dims: number[]): Mapping =>
  build(dims.map((d) => shape[d]), (c) => {
    const ic = new Array<number>(shape.length);
    dims.forEach((d, k) => (ic[d] = c[k]));
    return [0, ravel(ic, shape)];
  });

/** Elements start, start + step, ... (count of them) along dim; keep: keep the dim (else select). */
export function slice(shape: number[], dim: number, start: number, step: number, count: number, keep = true): Mapping {
  const out = shape.slice();
  out[dim] = count;
  const m = build(out, (c) => {
    const ic = c.slice();
    ic[dim] = start + c[dim] * step;
    return [0, ravel(ic, shape)];
  });
  if (!keep) m.shape = shape.filter((_, i) => i !== dim);
  return m;
}

export function expand(shape: number[], target: number[]): Mapping {
  const off = target.length - shape.length;
  return build(target, (c) => [0, ravel(shape.map((s, i) => (s === 1 ? 0 : c[i + off])), shape)]);
}

export function cat(shapes: number[][], dim: number): Mapping {
  const out = shapes[0].slice();
  out[dim] = shapes.reduce((a, s) => a + s[dim], 0);
  return build(out, (c) => {
    let at = c[dim];
    for (let k = 0; k < shapes.length; k++) {
      if (at < shapes[k][dim]) {
        const ic = c.slice();
        ic[dim] = at;
        return [k, ravel(ic, shapes[k])];
      }
      at -= shapes[k][dim];
    }
    throw new Error('cat: out of range');
  });
}

export function stack(shapes: number[][], dim: number): Mapping {
  const out = shapes[0].slice();
  out.splice(dim, 0, shapes.length);
  return build(out, (c) => {
    const ic = c.slice();
    ic.splice(dim, 1);
    return [c[dim], ravel(ic, shapes[0])];
  });
}

export function indexSelect(shape: number[], dim: number, index: number[]): Mapping {
  const out = shape.slice();
  out[dim] = index.length;
  return build(out, (c) => {
    const ic = c.slice();
    ic[dim] = index[c[dim]];
    return [0, ravel(ic, shape)];
  });
}

export function gather(shape: number[], dim: number, indexShape: number[], index: number[]): Mapping {
  return build(indexShape.slice(), (c) => {
    const ic = c.slice();
    ic[dim] = index[ravel(c, indexShape)];
    return [0, ravel(ic, shape)];
  });
}

/** The first index of the max (or min) of each line along dim; NaN wins. */
export function argExtreme(x: ArrayLike<number>, shape: number[], dim: number, kind: 'max' | 'min'): { shape: number[]; at: number[]; src: Source[] } {
  const out = shape.filter((_, i) => i !== dim);
  const at: number[] = [];
  const src: Source[] = [];
  for (let o = 0; o < numel(out); o++) {
    const c = unravel(o, out);
    let best = NaN;
    let bestAt = -1;
    for (let r = 0; r < shape[dim]; r++) {
      const ic = c.slice();
      ic.splice(dim, 0, r);
      const v = x[ravel(ic, shape)];
      if (bestAt >= 0 && (Number.isNaN(best) || !(Number.isNaN(v) || (kind === 'max' ? v > best : v < best)))) continue;
      best = v;
      bestAt = r;
    }
    at.push(bestAt);
    const ic = c.slice();
    ic.splice(dim, 0, bestAt);
    src.push([0, ravel(ic, shape)]);
  }
  return { shape: out, at, src };
}

/** The broadcast of several shapes (NumPy rules). */
export function broadcast(...shapes: number[][]): number[] {
  const n = Math.max(...shapes.map((s) => s.length));
  return Array.from({ length: n }, (_, i) => shapes.map((s) => s[s.length - n + i] ?? 1).find((d) => d !== 1) ?? 1);
}

/** The flat index into `shape` of output coordinates c of the broadcast `out`. */
export function broadcastIndex(c: number[], shape: number[], out: number[]): number {
  const off = out.length - shape.length;
  return ravel(shape.map((s, i) => (s === 1 ? 0 : c[i + off])), shape);
}

/** where(cond, a, b) as a mapping over inputs [a, b] (cond is read from `cond`). */
export function where(cond: ArrayLike<number>, cs: number[], as: number[], bs: number[]): Mapping {
  const out = broadcast(cs, as, bs);
  return build(out, (c) => (cond[broadcastIndex(c, cs, out)] ? [0, broadcastIndex(c, as, out)] : [1, broadcastIndex(c, bs, out)]));
}

export function compare(f: (a: number, b: number) => boolean, a: ArrayLike<number>, as: number[], b: ArrayLike<number>, bs: number[]): { shape: number[]; values: number[] } {
  const out = broadcast(as, bs);
  const values: number[] = [];
  for (let i = 0; i < numel(out); i++) {
    const c = unravel(i, out);
    values.push(f(a[broadcastIndex(c, as, out)], b[broadcastIndex(c, bs, out)]) ? 1 : 0);
  }
  return { shape: out, values };
}
