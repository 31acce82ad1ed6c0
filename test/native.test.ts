import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as assert from 'uvu/assert';

import { suite } from './harness';

const s = suite('native');

function runNative(name: string): string {
  const exe = join(__dirname, '..', '..', 'build', name);
  assert.ok(existsSync(exe), `${exe} is built with the addon`);
  const r = spawnSync(exe, { encoding: 'utf8', timeout: 120_000 });
  assert.is(r.signal, null, `${name} killed by ${r.signal}`);
  assert.is(r.status, 0, `${r.stdout}${r.stderr}`);
  return r.stdout;
}

s('caching allocator: placement, split/merge, per-stream pools, deferred reuse, OOM retry', () => {
  const m = /^(\d+) checks, 0 failed$/m.exec(runNative('hayate_allocator_test'));
  assert.ok(m !== null && Number(m[1]) >= 30, 'the allocator checks ran');
});

s('fp16 conversions agree with the definitional ones for all 2^32 floats and 2^16 halves', () => {
  assert.match(runNative('hayate_half_test'), /^0 conversions differ from the reference$/m);
});

s.run();
