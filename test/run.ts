// Runs every test file with uvu and ends with the line "N passed, N failed, N skipped".
// HY_TEST=<substring> runs only the files whose name contains it; a comma list
// (HY_TEST=gemm,nn.test) runs the files whose name contains any of them.
// HY_BACKENDS=<backend>[,<backend>] runs only those backends' cases (see eachBackend in harness.ts).
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

type Result = [true | string, number, number, number];
type Runner = () => Promise<Result>;

async function main(): Promise<void> {
  (globalThis as Record<string, unknown>).UVU_DEFER = 1;
  const queue: unknown[][] = ((globalThis as Record<string, unknown>).UVU_QUEUE as unknown[][]) ?? [];
  (globalThis as Record<string, unknown>).UVU_QUEUE = queue;
  const filters = (process.env.HY_TEST ?? '').split(',').filter((f) => f !== '');
  const files = readdirSync(__dirname)
    .filter((f) => f.endsWith('.test.js') && (filters.length === 0 || filters.some((part) => f.includes(part))))
    .sort();
  try {
    require('./harness'); // reads HY_BACKENDS and loads the addon: a bad value fails here, once
  } catch (e) {
    console.error(`test run: ${(e as Error).message}`);
    console.log('0 passed, 1 failed, 0 skipped');
    process.exitCode = 1;
    return;
  }
  const uvu = require('uvu') as typeof import('uvu');
  files.forEach((file, idx) => {
    queue.push([file]);
    (globalThis as Record<string, unknown>).UVU_INDEX = idx;
    require(join(__dirname, file));
  });
  let passed = 0;
  let failed = 0;
  let skippedCount = 0;
  for (const group of queue) {
    for (let i = 1; i < group.length; i++) {
      const run = group[i] as Runner;
      group[i] = async () => {
        const r = await run();
        passed += r[1];
        failed += r[3] - r[1];
        skippedCount += r[2];
        return r;
      };
    }
  }
  await uvu.exec(false);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { skipped, partSkips } = require('./harness') as typeof import('./harness');
  skippedCount += partSkips.count;
  if (skipped.length > 0) {
    console.log(`Skipped cases (${skipped.length}):`);
    for (const s of skipped) console.log(`  - ${s}`);
  }
  if (skipped.length !== skippedCount) {
    console.log(`warning: ${skippedCount - skipped.length} skips were not registered by name`);
  }
  if (files.length === 0) {
    console.log('no test files matched');
    failed += 1;
  }
  console.log(`${passed} passed, ${failed} failed, ${skippedCount} skipped`);
  process.exitCode = failed > 0 ? 1 : 0;
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
