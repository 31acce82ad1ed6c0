// The CPU's memory-bound ops (binary, scalar) write their outputs through a stage with
// streaming stores once what they read and write passes a threshold, by default the last-level
// cache's size (cpu/streaming.h). The tests lower it to 16 MiB (a server's cache would take arrays
// of hundreds of MiB), run each op once past it, with a length that is no multiple of a stage or a
// cache line, and require the result to equal, bit for bit, the same op run on pieces too small to
// stream (the path the op table checks against the float64 oracle), and the float64 oracle here.
import * as assert from 'uvu/assert';

import * as hy from '../lib/index';
import type { Tensor } from '../lib/index';
import { native } from '../lib/native';
import { assertClose, randomArray, suite } from './harness';

const s = suite('streaming');
const STREAM_BYTES = 16 * 2 ** 20;
s.before(() => {
  native.cpuStreamThreshold(STREAM_BYTES);
});
s.after(() => {
  native.cpuStreamThreshold(0);
});

const N = STREAM_BYTES / 4 + 37; // float32 elements: 16 MiB and 148 bytes
const PIECES = 9; // each piece's footprint under 6 MiB: written with ordinary stores

const f32 = (n: number, seed: number, lo = -4, hi = 4): Float32Array => Float32Array.from(randomArray(n, seed, lo, hi));

/** Bounds of `pieces` nearly equal runs of [0, n), their sizes no multiple of 16. */
function pieceBounds(n: number, pieces: number): [number, number][] {
  const out: [number, number][] = [];
  for (let p = 0; p < pieces; p++) out.push([Math.floor((n * p) / pieces), Math.floor((n * (p + 1)) / pieces)]);
  return out;
}

/** op over the whole inputs must equal op over each piece of rows (rows of `row` elements), bit for bit. */
function samePieced(what: string, inputs: Float32Array[], rowsOf: (a: Float32Array) => number, row: number, op: (ts: Tensor[]) => Tensor): Float32Array {
  const rows = rowsOf(inputs[0]!);
  const whole = hy.tidy(() => {
    const ts = inputs.map((v) => hy.tensor(v, { shape: row === 1 ? [v.length] : [v.length / row, row] }));
    const y = op(ts);
    const footprint = y.numel * 4 + inputs.reduce((n, v) => n + v.byteLength, 0);
    assert.ok(footprint >= STREAM_BYTES && footprint / PIECES < STREAM_BYTES, `${what}: the whole streams, a piece does not`);
    return Float32Array.from(y.dataSync() as Float32Array);
  });
  for (const [b, e] of pieceBounds(rows, PIECES)) {
    const piece = hy.tidy(() => {
      const ts = inputs.map((v) => hy.tensor(v.subarray(b * row, e * row), { shape: row === 1 ? [e - b] : [e - b, row] }));
      return Float32Array.from(op(ts).dataSync() as Float32Array);
    });
    for (let i = 0; i < piece.length; i++) {
      const w = whole[b * row + i]!;
      if (!Object.is(w, piece[i]) && !(Number.isNaN(w) && Number.isNaN(piece[i]!))) {
        assert.unreachable(`${what}: element ${b * row + i} is ${w} streamed, ${piece[i]} in a piece of ${e - b} rows`);
      }
    }
  }
  return whole;
}

s('the threshold is the last-level cache by default and can be set', () => {
  assert.is(native.cpuStreamThreshold(), STREAM_BYTES);
  const cache = native.cpuStreamThreshold(0);
  assert.ok(Number.isInteger(cache) && cache >= 2 ** 20, `the default threshold, ${cache} bytes, is a cache's size`);
  assert.is(native.cpuStreamThreshold(STREAM_BYTES), STREAM_BYTES);
});

s('scalar and binary ops with streamed outputs equal their unstreamed pieces and the oracle', () => {
  const x = f32(N, 11);
  const y = f32(N, 12);
  const sum = samePieced('add', [x, y], (a) => a.length, 1, ([a, b]) => hy.add(a!, b!));
  assertClose(sum, Array.from(x, (v, i) => Math.fround(v + y[i]!)), { rtol: 0, atol: 0 }, 'add is exact');
  const scaled = samePieced('mul by a scalar', [x], (a) => a.length, 1, ([t]) => hy.mul(t!, 3));
  assertClose(scaled, Array.from(x, (v) => Math.fround(v * 3)), { rtol: 0, atol: 0 }, 'mul by 3 is exact');
});

s('a broadcast add streams its rows through the stage, and rows larger than the stage are written directly', () => {
  // 4200 rows of 1000: four rows to a 16 KiB stage. The row operand is the same for every piece.
  const cols = 1000;
  const rows = 4200;
  const m = f32(rows * cols, 21);
  const r = f32(cols, 22);
  const rowT = () => hy.tensor(r);
  const out = samePieced('broadcast add', [m], (a) => a.length / cols, cols, ([t]) => hy.add(t!, rowT()));
  assertClose(out, Array.from(m, (v, i) => Math.fround(v + r[i % cols]!)), { rtol: 0, atol: 0 }, 'broadcast add is exact');
  // Two rows of 2^21 + 3 (8 MiB each): larger than a stage, so not staged at all.
  const wide = 2 ** 21 + 3;
  const m2 = f32(2 * wide, 23);
  const r2 = f32(wide, 24);
  const got = hy.tidy(() => Float32Array.from(hy.add(hy.tensor(m2, { shape: [2, wide] }), hy.tensor(r2)).dataSync() as Float32Array));
  assertClose(got, Array.from(m2, (v, i) => Math.fround(v + r2[i % wide]!)), { rtol: 0, atol: 0 }, 'rows past the stage');
});

s.run();
