// The public API under fuzz: every exported function and class and every Tensor method (listed by
// test/api-fuzz-targets.ts) is called with wrong types, sizes and states, each target in a child
// process of its own (test/api-fuzz-child.ts), so a crash or a hang is that target's, not the
// runner's. Required: no crash (the child exits and reports), no hang (a result within the time
// limit), no unclean error (an engine TypeError from a missed check, a non-Error throw) and no call
// accepted with a value no parameter takes. The counts are printed.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as assert from 'uvu/assert';

import * as hy from '../lib/index';
import { targets } from './api-fuzz-targets';
import { skipped, suite } from './harness';

const s = suite('api-fuzz');
const CHILD_LIMIT_MS = 60_000;
const PARALLEL = 2;

interface ChildResult {
  target: string;
  calls?: number;
  cleanErrors?: number;
  returned?: number;
  unclean?: string[];
  acceptedWrongly?: string[];
  hangs?: string[];
  driverFailed?: string;
}

function runChild(name: string, cwd: string): Promise<{ result: ChildResult | null; why: string | null }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(__dirname, 'api-fuzz-child.js'), name], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_LIMIT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').pop() ?? '';
      let result: ChildResult | null = null;
      try {
        result = JSON.parse(line) as ChildResult;
      } catch {
        // no summary: a crash or a hang
      }
      const why = signal === 'SIGKILL' ? `hung: no result in ${CHILD_LIMIT_MS} ms` : signal !== null ? `crashed with ${signal}: ${err.slice(-400)}` : code !== 0 ? `exited ${code}: ${err.slice(-400)}` : result === null ? `printed no summary: ${err.slice(-400)}` : null;
      resolve({ result, why });
    });
  });
}

const NAME = 'every exported function, class and Tensor method survives malformed calls in a child process of its own';
// The API layer is the same in every build; 266 children of the emulated (or sanitized) addon would
// take many minutes, so the emulated builds' suites leave this to the plain ones.
const SKIP = hy.info().cuda.emulated === true ? 'the emulated-device build (the plain suites run it)' : undefined;
if (SKIP !== undefined) {
  skipped.push(`api-fuzz > ${NAME}: ${SKIP}`);
  s.skip(NAME, () => undefined);
} else s(NAME, async () => {
  const list = targets().map((t) => t.name);
  assert.ok(list.length > 150, `targets: ${list.length}`);
  const cwd = mkdtempSync(join(tmpdir(), 'hayate-api-fuzz-')); // files a fuzzed save() writes land here
  const problems: string[] = [];
  const totals = { targets: list.length, calls: 0, cleanErrors: 0, returned: 0, crashes: 0, hangs: 0, unclean: 0, acceptedWrongly: 0 };
  try {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < list.length) {
        const name = list[next++];
        const { result, why } = await runChild(name, cwd);
        if (why !== null) {
          if (why.startsWith('hung')) totals.hangs++;
          else totals.crashes++;
          problems.push(`${name}: ${why}`);
          continue;
        }
        if (result!.driverFailed !== undefined) {
          totals.crashes++;
          problems.push(`${name}: the fuzz driver failed: ${result!.driverFailed}`);
          continue;
        }
        totals.calls += result!.calls!;
        totals.cleanErrors += result!.cleanErrors!;
        totals.returned += result!.returned!;
        totals.unclean += result!.unclean!.length;
        totals.acceptedWrongly += result!.acceptedWrongly!.length;
        totals.hangs += result!.hangs!.length;
        problems.push(...result!.unclean!, ...result!.acceptedWrongly!, ...result!.hangs!);
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
  console.log(`    api fuzz: ${JSON.stringify(totals)}`);
  if (process.env.HY_API_FUZZ_REPORT) require('node:fs').writeFileSync(process.env.HY_API_FUZZ_REPORT, problems.join('\n') + '\n');
  assert.equal(problems.slice(0, 25), [], `${problems.length} problems (first 25 shown)`);
  assert.is(totals.crashes + totals.hangs + totals.unclean + totals.acceptedWrongly, 0);
});

s.run();
