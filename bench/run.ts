// `npm run bench`: runs every *.bench.js next to this file and prints one table of their rows.
// HY_BENCH=<substring> runs only the files whose name contains it; HY_BENCH_JSON=<path> also
// writes the rows there as a JSON array (the device check compares them with the peers').
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import type { BenchModule, BenchRow } from './harness';

function fixed(v: number | undefined, digits: number): string {
  return v === undefined ? '' : v.toFixed(digits);
}

function printTable(rows: BenchRow[]): void {
  const withTflops = rows.some((r) => r.tflops !== undefined);
  const header = ['bench', 'case', 'median ms', 'GB/s', ...(withTflops ? ['TFLOP/s'] : [])];
  const lines = rows.map((r) => [r.bench, r.case, fixed(r.medianMs, 3), fixed(r.gbps, 2), ...(withTflops ? [fixed(r.tflops, 2)] : [])]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  // Text columns align left, figures right.
  const format = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  for (const device of new Set(rows.map((r) => r.device))) console.log(`device: ${device}`);
  console.log(format(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const l of lines) console.log(format(l));
}

async function main(): Promise<void> {
  const filter = process.env.HY_BENCH ?? '';
  const files = readdirSync(__dirname)
    .filter((f) => f.endsWith('.bench.js') && f.includes(filter))
    .sort();
  if (files.length === 0) throw new Error(`no benchmark matched HY_BENCH='${filter}'`);
  const rows: BenchRow[] = [];
  let failures = 0;
  for (const file of files) {
    const started = performance.now();
    try {
      const mod = require(join(__dirname, file)) as BenchModule;
      rows.push(...(await mod.run()));
      console.error(`${file}: done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    } catch (e) {
      // One broken benchmark should not hide the others' figures.
      failures++;
      console.error(`${file}: failed: ${(e as Error).stack ?? e}`);
    }
  }
  printTable(rows);
  const jsonPath = process.env.HY_BENCH_JSON;
  if (jsonPath) writeFileSync(jsonPath, `${JSON.stringify(rows, null, 1)}\n`);
  process.exitCode = failures > 0 ? 1 : 0;
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
