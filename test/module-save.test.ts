// Module.save / Module.load: a round trip bit for bit (MnistNet, a Sequential), a module of another
// shape refused naming the key, the file Module.save writes read byte by byte here (a flat
// safetensors file keyed by PyTorch's state_dict names), and a file laid out as PyTorch's
// safetensors writes it loaded into MnistNet. Every case disposes what it made.
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import * as hy from '../lib/index';
import { assertThrows, collectGarbage, rng, suite } from './harness';

const s = suite('module-save');
const { MnistNet } = hy.nn.models;

const dir = mkdtempSync(join(tmpdir(), 'hayate-module-save-'));
s.after(() => rmSync(dir, { recursive: true, force: true }));
let fileCount = 0;
const newFile = (stem = 'm') => join(dir, `${stem}-${fileCount++}.safetensors`);

/** PyTorch's `Net().state_dict()` for examples/mnist: keys and shapes in order. */
const PYTORCH_KEYS: [string, number[]][] = [
  ['conv1.weight', [32, 1, 3, 3]], ['conv1.bias', [32]],
  ['conv2.weight', [64, 32, 3, 3]], ['conv2.bias', [64]],
  ['fc1.weight', [128, 9216]], ['fc1.bias', [128]],
  ['fc2.weight', [10, 128]], ['fc2.bias', [10]],
];

async function liveBytes(): Promise<number> {
  await hy.cpu.synchronize();
  await collectGarbage();
  return hy.memory.stats('cpu').liveBytes;
}

function leakChecked(name: string, fn: () => void | Promise<void>): void {
  s(name, async () => {
    const before = await liveBytes();
    await fn();
    assert.is(await liveBytes(), before, `${name}: every tensor was disposed`);
  });
}

const weights = (m: hy.nn.Module): [string, Float32Array][] => m.namedParameters().map(([k, p]) => [k, p.dataSync() as Float32Array]);

function assertBitEqual(a: [string, Float32Array][], b: [string, Float32Array][], what: string): void {
  assert.equal(a.map(([k]) => k), b.map(([k]) => k), `${what}: names`);
  for (let j = 0; j < a.length; j++) {
    const [k, x] = a[j];
    const y = b[j][1];
    assert.is(x.length, y.length, `${what}: ${k} size`);
    for (let i = 0; i < x.length; i++) if (!(x[i] === y[i])) assert.unreachable(`${what}: ${k}[${i}] is ${y[i]}, expected ${x[i]}`);
  }
}

function differs(a: [string, Float32Array][], b: [string, Float32Array][]): boolean {
  return a.some(([, x], j) => x.some((v, i) => v !== b[j][1][i]));
}

const small = () => new hy.nn.Sequential(new hy.nn.Flatten(), new hy.nn.Linear(16, 8), new hy.nn.ReLU(), new hy.nn.Dropout(0.2), new hy.nn.Linear(8, 4));

/** A safetensors file's header, parsed here from its bytes (not by the library). */
function readHeader(file: string): { n: number; header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>>; bytes: Buffer } {
  const bytes = readFileSync(file);
  const n = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8'));
  return { n, header, bytes };
}

leakChecked('Module.save then load: MnistNet and a Sequential round trip bit for bit', () => {
  for (const [name, make] of [['MnistNet', () => new MnistNet()], ['Sequential', small]] as const) {
    const file = newFile(name);
    hy.manualSeed(1);
    const a = make();
    hy.manualSeed(2);
    const b = make();
    try {
      const wa = weights(a);
      assert.ok(differs(wa, weights(b)), `${name}: two seeds give two models`);
      a.save(file);
      assert.is(b.load(file), b, 'load returns the module');
      assertBitEqual(wa, weights(b), `${name} round trip`);
      assertBitEqual(wa, weights(a), `${name}: save leaves the module as it was`);
      // saving again over the file (atomic replace) and loading again: still the same
      b.save(file);
      hy.manualSeed(3);
      const c = make();
      try {
        c.load(file);
        assertBitEqual(wa, weights(c), `${name}: saved over, loaded again`);
      } finally {
        c.dispose();
      }
    } finally {
      a.dispose();
      b.dispose();
    }
  }
});

leakChecked('load into a module of another shape: a RangeError naming the key, and the module is unchanged', () => {
  const file = newFile();
  hy.manualSeed(1);
  const a = small();
  a.save(file);
  a.dispose();
  hy.manualSeed(2);
  const wider = new hy.nn.Sequential(new hy.nn.Flatten(), new hy.nn.Linear(16, 8), new hy.nn.ReLU(), new hy.nn.Dropout(0.2), new hy.nn.Linear(8, 5));
  const other = new hy.nn.Sequential(new hy.nn.Linear(16, 8), new hy.nn.ReLU(), new hy.nn.Linear(8, 4));
  const mnist = new MnistNet();
  try {
    const w0 = weights(wider);
    assertThrows(() => wider.load(file), RangeError, /'4\.weight' has shape \[4, 8\], the module's is \[5, 8\]/, 'another shape');
    assertBitEqual(w0, weights(wider), 'a refused load writes nothing (not even the keys that fit)');
    assertThrows(() => other.load(file), RangeError, /missing keys \[0\.weight, 0\.bias, 2\.weight, 2\.bias\], unexpected keys \[1\.bias, 1\.weight, 4\.bias, 4\.weight\]/, 'other keys');
    assertThrows(() => mnist.load(file), RangeError, /missing keys \[conv1\.weight/, 'MnistNet from a Sequential');
  } finally {
    wider.dispose();
    other.dispose();
    mnist.dispose();
  }
});

leakChecked("Module.save writes a flat safetensors file whose keys are exactly PyTorch's state_dict names for MnistNet", () => {
  const file = newFile('mnist');
  hy.manualSeed(5);
  const m = new MnistNet();
  try {
    m.save(file);
    const { n, header, bytes } = readHeader(file);
    assert.is(n % 8, 0, 'the data starts 8-aligned (as the reference writer pads)');
    assert.ok(!('__metadata__' in header) || !(hy.serialize.TREE_KEY in (header.__metadata__ as Record<string, string>)), 'a flat file: no hayate.tree structure');
    const keys = Object.keys(header).filter((k) => k !== '__metadata__');
    assert.equal(keys.slice().sort(), PYTORCH_KEYS.map(([k]) => k).sort(), 'exactly the PyTorch keys');
    let total = 0;
    const spans: [number, number][] = [];
    const params = new Map(weights(m));
    for (const [k, shape] of PYTORCH_KEYS) {
      const e = header[k] as { dtype: string; shape: number[]; data_offsets: [number, number] };
      assert.is(e.dtype, 'F32', `${k}: dtype`);
      assert.equal(e.shape, shape, `${k}: shape`);
      const [b, end] = e.data_offsets;
      assert.is(end - b, 4 * shape.reduce((x, y) => x * y, 1), `${k}: its byte span`);
      spans.push([b, end]);
      total += end - b;
      // the bytes are the parameter's float32 values, little-endian
      const raw = bytes.subarray(8 + n + b, 8 + n + end);
      const values = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
      const p = params.get(k)!;
      assert.ok(values.length === p.length && values.every((v, i) => v === p[i]), `${k}: the data`);
    }
    spans.sort((x, y) => x[0] - y[0]);
    spans.forEach(([b], i) => assert.is(b, i === 0 ? 0 : spans[i - 1][1], 'the tensors are contiguous from offset 0'));
    assert.is(statSync(file).size, 8 + n + total, 'nothing after the data');
    // what the library reads back: the same flat record
    const loaded = hy.load(file) as Record<string, hy.Tensor>;
    assert.equal(Object.keys(loaded).sort(), keys.slice().sort());
    for (const t of Object.values(loaded)) t.dispose();
  } finally {
    m.dispose();
  }
});

leakChecked("a file in PyTorch's safetensors layout (built by hand) loads into MnistNet", () => {
  // As safetensors.torch.save_file(model.state_dict(), f, metadata={'format': 'pt'}) lays it out:
  // compact JSON, __metadata__ first, entries sorted by name (all F32), data contiguous in that
  // order, the header padded with spaces to a multiple of 8.
  const r = rng(77);
  const values = new Map(PYTORCH_KEYS.map(([k, shape]) => [k, Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => r() - 0.5)]));
  const sorted = PYTORCH_KEYS.map(([k]) => k).sort();
  let at = 0;
  const parts = ['"__metadata__":{"format":"pt"}'];
  for (const k of sorted) {
    const shape = PYTORCH_KEYS.find(([n]) => n === k)![1];
    const len = values.get(k)!.byteLength;
    parts.push(`${JSON.stringify(k)}:{"dtype":"F32","shape":[${shape.join(',')}],"data_offsets":[${at},${at + len}]}`);
    at += len;
  }
  let json = `{${parts.join(',')}}`;
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(json.length));
  const file = newFile('pytorch');
  writeFileSync(file, Buffer.concat([head, Buffer.from(json, 'utf8'), ...sorted.map((k) => Buffer.from(values.get(k)!.buffer))]));

  hy.manualSeed(9);
  const m = new MnistNet();
  try {
    m.load(file);
    const got = weights(m);
    assertBitEqual(PYTORCH_KEYS.map(([k]) => [k, values.get(k)!]), got, 'PyTorch layout');
    // and it predicts: a forward on a batch runs with the loaded weights
    m.eval();
    const x = hy.zeros([2, 1, 28, 28]);
    const out = hy.noGrad(() => m.forward(x));
    assert.equal(out.shape, [2, 10]);
    x.dispose();
    out.dispose();
  } finally {
    m.dispose();
  }
});

s.run();
