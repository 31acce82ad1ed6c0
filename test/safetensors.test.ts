import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import * as hy from '../lib/index';
import type { Device, Tensor } from '../lib/index';
import * as st from '../lib/serialize/index';
import { SafetensorsError } from '../lib/serialize/index';
import { assertThrows, collectGarbage, eachBackend, presentBackends, rng, suite } from './harness';

const s = suite('safetensors');

const dir = mkdtempSync(join(tmpdir(), 'hayate-safetensors-'));
s.after(() => rmSync(dir, { recursive: true, force: true }));
let fileCount = 0;
const newFile = (stem = 'f') => join(dir, `${stem}-${fileCount++}.safetensors`);

/** Registers a per-backend case that must leave cpu and device memory where it found them. */
function leakChecked(name: string, fn: (device: Device) => void | Promise<void>): void {
  eachBackend(s, name, async (device) => {
    await collectGarbage();
    const pools = [...new Set<Device>(['cpu', device])];
    const before = pools.map((p) => hy.memory.stats(p).liveBytes);
    await fn(device);
    assert.equal(pools.map((p) => hy.memory.stats(p).liveBytes), before, `${name} [${device}]: every tensor of the test was disposed`);
  });
}

/** Every tensor in a loaded value. */
function tensorsIn(v: unknown, out: Tensor[] = []): Tensor[] {
  if (v instanceof hy.Tensor) out.push(v);
  else if (Array.isArray(v)) for (const x of v) tensorsIn(x, out);
  else if (v !== null && typeof v === 'object') for (const x of Object.values(v)) tensorsIn(x, out);
  return out;
}
const disposeAll = (v: unknown) => tensorsIn(v).forEach((t) => t.dispose());

const f32Bytes = (a: number[]) => new Uint8Array(new Float32Array(a).buffer);
const concat = (parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

/** A file's bytes from a header (a string, or an object to stringify), space padding and the data. */
function stFile(header: string | object, data: Uint8Array[] = [], opts: { pad?: number; length?: bigint } = {}): Uint8Array {
  const text = (typeof header === 'string' ? header : JSON.stringify(header)) + ' '.repeat(opts.pad ?? 0);
  const json = Buffer.from(text, 'utf8');
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, opts.length ?? BigInt(json.length), true);
  return concat([len, json, ...data]);
}

function writeFixture(bytes: Uint8Array, stem = 'fixture'): string {
  const file = newFile(stem);
  writeFileSync(file, bytes);
  return file;
}

/** Parses a file by hand, as another reader would: the length, the header and each entry's bytes. */
function parseByHand(bytes: Uint8Array): { n: number; text: string; header: Record<string, unknown>; data: Uint8Array } {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const text = Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8');
  return { n, text, header: JSON.parse(text) as Record<string, unknown>, data: bytes.subarray(8 + n) };
}

const bits32 = (a: Float32Array | Int32Array | Uint8Array) => (a instanceof Uint8Array ? Array.from(a) : Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length)));

/** A file's bytes from raw header bytes (invalid UTF-8, say). */
function rawHeaderFile(header: Uint8Array): Uint8Array {
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, BigInt(header.length), true);
  return concat([len, header]);
}

/** Asserts op(file) fails with a SafetensorsError naming the op, the file (and the tensor, if given). */
function assertBadFile(file: string, pattern: RegExp, tensor?: string, op: 'load' | 'inspect' | 'loadMetadata' = 'load'): void {
  let thrown: unknown;
  try {
    disposeAll(st[op](file));
  } catch (e) {
    thrown = e;
  }
  assert.ok(thrown instanceof SafetensorsError, `${pattern}: expected a SafetensorsError, got ${String(thrown)}`);
  const e = thrown as SafetensorsError;
  assert.is(e.code, 'ERR_SAFETENSORS');
  assert.is(e.file, file);
  assert.is(e.tensor, tensor, `${e.message}: the tensor at fault`);
  assert.ok(e.message.startsWith(`${op}: ${file}: ${tensor === undefined ? '' : `tensor '${tensor}': `}`), e.message);
  assert.match(e.message, pattern);
}

// ---- round trips ----

leakChecked('a flat state dict of float32, float16 and int32 (0-d and empty included) comes back bit for bit', (device) => {
  hy.manualSeed(7);
  const sd: Record<string, Tensor> = {
    'layer.0.weight': hy.randn([3, 4], { device }),
    'layer.0.bias': hy.randn([4], { device }),
    half: hy.randn([5], { dtype: 'float16', device }), // odd element count: 10 bytes
    halfEven: hy.randn([2, 2], { dtype: 'float16', device }),
    ids: hy.tensor(new Int32Array([0, -1, 2147483647, -2147483648]), { device }),
    scalar: hy.tensor(2.5, { device }),
    intScalar: hy.tensor(7, { dtype: 'int32', device }),
    empty: hy.zeros([0, 4], { device }),
    emptyHalf: hy.zeros([3, 0], { dtype: 'float16', device }),
  };
  const file = newFile('flat');
  st.save(sd, file, { metadata: { format: 'pt', note: 'héllo' } });
  const back = st.load<Record<string, Tensor>>(file, { device });
  assert.equal(Object.keys(back).sort(), Object.keys(sd).sort());
  for (const [name, t] of Object.entries(sd)) {
    const b = back[name];
    assert.is(b.dtype, t.dtype, name);
    assert.equal(b.shape, t.shape, name);
    assert.is(b.device, device, name);
    assert.equal(bits32(b.dataSync()), bits32(t.dataSync()), `${name}: values bit-identical`);
  }
  // float16 as raw bits: saving what was loaded gives the same bytes
  const again = newFile('flat-again');
  st.save(back, again, { metadata: { format: 'pt', note: 'héllo' } });
  assert.equal(readFileSync(again), readFileSync(file), 'a loaded and re-saved file is byte-identical');
  assert.equal(st.loadMetadata(file), { format: 'pt', note: 'héllo' });
  disposeAll(sd);
  disposeAll(back);
});

leakChecked('a nested checkpoint: numbers, strings, null, booleans, arrays and tensors, awkward keys included', (device) => {
  const w = hy.tensor([[1, 2], [3, 4]], { device });
  const m = hy.tensor([0.5, -0.25], { dtype: 'float16', device });
  const ckpt = {
    model: { 'layer.0.weight': w, '~tilde': hy.tensor([1], { device }) },
    optimizer: {
      state: { 0: { step: 3, expAvg: m, expAvgSq: hy.tensor([9], { device }) } },
      paramGroups: [{ lr: 1e-3, betas: [0.9, 0.999], params: [0, 1], amsgrad: false, name: null, skipped: undefined }],
    },
    epoch: 7,
    tag: 'run-1 ✓',
    $ref: { $tensor: 'not a tensor' },
    __metadata__: hy.tensor(new Int32Array([5]), { device }),
    __proto__key: { ['__proto__']: 1 } as Record<string, number>,
    list: [hy.tensor(new Int32Array([1, 2, 3]), { device }), 1, 'two', [null, true, -0.5]],
    empty: {},
    emptyList: [] as unknown[],
  };
  const file = newFile('tree');
  st.save(ckpt, file, { metadata: { producer: 'test' } });
  const info = st.inspect(file);
  assert.equal(
    info.tensors.map((t) => t.name).sort(),
    ['model.layer~10~1weight', 'model.~0tilde', 'optimizer.state.0.expAvg', 'optimizer.state.0.expAvgSq', '~__metadata__', 'list.0'].sort(),
    'entries are named by dotted paths, "~" and "." escaped as ~0 and ~1',
  );
  assert.is(info.metadata.producer, 'test');
  const back = st.load<typeof ckpt>(file, { device });
  const plain = (v: unknown): unknown =>
    v instanceof hy.Tensor ? { dtype: v.dtype, shape: v.shape, device: v.device, values: Array.from(v.dataSync()) } : Array.isArray(v) ? v.map(plain) : v !== null && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)])) : v;
  const expected = plain(ckpt) as Record<string, unknown>;
  delete ((expected.optimizer as { paramGroups: Record<string, unknown>[] }).paramGroups[0]).skipped;
  assert.equal(plain(back), expected);
  assert.ok(Object.prototype.hasOwnProperty.call(back.__proto__key, '__proto__'), 'a "__proto__" key is an own property');
  assert.is(Object.getPrototypeOf(back.__proto__key), Object.prototype);
  assert.is(tensorsIn(back).length, 6);
  disposeAll(ckpt);
  disposeAll(back);
});

leakChecked('an Adam stateDict saved in a checkpoint restores into a fresh optimizer', (device) => {
  const make = () => hy.tensor([1, -2, 3], { device, requiresGrad: true });
  const p = make();
  const opt = new hy.optim.Adam([p], { lr: 0.1 });
  for (let i = 0; i < 2; i++) {
    opt.zeroGrad();
    const loss = hy.tidy(() => hy.sum(hy.mul(p, p)));
    loss.backward();
    loss.dispose();
    opt.step();
  }
  const sd = opt.stateDict();
  const file = newFile('adam');
  st.save({ optimizer: sd, epoch: 2 }, file);
  const back = st.load<{ optimizer: typeof sd; epoch: number }>(file, { device });
  assert.is(back.epoch, 2);
  const q = make();
  const opt2 = new hy.optim.Adam([q], { lr: 0.1 });
  opt2.loadStateDict(back.optimizer);
  const sd2 = opt2.stateDict();
  assert.equal(sd2.paramGroups, sd.paramGroups);
  assert.equal(Object.keys(sd2.state), Object.keys(sd.state));
  for (const [k, e] of Object.entries(sd.state)) {
    const e2 = sd2.state[Number(k)];
    for (const [name, v] of Object.entries(e)) {
      if (typeof v === 'number') assert.is(e2[name], v, name);
      else assert.equal(bits32((e2[name] as Tensor).dataSync()), bits32(v.dataSync()), name);
    }
  }
  disposeAll(sd);
  disposeAll(sd2);
  disposeAll(back);
  opt.dispose();
  opt2.dispose();
  p.dispose();
  q.dispose();
});

leakChecked('saveAsync writes the same bytes as save; disposing a tensor before it is read fails cleanly', async (device) => {
  const sd = { a: hy.tensor([1, 2, 3], { device }), h: hy.tensor([1, 2, 3], { dtype: 'float16', device }), i: hy.tensor(new Int32Array([4]), { device }) };
  const f1 = newFile('sync');
  const f2 = newFile('async');
  st.save({ sd, n: 1 }, f1);
  await st.saveAsync({ sd, n: 1 }, f2);
  assert.equal(readFileSync(f2), readFileSync(f1));
  const doomed = hy.tensor([5], { device });
  const pending = st.saveAsync({ a: sd.a, z: doomed }, f2);
  doomed.dispose();
  let err: unknown;
  try {
    await pending;
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof hy.DisposedError, String(err));
  assert.match((err as Error).message, /^saveAsync: tensor 'z': the tensor was disposed$/);
  assert.equal(readFileSync(f2), readFileSync(f1), 'the previous file is intact');
  assert.equal(readdirSync(dir).filter((f) => f.includes('.tmp-')), [], 'no temporary file is left');
  disposeAll(sd);
});

// ---- the layout against the format ----

s('save writes the format exactly: 8-byte length, space-padded JSON, contiguous data in the reference order', () => {
  const sd = {
    b16: hy.tensor([1, 2, 3], { dtype: 'float16' }),
    z32: hy.tensor([[1.5, -2], [3, 4]]),
    a32: hy.tensor(new Int32Array([-7, 8])),
    s: hy.tensor(0.25),
  };
  const file = newFile('layout');
  st.save(sd, file, { metadata: { format: 'pt' } });
  const bytes = new Uint8Array(readFileSync(file));
  const { n, text, header, data } = parseByHand(bytes);
  assert.is(n % 8, 0, 'the data starts 8-aligned, as the reference writer pads');
  assert.ok(/^\{.*\} *$/.test(text), `JSON then spaces only: ${JSON.stringify(text)}`);
  assert.equal(header.__metadata__, { format: 'pt' });
  const entries = Object.entries(header).filter(([k]) => k !== '__metadata__') as [string, { dtype: string; shape: number[]; data_offsets: [number, number] }][];
  assert.equal(entries.map(([k]) => k), ['a32', 's', 'z32', 'b16'], '4-byte dtypes before 2-byte ones, then by name (the reference order)');
  let at = 0;
  const size: Record<string, number> = { F32: 4, F16: 2, I32: 4 };
  for (const [name, e] of entries) {
    assert.equal(Object.keys(e).sort(), ['data_offsets', 'dtype', 'shape'], name);
    assert.is(e.data_offsets[0], at, `${name} starts where the previous ends`);
    assert.is(e.data_offsets[1] - e.data_offsets[0], e.shape.reduce((p, d) => p * d, 1) * size[e.dtype], `${name}: numel * item size`);
    at = e.data_offsets[1];
  }
  assert.is(at, data.length, 'the data is exactly covered');
  const slice = (name: string) => {
    const [b, e] = (header[name] as { data_offsets: [number, number] }).data_offsets;
    return Array.from(data.subarray(b, e));
  };
  assert.equal(header.z32, { dtype: 'F32', shape: [2, 2], data_offsets: [12, 28] });
  assert.equal(header.s, { dtype: 'F32', shape: [], data_offsets: [8, 12] });
  assert.equal(slice('z32'), Array.from(f32Bytes([1.5, -2, 3, 4])));
  assert.equal(slice('a32'), Array.from(new Uint8Array(new Int32Array([-7, 8]).buffer)));
  assert.equal(slice('b16'), Array.from(new Uint8Array(new Uint16Array([0x3c00, 0x4000, 0x4200]).buffer)), 'float16 as half bits');
  disposeAll(sd);
});

leakChecked('a file written as PyTorch safetensors would (padded header, every convertible dtype) loads with the right values', (device) => {
  const f16bits = new Uint16Array([0x7c01, 0xfe00, 0x0001, 0x8000, 0x7c00, 0x3c00, 0x7bff]); // sNaN, -qNaN, subnormal, -0, inf, 1, max
  const bf16 = new Uint16Array([0x3fc0, 0xc010, 0x4049, 0x7fc1]); // 1.5, -2.25, 3.140625, a NaN with a payload
  const parts: [string, string, number[], Uint8Array][] = [
    ['weight', 'F32', [2, 3], f32Bytes([1, 2, 3, 4, 5, 6])],
    ['half', 'F16', [7], new Uint8Array(f16bits.buffer)],
    ['bf', 'BF16', [2, 2], new Uint8Array(bf16.buffer)],
    ['double', 'F64', [3], new Uint8Array(new Float64Array([0.1, 1e40, -3.5]).buffer)],
    ['long', 'I64', [3], new Uint8Array(new BigInt64Array([-3n, 2147483647n, -2147483648n]).buffer)],
    ['int', 'I32', [], new Uint8Array(new Int32Array([42]).buffer)],
    ['short', 'I16', [2], new Uint8Array(new Int16Array([-32768, 32767]).buffer)],
    ['ushort', 'U16', [2], new Uint8Array(new Uint16Array([0, 65535]).buffer)],
    ['byte', 'I8', [2], new Uint8Array(new Int8Array([-128, 127]).buffer)],
    ['ubyte', 'U8', [3], new Uint8Array([0, 200, 255])],
    ['flag', 'BOOL', [3], new Uint8Array([1, 0, 1])],
    ['none', 'F32', [0], new Uint8Array(0)],
  ];
  let at = 0;
  const fields = ['"__metadata__":{"format":"pt"}'];
  for (const [name, dtype, shape, bytes] of parts) {
    fields.push(`"${name}":{"dtype":"${dtype}","shape":[${shape.join(',')}],"data_offsets":[${at},${at + bytes.length}]}`);
    at += bytes.length;
  }
  const file = writeFixture(stFile(`{${fields.join(', ')}}`, parts.map((p) => p[3]), { pad: 13 }), 'torch');
  const r = st.load<Record<string, Tensor>>(file, { device });
  assert.equal(Object.keys(r), parts.map((p) => p[0]), 'the header order');
  const got = (name: string) => Array.from(r[name].dataSync());
  const dtypes = Object.fromEntries(Object.entries(r).map(([k, t]) => [k, `${t.dtype} [${t.shape.join(',')}] ${t.device}`]));
  assert.equal(dtypes, {
    weight: `float32 [2,3] ${device}`, half: `float16 [7] ${device}`, bf: `float32 [2,2] ${device}`, double: `float32 [3] ${device}`,
    long: `int32 [3] ${device}`, int: `int32 [] ${device}`, short: `int32 [2] ${device}`, ushort: `int32 [2] ${device}`,
    byte: `int32 [2] ${device}`, ubyte: `int32 [3] ${device}`, flag: `bool [3] ${device}`, none: `float32 [0] ${device}`,
  });
  assert.equal(got('weight'), [1, 2, 3, 4, 5, 6]);
  assert.equal(bits32(r.bf.dataSync()), [0x3fc00000, 0xc0100000, 0x40490000, 0x7fc10000], 'BF16 is the top half of float32, NaN payload kept');
  assert.equal(got('double'), [Math.fround(0.1), Infinity, -3.5]);
  assert.equal(got('long'), [-3, 2147483647, -2147483648]);
  assert.equal(got('int'), [42]);
  assert.equal(got('short'), [-32768, 32767]);
  assert.equal(got('ushort'), [0, 65535]);
  assert.equal(got('byte'), [-128, 127]);
  assert.equal(got('ubyte'), [0, 200, 255]);
  assert.equal(got('flag'), [1, 0, 1]);
  const h = got('half');
  assert.equal(h.slice(2), [2 ** -24, -0, Infinity, 1, 65504]);
  assert.ok(Number.isNaN(h[0]) && Number.isNaN(h[1]));
  // the half bits themselves survive loading and saving (never a trip through float32)
  const out = newFile('torch-resaved');
  st.save({ half: r.half }, out);
  const { header, data } = parseByHand(new Uint8Array(readFileSync(out)));
  assert.equal(header.half, { dtype: 'F16', shape: [7], data_offsets: [0, 14] });
  assert.equal(Array.from(new Uint16Array(data.slice().buffer)), Array.from(f16bits), 'float16 bits, NaN payloads included');
  disposeAll(r);
});

s('I64 values outside int32 and dtypes hayate does not load are errors naming the file and the tensor', () => {
  const big = writeFixture(stFile({ ok: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, x: { dtype: 'I64', shape: [2], data_offsets: [4, 20] } }, [f32Bytes([1]), new Uint8Array(new BigInt64Array([1n, 2147483648n]).buffer)]));
  assertThrows(() => st.load(big), RangeError, new RegExp(`^load: ${big}: tensor 'x': the I64 value 2147483648 at index 1 does not fit in int32$`));
  const neg = writeFixture(stFile({ x: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, [new Uint8Array(new BigInt64Array([-(2n ** 40n)]).buffer)]));
  assertThrows(() => st.load(neg), RangeError, /the I64 value -1099511627776 at index 0 does not fit in int32/);
  for (const dtype of ['F8_E4M3', 'F8_E5M2', 'C64', 'U32', 'U64']) {
    const size = dtype.startsWith('F8') ? 1 : dtype === 'U32' ? 4 : 8;
    const file = writeFixture(stFile({ t: { dtype, shape: [2], data_offsets: [0, 2 * size] } }, [new Uint8Array(2 * size)]));
    assertBadFile(file, new RegExp(`dtype ${dtype} is not one hayate loads \\(it loads F32, F16, I32, F64, BF16, I64, I16, U16, I8, U8, BOOL\\)$`), 't');
    assert.equal(st.inspect(file).tensors, [{ name: 't', dtype, shape: [2], dataOffsets: [0, 2 * size] }], 'inspect still describes it');
  }
  const unknown = writeFixture(stFile({ t: { dtype: 'Q7', shape: [1], data_offsets: [0, 1] } }, [new Uint8Array(1)]));
  assertBadFile(unknown, /dtype must be one of the safetensors dtypes \(BOOL, .*\), got 'Q7'$/, 't');
  assertBadFile(unknown, /got 'Q7'/, 't', 'inspect');
  assertBadFile(unknown, /got 'Q7'/, 't', 'loadMetadata');
});

// ---- hostile and broken files ----

s('broken or hostile files are SafetensorsErrors naming the file and the tensor', async () => {
  await collectGarbage();
  const live = hy.memory.stats('cpu').liveBytes;
  const e4 = (name: string, begin: number, end: number, dtype = 'F32', shape: unknown = [(end - begin) / 4]) => ({ [name]: { dtype, shape, data_offsets: [begin, end] } });
  const cases: [string, Uint8Array, RegExp, string?][] = [
    ['empty file', new Uint8Array(0), /^load: .*: the file has 0 bytes, fewer than the 8 of the header length$/],
    ['7 bytes', new Uint8Array(7), /the file has 7 bytes, fewer than the 8 of the header length$/],
    ['length 2^64-1', stFile('{}', [], { length: 2n ** 64n - 1n }), /the header length 18446744073709551615 is more than the limit of 100000000 bytes$/],
    ['length past the limit', stFile('{}', [], { length: 100_000_001n }), /the header length 100000001 is more than the limit/],
    ['length past the end', stFile('{}', [], { length: 3n }), /the header length 3 runs past the end of the file \(2 bytes after the length\)$/],
    ['empty header', stFile(''), /the header must start with '\{', got ''$/],
    ['a BOM', stFile('\ufeff{}'), /the header must start with '\{'/],
    ['not UTF-8', rawHeaderFile(concat([Buffer.from('{"a":"'), new Uint8Array([0xff, 0xfe]), Buffer.from('"}')])), /the header is not valid UTF-8$/],
    ['a lone surrogate in UTF-8', rawHeaderFile(concat([Buffer.from('{"a":"'), new Uint8Array([0xed, 0xa0, 0x80]), Buffer.from('"}')])), /the header is not valid UTF-8$/],
    ['not JSON', stFile('{"a":'), /the header is not valid JSON: expected a value, found the end at character 5$/],
    ['garbage after the JSON', stFile('{} x'), /the header is not valid JSON: 'x' after the end of the JSON value at character 3$/],
    ['a bad escape', stFile('{"\\q":1}'), /the header is not valid JSON: an unknown escape in a string at character 2$/],
    ['a raw newline in a string', stFile('{"a\nb":1}'), /the header is not valid JSON: a control character in a string at character 3$/],
    ['a bad number', stFile('{"a":{"dtype":"F32","shape":[01],"data_offsets":[0,4]}}', [f32Bytes([1])]), /the header is not valid JSON: expected ',' or '\]', found '1'/],
    ['a huge array as an entry', stFile(`{"a":[${'{},'.repeat(100000)}{}]}`), /the entry must be an object \{dtype, shape, data_offsets\}, got an array$/, 'a'],
    ['a shape of 2000 dims', stFile(e4('a', 0, 4, 'F32', new Array(2000).fill(1)), [f32Bytes([1])]), /shape has more than 1024 dimensions$/, 'a'],
    ['a shape holding arrays', stFile(e4('a', 0, 4, 'F32', [[1]]), [f32Bytes([1])]), /shape must be an array of non-negative integers, got an array holding an array$/, 'a'],
    ['an unknown field nested too deep', stFile({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4], x: JSON.parse('['.repeat(70) + ']'.repeat(70)) } }, [f32Bytes([1])]), /the header nests deeper than 64 levels$/],
    ['NUL padding', stFile('{}\u0000\u0000'), /the header is not valid JSON/],
    ['an entry that is a number', stFile({ a: 5 }), /the entry must be an object \{dtype, shape, data_offsets\}, got 5$/, 'a'],
    ['no dtype', stFile({ a: { shape: [1], data_offsets: [0, 4] } }, [f32Bytes([1])]), /the entry has no dtype$/, 'a'],
    ['no shape, no offsets', stFile({ a: { dtype: 'F32' } }), /the entry has no shape, data_offsets$/, 'a'],
    ['dtype a number', stFile(e4('a', 0, 4, 5 as unknown as string), [f32Bytes([1])]), /dtype must be a string, got 5$/, 'a'],
    ['shape a string', stFile(e4('a', 0, 4, 'F32', '1'), [f32Bytes([1])]), /shape must be an array of non-negative integers, got '1'$/, 'a'],
    ['negative dim', stFile(e4('a', 0, 4, 'F32', [-1]), [f32Bytes([1])]), /shape must be an array of non-negative integers, got \[-1\]$/, 'a'],
    ['fractional dim', stFile(e4('a', 0, 4, 'F32', [1.5]), [f32Bytes([1])]), /got \[1.5\]$/, 'a'],
    ['unsafe dim', stFile(e4('a', 0, 4, 'F32', [2 ** 60]), [f32Bytes([1])]), /shape must be an array of non-negative integers/, 'a'],
    ['product past 2^53', stFile(e4('a', 0, 4, 'F32', [2 ** 26, 2 ** 26, 2 ** 26]), [f32Bytes([1])]), /shape \[67108864, 67108864, 67108864\] has more than 2\^53 elements$/, 'a'],
    ['bytes not matching', stFile(e4('a', 0, 8, 'F32', [3]), [f32Bytes([1, 2])]), /shape \[3\] of F32 needs 12 bytes but data_offsets \[0, 8\] hold 8$/, 'a'],
    ['offsets not integers', stFile({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4.5] } }, [f32Bytes([1])]), /data_offsets must be two non-negative integers \[begin, end\], got \[0, 4.5\]$/, 'a'],
    ['three offsets', stFile({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4, 8] } }, [f32Bytes([1])]), /data_offsets must be two/, 'a'],
    ['offsets as strings', stFile({ a: { dtype: 'F32', shape: [1], data_offsets: ['0', '4'] } }, [f32Bytes([1])]), /data_offsets must be two/, 'a'],
    ['begin after end', stFile({ a: { dtype: 'F32', shape: [1], data_offsets: [8, 4] } }, [f32Bytes([1, 2])]), /data_offsets \[8, 4\] begin after they end$/, 'a'],
    ['end past the data', stFile(e4('a', 0, 8), [f32Bytes([1])]), /data_offsets \[0, 8\] run past the end of the data \(4 bytes\)$/, 'a'],
    ['overlap', stFile({ ...e4('a', 0, 8), ...e4('b', 4, 12) }, [f32Bytes([1, 2, 3])]), /its data starts at byte 4, overlapping: tensor 'a' ends at byte 8/, 'b'],
    ['gap', stFile({ ...e4('a', 0, 4), ...e4('b', 8, 12) }, [f32Bytes([1, 2, 3])]), /its data starts at byte 8, leaving a gap: tensor 'a' ends at byte 4/, 'b'],
    ['gap at the start', stFile(e4('a', 4, 8), [f32Bytes([1, 2])]), /its data starts at byte 4, leaving a gap: the data starts at byte 0/, 'a'],
    ['trailing bytes', stFile(e4('a', 0, 4), [f32Bytes([1, 2])]), /the tensors cover 4 bytes of data but the file holds 8 after the header$/],
    ['duplicate name', stFile('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', [f32Bytes([1])]), /the header has the key 'a' more than once$/],
    ['duplicate by escape', stFile('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"\\u0061":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', [f32Bytes([1, 2])]), /the header has the key 'a' more than once$/],
    ['duplicate field', stFile('{"a":{"dtype":"F32","dtype":"F16","shape":[1],"data_offsets":[0,4]}}', [f32Bytes([1])]), /the entry has the key 'dtype' more than once$/, 'a'],
    ['metadata a list', stFile({ __metadata__: ['x'] }), /__metadata__ must be an object of strings, got an array$/],
    ['metadata a number', stFile({ __metadata__: 5 }), /__metadata__ must be an object of strings, got 5$/],
    ['metadata, a duplicate key', stFile('{"__metadata__":{"k":"a","k":"b"}}'), /__metadata__ has the key 'k' more than once$/],
    ['metadata twice', stFile('{"__metadata__":{},"__metadata__":{}}'), /the header has the key '__metadata__' more than once$/],
    ['metadata not strings', stFile({ __metadata__: { k: 1 } }), /__metadata__ must map strings to strings, got 1 for the key 'k'$/],
    ['tree not JSON', stFile({ __metadata__: { 'hayate.tree': '{' } }), /the metadata 'hayate.tree' is not valid JSON: expected a key, found the end at character 1$/],
    ['tree a reference', stFile({ __metadata__: { 'hayate.tree': '{"$tensor":"w"}' }, ...e4('w', 0, 4) }, [f32Bytes([1])]), /the metadata 'hayate.tree' must be a JSON object or array, got a tensor reference$/],
    ['tree a number', stFile({ __metadata__: { 'hayate.tree': '5' } }), /the metadata 'hayate.tree' must be a JSON object or array, got 5$/],
    ['tree, missing tensor', stFile({ __metadata__: { 'hayate.tree': '{"w":{"$tensor":"w"}}' } }), /refers to the tensor 'w', which the file does not have$/],
    ['tree, a tensor twice', stFile({ __metadata__: { 'hayate.tree': '[{"$tensor":"w"},{"$tensor":"w"}]' }, ...e4('w', 0, 4) }, [f32Bytes([1])]), /refers to the tensor 'w' more than once$/],
    ['tree, a tensor left out', stFile({ __metadata__: { 'hayate.tree': '{"epoch":1}' }, ...e4('w', 0, 4) }, [f32Bytes([1])]), /the metadata 'hayate.tree' does not place it$/, 'w'],
    ['tree, a bad reference', stFile({ __metadata__: { 'hayate.tree': '{"w":{"$tensor":"w","x":1}}' }, ...e4('w', 0, 4) }, [f32Bytes([1])]), /is malformed: a tensor reference must be \{"\$tensor": "<name>"\}/],
    ['tree, a reference to a number', stFile({ __metadata__: { 'hayate.tree': '{"w":{"$tensor":3}}' }, ...e4('w', 0, 4) }, [f32Bytes([1])]), /is malformed: a tensor reference/],
    ['tree, an unknown $ key', stFile({ __metadata__: { 'hayate.tree': '{"$x":1}' } }), /is malformed: unknown key '\$x'/],
    ['tree, duplicate keys', stFile({ __metadata__: { 'hayate.tree': '{"a":1,"a":2}' } }), /the metadata 'hayate.tree' has the key 'a' twice in one object$/],
    ['tree, too deep', stFile({ __metadata__: { 'hayate.tree': '['.repeat(600) + ']'.repeat(600) } }), /is malformed: it nests more than 512 levels deep$/],
    ['a hostile name', stFile({ ["evil'\n" + 'x'.repeat(200)]: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, [f32Bytes([1])]), /^load: .*: tensor 'evil\\u0027\\u000axxx+\.\.\.': shape \[2\] of F32 needs 8 bytes/],
  ];
  for (const [what, bytes, pattern, tensor] of cases) {
    const file = writeFixture(bytes, 'bad');
    let thrown: unknown;
    try {
      disposeAll(st.load(file));
    } catch (e) {
      thrown = e;
    }
    assert.ok(thrown instanceof SafetensorsError, `${what}: expected a SafetensorsError, got ${String(thrown)}`);
    const e = thrown as SafetensorsError;
    assert.ok(e.message.startsWith(`load: ${file}: `), `${what}: ${e.message}`);
    assert.match(e.message, pattern, what);
    if (what !== 'a hostile name') assert.is(e.tensor, tensor, `${what}: the tensor at fault`);
  }
  assert.is(hy.memory.stats('cpu').liveBytes, live, 'no tensor is left from a failed load');
  // the valid edge cases next to them load
  const empty = writeFixture(stFile('{}', [], { pad: 6 }));
  assert.equal(st.load(empty), {});
  assert.equal(st.loadMetadata(empty), {});
  const extra = writeFixture(stFile({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4], note: { x: [1, 'y', null] } } }, [f32Bytes([3])]));
  const ex = st.load<Record<string, Tensor>>(extra);
  assert.equal(Array.from(ex.a.dataSync()), [3], 'fields the format does not have are ignored, as the reference implementation does');
  disposeAll(ex);
  const nullMeta = writeFixture(stFile({ __metadata__: null }));
  assert.equal(st.load(nullMeta), {}, 'a null __metadata__ is none, as the reference implementation reads it');
  const zeroSized = writeFixture(stFile({ ...e4('a', 0, 0, 'F32', [0, 5]), ...e4('b', 0, 4, 'F32', [1]), ...e4('c', 4, 4, 'F16', [2, 0]) }, [f32Bytes([3])]));
  const z = st.load<Record<string, Tensor>>(zeroSized);
  assert.equal(Object.values(z).map((t) => t.shape), [[0, 5], [1], [2, 0]]);
  disposeAll(z);
});

s('a missing file, a folder and bad arguments are errors in the library style', () => {
  const missing = join(dir, 'nope.safetensors');
  let err = undefined as unknown as NodeJS.ErrnoException;
  try {
    st.load(missing);
  } catch (e) {
    err = e as NodeJS.ErrnoException;
  }
  assert.is(err.code, 'ENOENT');
  assert.ok(err.message.startsWith(`load: ${missing}: cannot open the file: ENOENT`), err.message);
  assertBadFile(dir, /^load: .*: not a regular file$/);
  assertThrows(() => st.load(5 as unknown as string), TypeError, /^load: file must be a string path, got 5$/);
  assertThrows(() => st.load(missing, { device: 'tpu' as Device }), RangeError, /^load: device must be 'cpu', 'cuda' or 'cuda:0', got 'tpu'$/);
  assertThrows(() => st.load(missing, { dtype: 'float32' } as never), TypeError, /^load: unknown option 'dtype' \(expected device\)$/);
  if (!presentBackends.includes('cuda')) {
    const file = writeFixture(stFile('{}'));
    let e2: unknown;
    try {
      st.load(file, { device: 'cuda' });
    } catch (e) {
      e2 = e;
    }
    assert.is((e2 as { code?: string }).code, 'ERR_CUDA_UNAVAILABLE');
  }
  const t = hy.tensor([1]);
  const file = newFile('args');
  assertThrows(() => st.save({ t }, 5 as unknown as string), TypeError, /^save: file must be a string path, got 5$/);
  assertThrows(() => st.save(t, file), TypeError, /^save: obj must be an object or array of tensors, got a Tensor/);
  assertThrows(() => st.save(5 as unknown as object, file), TypeError, /^save: obj must be a state dict/);
  assertThrows(() => st.save({ __metadata__: t }, file), RangeError, /^save: the name '__metadata__' is reserved by the safetensors format$/);
  assertThrows(() => st.save({ t }, file, { metadata: { a: 1 as unknown as string } }), TypeError, /^save: metadata\["a"\] must be a string, got 1$/);
  assertThrows(() => st.save({ t }, file, { metadata: { 'hayate.tree': '{}' } }), RangeError, /^save: metadata key 'hayate.tree' is reserved/);
  assertThrows(() => st.save({ t }, file, { meta: {} } as never), TypeError, /^save: unknown option 'meta' \(expected metadata\)$/);
  assertThrows(() => st.save({ a: { b: [1, NaN] } }, file), RangeError, /^save: obj\.a\.b\[1\] must be a finite number, got NaN$/);
  assertThrows(() => st.save({ 'odd key': { f: () => 1 } }, file), TypeError, /^save: obj\["odd key"\]\.f must be a Tensor, a finite number, a string, a boolean, null, an array or a plain object, got a function$/);
  assertThrows(() => st.save({ m: new Map() }, file), TypeError, /^save: obj\.m must be a Tensor, .* got an object \(\[object Map\]\)$/);
  assertThrows(() => st.save({ a: [undefined] }, file), TypeError, /^save: obj\.a\[0\] must be a Tensor, .* got undefined$/);
  const cyc: Record<string, unknown> = { t };
  cyc.self = { back: cyc };
  assertThrows(() => st.save(cyc, file), TypeError, /^save: obj\.self\.back contains itself \(a cycle\), which a file cannot hold$/);
  const gone = hy.tensor([2]);
  gone.dispose();
  assertThrows(() => st.save({ t, gone }, file), hy.DisposedError, /^save: tensor 'gone': the tensor was disposed$/);
  assertThrows(() => st.save({ a: { gone }, n: 1 }, file), hy.DisposedError, /^save: obj\.a\.gone: the tensor was disposed$/);
  assert.equal(readdirSync(dir).filter((f) => f.startsWith('args')), [], 'nothing was written');
  t.dispose();
});

// ---- atomic writes ----

s('a save that fails partway leaves the previous file intact and no temporary file', () => {
  const file = newFile('atomic');
  const old = { a: hy.tensor([1, 2, 3]) };
  st.save(old, file);
  const before = readFileSync(file);
  const noTemp = (what: string) => assert.equal(readdirSync(dir).filter((f) => f.includes('.tmp-')), [], `${what}: no temporary file is left`);

  // 1. a tensor disposed after save took it: the header and the first tensor are written, then the read fails
  const a0 = hy.tensor([7, 7]);
  const first = hy.tensor([8, 8]);
  const second = hy.tensor([9]);
  const model = { a0, first, get second() { first.dispose(); return second; } };
  assertThrows(() => st.save({ model, epoch: 1 }, file), hy.DisposedError, /^save: tensor 'model\.first': the tensor was disposed$/);
  assert.equal(readFileSync(file), before, 'disposed mid-write: the previous file is intact');
  noTemp('disposed mid-write');

  // 2. the rename fails (after the data was written and fsynced)
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const realFs = require('node:fs') as { renameSync: (a: string, b: string) => void };
  const rename = realFs.renameSync;
  realFs.renameSync = () => {
    const e = new Error('EXDEV: injected failure, rename') as NodeJS.ErrnoException;
    e.code = 'EXDEV';
    e.syscall = 'rename';
    throw e;
  };
  try {
    let err: NodeJS.ErrnoException | undefined;
    try {
      st.save({ b: second }, file);
    } catch (e) {
      err = e as NodeJS.ErrnoException;
    }
    assert.is(err?.code, 'EXDEV');
    assert.ok(err?.message.startsWith(`save: ${file}: finishing the file: EXDEV`), err?.message);
  } finally {
    realFs.renameSync = rename;
  }
  assert.equal(readFileSync(file), before, 'rename failed: the previous file is intact');
  noTemp('rename failed');

  // 3. the target is a folder: the rename over it fails
  const folder = join(dir, 'a-folder.safetensors');
  mkdirSync(folder);
  writeFileSync(join(folder, 'inside'), 'kept');
  let err3: NodeJS.ErrnoException | undefined;
  try {
    st.save({ b: second }, folder);
  } catch (e) {
    err3 = e as NodeJS.ErrnoException;
  }
  assert.ok(err3 !== undefined && typeof err3.code === 'string', 'renaming over a folder fails');
  assert.ok(err3!.message.startsWith(`save: ${folder}: finishing the file`), err3!.message);
  assert.equal(readFileSync(join(folder, 'inside'), 'utf8'), 'kept');
  noTemp('target a folder');

  // 4. an unwritable place: a folder that does not exist
  const nowhere = join(dir, 'missing-folder', 'x.safetensors');
  let err4: NodeJS.ErrnoException | undefined;
  try {
    st.save({ b: second }, nowhere);
  } catch (e) {
    err4 = e as NodeJS.ErrnoException;
  }
  assert.is(err4?.code, 'ENOENT');
  assert.ok(err4!.message.startsWith(`save: ${nowhere}: cannot create the temporary file: ENOENT`), err4!.message);

  // and a successful save replaces the file
  st.save({ b: second }, file);
  const now = st.load<Record<string, Tensor>>(file);
  assert.equal(Object.keys(now), ['b']);
  disposeAll(now);
  noTemp('after a good save');
  for (const t of [old.a, a0, first, second]) t.dispose();
});

// ---- fuzz ----

s('fuzz: a few hundred mutated files either load with the declared shapes or throw an Error naming the file', () => {
  const t0 = Date.now();
  const r = rng(20240611);
  const int = (n: number) => Math.floor(r() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
  const sources: Record<string, unknown>[] = [
    {
      w: hy.tensor([[1, 2, 3], [4, 5, 6]]),
      h: hy.tensor([1, 2, 3], { dtype: 'float16' }),
      i: hy.tensor(new Int32Array([1, 2])),
      s: hy.tensor(1),
      e: hy.zeros([0, 2]),
    },
    { model: { 'l.0': hy.tensor([1, 2]), h: hy.tensor([3], { dtype: 'float16' }) }, opt: { step: 3, lr: [0.1, null, 'x'] } },
  ];
  const bases = sources.map((src) => {
    const f = newFile('fuzz-base');
    st.save(src, f, { metadata: { format: 'pt' } });
    return new Uint8Array(readFileSync(f));
  });
  const file = join(dir, 'fuzz.safetensors');
  const numbers = ['-1', '0', '1', '2', '3', '1.5', '1e308', '9007199254740993', '4294967296', '-0', 'null', '"x"', '[]', '{}', '24', '12'];
  const dtypes = ['"F32"', '"F16"', '"I64"', '"BF16"', '"U8"', '"F8_E4M3"', '"C64"', '"X"', '5', 'null', '"BOOL"', '"F64"'];
  const snippets = ['{', '}', '[', ']', ',', ':', '"', '\\', 'é', '"__metadata__":{}', '"a":1', '"$tensor"', ' ', '\u0000'];
  const counts = { loaded: 0, failed: 0 };
  const rewrap = (header: string, data: Uint8Array, keepLength?: number) => {
    const json = Buffer.from(header, 'utf8');
    const len = new Uint8Array(8);
    new DataView(len.buffer).setBigUint64(0, BigInt(keepLength ?? json.length), true);
    return concat([len, json, data]);
  };
  const ITERATIONS = 400;
  for (let it = 0; it < ITERATIONS; it++) {
    const base = pick(bases);
    const n = Number(new DataView(base.buffer).getBigUint64(0, true));
    const header = Buffer.from(base.subarray(8, 8 + n)).toString('utf8');
    const data = base.subarray(8 + n);
    let bytes: Uint8Array = base.slice();
    const kind = int(7);
    if (kind === 0) {
      for (let k = 1 + int(3); k > 0; k--) bytes[8 + int(n)] ^= 1 << int(8); // bit flips in the header
    } else if (kind === 1) {
      bytes = bytes.slice(0, int(bytes.length)); // truncated
    } else if (kind === 2) {
      const v = pick([BigInt(n + 1 + int(16)), BigInt(Math.max(0, n - 1 - int(16))), 0n, 2n ** 64n - 1n, BigInt(int(2 ** 32)), 100_000_001n, BigInt(bytes.length - 8)]);
      new DataView(bytes.buffer).setBigUint64(0, v, true);
    } else if (kind === 3) {
      // a number of the header replaced
      const spots = [...header.matchAll(/-?\d+(\.\d+)?/g)];
      const m = pick(spots);
      const text = header.slice(0, m.index) + pick(numbers) + header.slice(m.index! + m[0].length);
      bytes = rewrap(text, data, r() < 0.2 ? n : undefined);
    } else if (kind === 4) {
      // a dtype replaced, or a snippet inserted, or a range deleted
      const u = r();
      let text = header;
      if (u < 0.35) {
        const spots = [...header.matchAll(/"(F32|F16|I32)"/g)];
        const m = pick(spots);
        text = header.slice(0, m.index) + pick(dtypes) + header.slice(m.index! + m[0].length);
      } else if (u < 0.7) {
        const at = int(header.length);
        text = header.slice(0, at) + pick(snippets) + header.slice(at);
      } else {
        const at = int(header.length);
        text = header.slice(0, at) + header.slice(at + 1 + int(8));
      }
      bytes = rewrap(text, data);
    } else if (kind === 5) {
      for (let k = 0; k < 4 && data.length > 0; k++) bytes[8 + n + int(data.length)] = int(256); // data changes: still valid
    } else {
      bytes = concat([bytes, new Uint8Array(1 + int(8))]); // trailing bytes
    }
    writeFileSync(file, bytes);
    let result: unknown;
    try {
      result = st.load(file);
    } catch (e) {
      assert.ok(e instanceof Error, `iteration ${it} (kind ${kind}): threw a non-Error ${String(e)}`);
      assert.ok(e.message.includes(file), `iteration ${it} (kind ${kind}): the message names the file: ${e.message}`);
      counts.failed++;
      continue;
    }
    counts.loaded++;
    // it loaded: the header must be valid, and each tensor has its declared shape
    const { header: parsed } = parseByHand(bytes);
    const declared = Object.entries(parsed)
      .filter(([k]) => k !== '__metadata__')
      .map(([, v]) => JSON.stringify((v as { shape: number[] }).shape))
      .sort();
    const tensors = tensorsIn(result);
    assert.equal(tensors.map((t) => JSON.stringify(t.shape)).sort(), declared, `iteration ${it} (kind ${kind}): the declared shapes`);
    disposeAll(result);
  }
  assert.ok(counts.loaded > 20 && counts.failed > 100, `both outcomes occur: ${JSON.stringify(counts)}`);
  const ms = Date.now() - t0;
  assert.ok(ms < 10_000, `the fuzz took ${ms} ms`);
  for (const src of sources) disposeAll(src);
});

s.run();
