// Puts our benchmark rows next to the peers' as a markdown table: one line per case, the two
// figures and their ratio (hayate's speed over the peer's, so above 1 means hayate is faster).
// Usage: node dist/bench/compare.js <ours.json> [<peer.json> ...]; an empty peer file (a peer
// that found no PyTorch or no CUDA) leaves the PyTorch column empty.
import { readFileSync } from 'node:fs';

import type { BenchRow } from './harness';

function readRows(path: string): BenchRow[] {
  const text = readFileSync(path, 'utf8').trim();
  if (text === '') return [];
  try {
    return JSON.parse(text) as BenchRow[];
  } catch (e) {
    // A peer that died half-way has already failed the run; the table still shows our figures.
    console.error(`compare: ${path} holds no JSON rows (${(e as Error).message}); leaving it out`);
    return [];
  }
}

/** The figure a row is compared by: throughput where it has one, else time. */
function figure(r: BenchRow): { text: string; speed: number } {
  if (r.gbps !== undefined) return { text: `${r.gbps.toFixed(2)} GB/s`, speed: r.gbps };
  if (r.tflops !== undefined) return { text: `${r.tflops.toFixed(2)} TFLOP/s`, speed: r.tflops };
  return { text: `${r.medianMs.toFixed(3)} ms`, speed: 1 / r.medianMs };
}

function main(): void {
  const [oursPath, ...peerPaths] = process.argv.slice(2);
  if (oursPath === undefined) throw new Error('usage: compare.js <ours.json> [<peer.json> ...]');
  const peers = new Map<string, BenchRow>();
  for (const p of peerPaths) for (const r of readRows(p)) peers.set(`${r.bench}\u0000${r.case}`, r);
  console.log('| bench | case | hayate | PyTorch | hayate / PyTorch |');
  console.log('| --- | --- | ---: | ---: | ---: |');
  for (const r of readRows(oursPath)) {
    const ours = figure(r);
    const peer = peers.get(`${r.bench}\u0000${r.case}`);
    const theirs = peer === undefined ? undefined : figure(peer);
    const ratio = theirs === undefined ? '' : (ours.speed / theirs.speed).toFixed(2);
    console.log(`| ${r.bench} | ${r.case} | ${ours.text} | ${theirs?.text ?? ''} | ${ratio} |`);
  }
}

main();
