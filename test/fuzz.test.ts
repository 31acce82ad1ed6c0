import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import * as assert from 'uvu/assert';

import { native } from '../lib/native';
import { TABLE } from './optable/table';
import { suite } from './harness';

const s = suite('fuzz');

s('thousands of malformed calls give clean JS errors and the process survives', () => {
  const child = spawnSync(process.execPath, [join(__dirname, 'fuzz-child.js')], { encoding: 'utf8', timeout: 120_000 });
  assert.is(child.signal, null, `the fuzz process was killed by ${child.signal}: ${child.stderr}`);
  assert.is(child.status, 0, `exit status ${child.status}: ${child.stderr}`);
  const lines = child.stdout.trim().split('\n');
  const summary = JSON.parse(lines[lines.length - 1]) as { calls: number; cleanErrors: number; returned: number; bad: string[]; ops?: string[]; tableEntries?: number };
  assert.equal(summary.bad.slice(0, 10), [], 'every failure is a clean error naming its op');
  assert.equal(summary.ops, native.ops().map((d) => d.name), 'the fuzz ran every registered op');
  assert.is(summary.tableEntries, TABLE.length, 'and every public op of the table');
  assert.ok(summary.calls >= 8000, `calls made: ${summary.calls}`);
  assert.ok(summary.cleanErrors >= summary.calls * 0.8, `clean errors ${summary.cleanErrors} of ${summary.calls}`);
});

s('size products that would wrap are RangeErrors, not crashes', () => {
  const x = native.alloc('cpu', 64);
  // outer * reduce * inner wraps past 2^64; 65536^4 extents multiply to 2^64 exactly.
  assert.throws(() => native.run('reduceSum', { x, out: x, dtype: 'float32', outer: 2 ** 40, reduce: 2 ** 40, inner: 2 ** 40, scale: 1 }),
    (e: Error) => e instanceof RangeError && /^reduceSum: outer \* reduce \* inner must be at most 2\^52, got a product that overflows$/.test(e.message));
  const big = [65536, 65536, 65536, 65536];
  assert.throws(() => native.run('binary', { op: 'add', a: x, b: x, out: x, dtype: 'float32', shape: big, stridesA: [1, 1, 1, 1], stridesB: [1, 1, 1, 1] }),
    (e: Error) => e instanceof RangeError && /^binary: the element count of shape must be at most 2\^52/.test(e.message));
  assert.throws(() => native.run('binary', { op: 'add', a: x, b: x, out: x, dtype: 'float32', shape: [1, 2 ** 21], stridesA: [0, 2 ** 32], stridesB: [0, 1] }),
    (e: Error) => e instanceof RangeError && /^binary: stridesA must be strides whose last element lies below 2\^52/.test(e.message));
  x.dispose();
});

s.run();
