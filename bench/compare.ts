// Puts our benchmark rows next to the peers' as a markdown table: one line per case, the two
// figures and their ratio (hayate's speed over the peer's, so above 1 means hayate is faster).
// Usage: node dist/bench/compare.js <ours.json> [<peer.json> ...]; an empty peer file (a peer
// that found no PyTorch or no CUDA) leaves the PyTorch column empty.
//
// A file holds rows in either of the forms the benchmarks print: one JSON array (bench/run.ts's
// HY_BENCH_JSON, bench/peers/copy.py) or one JSON object a line (bench/peers/gemm.py, gelu.py).
// A row pairs with a peer row of the same bench and case on the same device: a CPU row never takes
// the figure of a GPU peer, whatever its case is called.
import { readFileSync } from 'node:fs';

import type { BenchRow } from './harness';

export interface Parsed {
  rows: BenchRow[];
  /** What could not be read, one line each (a peer that died half-way leaves a broken last line). */
  problems: string[];
}

function isRow(v: unknown): v is BenchRow {
  const r = v as Partial<BenchRow> | null;
  return typeof r === 'object' && r !== null && typeof r.bench === 'string' && typeof r.case === 'string' && typeof r.medianMs === 'number';
}

function collect(values: unknown[], where: (i: number) => string, out: Parsed): void {
  values.forEach((v, i) => {
    if (isRow(v)) out.rows.push(v);
    else out.problems.push(`${where(i)}: not a row (needs bench, case and medianMs): ${JSON.stringify(v)?.slice(0, 80)}`);
  });
}

/** Rows from a whole JSON value (an array of rows or one row), else from JSON lines. */
export function parseRows(text: string): Parsed {
  const out: Parsed = { rows: [], problems: [] };
  if (text.trim() === '') return out;
  let whole: unknown;
  try {
    whole = JSON.parse(text);
  } catch {
    const lines = text.split('\n');
    lines.forEach((line, i) => {
      if (line.trim() === '') return;
      let v: unknown;
      try {
        v = JSON.parse(line);
      } catch (e) {
        out.problems.push(`line ${i + 1}: ${(e as Error).message}`);
        return;
      }
      collect(Array.isArray(v) ? v : [v], () => `line ${i + 1}`, out);
    });
    return out;
  }
  collect(Array.isArray(whole) ? whole : [whole], (i) => `item ${i + 1}`, out);
  return out;
}

/** The device a row was measured on, for pairing: 'cpu' for every CPU row, else the card's name. */
export function deviceKey(r: BenchRow): string {
  const d = (r.device ?? '').trim().replace(/\s+/g, ' ').toLowerCase();
  return d === '' || d.startsWith('cpu') ? 'cpu' : d;
}

const key = (r: BenchRow): string => `${r.bench}\u0000${r.case}\u0000${deviceKey(r)}`;

/** The device as a table shows it: the section's heading already says why a CPU-only run has no CUDA. */
export function shownDevice(r: BenchRow): string {
  return r.device.replace(/ \(no CUDA: .*\)$/, '');
}

/** The figure a row is compared by: throughput where it has one, else time (speed: higher is faster). */
export function figure(r: BenchRow): { text: string; speed: number } {
  if (r.gbps !== undefined) return { text: `${r.gbps.toFixed(2)} GB/s`, speed: r.gbps };
  if (r.tflops !== undefined) return { text: `${r.tflops.toFixed(2)} TFLOP/s`, speed: r.tflops };
  return { text: `${r.medianMs.toFixed(3)} ms`, speed: 1 / r.medianMs };
}

export interface Comparison {
  /** The markdown table, one line per row of ours. */
  table: string[];
  paired: number;
  /** Peer rows no row of ours took, with the reason. */
  unpairedPeers: string[];
}

export function compare(ours: BenchRow[], peers: BenchRow[]): Comparison {
  const byKey = new Map<string, BenchRow>();
  for (const p of peers) byKey.set(key(p), p);
  const used = new Set<string>();
  const table = ['| bench | case | device | hayate | PyTorch | hayate / PyTorch |', '| --- | --- | --- | ---: | ---: | ---: |'];
  let paired = 0;
  for (const r of ours) {
    const ourFigure = figure(r);
    const peer = byKey.get(key(r));
    let theirs = '';
    let ratio = '';
    if (peer !== undefined) {
      const f = figure(peer);
      theirs = f.text;
      ratio = (ourFigure.speed / f.speed).toFixed(2);
      used.add(key(r));
      paired++;
    }
    table.push(`| ${r.bench} | ${r.case} | ${shownDevice(r)} | ${ourFigure.text} | ${theirs} | ${ratio} |`);
  }
  const oursByCase = new Map<string, BenchRow>();
  for (const r of ours) oursByCase.set(`${r.bench}\u0000${r.case}`, r);
  const unpairedPeers: string[] = [];
  for (const p of peers) {
    if (used.has(key(p))) continue;
    const same = oursByCase.get(`${p.bench}\u0000${p.case}`);
    const why = same === undefined ? 'no hayate row of that case' : `the hayate row ran on '${same.device}', the peer on '${p.device}'`;
    unpairedPeers.push(`${p.bench} / ${p.case}: ${why}`);
  }
  return { table, paired, unpairedPeers };
}

function main(): void {
  const [oursPath, ...peerPaths] = process.argv.slice(2);
  if (oursPath === undefined) throw new Error('usage: compare.js <ours.json> [<peer.json> ...]');
  const read = (path: string): BenchRow[] => {
    const { rows, problems } = parseRows(readFileSync(path, 'utf8'));
    // A peer that died half-way has already failed the run; the table still shows what was read.
    for (const p of problems) console.error(`compare: ${path}: ${p}; left out`);
    return rows;
  };
  const ours = read(oursPath);
  const peers = peerPaths.flatMap(read);
  const c = compare(ours, peers);
  for (const line of c.table) console.log(line);
  console.error(`compare: ${c.paired} of ${ours.length} hayate rows paired with one of ${peers.length} PyTorch rows`);
  for (const u of c.unpairedPeers) console.error(`compare: unpaired PyTorch row: ${u}`);
}

if (require.main === module) main();
