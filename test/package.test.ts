// The package as Node and TypeScript see it: the exports map and its files, the ES module entry,
// the metadata, the source maps, stripInternal, and the error a package without its addon throws.
// (scripts/pack-check.sh checks the same from a packed tarball installed in a fresh project.)
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';

import { addonMissingError, cudaReason, DriverProbe, nativeAddonPath, nvidiaDriverPresent, resolveAddon } from '../lib/native';
import { suite } from './harness';

const s = suite('package');

const root = path.join(__dirname, '..', '..');
const distLib = path.join(__dirname, '..', 'lib');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as Record<string, unknown>;

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'hayate-package-test-'));
}

/** The environment without the HAYATE_* switches (test:emu sets HAYATE_CUDA_EMULATOR=1). */
function plainEnv(): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HAYATE_')));
}

function assertAddonMissing(message: string, where: string): void {
  assert.match(message, /npm rebuild hayate/, `${where}: says what to run`);
  assert.match(message, /CMake/, `${where}: says it needs CMake`);
  assert.match(message, /C\+\+17 compiler/, `${where}: says it needs a C++ compiler`);
  assert.match(message, /nvcc/, `${where}: names nvcc for the GPU`);
  assert.not.match(message, /Tried:|bindings file/, `${where}: not bindings' list of paths`);
}

s('exports: import and require entries with their types, and ./package.json; every target is built', () => {
  const exp = pkg.exports as Record<string, unknown>;
  assert.equal(exp['.'], {
    import: { types: './dist/lib/index.d.mts', default: './dist/lib/index.mjs' },
    require: { types: './dist/lib/index.d.ts', default: './dist/lib/index.js' },
  });
  assert.is(exp['./package.json'], './package.json');
  assert.is(pkg.main, 'dist/lib/index.js');
  assert.is(pkg.types, 'dist/lib/index.d.ts');
  for (const file of ['index.js', 'index.d.ts', 'index.mjs', 'index.d.mts']) {
    assert.ok(fs.existsSync(path.join(distLib, file)), `dist/lib/${file} is built`);
  }
});

s('the ES module entry: every CommonJS export by name, the whole API as default, one instance', async () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const cjs = require(path.join(distLib, 'index.js')) as Record<string, unknown>;
  const esm = (await import(pathToFileURL(path.join(distLib, 'index.mjs')).href)) as Record<string, unknown>;
  const names = (o: Record<string, unknown>) => Object.keys(o).filter((k) => k !== 'default' && k !== '__esModule').sort();
  assert.ok(names(cjs).length > 40);
  assert.equal(names(esm), names(cjs), 'named exports match the CommonJS build');
  assert.is(esm.default, cjs, 'the default export is the CommonJS module itself');
  assert.is(esm.tensor, cjs.tensor);
  assert.type(esm.tensor, 'function');
});

s('metadata: license, LICENSE file, repository, bugs, homepage, files', () => {
  assert.is(pkg.license, 'MIT');
  const license = fs.readFileSync(path.join(root, 'LICENSE'), 'utf8');
  assert.match(license, /^MIT License\n/);
  assert.match(license, /Copyright \(c\) \d{4} the hayate authors/);
  const repo = 'github.com/hayate-js/hayate';
  assert.equal(pkg.repository, { type: 'git', url: `git+https://${repo}.git` });
  assert.equal(pkg.bugs, { url: `https://${repo}/issues` });
  assert.is(pkg.homepage, `https://${repo}#readme`);
  const files = pkg.files as string[];
  for (const f of ['dist/lib', 'LICENSE', 'scripts/install.js', 'README.md', 'CMakeLists.txt']) assert.ok(files.includes(f), `files lists ${f}`);
  assert.is((pkg.scripts as Record<string, string>).install, 'node scripts/install.js');
});

s('source maps carry their sources (the package ships dist/lib, not lib/)', () => {
  const maps: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.map')) maps.push(p);
    }
  };
  walk(distLib);
  assert.ok(maps.length > 10, 'dist/lib has source maps');
  for (const m of maps) {
    const map = JSON.parse(fs.readFileSync(m, 'utf8')) as { sources: string[]; sourcesContent?: (string | null)[] };
    assert.is(map.sourcesContent?.length, map.sources.length, `${path.relative(distLib, m)} embeds its sources`);
    assert.ok(map.sourcesContent!.every((c) => typeof c === 'string' && c.length > 0), `${path.relative(distLib, m)}: no empty source`);
  }
});

s('stripInternal: @internal members stay out of the declarations', () => {
  const native = fs.readFileSync(path.join(distLib, 'native.d.ts'), 'utf8');
  for (const name of ['resolveAddon', 'addonMissingError', 'loadAddon', 'cudaReason', 'nvidiaDriverPresent']) {
    assert.not.ok(native.includes(name), `native.d.ts has no ${name}`);
  }
  assert.ok(native.includes('nativeAddonPath'), 'public names stay');
  const tensor = fs.readFileSync(path.join(distLib, 'tensor.d.ts'), 'utf8');
  for (const name of ['aliasAs', 'saveForBackward', 'live(']) assert.not.ok(tensor.includes(name), `tensor.d.ts has no ${name}`);
});

s('resolveAddon: unchanged by default, and a root with a build/Release/hayate.node resolves to it', () => {
  assert.is(resolveAddon(), nativeAddonPath);
  const dir = tempDir();
  try {
    const file = path.join(dir, 'build', 'Release', 'hayate.node');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, '');
    assert.is(resolveAddon({ root: dir, env: {} }), file);
    assert.is(resolveAddon({ root: dir, env: { HAYATE_CUDA_EMULATOR: '1' } }), path.join(dir, 'build-emu', 'Release', 'hayate.node'));
    assert.is(resolveAddon({ root: dir, env: { HAYATE_CUDA_EMULATOR: '1', HAYATE_EMULATOR_ASAN: '1' } }), path.join(dir, 'build-asan', 'Release', 'hayate.node'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

s('no addon built: one clear error that says what to run and what it needs', () => {
  const dir = tempDir();
  try {
    fs.writeFileSync(path.join(dir, 'package.json'), '{ "name": "hayate" }\n');
    try {
      resolveAddon({ root: dir, env: {} });
      assert.unreachable('expected an error');
    } catch (e) {
      const err = e as Error & { code?: string };
      assert.instance(err, Error);
      assert.is(err.code, 'ERR_HAYATE_ADDON_MISSING');
      assert.ok(err.message.includes(dir), 'names the package folder');
      assertAddonMissing(err.message, 'resolveAddon');
    }
    assertAddonMissing(addonMissingError(dir).message, 'addonMissingError');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

s("require('hayate') and import 'hayate' of a package installed without its build throw that error", () => {
  const dir = tempDir();
  try {
    const installed = path.join(dir, 'node_modules', 'hayate');
    fs.mkdirSync(installed, { recursive: true });
    fs.cpSync(distLib, path.join(installed, 'dist', 'lib'), { recursive: true });
    fs.copyFileSync(path.join(root, 'package.json'), path.join(installed, 'package.json'));
    fs.symlinkSync(path.join(root, 'node_modules'), path.join(installed, 'node_modules'), 'dir');
    const env = plainEnv();
    for (const [how, args] of [
      ['require', ['-e', "require('hayate')"]],
      ['import', ['--input-type=module', '-e', "import 'hayate'"]],
    ] as const) {
      const r = spawnSync(process.execPath, args, { cwd: dir, env, encoding: 'utf8' });
      assert.is(r.status, 1, `${how}: exits 1 (stderr: ${r.stderr})`);
      assert.match(r.stderr, /hayate: the native addon is not built/, `${how}: the error is ours`);
      assertAddonMissing(r.stderr, how);
      assert.match(r.stderr, /ERR_HAYATE_ADDON_MISSING/, `${how}: with its code`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

s('CUDA reason: cudaErrorInsufficientDriver with no driver installed reads "no NVIDIA driver found"', () => {
  const insufficient = 'cudaErrorInsufficientDriver: CUDA driver version is insufficient for CUDA runtime version';
  assert.is(cudaReason(insufficient, () => false), 'no NVIDIA driver found');
  assert.is(cudaReason(insufficient, () => true), insufficient, 'an old driver keeps the runtime\'s words');
  let asked = false;
  const other = 'cudaErrorNoDevice: no CUDA-capable device is detected';
  assert.is(cudaReason(other, () => ((asked = true), false)), other);
  assert.is(cudaReason('no CUDA device found', () => false), 'no CUDA device found');
  assert.not.ok(asked, 'the driver is looked for only for cudaErrorInsufficientDriver');
});

s('nvidiaDriverPresent: the kernel module, a device node or libcuda.so.1 where the loader looks', () => {
  const fake = (files: string[], dev: string[] | null = []): DriverProbe => ({
    existsSync: (f) => files.includes(f),
    readdirSync: (d) => {
      if (d !== '/dev' || dev === null) throw new Error('ENOENT');
      return dev;
    },
  });
  assert.is(nvidiaDriverPresent({}, fake([], ['null', 'dxg'])), false);
  assert.is(nvidiaDriverPresent({}, fake([], null)), false);
  assert.is(nvidiaDriverPresent({}, fake(['/proc/driver/nvidia/version'])), true);
  assert.is(nvidiaDriverPresent({}, fake([], ['nvidia0'])), true);
  assert.is(nvidiaDriverPresent({}, fake([], ['nvidiactl', 'nvidia-uvm'])), true);
  assert.is(nvidiaDriverPresent({}, fake([], ['nvidia-uvm'])), false, 'nvidia-uvm alone is not a driver');
  assert.is(nvidiaDriverPresent({}, fake(['/usr/lib/x86_64-linux-gnu/libcuda.so.1'])), true);
  assert.is(nvidiaDriverPresent({}, fake(['/usr/lib/wsl/lib/libcuda.so.1'])), true, 'WSL');
  assert.is(nvidiaDriverPresent({ LD_LIBRARY_PATH: '/opt/drv/lib:' }, fake(['/opt/drv/lib/libcuda.so.1'])), true);
  assert.is(nvidiaDriverPresent({}, fake(['/usr/local/cuda/lib64/stubs/libcuda.so'])), false, 'the toolkit\'s link stub is not a driver');
});

s.run();
