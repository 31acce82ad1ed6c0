// Neural-network kernels at the binding level, every backend, against the float64 oracles in
// reference/nn.ts; backward passes against finite differences of those oracles, or against their
// closed forms (log-softmax, cross-entropy) where differences are too costly, checked here first.
import * as assert from 'uvu/assert';

import type { Device } from '../lib/index';
import { native, type StorageHandle } from '../lib/native';
import { assertClose, assertThrows, eachBackend, randomArray, rng, suite, tolerance } from './harness';
import { roundToHalf } from './reference/half';
import * as ref from './reference/nn';
import * as philox from './reference/philox';

const s = suite('nn');

const FLOATS = ['float32', 'float16'] as const;
type FloatType = (typeof FLOATS)[number];
/** The binding's reduction names; reference/nn.ts takes their index (0 none, 1 mean, 2 sum). */
const REDUCTIONS = ['none', 'mean', 'sum'] as const;

/** Storages of one test, disposed together at its end. */
class Scope {
  private readonly live: StorageHandle[] = [];
  constructor(readonly device: Device) {}

  alloc(bytes: number): StorageHandle {
    const st = native.alloc(this.device, Math.max(bytes, 4));
    this.live.push(st);
    return st;
  }
  /** Float data rounded to the storage type; returns the storage and the values it holds. */
  floats(dtype: FloatType, data: ArrayLike<number>): { st: StorageHandle; values: Float64Array } {
    const values = Float64Array.from(data, (v) => (dtype === 'float16' ? roundToHalf(v) : Math.fround(v)));
    const st = this.alloc(data.length * (dtype === 'float16' ? 2 : 4));
    native.write(st, dtype, Float32Array.from(values));
    return { st, values };
  }
  ints(data: ArrayLike<number>): StorageHandle {
    const st = this.alloc(data.length * 4);
    native.write(st, 'int32', Int32Array.from(data));
    return st;
  }
  /** Output storage filled with NaN (int32: -7), so an element the kernel skips fails the test. */
  poisoned(dtype: FloatType | 'int32', n: number): StorageHandle {
    const st = this.alloc(n * (dtype === 'float16' ? 2 : 4));
    native.run('fill', { out: st, dtype, n, value: dtype === 'int32' ? -7 : NaN });
    return st;
  }
  read(st: StorageHandle, dtype: FloatType | 'int32', n: number): Float32Array | Int32Array {
    return native.read(st, dtype, n) as Float32Array | Int32Array;
  }
  dispose(): void {
    for (const st of this.live) st.dispose();
  }
}

function withScope(device: Device, fn: (sc: Scope) => void): void {
  const sc = new Scope(device);
  try {
    fn(sc);
  } finally {
    sc.dispose();
  }
}

/**
 * Runs an op whose error the kernel finds only when it runs (an invalid target): the call must
 * return, having only enqueued the op; the next synchronising read or synchronize raises the error.
 */
function enqueue(call: () => void, what: string): void {
  try {
    call();
  } catch (e) {
    assert.unreachable(`${what}: the call threw ${(e as Error).name} '${(e as Error).message}'; it should surface at the next read or synchronize`);
  }
}

const SHAPES: [number, number][] = [[1, 1], [7, 33], [33, 7], [3, 1023], [2, 1025]];

function targetsFor(rows: number, cols: number, seed: number): Int32Array {
  const r = rng(seed);
  return Int32Array.from({ length: rows }, () => Math.floor(r() * cols));
}

/** Gradient tolerance: the dtype's, with the absolute part scaled to the gradient's size. */
function gradTolerance(dtype: FloatType, expected: ArrayLike<number>): { rtol: number; atol: number } {
  const t = tolerance(dtype);
  let m = 0;
  for (let i = 0; i < expected.length; i++) m = Math.max(m, Math.abs(expected[i]));
  return { rtol: t.rtol, atol: Math.max(t.atol * m, dtype === 'float16' ? 1e-4 : 1e-7) * 10 };
}

eachBackend(s, 'logSoftmax matches the oracle, also for large offsets', (device) => withScope(device, (sc) => {
  for (const dtype of FLOATS) {
    for (const [rows, cols] of SHAPES) {
      const shift = dtype === 'float32' ? 1000 : 100; // stability: exp(x) alone would overflow
      for (const offset of [0, shift]) {
        const x = sc.floats(dtype, randomArray(rows * cols, rows * 31 + cols, offset - 4, offset + 4));
        const out = sc.poisoned(dtype, rows * cols);
        native.run('logSoftmax', { x: x.st, out, dtype, rows, cols });
        const tol = dtype === 'float16' ? { rtol: 1e-2, atol: 1e-2 } : { rtol: 1e-5, atol: 1e-5 };
        assertClose(sc.read(out, dtype, rows * cols), ref.logSoftmax(x.values, rows, cols), tol, `${dtype} ${rows}x${cols}+${offset}`);
      }
    }
  }
}));

s('float64 oracles: the closed-form logSoftmax and crossEntropy gradients equal finite differences', () => {
  const tol = { rtol: 1e-6, atol: 1e-8 };
  for (const [rows, cols] of SHAPES) {
    const n = rows * cols;
    if (n > 1000) continue; // differences of a whole softmax per element: O(n^2)
    const x = randomArray(n, n + 1, -3, 3);
    const g = randomArray(n, n + 2);
    const lsm = ref.numericGrad((v) => ref.dot(g, ref.logSoftmax(v, rows, cols)), x);
    assertClose(ref.logSoftmaxBackward(x, g, rows, cols), lsm, tol, `logSoftmax ${rows}x${cols}`);
    const t = targetsFor(rows, cols, n + 6);
    for (const reduction of [0, 1, 2]) {
      const up = randomArray(reduction === 0 ? rows : 1, n + 7 + reduction, 0.5, 2);
      const ce = ref.numericGrad((v) => ref.dot(up, ref.crossEntropy(v, t, rows, cols, reduction)), x);
      assertClose(ref.crossEntropyBackward(x, t, rows, cols, reduction, up), ce, tol, `crossEntropy ${rows}x${cols} reduction ${reduction}`);
    }
  }
});

eachBackend(s, 'logSoftmaxBackward matches the closed-form gradient', (device) => withScope(device, (sc) => {
  for (const dtype of FLOATS) {
    for (const [rows, cols] of SHAPES) {
      const n = rows * cols;
      const x = sc.floats(dtype, randomArray(n, n + 1, -3, 3));
      const g = sc.floats(dtype, randomArray(n, n + 2));
      const out = sc.poisoned(dtype, n);
      native.run('logSoftmax', { x: x.st, out, dtype, rows, cols });
      const gradIn = sc.poisoned(dtype, n);
      native.run('logSoftmaxBackward', { gradOut: g.st, out, gradIn, dtype, rows, cols });
      const expected = ref.logSoftmaxBackward(x.values, g.values, rows, cols);
      assertClose(sc.read(gradIn, dtype, n), expected, gradTolerance(dtype, expected), `${dtype} ${rows}x${cols}`);
    }
  }
}));

eachBackend(s, 'nllLoss and its backward, every reduction', (device) => withScope(device, (sc) => {
  for (const dtype of FLOATS) {
    for (const [rows, cols] of SHAPES) {
      const n = rows * cols;
      const logp = sc.floats(dtype, randomArray(n, n + 3, -5, 0));
      const t = targetsFor(rows, cols, n + 4);
      const target = sc.ints(t);
      REDUCTIONS.forEach((name, reduction) => {
        const what = `${dtype} ${rows}x${cols} reduction ${name}`;
        const count = reduction === 0 ? rows : 1;
        const loss = sc.poisoned('float32', count);
        native.run('nllLoss', { logp: logp.st, target, loss, dtype, rows, cols, reduction: name });
        assertClose(sc.read(loss, 'float32', count), ref.nllLoss(logp.values, t, rows, cols, reduction), tolerance('float32'), what);

        // upstream gradient as a number, then as a storage
        const up = Array.from(randomArray(count, n + reduction, 0.5, 2), Math.fround);
        const f = (scale: ArrayLike<number>) => (v: Float64Array) => ref.dot(scale, ref.nllLoss(v, t, rows, cols, reduction));
        const gradIn = sc.poisoned(dtype, n);
        native.run('nllLossBackward', { target, gradIn, dtype, rows, cols, reduction: name, gradScale: 0.75 });
        let expected = ref.numericGrad(f(new Float64Array(count).fill(0.75)), logp.values);
        assertClose(sc.read(gradIn, dtype, n), expected, gradTolerance(dtype, expected), `${what} scalar`);
        const upSt = sc.floats('float32', up).st;
        native.run('nllLossBackward', { target, gradIn, dtype, rows, cols, reduction: name, gradScale: 1, gradOut: upSt });
        expected = ref.numericGrad(f(up), logp.values);
        assertClose(sc.read(gradIn, dtype, n), expected, gradTolerance(dtype, expected), `${what} storage`);
      });
    }
  }
}));

eachBackend(s, 'crossEntropy: fused loss and gradient, and the separate backward', (device) => withScope(device, (sc) => {
  for (const dtype of FLOATS) {
    for (const [rows, cols] of SHAPES) {
      const n = rows * cols;
      const logits = sc.floats(dtype, randomArray(n, n + 5, -6, 6));
      const t = targetsFor(rows, cols, n + 6);
      const target = sc.ints(t);
      REDUCTIONS.forEach((name, reduction) => {
        const what = `${dtype} ${rows}x${cols} reduction ${name}`;
        const count = reduction === 0 ? rows : 1;
        const tol = dtype === 'float16' ? tolerance('float16') : { rtol: 1e-5, atol: 1e-5 };
        const expectedLoss = ref.crossEntropy(logits.values, t, rows, cols, reduction);
        const lossOnly = sc.poisoned('float32', count);
        native.run('crossEntropy', { logits: logits.st, target, loss: lossOnly, gradLogits: null, dtype, rows, cols, reduction: name });
        assertClose(sc.read(lossOnly, 'float32', count), expectedLoss, tol, `${what} loss only`);

        const loss = sc.poisoned('float32', count);
        const grad = sc.poisoned(dtype, n);
        native.run('crossEntropy', { logits: logits.st, target, loss, gradLogits: grad, dtype, rows, cols, reduction: name });
        assertClose(sc.read(loss, 'float32', count), expectedLoss, tol, `${what} fused loss`);
        const f = (scale: ArrayLike<number>) => ref.crossEntropyBackward(logits.values, t, rows, cols, reduction, scale);
        let expected = f(new Float64Array(count).fill(1));
        assertClose(sc.read(grad, dtype, n), expected, gradTolerance(dtype, expected), `${what} fused grad`);

        const up = Array.from(randomArray(count, n + 7 + reduction, 0.5, 2), Math.fround);
        const back = sc.poisoned(dtype, n);
        native.run('crossEntropyBackward', {
          logits: logits.st, target, gradLogits: back, dtype, rows, cols, reduction: name, gradScale: 1, gradOut: sc.floats('float32', up).st,
        });
        expected = f(up);
        assertClose(sc.read(back, dtype, n), expected, gradTolerance(dtype, expected), `${what} backward`);
        native.run('crossEntropyBackward', { logits: logits.st, target, gradLogits: back, dtype, rows, cols, reduction: name, gradScale: 2 });
        expected = f(new Float64Array(count).fill(2));
        assertClose(sc.read(back, dtype, n), expected, gradTolerance(dtype, expected), `${what} backward scalar`);
      });
    }
  }
}));

eachBackend(s, 'invalid targets are clear RangeErrors, never out-of-bounds reads', (device) => withScope(device, (sc) => {
  const rows = 5;
  const cols = 7;
  const logits = sc.floats('float32', randomArray(rows * cols, 9)).st;
  for (const bad of [-1, cols, 2 ** 31 - 1]) {
    const target = sc.ints([0, 6, bad, 3, 1]);
    const loss = sc.poisoned('float32', rows);
    const grad = sc.poisoned('float32', rows * cols);
    const message = (op: string) => new RegExp(`^${op}: target ${bad} at row 2 is outside \\[0, 7\\)$`);
    // The kernel finds the bad target when it runs, on the CUDA stream or the CPU queue: the call
    // returns, and the next synchronising read (or CPU synchronize) raises the error.
    const calls: [string, () => void][] = [
      ['nllLoss', () => native.run('nllLoss', { logp: logits, target, loss, dtype: 'float32', rows, cols, reduction: 'none' })],
      ['nllLoss', () => native.run('nllLoss', { logp: logits, target, loss, dtype: 'float32', rows, cols, reduction: 'mean' })],
      ['nllLossBackward', () => native.run('nllLossBackward', { target, gradIn: grad, dtype: 'float32', rows, cols, reduction: 'mean', gradScale: 1 })],
      ['crossEntropy', () => native.run('crossEntropy', { logits, target, loss, gradLogits: grad, dtype: 'float32', rows, cols, reduction: 'sum' })],
      ['crossEntropyBackward', () => native.run('crossEntropyBackward', {
        logits, target, gradLogits: grad, dtype: 'float32', rows, cols, reduction: 'none', gradScale: 1,
      })],
    ];
    for (const [op, call] of calls) {
      enqueue(call, `${op} target ${bad}`);
      assertThrows(() => sc.read(loss, 'float32', 1), RangeError, message(op), `${op} target ${bad}`);
      sc.read(loss, 'float32', 1); // the error is reported once
    }
    if (device === 'cpu') {
      // cpuSynchronize reports a queued error as a read does, and also only once
      enqueue(calls[0][1], `nllLoss target ${bad} before cpuSynchronize`);
      assertThrows(() => native.cpuSynchronize(), RangeError, message('nllLoss'), `cpuSynchronize target ${bad}`);
      native.cpuSynchronize();
    }
  }
}));

// PyTorch checks every target against the class count in the loss and its backward, so with no
// classes any row is an error (IndexError "Target t is out of bounds"); with no rows there is nothing
// to check. Both backends raise the same RangeError, the CUDA one even though the gradient is empty,
// and both at the next synchronisation: the call itself only enqueues the op.
eachBackend(s, 'zero classes: every target is out of range, forward and backward; zero rows is no error', (device) => withScope(device, (sc) => {
  const loss = sc.poisoned('float32', 3);
  const grad = sc.alloc(4);
  /** Enqueues call and returns the synchronising read that reports its error. */
  const synced = (call: () => void, what: string) => {
    enqueue(call, what);
    return () => {
      sc.read(loss, 'float32', 1);
    };
  };
  for (const dtype of FLOATS) {
    for (const reduction of REDUCTIONS) {
      const what = `${dtype} reduction ${reduction}`;
      assertThrows(synced(() => native.run('nllLossBackward', { target: sc.ints([4, 0, 1]), gradIn: grad, dtype, rows: 3, cols: 0, reduction, gradScale: 1 }), `nllLossBackward ${what}`),
        RangeError, /^nllLossBackward: target 4 at row 0 is outside \[0, 0\)$/, `nllLossBackward ${what}`);
      assertThrows(synced(() => native.run('nllLoss', { logp: grad, target: sc.ints([0]), loss, dtype, rows: 1, cols: 0, reduction }), `nllLoss ${what}`),
        RangeError, /^nllLoss: target 0 at row 0 is outside \[0, 0\)$/, `nllLoss ${what}`);
      synced(() => native.run('nllLossBackward', { target: sc.ints([0]), gradIn: grad, dtype, rows: 0, cols: 0, reduction, gradScale: 1 }), `zero rows ${what}`)();
    }
  }
}));

eachBackend(s, 'bad shapes and arguments are rejected with clear errors', (device) => withScope(device, (sc) => {
  const small = sc.alloc(16);
  const big = sc.alloc(4096);
  const t = sc.ints([0, 0, 0, 0]);
  const f32 = 'float32';
  assertThrows(() => native.run('logSoftmax', { x: small, out: big, dtype: f32, rows: 7, cols: 33 }), RangeError,
    /^logSoftmax: x must be a storage of 231 float32 elements \(924 bytes\), got one of 16 bytes$/);
  assertThrows(() => native.run('logSoftmax', { x: big, out: big, dtype: 'int32', rows: 1, cols: 1 }), RangeError,
    /^logSoftmax: dtype must be one of 'float32', 'float16', got 'int32'$/);
  assertThrows(() => native.run('logSoftmax', { x: big, out: big, dtype: 2, rows: 1, cols: 1 }), TypeError,
    /^logSoftmax: dtype must be one of 'float32', 'float16', got 2$/, 'a dtype code instead of its name');
  assertThrows(() => native.run('logSoftmax', { x: big, out: big, dtype: f32, rows: 2 ** 40, cols: 2 ** 40 }), RangeError,
    /^logSoftmax: rows \* cols must be at most 2\^52, got a product that overflows$/);
  assertThrows(() => native.run('nllLoss', { logp: big, target: t, loss: big, dtype: f32, rows: 4, cols: 3, reduction: 'max' }), RangeError,
    /^nllLoss: reduction must be one of 'none', 'mean', 'sum', got 'max'$/);
  assertThrows(() => native.run('nllLoss', { logp: big, target: t, loss: big, dtype: f32, rows: 4, cols: 3, reduction: 3 }), TypeError,
    /^nllLoss: reduction must be one of 'none', 'mean', 'sum', got 3$/, 'a reduction code instead of its name');
  assertThrows(() => native.run('nllLoss', { logp: big, target: small, loss: big, dtype: f32, rows: 5, cols: 3, reduction: 'none' }), RangeError,
    /^nllLoss: target must be a storage of 5 int32 elements \(20 bytes\)/);
  const nllBack = { target: t, gradIn: big, dtype: f32, rows: 4, cols: 3, reduction: 'none' };
  assertThrows(() => native.run('nllLossBackward', { ...nllBack, gradScale: 'x' }), TypeError, /^nllLossBackward: gradScale must be a number, got 'x'$/);
  assertThrows(() => native.run('nllLossBackward', { ...nllBack, gradScale: 1, gradOut: 'x' }), TypeError,
    /^nllLossBackward: gradOut must be a Storage, got 'x'$/);
  assertThrows(() => native.run('crossEntropyBackward', {
    logits: big, target: t, gradLogits: big, dtype: f32, rows: 4, cols: 3, reduction: 'none', gradScale: 1, gradOut: sc.alloc(4),
  }), RangeError, /^crossEntropyBackward: gradOut must be a storage of 4 float32 elements \(16 bytes\), got one of 4 bytes$/);
  assertThrows(() => native.run('crossEntropy', { logits: big, target: t, loss: big, gradLogits: 5, dtype: f32, rows: 4, cols: 3, reduction: 'none' }),
    TypeError, /^crossEntropy: gradLogits must be a Storage, got 5$/);
  const pool = (over: Partial<ref.Pool2d>) => {
    const p = { ...ref.poolGeometry(1, 1, 5, 5, 3, 3, 2, 2, 1, 1), ...over };
    native.run('maxPool2d', { x: big, out: big, indices: big, dtype: f32, ...p });
  };
  pool({});
  assertThrows(() => pool({ outH: 4 }), RangeError, /^maxPool2d: output size must be 3x3, got 4x3$/);
  assertThrows(() => pool({ pH: 2 }), RangeError, /^maxPool2d: padding must be at most half the kernel 3x3, got 2x1$/);
  assertThrows(() => pool({ kW: 0 }), RangeError, /^maxPool2d: kernel size must be positive, got 3x0$/);
  assertThrows(() => pool({ sH: 0 }), RangeError, /^maxPool2d: stride must be positive, got 0x2$/);
  assertThrows(() => pool({ H: 1, kH: 4, pH: 1 }), RangeError, /^maxPool2d: kernel size must be no larger than the padded input 3x7, got 4x3$/);
  assertThrows(() => pool({ N: 100 }), RangeError, /^maxPool2d: x must be a storage of 2500 float32 elements \(10000 bytes\), got one of 4096 bytes$/);
  const c4 = sc.alloc(16);
  const bnArgs = (N: number, C: number, HW: number, training: boolean, eps: number) => ({
    x: big, weight: null, bias: null, runningMean: c4, runningVar: c4, out: big, saveMean: c4, saveInvStd: c4,
    dtype: f32, N, C, HW, training, momentum: 0.1, eps,
  });
  const bn = (N: number, HW: number, training: boolean, eps = 1e-5) => native.run('batchNormForward', bnArgs(N, 4, HW, training, eps));
  assertThrows(() => bn(1, 1, true), RangeError, /^batchNormForward: N \* HW must be more than one value per channel in training, got 1$/);
  bn(1, 1, false);
  assertThrows(() => bn(2, 2, true, -1), RangeError, /^batchNormForward: eps must be finite and non-negative, got -1$/);
  assertThrows(() => native.run('batchNormForward', bnArgs(2, 5, 3, true, 1e-5)), RangeError,
    /^batchNormForward: runningMean must be a storage of 5 float32 elements \(20 bytes\), got one of 16 bytes$/);
  assertThrows(() => native.run('dropout', { x: big, out: big, mask: big, dtype: f32, n: 10, p: 1.5, seed: 1, offset: 0 }), RangeError,
    /^dropout: p must be in \[0, 1\], got 1\.50*$/);
  assertThrows(() => native.run('dropout', { x: big, out: big, mask: small, dtype: f32, n: 17, p: 0.5, seed: 1, offset: 0 }), RangeError,
    /^dropout: mask must be a storage of at least 17 bytes, got one of 16 bytes$/);
  assertThrows(() => native.run('dropoutBackward', { gradOut: big, mask: small, gradIn: big, dtype: f32, n: 10, p: -0.5 }), RangeError,
    /^dropoutBackward: p must be in \[0, 1\], got -0\.50*$/);
}));

/** Distinct values exactly representable in float16, shuffled: no ties, so the argmax is unique. */
function distinctValues(n: number, seed: number): Float64Array {
  const r = rng(seed);
  const v = Float64Array.from({ length: n }, (_, i) => (i - n / 2) / 1024);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [v[i], v[j]] = [v[j], v[i]];
  }
  return v;
}

const POOLS: ref.Pool2d[] = [
  ref.poolGeometry(2, 3, 7, 9, 3, 2, 2, 3, 1, 1), // stride != kernel, padding, odd H and W
  ref.poolGeometry(1, 2, 5, 6, 3, 3, 1, 1, 1, 1), // heavily overlapping windows
  ref.poolGeometry(1, 1, 8, 7, 2, 2, 3, 3, 0, 0), // stride larger than the kernel: gaps
  ref.poolGeometry(3, 1, 1, 1, 1, 1, 1, 1, 0, 0),
  ref.poolGeometry(1, 1, 33, 31, 4, 5, 2, 2, 2, 2),
];

eachBackend(s, 'maxPool2d values, indices and backward', (device) => withScope(device, (sc) => {
  for (const dtype of FLOATS) {
    for (const p of POOLS) {
      const what = `${dtype} ${JSON.stringify(p)}`;
      const nIn = p.N * p.C * p.H * p.W;
      const nOut = p.N * p.C * p.outH * p.outW;
      const x = sc.floats(dtype, distinctValues(nIn, nIn));
      const out = sc.poisoned(dtype, nOut);
      const indices = sc.poisoned('int32', nOut);
      native.run('maxPool2d', { x: x.st, out, indices, dtype, ...p });
      const expected = ref.maxPool2d(x.values, p);
      assertClose(sc.read(out, dtype, nOut), expected.out, { rtol: 0, atol: 0 }, `${what} values`);
      assert.equal(Array.from(sc.read(indices, 'int32', nOut)), Array.from(expected.indices), `${what} indices`);

      const g = sc.floats(dtype, randomArray(nOut, nOut + 1));
      const gradIn = sc.poisoned(dtype, nIn);
      native.run('maxPool2dBackward', { gradOut: g.st, indices, gradIn, dtype, ...p });
      const fd = ref.numericGrad((v) => ref.dot(g.values, ref.maxPool2d(v, p).out), x.values, 1e-6);
      assertClose(sc.read(gradIn, dtype, nIn), fd, gradTolerance(dtype, fd), `${what} backward`);
    }
  }
}));

const BN_SHAPES: [number, number, number][] = [[4, 3, 5], [33, 7, 1], [2, 2, 257], [7, 1, 33]];

eachBackend(s, 'batchNorm forward (training and eval) and backward', (device) => withScope(device, (sc) => {
  for (const dtype of FLOATS) {
    for (const [N, C, HW] of BN_SHAPES) {
      for (const affine of [true, false]) {
        const what = `${dtype} ${N}x${C}x${HW} affine ${affine}`;
        const n = N * C * HW;
        const x = sc.floats(dtype, randomArray(n, n + C, -2, 3));
        const w = affine ? sc.floats('float32', randomArray(C, C + 1, 0.5, 1.5)) : null;
        const b = affine ? sc.floats('float32', randomArray(C, C + 2)) : null;
        const rm0 = Array.from(randomArray(C, C + 3), Math.fround);
        const rv0 = Array.from(randomArray(C, C + 4, 0.5, 2), Math.fround);
        const rm = sc.floats('float32', rm0).st;
        const rv = sc.floats('float32', rv0).st;
        const out = sc.poisoned(dtype, n);
        const mean = sc.poisoned('float32', C);
        const invStd = sc.poisoned('float32', C);
        const momentum = 0.1;
        const eps = 1e-5;
        const forward = (training: boolean, o: StorageHandle) => native.run('batchNormForward', {
          x: x.st, weight: w?.st ?? null, bias: b?.st ?? null, runningMean: rm, runningVar: rv, out: o, saveMean: mean, saveInvStd: invStd,
          dtype, N, C, HW, training, momentum, eps,
        });
        forward(true, out);
        const e = ref.batchNorm(x.values, w?.values ?? null, b?.values ?? null, rm0, rv0, N, C, HW, true, momentum, eps);
        const tol = dtype === 'float16' ? tolerance('float16') : { rtol: 1e-5, atol: 1e-5 };
        assertClose(sc.read(out, dtype, n), e.out, tol, `${what} out`);
        assertClose(sc.read(mean, 'float32', C), e.mean, { rtol: 1e-5, atol: 1e-6 }, `${what} saved mean`);
        assertClose(sc.read(invStd, 'float32', C), e.invStd, { rtol: 1e-5, atol: 1e-6 }, `${what} saved invstd`);
        assertClose(sc.read(rm, 'float32', C), e.runningMean, { rtol: 1e-5, atol: 1e-6 }, `${what} running mean`);
        assertClose(sc.read(rv, 'float32', C), e.runningVar, { rtol: 1e-5, atol: 1e-6 }, `${what} running var`);

        const g = sc.floats(dtype, randomArray(n, n + 5));
        const gradIn = sc.poisoned(dtype, n);
        const gw = affine ? sc.poisoned('float32', C) : null;
        const gb = affine ? sc.poisoned('float32', C) : null;
        native.run('batchNormBackward', {
          gradOut: g.st, x: x.st, weight: w?.st ?? null, saveMean: mean, saveInvStd: invStd, gradIn, gradWeight: gw, gradBias: gb, dtype, N, C, HW,
        });
        const wv = w?.values ?? null;
        const bv = b?.values ?? null;
        const loss = (xv: ArrayLike<number>, wq: ArrayLike<number> | null, bq: ArrayLike<number> | null) =>
          ref.dot(g.values, ref.batchNorm(xv, wq, bq, rm0, rv0, N, C, HW, true, momentum, eps).out);
        const dx = ref.numericGrad((v) => loss(v, wv, bv), x.values);
        assertClose(sc.read(gradIn, dtype, n), dx, gradTolerance(dtype, dx), `${what} grad x`);
        if (affine && gw && gb && wv && bv) {
          const dw = ref.numericGrad((v) => loss(x.values, v, bv), wv);
          const db = ref.numericGrad((v) => loss(x.values, wv, v), bv);
          assertClose(sc.read(gw, 'float32', C), dw, gradTolerance(dtype, dw), `${what} grad weight`);
          assertClose(sc.read(gb, 'float32', C), db, gradTolerance(dtype, db), `${what} grad bias`);
        }

        // eval: the running statistics (now updated) normalise, and nothing updates them
        const rmNow = Array.from(sc.read(rm, 'float32', C));
        const rvNow = Array.from(sc.read(rv, 'float32', C));
        const evalOut = sc.poisoned(dtype, n);
        forward(false, evalOut);
        const ev = ref.batchNorm(x.values, wv, bv, rmNow, rvNow, N, C, HW, false, momentum, eps);
        assertClose(sc.read(evalOut, dtype, n), ev.out, tol, `${what} eval out`);
        assertClose(sc.read(invStd, 'float32', C), ev.invStd, { rtol: 1e-5, atol: 1e-6 }, `${what} eval invstd`);
        assert.equal(Array.from(sc.read(rm, 'float32', C)), rmNow, `${what} eval leaves running mean`);
      }
    }
  }
}));

eachBackend(s, 'dropout: Philox mask, scaling, reproducibility, keep rate and backward', (device) => withScope(device, (sc) => {
  for (const dtype of FLOATS) {
    for (const [n, p, seed, offset] of [[1, 0.5, 3, 0], [1023, 0.3, 42, 7], [33, 0, 5, 0], [33, 1, 5, 0]] as const) {
      const what = `${dtype} n=${n} p=${p}`;
      const x = sc.floats(dtype, randomArray(n, n + 9));
      const out = sc.poisoned(dtype, n);
      const mask = sc.alloc(Math.ceil(n / 4) * 4); // read back as int32 words
      native.run('fill', { out: mask, dtype: 'int32', n: Math.ceil(n / 4), value: 0x7f7f7f7f }); // poison: 127 in every byte
      native.run('dropout', { x: x.st, out, mask, dtype, n, p, seed, offset });
      const keep = Array.from({ length: n }, (_, i) => (philox.uniform(seed, offset, i) >= Math.fround(p) ? 1 : 0));
      const maskBytes = new Uint8Array(sc.read(mask, 'int32', Math.ceil(n / 4)).buffer).subarray(0, n);
      assert.equal(Array.from(maskBytes), keep, `${what} mask`);
      assertClose(sc.read(out, dtype, n), ref.dropout(x.values, keep, p), tolerance(dtype), `${what} out`);

      const g = sc.floats(dtype, randomArray(n, n + 10));
      const gradIn = sc.poisoned(dtype, n);
      native.run('dropoutBackward', { gradOut: g.st, mask, gradIn, dtype, n, p });
      const fd = ref.numericGrad((v) => ref.dot(g.values, ref.dropout(v, keep, p)), x.values);
      assertClose(sc.read(gradIn, dtype, n), fd, gradTolerance(dtype, fd), `${what} backward`);
    }
  }
  const n = 100_003;
  const x = sc.floats('float32', new Float64Array(n).fill(1)).st;
  const run = (seed: number): Uint8Array => {
    const out = sc.alloc(n * 4);
    const mask = sc.alloc(Math.ceil(n / 4) * 4); // read back as int32 words
    native.run('dropout', { x, out, mask, dtype: 'float32', n, p: 0.25, seed, offset: 11 });
    return new Uint8Array(sc.read(mask, 'int32', Math.ceil(n / 4)).buffer).slice(0, n);
  };
  const a = run(2024);
  assert.equal(run(2024), a, 'same seed, same mask');
  assert.not.equal(run(2025), a, 'new seed, new mask');
  const kept = a.reduce((acc, v) => acc + v, 0) / n;
  assert.ok(Math.abs(kept - 0.75) < 0.01, `keep rate ${kept} for p = 0.25`);
}));

s.run();
