// Every registered native op has a benchmark: each bench/*.bench.ts exports `covers`, the op names
// whose kernels its rows time, and their union must hold every op native.ops() lists. A new op
// without a benchmark row fails here, as does a bench naming an op that is not registered.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as assert from 'uvu/assert';

import { native } from '../lib/native';
import type { BenchModule } from '../bench/harness';
import { suite } from './harness';

const s = suite('bench coverage');

const benchDir = join(__dirname, '..', 'bench');

/** Every compiled benchmark module by file name. */
function benchModules(): [string, Partial<BenchModule>][] {
  const files = readdirSync(benchDir)
    .filter((f) => f.endsWith('.bench.js'))
    .sort();
  return files.map((f) => [f, require(join(benchDir, f)) as Partial<BenchModule>]);
}

/** The registered op names, or a failure saying why they cannot be listed. */
function registeredOps(): string[] {
  const ops = (native as unknown as { ops?: unknown }).ops;
  if (typeof ops !== 'function') {
    assert.unreachable(
      'native.ops() is not provided by the loaded addon, so the registered ops cannot be listed and benchmark coverage ' +
        'cannot be checked (the addon must be built from sources with the op registry)',
    );
  }
  const list = (ops as () => { name: string }[]).call(native);
  assert.ok(Array.isArray(list) && list.length > 0, `native.ops() returned ${JSON.stringify(list)}, expected a non-empty array of ops`);
  return list.map((o) => o.name);
}

s('every bench module exports covers, a list of op names', () => {
  const mods = benchModules();
  assert.ok(mods.length > 0, `no *.bench.js in ${benchDir}`);
  for (const [file, mod] of mods) {
    assert.type(mod.run, 'function', `${file}: run`);
    assert.ok(Array.isArray(mod.covers), `${file}: must export covers (the native op names its rows time; [] for none)`);
    for (const name of mod.covers ?? []) assert.type(name, 'string', `${file}: covers entry`);
  }
});

s('every registered native op has a benchmark, and every covered op is registered', () => {
  const registered = registeredOps();
  const coveredBy = new Map<string, string[]>();
  for (const [file, mod] of benchModules()) {
    for (const name of mod.covers ?? []) coveredBy.set(name, [...(coveredBy.get(name) ?? []), file]);
  }
  const known = new Set(registered);
  const unknown = [...coveredBy].filter(([name]) => !known.has(name)).map(([name, files]) => `${name} (in ${files.join(', ')})`);
  assert.equal(unknown, [], `ops named in covers that native.ops() does not list: ${unknown.join('; ')}`);
  const missing = registered.filter((name) => !coveredBy.has(name));
  assert.equal(missing, [], `registered ops with no benchmark (add rows to a bench/*.bench.ts and name the op in its covers): ${missing.join(', ')}`);
});

s.run();
