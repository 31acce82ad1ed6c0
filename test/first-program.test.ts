// The program a PyTorch user writes first (test/fixtures/first-program.ts: a model, MNIST, accuracy
// with argmax(1).eq(y).float().mean(), a sliced batch, cat, printing, a state dict round trip),
// compiled against the package's published types with tsc --strict in a project of its own (the
// package linked in as node_modules/hayate, skipLibCheck off), then run.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as assert from 'uvu/assert';

import * as hy from '../lib/index';
import { skipped, suite } from './harness';

const s = suite('first-program');
const repo = join(__dirname, '..', '..');
const name = 'a first program compiles under tsc --strict against the published types and trains, measures and round-trips';
// Forty training steps on the emulated CUDA device would take many minutes; the plain suites run it.
const skip = hy.info().cuda.emulated === true ? 'the emulated-device build (the plain suites run it)' : undefined;

if (skip !== undefined) {
  skipped.push(`first-program > ${name}: ${skip}`);
  s.skip(name, () => undefined);
} else {
  s(name, () => {
    const dir = mkdtempSync(join(tmpdir(), 'hayate-first-'));
    try {
      mkdirSync(join(dir, 'node_modules'));
      symlinkSync(repo, join(dir, 'node_modules', 'hayate'), 'dir');
      symlinkSync(join(repo, 'node_modules', '@types'), join(dir, 'node_modules', '@types'), 'dir');
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'first', private: true, type: 'commonjs' }));
      copyFileSync(join(repo, 'test', 'fixtures', 'first-program.ts'), join(dir, 'program.ts'));
      const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
      try {
        execFileSync(process.execPath, [tsc, '--strict', '--module', 'nodenext', '--target', 'es2022', '--skipLibCheck', 'false', '--types', 'node', '--outDir', 'out', 'program.ts'], { cwd: dir, encoding: 'utf8', stdio: 'pipe' });
      } catch (e) {
        const err = e as { stdout?: string; stderr?: string };
        assert.unreachable(`tsc --strict rejected the first program:\n${err.stdout ?? ''}${err.stderr ?? ''}`);
      }
      const out = execFileSync(process.execPath, [join(dir, 'out', 'program.js'), join(dir, 'model.safetensors')], { cwd: dir, encoding: 'utf8' });
      const lines = out.trim().split('\n');
      const last = JSON.parse(lines[lines.length - 1]) as { accuracy: number; same: number; batches: number; testSamples: number; printed: string };
      assert.ok(last.accuracy > 0.7 && last.accuracy <= 1, `accuracy after 40 Adam steps: ${last.accuracy}`);
      assert.is(last.same, 0, 'the loaded copy computes what the model does');
      assert.ok(last.testSamples >= 1000, `test digits: ${last.testSamples}`);
      assert.is(last.batches, Math.ceil(last.testSamples / 500), 'one accuracy per batch of 500, concatenated');
      assert.is(last.printed, 'tensor([[1.5000, 2.0000],\n        [3.0000, 4.0000]])');
      assert.match(out, /^first batches tensor\(\[0\.\d{4}, 0\.\d{4}, 0\.\d{4}\]\)$/m);
      assert.match(out, /^top tensor\(\[0\.\d{4}, 0\.\d{4}\], gradFn=<Max>\) tensor\(\[\d, \d\], dtype=int32\)$/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

s.run();
