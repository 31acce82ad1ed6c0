import * as assert from 'uvu/assert';

import * as hy from '../lib/index';
import type { DType } from '../lib/index';
import { assertClose, assertThrows, eachBackend, randomArray, suite, tolerance } from './harness';
import { roundToHalf, toInt32 } from './reference/half';

const s = suite('tensor');
const SIZES = [1, 7, 33, 1023];

function expectedFor(dtype: DType, values: ArrayLike<number>): number[] {
  return Array.from(values, (v) => (dtype === 'float16' ? roundToHalf(Math.fround(v)) : dtype === 'int32' ? toInt32(v) : Math.fround(v)));
}

eachBackend(s, 'tensor(data) round-trips every dtype and odd size', async (device) => {
  for (const dtype of ['float32', 'float16', 'int32'] as DType[]) {
    for (const n of SIZES) {
      const src = randomArray(n, n * 7 + 1, -1000, 1000);
      const input = dtype === 'int32' ? Array.from(src, Math.trunc) : Array.from(src);
      const t = hy.tensor(input, { dtype, device });
      assert.equal(t.shape, [n]);
      assert.is(t.dtype, dtype);
      assert.is(t.device, device);
      const expected = expectedFor(dtype, input);
      assertClose(await t.data(), expected, { rtol: 0, atol: 0 }, `${dtype} n=${n} data()`);
      assertClose(t.dataSync(), expected, { rtol: 0, atol: 0 }, `${dtype} n=${n} dataSync()`);
      t.dispose();
    }
  }
});

s('nested arrays give their shape; ragged arrays are rejected', () => {
  const t = hy.tensor([[1, 2, 3], [4, 5, 6]]);
  assert.equal(t.shape, [2, 3]);
  assert.equal(t.toArray(), [[1, 2, 3], [4, 5, 6]]);
  assert.equal(hy.tensor(5).shape, []);
  assert.is(hy.tensor(5).item(), 5);
  assert.equal(hy.tensor([]).shape, [0]);
  assert.equal(hy.tensor([1, 2, 3, 4, 5, 6], { shape: [3, 2] }).shape, [3, 2]);
  assert.is(hy.tensor(new Int32Array([1, 2])).dtype, 'int32');
  assertThrows(() => hy.tensor([[1, 2], [3]]), RangeError, /tensor: ragged nested array/);
  assertThrows(() => hy.tensor([[1, 2], 3] as never), RangeError, /ragged/);
  assertThrows(() => hy.tensor(['a'] as never), TypeError, /tensor: data must hold numbers, got 'a'/);
  assertThrows(() => hy.tensor([1, 2, 3], { shape: [2, 2] }), RangeError, /tensor: shape \[2, 2\] holds 4 elements but the data has 3/);
  assertThrows(() => hy.tensor([1.5e10], { dtype: 'int32' }), RangeError, /does not fit in int32/);
  assertThrows(() => hy.tensor([1], { dtype: 'float64' as never }), RangeError, /tensor: dtype must be one of/);
  assertThrows(() => hy.tensor([1], { device: 'tpu' as never }), RangeError, /tensor: device must be/);
  assertThrows(() => hy.tensor([1], { devcie: 'cpu' } as never), TypeError, /tensor: unknown option 'devcie'/);
});

eachBackend(s, 'typed arrays over a SharedArrayBuffer and at an offset are read from the right place', async (device) => {
  const shared = new Float32Array(new SharedArrayBuffer(64), 8, 5);
  shared.set([1, 2, 3, 4, 5]);
  assert.equal(Array.from(await hy.tensor(shared, { device }).data()), [1, 2, 3, 4, 5]);
  const ints = new Int32Array(new ArrayBuffer(64), 12, 3);
  ints.set([-7, 0, 9]);
  assert.equal(Array.from(await hy.tensor(ints, { device }).data()), [-7, 0, 9]);
});

eachBackend(s, 'zeros, ones and full fill every element', async (device) => {
  for (const dtype of ['float32', 'float16', 'int32'] as DType[]) {
    for (const n of SIZES) {
      assertClose(await hy.zeros([n], { dtype, device }).data(), new Array(n).fill(0), tolerance(dtype), 'zeros');
      assertClose(await hy.ones([1, n], { dtype, device }).data(), new Array(n).fill(1), tolerance(dtype), 'ones');
      assertClose(await hy.full([n, 1], -3.25, { dtype, device }).data(), new Array(n).fill(dtype === 'int32' ? -3 : -3.25), { rtol: 0, atol: 0 }, 'full');
    }
  }
  assert.equal(hy.zeros([2, 0, 3], { device }).shape, [2, 0, 3]);
  assert.is((await hy.zeros([2, 0, 3], { device }).data()).length, 0);
});

eachBackend(s, 'to(dtype) converts like the float64 oracle, overwriting poisoned memory', async (device) => {
  const specials = [0, -0, 1, -1, 0.5, 65504, 65519, 65520, 70000, -70000, 1e-8, 6e-8, 3e-5, 5.96e-8, 2.98e-8, 1 / 3, NaN, Infinity, -Infinity, 2.5, -2.5, 1e10, -1e10];
  const values = [...specials, ...Array.from(randomArray(1023, 5, -100, 100))];
  const src = hy.tensor(values, { device });
  // Poison: the allocator hands the next same-sized request the block just freed.
  const poison = (dtype: DType): void => hy.full([values.length], dtype === 'int32' ? -123456 : NaN, { device, dtype }).dispose();
  for (const target of ['float16', 'int32'] as DType[]) {
    poison(target);
    const out = src.to(target);
    assertClose(await out.data(), expectedFor(target, values), { rtol: 0, atol: 0 }, `float32 -> ${target}`);
    poison('float32');
    const back = out.to('float32');
    assertClose(await back.data(), expectedFor(target, values).map(Math.fround), { rtol: 0, atol: 0 }, `${target} -> float32`);
  }
  const ints = hy.tensor([1, -7, 2049, 65536, 100000], { dtype: 'int32', device });
  assertClose(await ints.to('float16').data(), [1, -7, 2048, Infinity, Infinity], { rtol: 0, atol: 0 }, 'int32 -> float16');
  assert.is(src.to('float32'), src, 'same dtype returns the tensor itself');
});

eachBackend(s, 'item, toString and dispose', (device) => {
  const t = hy.tensor([[2.5]], { device });
  assert.is(t.item(), 2.5);
  assert.is(String(t), device === 'cuda' ? "tensor([[2.5000]], device='cuda:0')" : 'tensor([[2.5000]])');
  assertThrows(() => hy.zeros([2], { device }).item(), RangeError, /item: the tensor has 2 elements/);
  t.dispose();
  t.dispose();
  assert.ok(t.isDisposed);
  assertThrows(() => t.dataSync(), hy.DisposedError, /dataSync: the tensor was disposed/);
  assert.match(String(t), /disposed/);
});

s('Symbol.dispose frees a tensor at the end of a using block', () => {
  let ref: hy.Tensor | undefined;
  {
    using t = hy.zeros([4]);
    ref = t;
    assert.not.ok(t.isDisposed);
  }
  assert.ok(ref.isDisposed);
});

s('tidy disposes what it created, keeps what it returns, and nests', () => {
  const outer = hy.zeros([1]);
  let inner: hy.Tensor | undefined;
  let kept: hy.Tensor | undefined;
  const result = hy.tidy(() => {
    inner = hy.ones([3]);
    kept = hy.keep(hy.ones([1]));
    const nested = hy.tidy(() => {
      const a = hy.zeros([2]);
      const b = hy.ones([2]);
      return { b, list: [a] };
    });
    assert.not.ok(nested.b.isDisposed);
    return [nested.b];
  });
  assert.ok(inner!.isDisposed, 'intermediate disposed');
  assert.not.ok(result[0].isDisposed, 'returned tensor kept');
  assert.not.ok(kept!.isDisposed, 'kept tensor survives');
  assert.not.ok(outer.isDisposed, 'tensor from outside the scope untouched');
  let leaked: hy.Tensor | undefined;
  assert.throws(() =>
    hy.tidy(() => {
      leaked = hy.zeros([1]);
      throw new Error('boom');
    }),
  );
  assert.ok(leaked!.isDisposed, 'a throwing scope still disposes');
  assertThrows(() => hy.tidy((async () => hy.zeros([1])) as never), TypeError, /tidy: the function returned a Promise/);
});

eachBackend(s, 'clone copies, and shape/dtype/device describe the tensor', async (device) => {
  const a = hy.tensor([1, 2, 3], { device, dtype: 'float16' });
  const b = a.clone();
  a.dispose();
  assert.is(b.dtype, 'float16');
  assert.is(b.device, device);
  assert.equal(Array.from(await b.data()), [1, 2, 3]);
});

s('host<->device transfers, blocking and non-blocking, pinned and pageable', async () => {
  if (!hy.cuda.isAvailable()) {
    // Without CUDA, pinMemory is ordinary memory and still behaves as a cpu tensor.
    const p = hy.tensor([1, 2, 3]).pinMemory();
    assert.is(p.isPinned, false);
    assert.equal(Array.from(await p.data()), [1, 2, 3]);
    return;
  }
  for (const n of SIZES.concat([1 << 20])) {
    const values = randomArray(n, n, -5, 5);
    const expected = expectedFor('float32', values);
    const pageable = hy.tensor(values);
    const pinned = pageable.pinMemory();
    assert.ok(pinned.isPinned);
    for (const [src, nonBlocking] of [[pageable, false], [pageable, true], [pinned, false], [pinned, true]] as const) {
      const d = src.to('cuda', { nonBlocking });
      assert.is(d.device, 'cuda');
      const back = d.to('cpu', { nonBlocking });
      assertClose(back.dataSync(), expected, { rtol: 0, atol: 0 }, `n=${n} nonBlocking=${nonBlocking} pinned=${src.isPinned}`);
      assertClose(await d.data(), expected, { rtol: 0, atol: 0 }, 'device data()');
      d.dispose();
      back.dispose();
    }
  }
});

s.run();
