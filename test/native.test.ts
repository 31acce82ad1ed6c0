import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import * as assert from 'uvu/assert';

import { suite } from './harness';

const s = suite('native');

// The native test programs are built here, for the tests only: test/native is a CMake project of its
// own (the addon a user installs never builds it), configured once into build/native-tests and
// brought up to date before every run, so a fresh clone's `npm install && npm test` runs them.
const root = join(__dirname, '..', '..');
const buildDir = join(root, 'build', 'native-tests');
// Programs built without a sanitizer run without the one a sanitized node may have preloaded.
const env = { ...process.env };
delete env.LD_PRELOAD;

let buildError: string | undefined;
let built = false;

function cmake(args: string[]): { ok: boolean; output: string } {
  const r = spawnSync('cmake', args, { cwd: root, env, encoding: 'utf8', timeout: 600_000 });
  const output = `cmake ${args.join(' ')}\n${r.error?.message ?? ''}${r.stdout ?? ''}${r.stderr ?? ''}`;
  return { ok: r.status === 0, output };
}

function buildNativeTests(): void {
  if (built) return;
  if (buildError !== undefined) assert.unreachable(buildError);
  const configureArgs = ['-S', join(root, 'test', 'native'), '-B', buildDir, '-DCMAKE_BUILD_TYPE=Release'];
  // Ninja where it exists, as cmake-js picks it (a GPU host may have ninja and no make).
  if (env.CMAKE_GENERATOR === undefined && spawnSync('ninja', ['--version'], { env }).status === 0) configureArgs.push('-G', 'Ninja');
  let configure = cmake(configureArgs);
  if (!configure.ok && existsSync(buildDir)) {
    rmSync(buildDir, { recursive: true, force: true }); // a cache from another checkout or CMake
    configure = cmake(configureArgs);
  }
  const build = configure.ok ? cmake(['--build', buildDir, '--parallel', String(availableParallelism())]) : configure;
  if (!build.ok) {
    buildError = `building the native tests failed:\n${build.output}`;
    assert.unreachable(buildError);
  }
  built = true;
}

function runNative(name: string): string {
  buildNativeTests();
  const exe = join(buildDir, name);
  assert.ok(existsSync(exe), `${exe} was built`);
  const r = spawnSync(exe, { env, encoding: 'utf8', timeout: 120_000 });
  assert.is(r.signal, null, `${name} killed by ${r.signal}: ${r.stdout}${r.stderr}`);
  assert.is(r.status, 0, `${r.stdout}${r.stderr}`);
  return r.stdout;
}

s('caching allocator: placement, split/merge, per-stream pools, deferred reuse, OOM retry, failed event records', () => {
  const m = /^(\d+) checks, 0 failed$/m.exec(runNative('hayate_allocator_test'));
  assert.ok(m !== null && Number(m[1]) >= 30, 'the allocator checks ran');
});

s('fp16 conversions agree with the definitional ones for all 2^32 floats and 2^16 halves', () => {
  assert.match(runNative('hayate_half_test'), /^0 conversions differ from the reference$/m);
});

s.run();
