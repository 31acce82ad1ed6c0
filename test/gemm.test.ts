// The native gemm binding against the float64 oracle in reference/gemm.ts, on every backend.
import * as assert from 'uvu/assert';

import { info, type Device } from '../lib/index';
import { native, StorageHandle, type OpArgs } from '../lib/native';
import { assertThrows, eachBackend, presentBackends, randomArray, skipPart, skipped, suite, tolerance } from './harness';
import { roundToHalf } from './reference/half';
import { gemm as gemmOracle, GemmArgs } from './reference/gemm';

const s = suite('gemm');

type GemmDType = 'float32' | 'float16';
const DTYPES: GemmDType[] = ['float32', 'float16'];
const BYTES: Record<GemmDType, number> = { float32: 4, float16: 2 };
const SIZES = [1, 7, 33, 65, 130];

const extent = (batch: number, stride: number, size: number): number => (batch === 0 || size === 0 ? 0 : (batch - 1) * stride + size);

function args(M: number, N: number, K: number, more: Partial<GemmArgs> = {}): GemmArgs {
  return { M, N, K, transA: false, transB: false, alpha: 1, beta: 0, batch: 1, strideA: M * K, strideB: K * N, strideC: M * N, ...more };
}

/** The values a storage of dtype really holds, so the oracle sees exactly the kernel's inputs. */
function representable(dtype: GemmDType, x: ArrayLike<number>): Float64Array {
  return Float64Array.from(x, dtype === 'float16' ? roundToHalf : Math.fround);
}

function upload(device: Device, dtype: GemmDType, values: ArrayLike<number>): StorageHandle {
  const storage = native.alloc(device, Math.max(1, values.length) * BYTES[dtype]);
  if (values.length > 0) native.write(storage, dtype, Float32Array.from(values));
  return storage;
}

function callGemm(a: StorageHandle, b: StorageHandle, c: StorageHandle, dtype: GemmDType, g: GemmArgs, impl?: string): void {
  native.run('gemm', { a, b, c, dtype, ...g, ...(impl === undefined ? {} : { impl }) });
}

function maxAbs(x: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]));
  return m;
}

/**
 * Runs one gemm on fresh random inputs and compares every element of C's storage (gaps between
 * batch items included) with the oracle. The bound is the dtype's tolerance relative to the result
 * plus a term for the fp32 sum of K products, whose rounding grows with K and with the products'
 * size rather than with the (possibly cancelled) result. fp16 adds one rounding of the output,
 * which the relative 1e-2 covers.
 */
function check(device: Device, dtype: GemmDType, g: GemmArgs, seed: number, c0: 'nan' | 'random' | ArrayLike<number>, what: string, a0?: ArrayLike<number>, impl?: string): void {
  const nA = extent(g.batch, g.strideA, g.M * g.K);
  const nB = extent(g.batch, g.strideB, g.K * g.N);
  const nC = extent(g.batch, g.strideC, g.M * g.N);
  const a = a0 ?? representable(dtype, randomArray(nA, seed));
  const b = representable(dtype, randomArray(nB, seed + 1));
  const c = typeof c0 !== 'string' ? c0 : c0 === 'nan' ? new Float64Array(nC).fill(NaN) : representable(dtype, randomArray(nC, seed + 2, -2, 2));
  const [sa, sb, sc] = [upload(device, dtype, a), upload(device, dtype, b), upload(device, dtype, c)];
  try {
    callGemm(sa, sb, sc, dtype, g, impl);
    const got = native.read(sc, dtype, nC);
    const expected = gemmOracle(a, b, c, g);
    const tol = tolerance(dtype);
    const sumTerm = g.alpha === 0 ? 0 : (dtype === 'float32' ? 1e-6 : 1e-5) * g.K * Math.abs(g.alpha) * maxAbs(a) * maxAbs(b);
    for (let i = 0; i < nC; i++) {
      const e = expected[i];
      if (Number.isNaN(e)) {
        assert.ok(Number.isNaN(got[i]), `${what}: C[${i}] should be untouched (NaN), got ${got[i]}`);
        continue;
      }
      const bound = tol.atol + tol.rtol * Math.abs(e) + sumTerm;
      if (!(Math.abs(got[i] - e) <= bound)) {
        assert.unreachable(`${what}: C[${i}] = ${got[i]}, expected ${e} (|diff| ${Math.abs(got[i] - e)} > ${bound})`);
      }
    }
  } finally {
    sa.dispose();
    sb.dispose();
    sc.dispose();
  }
}

const label = (dtype: GemmDType, g: GemmArgs): string =>
  `${dtype} M=${g.M} N=${g.N} K=${g.K}${g.transA ? ' transA' : ''}${g.transB ? ' transB' : ''} batch=${g.batch} alpha=${g.alpha} beta=${g.beta}`;

eachBackend(s, 'matches the oracle at odd sizes in all four transpose combinations (C poisoned with NaN, beta 0)', (device) => {
  let seed = 1;
  for (const dtype of DTYPES) {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        for (const M of SIZES) {
          for (const N of SIZES) {
            for (const K of SIZES) {
              const g = args(M, N, K, { transA, transB });
              check(device, dtype, g, (seed += 3), 'nan', label(dtype, g));
            }
          }
        }
      }
    }
  }
});

// Each CPU micro-kernel (portable, AVX2, AVX-512: register tiles MR x NR, cache blocks MC, KC, NC)
// at the sizes that select its edges: 1, one past a tile, one past each cache block, and all three.
const CPU_GEMM_BLOCKS: Record<string, { MR: number; NR: number; MC: number; KC: number; NC: number }> = {
  portable: { MR: 4, NR: 8, MC: 64, KC: 256, NC: 256 },
  avx2: { MR: 6, NR: 16, MC: 96, KC: 128, NC: 512 },
  avx512: { MR: 8, NR: 32, MC: 128, KC: 256, NC: 512 },
};
// The AVX-512 implementation's second tile, 16 x 16, which it picks for N <= 16 (cpu/gemm.cpp).
const AVX512_NARROW = { MR: 16, NR: 16, MC: 128, KC: 256 };

s('every CPU gemm implementation matches the oracle at its tile and block edges', () => {
  const impls = native.ops().find((o) => o.name === 'gemm')!.impls.cpu;
  const known = process.arch === 'x64' ? Object.keys(CPU_GEMM_BLOCKS) : ['portable']; // the vector kernels are x86-64's
  assert.equal([...impls].sort(), known.sort(), 'the CPU implementations this test knows');
  let seed = 7000;
  let ran = 0;
  for (const impl of impls) {
    const probe = upload('cpu', 'float32', [1]);
    const out = upload('cpu', 'float32', [0]);
    let applies = true;
    try {
      callGemm(probe, probe, out, 'float32', args(1, 1, 1), impl);
    } catch (e) {
      if (!(e instanceof RangeError) || !/does not apply/.test(e.message)) throw e;
      applies = false;
    }
    probe.dispose();
    out.dispose();
    if (!applies) {
      skipPart(`gemm > every CPU gemm implementation: '${impl}' does not apply on this CPU`);
      continue;
    }
    const b = CPU_GEMM_BLOCKS[impl];
    const shapes: [number, number, number][] = [
      [1, 1, 1], [7, 33, 7], [b.MR + 1, b.NR + 1, 3], [b.MR - 1, b.NR - 1, b.KC + 1],
      [b.MC + 1, 7, 33], [5, b.NC + 1, 9], [b.MC + 1, b.NC + 1, b.KC + 1],
      // Fewer blocks than threads with enough work to share (>= 2^21 multiply-adds): the blocks
      // narrow until each thread has one, with partial tiles at the narrowed edges.
      [b.MR, 3 * b.NR + 5, 9000], [2 * b.MR + 3, b.NR + 1, 12000],
      // A block column's B over the whole K past 2^22 floats: packed one K chunk at a time, not once.
      [3, b.NC + 1, Math.ceil(2 ** 22 / b.NC) + 7],
    ];
    if (impl === 'avx512') {
      // N <= 16 selects the 16 x 16 tile: its tile and block edges at 1, 7, 10 (the seed network's
      // classes), 15 and 16 columns, and enough work to share, where the blocks narrow to one tile.
      const n = AVX512_NARROW;
      shapes.push(
        [n.MR + 1, 16, 3], [n.MR - 1, 15, n.KC + 1], [n.MC + 1, 7, 33], [n.MC + 1, 10, n.KC + 1],
        [64, 10, 128], [2 * n.MR + 3, 1, 9], [n.MR, 16, 9000], [2 * n.MR + 3, 10, 12000],
      );
    }
    for (const dtype of DTYPES) {
      for (const [M, N, K] of shapes) {
        for (const [transA, transB] of [[false, false], [true, true]] as const) {
          const g = args(M, N, K, { transA, transB });
          check('cpu', dtype, g, (seed += 3), 'nan', `${impl} ${label(dtype, g)}`, undefined, impl);
        }
      }
      const batched = args(b.MR + 1, b.NR + 1, 5, { batch: 3, strideA: 0, strideC: (b.MR + 1) * (b.NR + 1) + 2, alpha: 0.5, beta: 1 });
      check('cpu', dtype, batched, (seed += 3), 'random', `${impl} ${label(dtype, batched)}`, undefined, impl);
      // Enough work to share (>= 2^21 multiply-adds) over block columns, one per batch item: the
      // threads take whole columns, each two blocks of rows tall (one past a block in M). 4 columns
      // divide evenly among 2 or 4 threads; 9 are many enough to take unevenly.
      for (const batch of [4, 9]) {
        const columns = args(b.MC + 1, b.NR + 1, 1000, { batch, strideB: 0, alpha: 1, beta: 0 });
        check('cpu', dtype, columns, (seed += 3), 'random', `${impl} ${label(dtype, columns)}`, undefined, impl);
      }
    }
    ran++;
  }
  assert.ok(ran >= 1, 'the portable implementation always applies');
});

eachBackend(s, 'batch 3 with padded strides, a broadcast (stride 0) operand, and beta 1 accumulating', (device) => {
  for (const dtype of DTYPES) {
    const cases = [
      // A broadcast; B and C padded so a wrong stride reads or writes the gaps.
      args(7, 33, 65, { transB: true, batch: 3, strideA: 0, strideB: 33 * 65 + 5, strideC: 7 * 33 + 3, alpha: 0.5, beta: 1 }),
      // B broadcast, A transposed and padded.
      args(33, 7, 7, { transA: true, batch: 3, strideA: 33 * 7 + 1, strideB: 0, strideC: 33 * 7, alpha: -1.5, beta: 1 }),
      // Both transposed, beta scaling rather than accumulating.
      args(65, 1, 130, { transA: true, transB: true, batch: 3, strideA: 65 * 130, strideB: 130 + 2, strideC: 65 + 4, alpha: 2, beta: -0.25 }),
    ];
    cases.forEach((g, i) => {
      check(device, dtype, g, 100 + i * 10, 'random', label(dtype, g));
      check(device, dtype, { ...g, beta: 0 }, 200 + i * 10, 'nan', label(dtype, { ...g, beta: 0 }));
    });
  }
});

eachBackend(s, 'sizes past every CPU cache block and the large GPU tiles', (device) => {
  for (const dtype of DTYPES) {
    // K past two CPU K blocks and N past one N block.
    const deep = args(65, 300, 600, { alpha: 0.75, beta: 1 });
    check(device, dtype, deep, 300, 'random', label(dtype, deep));
    // 9 x 9 tiles of 128 per item, 162 in all: enough to pick the large GPU tiles on any card.
    const wide = args(1040, 1040, 33, { transB: true, batch: 2, strideB: 0 });
    check(device, dtype, wide, 400, 'nan', label(dtype, wide));
  }
});

// cuda/gemm.cu takes the 128 x 128 tile kernels (both dtypes) once the product has at least one
// 128-tile per multiprocessor: ceil(M / 128) * ceil(N / 128) * batch >= multiProcessors (132 on an
// H100). Many small batch items reach that with little work, so these stay cheap on an emulated
// device, and each item still has a partial tile in M or N and a partial K step (BK 8 / 32).
const multiProcessors = info().cuda.device?.multiProcessors ?? 132;
const tiles128 = (g: GemmArgs): number => Math.ceil(g.M / 128) * Math.ceil(g.N / 128) * g.batch;

eachBackend(s, 'many small batch items select the large GPU tiles and cross their edges', (device) => {
  const perItem = 2; // both shapes below span two 128-tiles
  const batch = Math.ceil(multiProcessors / perItem);
  for (const dtype of DTYPES) {
    const cases = [
      // M one past a tile, C padded between items so a stray write lands in a NaN gap.
      args(129, 5, 33, { batch, strideA: 129 * 33 + 3, strideC: 129 * 5 + 2 }),
      // N one past a tile, both transposed, B broadcast, beta accumulating.
      args(3, 130, 9, { transA: true, transB: true, batch, strideB: 0, alpha: -0.5, beta: 1 }),
    ];
    cases.forEach((g, i) => {
      assert.ok(tiles128(g) >= multiProcessors, `${label(dtype, g)}: ${tiles128(g)} large tiles for ${multiProcessors} multiprocessors`);
      check(device, dtype, g, 450 + i * 10, g.beta === 0 ? 'nan' : 'random', label(dtype, g));
    });
  }
});

eachBackend(s, 'K 0 leaves beta * C, alpha 0 never reads A, and empty shapes change nothing', (device) => {
  for (const dtype of DTYPES) {
    check(device, dtype, args(7, 33, 0, { beta: 2 }), 500, 'random', `${dtype} K 0, beta 2`);
    check(device, dtype, args(7, 33, 0), 510, 'nan', `${dtype} K 0, beta 0 writes zeros over NaN`);
    const nanA = new Float64Array(7 * 65).fill(NaN);
    check(device, dtype, args(7, 33, 65, { alpha: 0, beta: 0.5 }), 520, 'random', `${dtype} alpha 0 with NaN in A`, nanA);
    for (const g of [args(0, 33, 7), args(7, 0, 7), args(7, 33, 7, { batch: 0 })]) {
      const c = representable(dtype, randomArray(7 * 33, 530));
      const sc = upload(device, dtype, c);
      const sa = upload(device, dtype, randomArray(7 * 7, 531));
      const sb = upload(device, dtype, randomArray(7 * 33, 532));
      callGemm(sa, sb, sc, dtype, { ...g, beta: 3 });
      assert.equal(Array.from(native.read(sc, dtype, c.length)), Array.from(c), `${label(dtype, g)}: C unchanged`);
      for (const x of [sa, sb, sc]) x.dispose();
    }
  }
});

s('bad arguments are rejected with messages naming gemm and the value', () => {
  const a = native.alloc('cpu', 7 * 33 * 4);
  const b = native.alloc('cpu', 33 * 5 * 4);
  const c = native.alloc('cpu', 7 * 5 * 4);
  const small = native.alloc('cpu', 8);
  const call = (over: Record<string, unknown> = {}): (() => void) => {
    const base = { a, b, c, dtype: 'float32', M: 7, N: 5, K: 33, transA: false, transB: false, alpha: 1, beta: 0, batch: 1, strideA: 0, strideB: 0, strideC: 0 };
    return () => native.run('gemm', { ...base, ...over } as OpArgs);
  };
  try {
    call()(); // the baseline is valid
    assertThrows(call({ dtype: 'int32' }), RangeError, /^gemm: dtype must be one of 'float32', 'float16', got 'int32'$/, 'int32');
    assertThrows(call({ dtype: 'float64' }), RangeError, /^gemm: dtype must be one of 'float32', 'float16', got 'float64'$/, 'unknown dtype');
    assertThrows(call({ dtype: 0 }), TypeError, /^gemm: dtype must be one of 'float32', 'float16', got 0$/, 'a dtype code instead of its name');
    assertThrows(call({ M: -1 }), RangeError, /^gemm: M must be a non-negative integer below 2\^53, got -1$/, 'negative M');
    assertThrows(call({ K: 2.5 }), RangeError, /^gemm: K must be a non-negative integer below 2\^53, got 2\.50*$/, 'fractional K');
    assertThrows(call({ batch: -3 }), RangeError, /^gemm: batch must be a non-negative integer below 2\^53, got -3$/, 'negative batch');
    assertThrows(call({ N: 2 ** 31 }), RangeError, /^gemm: N must be at most 2147483647, got 2147483648$/, 'huge N');
    assertThrows(call({ M: 8 }), RangeError, /^gemm: a must be a storage of 264 float32 elements \(1056 bytes\), got one of 924 bytes$/, 'a too small for M');
    assertThrows(call({ K: 34 }), RangeError, /^gemm: a must be a storage of 238 float32 elements \(952 bytes\), got one of 924 bytes$/, 'a too small for K');
    assertThrows(call({ N: 6 }), RangeError, /^gemm: b must be a storage of 198 float32 elements \(792 bytes\), got one of 660 bytes$/, 'b too small for N');
    assertThrows(call({ transB: true, N: 6 }), RangeError, /^gemm: b must be a storage of 198 float32 elements/, 'b read as N x K');
    assertThrows(call({ c: small }), RangeError, /^gemm: c must be a storage of 35 float32 elements \(140 bytes\), got one of 8 bytes$/, 'c too small');
    assertThrows(call({ c: small, dtype: 'float16' }), RangeError, /^gemm: c must be a storage of 35 float16 elements \(70 bytes\), got one of 8 bytes$/, 'float16 sizes');
    assertThrows(call({ batch: 2, strideC: 35, strideA: 1 }), RangeError, /^gemm: a must be a storage of 232 float32 elements \(928 bytes\)/, 'a too small for batch');
    assertThrows(call({ batch: 2, strideC: 34 }), RangeError, /^gemm: strideC must be at least M\*N = 35 so batch items do not overlap, got 34$/, 'overlapping C');
    assertThrows(call({ batch: 2 ** 31 - 1, strideA: 2 ** 53 - 1, strideC: 35 }), RangeError,
      /^gemm: a's extent must be at most 2\^52 elements, got a count that overflows$/, 'overflow');
    assertThrows(call({ c: a }), RangeError, /^gemm: c must be a storage other than a and b, got one of them$/, 'c aliases a');
    assertThrows(call({ transA: 1 }), TypeError, /^gemm: transA must be a boolean, got 1$/, 'transA');
    assertThrows(call({ alpha: Infinity }), RangeError, /^gemm: alpha must be a finite float32, got Infinity$/, 'alpha');
    assertThrows(call({ beta: 1e300 }), RangeError, /^gemm: beta must be a finite float32/, 'beta beyond float32');
    assertThrows(call({ beta: NaN }), RangeError, /^gemm: beta must be a number other than NaN, got NaN$/, 'beta NaN');
    assertThrows(call({ b: new Float32Array(4) }), TypeError, /^gemm: b must be a Storage, got a typed array$/, 'b not a storage');
    const gone = native.alloc('cpu', 64);
    gone.dispose();
    assertThrows(call({ a: gone }), Error, /^gemm: a: the tensor's storage was disposed$/, 'disposed a');
  } finally {
    for (const x of [a, b, c, small]) x.dispose();
  }
});

const mixedName = 'storages on different devices are rejected';
if (presentBackends.includes('cuda')) {
  s(mixedName, () => {
    const a = native.alloc('cpu', 16);
    const b = native.alloc('cuda', 16);
    const c = native.alloc('cpu', 16);
    try {
      const gemm = (x: StorageHandle, y: StorageHandle, z: StorageHandle) => () => native.run('gemm', {
        a: x, b: y, c: z, dtype: 'float32', M: 2, N: 2, K: 1, transA: false, transB: false, alpha: 1, beta: 0, batch: 1, strideA: 0, strideB: 0, strideC: 0,
      });
      assertThrows(gemm(a, b, c), RangeError, /^gemm: b must be on cpu like a, got cuda$/, 'b on cuda');
      assertThrows(gemm(a, c, b), RangeError, /^gemm: c must be on cpu like a, got cuda$/, 'c on cuda');
    } finally {
      for (const x of [a, b, c]) x.dispose();
    }
  });
} else {
  skipped.push(`gemm > ${mixedName}: cuda not available`);
  s.skip(mixedName, () => undefined);
}

s.run();
