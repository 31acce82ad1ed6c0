// bench/compare.ts, which puts the device check's rows next to PyTorch's: the row files in the forms
// the benchmarks really print (a JSON array, or one JSON object a line), and pairing by bench, case
// and device. The last test runs the real bench/peers/*.py against a stand-in torch
// (test/peer-stub) so the format checked is the peers' own, not a copy of it.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import * as assert from 'uvu/assert';

import { compare, parseRows } from '../bench/compare';
import { interleaved, table } from '../bench/interleave';
import * as gelu from '../bench/gelu.bench';
import * as gemm from '../bench/gemm.bench';
import type { BenchRow } from '../bench/harness';
import { skipped, suite } from './harness';

const s = suite('compare');
const root = join(__dirname, '..', '..');
const GPU = 'NVIDIA H200';

// As bench/peers/gemm.py prints them: json.dumps of one row a line.
const GEMM_LINES = [
  '{"bench": "gemm", "case": "fc1 forward 64x9216 @ 9216x128 float32", "device": "NVIDIA H200", "medianMs": 0.05, "tflops": 3.02, "extra": {"M": 64, "N": 128, "K": 9216, "transA": "false", "transB": "true", "dtype": "float32", "peer": "torch 2.5.1"}}',
  '{"bench": "gemm", "case": "4096^3 float16", "device": "NVIDIA H200", "medianMs": 0.25, "tflops": 549.7, "extra": {"M": 4096, "N": 4096, "K": 4096, "transA": "false", "transB": "false", "dtype": "float16", "peer": "torch 2.5.1"}}',
].join('\n') + '\n';

// As bench/peers/copy.py prints them: one array, json.dumps(rows, indent=1).
const COPY_ARRAY = `[
 {
  "bench": "copy",
  "case": "h2d 64MiB pinned nonBlocking",
  "device": "NVIDIA H200",
  "medianMs": 1.4,
  "gbps": 47.9,
  "extra": {
   "samples": 30,
   "peer": "torch 2.5.1"
  }
 }
]
`;

const row = (bench: string, name: string, device: string, more: Partial<BenchRow> = {}): BenchRow => ({ bench, case: name, device, medianMs: 1, ...more });

s('parseRows reads JSON lines, a JSON array and a single object, and names what it cannot read', () => {
  const lines = parseRows(GEMM_LINES);
  assert.equal(lines.problems, []);
  assert.equal(lines.rows.map((r) => r.case), ['fc1 forward 64x9216 @ 9216x128 float32', '4096^3 float16']);
  assert.is(lines.rows[1].tflops, 549.7);

  const array = parseRows(COPY_ARRAY);
  assert.equal(array.problems, []);
  assert.equal(array.rows.map((r) => [r.case, r.gbps]), [['h2d 64MiB pinned nonBlocking', 47.9]]);

  const one = parseRows(GEMM_LINES.split('\n')[0]);
  assert.equal(one.rows.length, 1, 'a file of one line is one row');

  assert.equal(parseRows(''), { rows: [], problems: [] }, 'an empty file (a peer without CUDA) is no rows');
  assert.equal(parseRows('\n \n'), { rows: [], problems: [] });

  // A peer killed half-way through a line: the whole rows before it still count.
  const cut = parseRows(GEMM_LINES + '{"bench": "gemm", "case": "fc2 forw');
  assert.is(cut.rows.length, 2);
  assert.is(cut.problems.length, 1);
  assert.match(cut.problems[0], /^line 3: /);

  const notRows = parseRows('{"bench": "gemm"}\n[1, 2]\n');
  assert.is(notRows.rows.length, 0);
  assert.is(notRows.problems.length, 3);
});

s('compare pairs a row with the peer row of its bench, case and device only', () => {
  const peers = parseRows(GEMM_LINES).rows;
  const ours = [
    row('gemm', 'fc1 forward 64x9216 @ 9216x128 float32', GPU, { tflops: 1.51 }),
    row('gemm', '4096^3 float16', `  ${GPU.toLowerCase()} `, { tflops: 549.7 }), // the same card however spelt
    row('gemm', 'cpu fc1 forward 64x9216 @ 9216x128 float32', 'cpu', { tflops: 0.05 }),
    // A CPU row under a GPU case's name (what a CPU-only host used to print) must not pair either.
    row('gemm', 'fc1 forward 64x9216 @ 9216x128 float32', 'cpu (no CUDA: no device)', { tflops: 0.05 }),
  ];
  const c = compare(ours, peers);
  assert.is(c.paired, 2);
  assert.is(c.table.length, 2 + ours.length);
  assert.is(c.table[0], '| bench | case | device | hayate | PyTorch | hayate / PyTorch |');
  assert.is(c.table[2], `| gemm | fc1 forward 64x9216 @ 9216x128 float32 | ${GPU} | 1.51 TFLOP/s | 3.02 TFLOP/s | 0.50 |`);
  assert.is(c.table[3], `| gemm | 4096^3 float16 |   ${GPU.toLowerCase()}  | 549.70 TFLOP/s | 549.70 TFLOP/s | 1.00 |`);
  assert.is(c.table[4], '| gemm | cpu fc1 forward 64x9216 @ 9216x128 float32 | cpu | 0.05 TFLOP/s |  |  |');
  assert.is(c.table[5], '| gemm | fc1 forward 64x9216 @ 9216x128 float32 | cpu | 0.05 TFLOP/s |  |  |', 'why CUDA is absent is said once, in the heading');
  assert.equal(c.unpairedPeers, []);

  // A peer row nobody took is reported with the reason.
  const other = compare([row('gemm', '4096^3 float16', 'cpu')], peers);
  assert.is(other.paired, 0);
  assert.equal(other.unpairedPeers, [
    'gemm / fc1 forward 64x9216 @ 9216x128 float32: no hayate row of that case',
    "gemm / 4096^3 float16: the hayate row ran on 'cpu', the peer on 'NVIDIA H200'",
  ]);
  // Rows without throughput are compared by time.
  const timed = compare([row('dataloader', 'epoch', GPU, { medianMs: 2 })], [row('dataloader', 'epoch', GPU, { medianMs: 4 })]);
  assert.is(timed.table[2], `| dataloader | epoch | ${GPU} | 2.000 ms | 4.000 ms | 2.00 |`);
});

const python = spawnSync('python3', ['--version'], { encoding: 'utf8' });
s('interleaved rounds: each ratio is taken within its round, the table gives their median and spread', () => {
  const cpu = 'cpu (no CUDA: no NVIDIA driver found)';
  // Round 2 ran 2x slower on both sides (the machine drifted): its ratio is still 2.
  const rounds = [
    { ours: [row('gemm', 'a', cpu, { medianMs: 1 }), row('gemm', 'b', cpu, { medianMs: 4 })], peer: [row('gemm', 'a', 'cpu', { medianMs: 2 }), row('gemm', 'b', 'cpu', { medianMs: 1 })] },
    { ours: [row('gemm', 'a', cpu, { medianMs: 2 }), row('gemm', 'b', cpu, { medianMs: 4 })], peer: [row('gemm', 'a', 'cpu', { medianMs: 4 })] },
    { ours: [row('gemm', 'a', cpu, { medianMs: 1 }), row('gemm', 'b', cpu, { medianMs: 2 })], peer: [row('gemm', 'a', 'cpu', { medianMs: 3 }), row('gemm', 'b', 'cpu', { medianMs: 1 })] },
  ];
  const rows = interleaved(rounds);
  assert.equal(rows.map((r) => r.case), ['a', 'b']);
  assert.equal(rows[0].ratios, [2, 2, 3]);
  assert.is(rows[0].oursMs, 1);
  assert.is(rows[0].peerMs, 3);
  assert.equal(rows[1].ratios, [0.25, 0.5], 'round 2 had no peer row for b');
  assert.is(rows[1].peerMs, 1);
  assert.is(rows[1].device, 'cpu');
  const t = table(rows, 3);
  assert.is(t[2], '| gemm | a | cpu | 1.000 ms | 3.000 ms | 2.00 | 2.00-3.00 |');
  assert.is(t[3], '| gemm | b | cpu | 4.000 ms | 1.000 ms | 0.38 | 0.25-0.50 |');
  // Throughput rows compare by throughput; a GPU peer never pairs with a CPU row.
  const tp = interleaved([{ ours: [row('copy', 'h2d', 'NVIDIA H200', { gbps: 40 }), row('copy', 'h2d', 'cpu', { gbps: 9 })], peer: [row('copy', 'h2d', 'NVIDIA H200', { gbps: 50 })] }]);
  assert.equal(tp.map((r) => r.ratios), [[0.8], []]);
  assert.is(table(tp, 1)[3], '| copy | h2d | cpu | 1.000 ms |  |  |  |');
});

const peerTest = 'the real peers print rows that parse and pair with every CUDA case of the gemm and gelu benchmarks';
if (python.status === 0) {
  s(peerTest, () => {
    const stubDevice = 'Stub GPU (test/peer-stub)';
    const runPeer = (name: string): BenchRow[] => {
      const r = spawnSync('python3', [join(root, 'bench', 'peers', `${name}.py`)], {
        encoding: 'utf8',
        env: { ...process.env, PYTHONPATH: join(root, 'test', 'peer-stub'), PYTHONDONTWRITEBYTECODE: '1' },
      });
      assert.is(r.status, 0, `${name}.py: exit ${r.status}: ${r.stderr}`);
      const parsed = parseRows(r.stdout);
      assert.equal(parsed.problems, [], `${name}.py output`);
      for (const p of parsed.rows) assert.is(p.device, stubDevice, `${name}.py device`);
      return parsed.rows;
    };
    const peers = { gemm: runPeer('gemm'), gelu: runPeer('gelu'), copy: runPeer('copy') };
    assert.is(peers.copy.length, 12, 'copy.py: 6 cases at 2 sizes');
    for (const [bench, names] of [['gemm', gemm.caseNames('cuda')], ['gelu', gelu.caseNames('cuda')]] as const) {
      const peerRows = peers[bench];
      assert.is(peerRows.length, names.length, `${bench}: one peer row per CUDA case`);
      const onGpu = compare(names.map((n) => row(bench, n, stubDevice, { gbps: 1, tflops: 1 })), peerRows);
      assert.is(onGpu.paired, names.length, `${bench}: every CUDA row pairs`);
      assert.equal(onGpu.unpairedPeers, [], `${bench}: every peer row is taken`);
      const cpu = bench === 'gemm' ? gemm.caseNames('cpu') : gelu.caseNames('cpu');
      assert.ok(cpu.every((n) => n.startsWith('cpu ')), `${bench}: CPU case names carry the device`);
      assert.is(compare(cpu.map((n) => row(bench, n, 'cpu')), peerRows).paired, 0, `${bench}: no CPU row pairs`);
    }
  });
} else {
  skipped.push(`compare > ${peerTest}: python3 not found`);
  s.skip(peerTest, () => undefined);
}

s.run();
