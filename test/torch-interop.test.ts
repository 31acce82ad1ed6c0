// Safetensors files crossing to and from the PyTorch installed beside the tests (Debian's
// python3-torch here, the GPU host's own in the device check): hy.save read by torch, and a file
// torch's tensors were written to read by hy.load, every value compared exactly. torch has no
// safetensors reader of its own before the `safetensors` package, so the Python side parses the
// format by hand (an 8-byte little-endian header length, the JSON header, torch.frombuffer), which
// is what the format promises any reader can do. Skipped by name where no torch is found.
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import * as hy from '../lib/index';
import { skipped, suite } from './harness';

const s = suite('torch-interop');

// HY_PYTHON, else the first of python3 on the PATH and the system's own that has torch.
const CANDIDATES = process.env.HY_PYTHON !== undefined ? [process.env.HY_PYTHON] : ['python3', '/usr/bin/python3'];
let PYTHON = CANDIDATES[0];

// The reader and writer, shared by both directions: one module on stdin, an action in argv.
const PY = String.raw`
import json, struct, sys
import torch

DT = {"F32": torch.float32, "F16": torch.float16, "I32": torch.int32, "BOOL": torch.bool}
NAMES = {v: k for k, v in DT.items()}

def read(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n].decode("utf-8"))
    body = data[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        raw = bytearray(body[a:b])
        t = torch.frombuffer(raw, dtype=DT[info["dtype"]]) if b > a else torch.empty(0, dtype=DT[info["dtype"]])
        out[name] = t.reshape(info["shape"])
    return out

def write(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        raw = t.contiguous().numpy().tobytes() if t.dtype != torch.float16 else t.contiguous().view(torch.int16).numpy().tobytes()
        header[name] = {"dtype": NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))

def describe(tensors):
    return {k: {"dtype": NAMES[t.dtype], "shape": list(t.shape), "values": t.float().flatten().tolist() if t.is_floating_point() else t.int().flatten().tolist()} for k, t in tensors.items()}

if sys.argv[1] == "read":
    print(json.dumps(describe(read(sys.argv[2]))))
else:
    g = torch.Generator().manual_seed(1234)
    w = torch.randn(3, 4, generator=g)
    tensors = {
        "fc.weight": w,
        "fc.weight_half": (w * 100).to(torch.float16),
        "counts": torch.arange(-3, 5, dtype=torch.int32).reshape(2, 4),
        "mask": w > 0,
        "scalar": torch.tensor(2.5),
        "empty": torch.empty(0, 3),
    }
    write(sys.argv[2], tensors)
    print(json.dumps(describe(tensors)))
`;

interface Described {
  [name: string]: { dtype: string; shape: number[]; values: number[] };
}

/** The torch version and the Python that has it, or why there is none. */
function probeTorch(): { version?: string; why?: string } {
  const why: string[] = [];
  for (const py of CANDIDATES) {
    const r = spawnSync(py, ['-c', 'import numpy, torch; print(torch.__version__)'], { encoding: 'utf8', timeout: 120_000 });
    if (r.error !== undefined) {
      why.push(`${py} not found`);
    } else if (r.status !== 0) {
      why.push(`${py} has no torch (or no numpy)`);
    } else {
      PYTHON = py;
      return { version: r.stdout.trim() };
    }
  }
  return { why: why.join(', ') };
}

function python(args: string[]): Described {
  const r = spawnSync(PYTHON, ['-', ...args], { input: PY, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`python ${args.join(' ')} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Described;
}

const DTYPE_OF: Record<string, string> = { float32: 'F32', float16: 'F16', int32: 'I32', bool: 'BOOL' };

function describeOurs(t: hy.Tensor): { dtype: string; shape: number[]; values: number[] } {
  return { dtype: DTYPE_OF[t.dtype], shape: t.shape.slice(), values: Array.from(t.dataSync(), Number) };
}

const torch = probeTorch();
const cases: [string, () => void][] = [
  [
    'hy.save is read by torch value for value, every dtype, a 0-d and an empty tensor',
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'hy-torch-'));
      try {
        hy.manualSeed(9);
        const w = hy.randn([3, 4]);
        const dict: Record<string, hy.Tensor> = {
          'fc.weight': w,
          'fc.weight_half': w.mul(100).to('float16'),
          counts: hy.arange(-3, 5, { dtype: 'int32' }).reshape([2, 4]),
          mask: w.gt(0),
          scalar: hy.tensor(2.5),
          empty: hy.zeros([0, 3]),
        };
        const file = join(dir, 'ours.safetensors');
        hy.save(dict, file);
        const theirs = python(['read', file]);
        assert.equal(Object.keys(theirs).sort(), Object.keys(dict).sort());
        for (const [k, t] of Object.entries(dict)) assert.equal(theirs[k], describeOurs(t), k);
        for (const t of Object.values(dict)) t.dispose();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  ],
  [
    "a file of torch's tensors is read by hy.load value for value",
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'hy-torch-'));
      try {
        const file = join(dir, 'theirs.safetensors');
        const theirs = python(['write', file]);
        const ours = hy.load(file) as Record<string, hy.Tensor>;
        assert.equal(Object.keys(ours).sort(), Object.keys(theirs).sort());
        for (const [k, t] of Object.entries(ours)) {
          assert.equal(describeOurs(t), theirs[k], k);
          t.dispose();
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  ],
];

for (const [name, fn] of cases) {
  if (torch.version === undefined) {
    skipped.push(`torch-interop > ${name}: ${torch.why}`);
    s.skip(name, () => undefined);
  } else {
    s(`${name} (torch ${torch.version})`, fn);
  }
}

s.run();
