import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import * as assert from 'uvu/assert';

import { native } from '../lib/native';
import { suite } from './harness';

const s = suite('fuzz');

s('thousands of malformed calls give clean JS errors and the process survives', () => {
  const child = spawnSync(process.execPath, [join(__dirname, 'fuzz-child.js')], { encoding: 'utf8', timeout: 120_000 });
  assert.is(child.signal, null, `the fuzz process was killed by ${child.signal}: ${child.stderr}`);
  assert.is(child.status, 0, `exit status ${child.status}: ${child.stderr}`);
  const lines = child.stdout.trim().split('\n');
  const summary = JSON.parse(lines[lines.length - 1]) as { calls: number; cleanErrors: number; returned: number; bad: string[]; ops?: string[] };
  assert.equal(summary.bad.slice(0, 10), [], 'every failure is a clean error naming its op');
  assert.equal(summary.ops, native.ops().map((d) => d.name), 'the fuzz ran every registered op');
  assert.ok(summary.calls >= 8000, `calls made: ${summary.calls}`);
  assert.ok(summary.cleanErrors >= summary.calls * 0.8, `clean errors ${summary.cleanErrors} of ${summary.calls}`);
});

s.run();
