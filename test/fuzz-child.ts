// Throws malformed calls at every binding function and at the public API, in a child process so
// that a crash shows as a failed test rather than killing the runner. Prints one JSON summary.
import * as hy from '../lib/index';
import { native } from '../lib/native';
import type { OpArgs, OpDescriptor, OpField } from '../lib/native';
import { rng } from './harness';
import { TABLE } from './optable/table';

interface Summary {
  calls: number;
  cleanErrors: number;
  returned: number;
  bad: string[];
  /** The registered ops whose run() was fuzzed. */
  ops?: string[];
  /** The op-table entries whose public function was fuzzed. */
  tableEntries?: number;
}

const summary: Summary = { calls: 0, cleanErrors: 0, returned: 0, bad: [] };
const CALLS_PER_FUNCTION = Number(process.env.HY_FUZZ_CALLS ?? 400);

native.setMemoryLimit('cpu', 1 << 30); // a fuzzed byte count must not exhaust the machine

const live = native.alloc('cpu', 64);
const live2 = native.alloc('cpu', 64);
const disposed = native.alloc('cpu', 64);
disposed.dispose();
const pool: (() => unknown)[] = [
  () => undefined, () => null, () => true, () => false, () => 0, () => 1, () => 2, () => 3, () => -1, () => 1.5,
  () => NaN, () => Infinity, () => -Infinity, () => 2 ** 53, () => 2 ** 60, () => 1e300, () => -0, () => 64, () => 16,
  () => '', () => 'cpu', () => 'cuda', () => 'pinned', () => 'cuda:0', () => 'gpu', () => '0', () => ({}), () => [],
  () => [1, 2], () => Symbol('s'), () => 10n, () => () => 1, () => new Float32Array(4), () => new Int32Array(4),
  () => new Float64Array(2), () => new Uint8Array(3), () => new ArrayBuffer(8), () => new DataView(new ArrayBuffer(4)),
  () => live, () => disposed, () => Object.create(live as object), () => native.Storage.prototype, () => new Date(),
  () => new Float32Array(1 << 10), () => ({ OutOfMemoryError: 5 }), () => new Map(), () => Promise.resolve(1),
];

function isCleanError(e: unknown): boolean {
  return e instanceof Error && typeof e.message === 'string' && e.message.length > 0 && !/internal error/.test(e.message);
}

function record(name: string, args: unknown[], e: unknown, opName: string): void {
  if (!isCleanError(e)) {
    summary.bad.push(`${name}(${args.map((a) => typeof a).join(', ')}): unclean ${String(e)}`);
  } else if (!(e as Error).message.includes(opName) && !(e instanceof hy.OutOfMemoryError)) {
    summary.bad.push(`${name}(${args.map(String).join(", ")}): message does not name '${opName}': ${(e as Error).message} ${(e as Error).stack}`);
  } else {
    summary.cleanErrors++;
  }
}

async function fuzz(name: string, fn: (...a: unknown[]) => unknown, opName: string, arity: number, seed: number): Promise<void> {
  const r = rng(seed);
  for (let i = 0; i < CALLS_PER_FUNCTION; i++) {
    const n = Math.floor(r() * (arity + 2));
    const args = Array.from({ length: n }, () => pool[Math.floor(r() * pool.length)]());
    summary.calls++;
    try {
      const out = fn(...args);
      if (out instanceof Promise) {
        try {
          await out;
          summary.returned++;
        } catch (e) {
          record(name, args, e, opName);
        }
      } else {
        summary.returned++;
        if (out !== null && typeof out === 'object' && 'dispose' in out) (out as { dispose(): void }).dispose();
      }
    } catch (e) {
      record(name, args, e, opName);
    }
  }
}

/** Plausible values per field kind, so that malformed calls also reach the checks past the types. */
function plausible(field: OpField, r: () => number): unknown {
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)];
  switch (field.kind) {
    case 'storage':
    case 'optionalStorage': return pick([live, live2, disposed, null, undefined]);
    case 'dtype':
    case 'enum': return pick([...(field.values ?? []), 'bogus', 0]);
    case 'size': return pick([0, 1, 2, 3, 4, 7, 16, 64, 2 ** 31, 2 ** 32, 2 ** 40, 2 ** 53 - 1, 2 ** 53, -1, 1.5]);
    case 'number': return pick([0, 1, -1, 0.5, 1.5, NaN, Infinity, -Infinity, 1e300]);
    case 'bool': return pick([true, false, 0]);
    case 'dims': return pick([[], [4], [2, 2], [1, 4], [65536, 65536, 65536, 65536], [2 ** 32, 2], [0, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9]]);
    case 'storageList': return pick([[], [live], [live, live2], [live, disposed], [null], live, [live, live, live]]);
    case 'sizeList': return pick([[], [1], [4, 4], [2 ** 40], [-1], [1.5], 4, [0, 0, 0]]);
  }
}

/** run(op, args) with the op's own field names, each given a plausible or a random value (or left out). */
async function fuzzOp(d: OpDescriptor, seed: number): Promise<void> {
  const r = rng(seed);
  await fuzz(`run('${d.name}')`, () => {
    const args: Record<string, unknown> = {};
    for (const f of d.fields) {
      const u = r();
      if (u < 0.7) args[f.name] = plausible(f, r);
      else if (u < 0.95) args[f.name] = pool[Math.floor(r() * pool.length)]();
    }
    if (r() < 0.1) args.impl = pool[Math.floor(r() * pool.length)]();
    return native.run(d.name, args as OpArgs);
  }, d.name, 0, seed);
}

async function main(): Promise<void> {
  const n = native as unknown as Record<string, (...a: unknown[]) => unknown>;
  const targets: [string, string, number][] = [
    ['alloc', 'alloc', 3], ['copy', 'copy', 4],
    ['write', 'write', 3], ['toDevice', 'toDevice', 3], ['read', 'read', 3], ['readAsync', 'readAsync', 3], ['memoryStats', 'memory.stats', 1],
    ['emptyCache', 'memory.emptyCache', 1], ['resetPeakStats', 'memory.resetPeakStats', 1],
    ['setMemoryLimit', 'memory.setLimit', 2], ['setErrorClasses', 'setErrorClasses', 1], ['run', 'run', 2],
  ];
  let seed = 1;
  for (const [name, op, arity] of targets) {
    if (name === 'setMemoryLimit') {
      // fuzz the limit on the pinned/cuda pools only; the cpu cap above must stay
      await fuzz(name, (...a) => (a[0] === 'cpu' ? n[name]('cpu', 'x') : n[name](...a)), op, arity, seed++);
      continue;
    }
    await fuzz(name, n[name], op, arity, seed++);
  }
  // Every registered op, by its descriptor. Errors a queued CPU op raised surface at the next
  // synchronisation; they must be clean errors too, and drained before the next op's round.
  const ops = native.ops();
  for (const d of ops) {
    await fuzzOp(d, seed++);
    try {
      await native.cpuSynchronizeAsync();
    } catch (e) {
      record(`queued ${d.name}`, [], e, '');
    }
  }
  summary.ops = ops.map((d) => d.name);
  // Every public op of the table, at its arity.
  for (const e of TABLE) await fuzz(`table ${e.name}`, e.fn as (...a: unknown[]) => unknown, e.errorName, e.fuzzArity, seed++);
  try {
    await native.cpuSynchronizeAsync();
  } catch (e) {
    record('queued table ops', [], e, '');
  }
  summary.tableEntries = TABLE.length;
  await fuzz('new Storage', (...a) => new native.Storage(...a), 'Storage', 2, seed++);
  const api: [string, (...a: unknown[]) => unknown, number][] = [
    ['tensor', hy.tensor as never, 2], ['zeros', hy.zeros as never, 2], ['ones', hy.ones as never, 2],
    ['full', hy.full as never, 3], ['rand', hy.rand as never, 2], ['randn', hy.randn as never, 2],
    ['empty', hy.empty as never, 2], ['manualSeed', hy.manualSeed as never, 1], ['tidy', hy.tidy as never, 1],
  ];
  for (const [name, fn, arity] of api) await fuzz(`hy.${name}`, fn, name, arity, seed++);
  const t = hy.ones([2, 2]);
  await fuzz('Tensor.to', (...a) => t.to(...(a as [never, never])), 'to', 2, seed++);
  await fuzz('memory.stats', hy.memory.stats as never, 'memory.stats', 1, seed++);
  await fuzz('memory.setLimit', (...a) => (a[0] === 'cpu' || a[0] === undefined ? undefined : hy.memory.setLimit(...(a as [never, never]))), 'memory.setLimit', 2, seed++);
  if (native.memoryStats('cpu').liveBytes < 64) summary.bad.push('the live storage was freed by a malformed call');
  process.stdout.write(JSON.stringify(summary) + '\n');
}

main().catch((e) => {
  process.stdout.write(JSON.stringify({ ...summary, bad: [...summary.bad, `fuzz driver failed: ${String(e)}`] }) + '\n');
});
