// One target of the public-API fuzz (test/api-fuzz.test.ts), in a process of its own: calls it
// with wrong types, sizes and states and prints one JSON line counting clean errors, returns,
// unclean errors (a JS engine error such as "Cannot read properties of undefined", a non-Error
// throw) and wrong acceptances (a return although a declared parameter got a value no public
// parameter takes: a Symbol, a BigInt, a revoked Proxy, an object whose getters throw).
import * as hy from '../lib/index';
import { rng } from './harness';
import { targets } from './api-fuzz-targets';

const CALLS = Number(process.env.HY_API_FUZZ_CALLS ?? 120);
const ASYNC_LIMIT_MS = 5000;

// Functions that take any value by design (a predicate), and the error classes, which take what
// Error takes (new Error(10n) is an Error whose message is "10"): a hostile argument is an input.
const ANY_VALUE = new Set(['hy.isTensor', 'hy.serialize.tensorsIn', 'new hy.DisposedError', 'new hy.OutOfMemoryError', 'new hy.serialize.SafetensorsError']);

const hostile = (): unknown[] => {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  const getters = new Proxy({}, { get() { throw new Error('hostile getter'); }, ownKeys() { throw new Error('hostile ownKeys'); } });
  return [Symbol('s'), 10n, proxy, getters];
};

/** Values of every kind a caller may pass; the hostile ones are added per call. */
function pool(): unknown[] {
  const t = hy.randn([2, 3]);
  const disposed = hy.ones([2]);
  disposed.dispose();
  return [
    undefined, null, true, 0, 1, 2, -1, 1.5, NaN, Infinity, 2 ** 53, 1e300, '', 'cpu', 'cuda', 'float32', 'int32', 'bool', 'a',
    {}, [], [1, 2], [2, 3], [0], [-1, 2], [2 ** 40, 2 ** 40], { dtype: 'float64' }, { device: 'gpu' }, { lr: 'fast' }, { reduction: 'avg' },
    () => 1, new Float32Array(4), new Int32Array(2), new Uint8Array(3), new Map(), new Set(), Promise.resolve(1),
    t, hy.zeros([3]), hy.tensor([1, 0], { dtype: 'int32' }), hy.tensor([true, false]), hy.zeros([]), hy.zeros([0, 3]), disposed,
    hy.randn([2, 3], { requiresGrad: true }), new hy.nn.Linear(2, 2),
  ];
}

/**
 * Thrown by the JS engine for a missed check, or not an Error at all: a defect. (What the caller's
 * own hostile object throws, a revoked Proxy's TypeError or a getter's error, may propagate.)
 */
function unclean(e: unknown): string | null {
  if (!(e instanceof Error)) return `threw a non-Error: ${String(e)}`;
  const m = e.message;
  if (m.length === 0) return `${e.name} with an empty message`;
  if (/Cannot read propert|Cannot set propert|is not a function|is not iterable|is not a constructor|Cannot convert|undefined is not|null is not|Maximum call stack|Invalid array length|Invalid typed array length|Cannot mix BigInt|internal error|Reflect\.|Cannot create property/.test(m)) {
    return `${e.name}: ${m}`;
  }
  return null;
}

function isTensor(v: unknown): v is hy.Tensor {
  try {
    return v instanceof hy.Tensor;
  } catch {
    return false; // a revoked Proxy
  }
}

async function settle(v: unknown): Promise<unknown> {
  if (!(v instanceof Promise)) return v;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise((_r, reject) => {
    timer = setTimeout(() => reject(new HangError()), ASYNC_LIMIT_MS);
  });
  try {
    return await Promise.race([v, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
class HangError extends Error {}

function release(v: unknown): void {
  if (v !== null && typeof v === 'object') {
    const d = (v as { dispose?: unknown }).dispose;
    if (typeof d === 'function') {
      try {
        (d as () => void).call(v);
      } catch {
        // a half-built object may refuse; what matters is the call's own outcome
      }
    }
  }
}

async function main(): Promise<void> {
  const which = process.argv[2];
  const target = targets().find((t) => t.name === which);
  if (target === undefined) throw new Error(`no fuzz target ${which}`);
  const fn = target.get();
  const arity = Math.max(fn.length, target.kind === 'method' ? 2 : 1);
  const r = rng([...which].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7));
  const res = { target: which, calls: 0, cleanErrors: 0, returned: 0, unclean: [] as string[], acceptedWrongly: [] as string[], hangs: [] as string[] };
  for (let i = 0; i < CALLS; i++) {
    const hs = hostile();
    const hostileNames = ['Symbol', 'BigInt', 'revokedProxy', 'throwingGetters'];
    const values = [...pool(), ...hs];
    const n = Math.floor(r() * (arity + 2));
    const args = Array.from({ length: n }, () => values[Math.floor(r() * values.length)]);
    const badAt = args.findIndex((a, k) => k < fn.length && hs.includes(a));
    const self = hy.randn([2, 3]);
    const shown = args.map((a) => {
      const h = hs.indexOf(a);
      if (h >= 0) return hostileNames[h];
      if (isTensor(a)) return a.isDisposed ? 'disposedTensor' : `Tensor[${a.shape.join(',')}] ${a.dtype}`;
      if (typeof a === 'object' && a !== null) return Array.isArray(a) ? JSON.stringify(a) : a.constructor?.name ?? 'object';
      return typeof a === 'string' ? JSON.stringify(a) : String(a);
    });
    res.calls++;
    try {
      const out = await settle(target.kind === 'class' ? Reflect.construct(fn, args) : target.kind === 'method' ? fn.apply(self, args) : fn(...args));
      res.returned++;
      if (badAt >= 0 && !ANY_VALUE.has(which)) res.acceptedWrongly.push(`${which}(${shown.join(', ')}): returned although argument ${badAt} is ${shown[badAt]}`);
      release(out);
    } catch (e) {
      if (e instanceof HangError) res.hangs.push(`${which}(${shown.join(', ')}): no result in ${ASYNC_LIMIT_MS} ms`);
      else {
        // An error class given a Symbol fails as new Error(Symbol()) does: JS's own behaviour.
        const u = ANY_VALUE.has(which) && target.kind === 'class' ? null : unclean(e);
        if (u === null) res.cleanErrors++;
        else res.unclean.push(`${which}(${shown.join(', ')}): ${u}`);
      }
    }
    self.dispose();
    for (const v of values) if (isTensor(v)) v.dispose();
  }
  try {
    await hy.cpu.synchronize();
  } catch (e) {
    const u = unclean(e);
    if (u !== null) res.unclean.push(`queued work of ${which}: ${u}`);
  }
  process.stdout.write(JSON.stringify(res) + '\n');
  // Loaders, workers and timers a call left open must not keep the process alive.
  process.exit(0);
}

main().catch((e) => {
  process.stdout.write(JSON.stringify({ target: process.argv[2], driverFailed: String(e) }) + '\n');
  process.exit(0);
});
