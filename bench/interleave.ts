// Our benchmarks and their PyTorch peers, alternated for several rounds in one run: on a shared
// machine whose speed drifts by tens of percent over minutes, a peer timed minutes after our rows
// gives a ratio that carries the drift. Each round runs every named benchmark's peer and ours back
// to back (which goes first alternates between rounds), a row's ratio is taken within its round,
// and the table gives the median ratio over the rounds with its lowest and highest.
//
// Usage: node dist/bench/interleave.js [--rounds 3] [--python python3] [--devices cpu] gemm gelu ...
// Each name is a bench/<name>.bench.js and a bench/peers/<name>.py. HY_BENCH_JSON=<path> also
// writes the median rows (ours and the peer's, with every round's ratio) there.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { deviceKey, figure, parseRows, shownDevice } from './compare';
import type { BenchRow } from './harness';
import { median } from './stats';

const ROOT = join(__dirname, '..', '..');

export interface RoundRows {
  ours: BenchRow[];
  peer: BenchRow[];
}

export interface InterleavedRow {
  bench: string;
  case: string;
  device: string;
  /** Medians over the rounds of our and the peer's time per iteration. */
  oursMs: number;
  peerMs: number;
  /** hayate's speed over the peer's, one per round in which both had the row. */
  ratios: number[];
}

/** Pairs each round's rows by (bench, case, device) and gathers the per-round ratios. */
export function interleaved(rounds: RoundRows[]): InterleavedRow[] {
  const key = (r: BenchRow): string => `${r.bench}\u0000${r.case}\u0000${deviceKey(r)}`;
  const order: string[] = [];
  const acc = new Map<string, { first: BenchRow; ours: number[]; peer: number[]; ratios: number[] }>();
  for (const round of rounds) {
    const peers = new Map(round.peer.map((p) => [key(p), p]));
    for (const r of round.ours) {
      const k = key(r);
      let a = acc.get(k);
      if (a === undefined) {
        a = { first: r, ours: [], peer: [], ratios: [] };
        acc.set(k, a);
        order.push(k);
      }
      a.ours.push(r.medianMs);
      const p = peers.get(k);
      if (p !== undefined) {
        a.peer.push(p.medianMs);
        a.ratios.push(figure(r).speed / figure(p).speed);
      }
    }
  }
  return order.map((k) => {
    const a = acc.get(k)!;
    return {
      bench: a.first.bench,
      case: a.first.case,
      device: shownDevice(a.first),
      oursMs: median(a.ours),
      peerMs: a.peer.length > 0 ? median(a.peer) : NaN,
      ratios: a.ratios,
    };
  });
}

/** The markdown table: times are medians over the rounds, the ratio the median of the rounds' ratios. */
export function table(rows: InterleavedRow[], rounds: number): string[] {
  const ms = (v: number): string => (Number.isNaN(v) ? '' : v < 0.1 ? `${(v * 1000).toFixed(1)} µs` : `${v.toFixed(3)} ms`);
  const out = [
    `| bench | case | device | hayate | PyTorch | hayate / PyTorch (median of ${rounds} rounds) | lowest-highest |`,
    '| --- | --- | --- | ---: | ---: | ---: | ---: |',
  ];
  for (const r of rows) {
    const ratio = r.ratios.length > 0 ? median(r.ratios).toFixed(2) : '';
    const spread = r.ratios.length > 1 ? `${Math.min(...r.ratios).toFixed(2)}-${Math.max(...r.ratios).toFixed(2)}` : '';
    out.push(`| ${r.bench} | ${r.case} | ${r.device} | ${ms(r.oursMs)} | ${ms(r.peerMs)} | ${ratio} | ${spread} |`);
  }
  return out;
}

function runOurs(name: string, devices: string, dir: string): BenchRow[] {
  const json = join(dir, `ours-${name}.json`);
  rmSync(json, { force: true });
  execFileSync(process.execPath, [join(__dirname, 'run.js')], {
    env: { ...process.env, HY_BENCH: `${name}.bench`, HY_BENCH_DEVICES: devices, HY_BENCH_JSON: json },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return parseRows(readFileSync(json, 'utf8')).rows;
}

function runPeer(name: string, python: string, devices: string): BenchRow[] {
  const script = join(ROOT, 'bench', 'peers', `${name}.py`);
  const text = execFileSync(python, [script], {
    env: { ...process.env, HY_BENCH_DEVICES: devices },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 << 20,
  });
  const { rows, problems } = parseRows(text);
  for (const p of problems) console.error(`interleave: ${name} peer: ${p}; left out`);
  return rows;
}

function main(): void {
  const { values, positionals } = parseArgs({
    options: {
      rounds: { type: 'string', default: '3' },
      python: { type: 'string', default: 'python3' },
      devices: { type: 'string', default: process.env.HY_BENCH_DEVICES ?? 'cpu' },
    },
    allowPositionals: true,
  });
  const rounds = Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 99) throw new RangeError(`interleave: --rounds must be an integer from 1 to 99, got '${values.rounds}'`);
  if (positionals.length === 0) throw new Error('usage: interleave.js [--rounds N] [--python PATH] [--devices cpu|cuda] <bench> ...');
  for (const name of positionals) {
    if (!existsSync(join(__dirname, `${name}.bench.js`))) throw new Error(`interleave: no benchmark bench/${name}.bench.ts`);
    if (!existsSync(join(ROOT, 'bench', 'peers', `${name}.py`))) throw new Error(`interleave: no peer bench/peers/${name}.py`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'hy-interleave-'));
  const all: RoundRows[] = [];
  try {
    for (let r = 0; r < rounds; r++) {
      const round: RoundRows = { ours: [], peer: [] };
      for (const name of positionals) {
        const started = performance.now();
        // Which side goes first alternates, so a drift within a round favours neither.
        if (r % 2 === 0) {
          round.peer.push(...runPeer(name, values.python!, values.devices!));
          round.ours.push(...runOurs(name, values.devices!, dir));
        } else {
          round.ours.push(...runOurs(name, values.devices!, dir));
          round.peer.push(...runPeer(name, values.python!, values.devices!));
        }
        console.error(`interleave: round ${r + 1} of ${rounds}, ${name}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
      }
      all.push(round);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const rows = interleaved(all);
  for (const line of table(rows, rounds)) console.log(line);
  const jsonPath = process.env.HY_BENCH_JSON;
  if (jsonPath) writeFileSync(jsonPath, `${JSON.stringify(rows, null, 1)}\n`);
}

if (require.main === module) main();
