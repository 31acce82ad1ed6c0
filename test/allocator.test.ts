import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as assert from 'uvu/assert';

import { suite } from './harness';

const s = suite('allocator');

s('caching allocator: placement, split/merge, per-stream pools, deferred reuse, OOM retry', () => {
  const exe = join(__dirname, '..', '..', 'build', 'hayate_allocator_test');
  assert.ok(existsSync(exe), `${exe} is built with the addon`);
  const r = spawnSync(exe, { encoding: 'utf8', timeout: 60_000 });
  assert.is(r.signal, null, `killed by ${r.signal}`);
  assert.is(r.status, 0, `${r.stdout}${r.stderr}`);
  const m = /^(\d+) checks, 0 failed$/m.exec(r.stdout);
  assert.ok(m !== null && Number(m[1]) >= 30, r.stdout);
});

s.run();
