// hy.backends.autotune on conv2d: timing on first sight of a key and dispatch to the fastest,
// no re-timing after, the heuristic when disabled or out of budget, the deterministic and
// workspace filters, report(), and the cache file across processes (loaded as 'cache', a corrupt
// or foreign file ignored with one warning, written atomically). Every test restores the
// autotuner's defaults and forgets its decisions, so other tests see a fresh one.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as assert from 'uvu/assert';

import * as hy from '../lib/index';
import type { Device } from '../lib/index';
import { Autotuner, buildId, deviceName } from '../lib/backends/autotune';
import type { AutotuneDecision } from '../lib/backends/autotune';
import { native, StorageHandle, type OpArgs, type OpCandidate } from '../lib/native';
import { ALL_BACKENDS, assertThrows, presentBackends, selectedBackends, skipped, suite } from './harness';
import type { ConvGeometry } from './reference/conv';
import * as ref from './reference/conv';

const SUITE = 'autotune';
const s = suite(SUITE);
const F = hy.nn.functional;
const at = hy.backends.autotune;

type ConvOp = 'conv2d' | 'conv2dBackwardData' | 'conv2dBackwardFilter';
const OPS: ConvOp[] = ['conv2d', 'conv2dBackwardData', 'conv2dBackwardFilter'];

function restore(): void {
  at.enabled = true;
  at.deterministic = false;
  at.workspaceLimit = Infinity;
  at.budgetMs = 10_000;
  at.warmup = 1;
  at.runs = 5;
  at.cutoff = Infinity; // every candidate timed fully, so the counts below are exact
  at.cacheFile = null;
  at.clear();
}

/** Runs fn with the autotuner at its defaults and forgotten, and leaves it so whatever happens. */
function fresh<T>(fn: () => T): T {
  restore();
  try {
    return fn();
  } finally {
    restore();
  }
}

async function freshAsync(fn: () => Promise<void>): Promise<void> {
  restore();
  try {
    await fn();
  } finally {
    restore();
  }
}

// ---- shapes and the calls that reach them ----

interface Shape {
  x: number[];
  w: number[];
  opts: hy.nn.Conv2dOptions;
  g: ConvGeometry;
}

function shape(x: number[], w: number[], opts: hy.nn.Conv2dOptions, pad: [number, number]): Shape {
  const [N, C, H, W] = x;
  const [K, , R, S] = w;
  return { x, w, opts, g: { N, C, H, W, K, R, S, strideH: 1, strideW: 1, padH: pad[0], padW: pad[1], dilationH: 1, dilationW: 1, groups: 1 } };
}

/** 1x1: every CPU implementation of every direction applies (gemm1x1, im2col / col2im, direct). */
const POINTWISE = shape([2, 8, 6, 6], [8, 8, 1, 1], {}, [0, 0]);
/** 3x3: gemm1x1 does not apply. */
const SPATIAL = shape([1, 3, 8, 8], [4, 3, 3, 3], { padding: 1 }, [1, 1]);
const OTHER = shape([1, 2, 5, 7], [3, 2, 2, 3], {}, [0, 0]);

const keyPrefix = (op: string, sh: Shape, device: Device = 'cpu'): string => {
  const g = sh.g;
  return `${op} dtype=float32 N=${g.N} C=${g.C} H=${g.H} W=${g.W} K=${g.K} R=${g.R} S=${g.S} stride=1x1 pad=${g.padH}x${g.padW} dilation=1x1 groups=1 on ${deviceName(device)}`;
};

/** A conv through hy.nn.functional (forward only, or a training step that reaches all three directions). */
function conv(sh: Shape, device: Device = 'cpu', train = false): void {
  hy.tidy(() => {
    const x = hy.ones(sh.x, { device, requiresGrad: train });
    const w = hy.full(sh.w, 0.5, { device, requiresGrad: train });
    const y = F.conv2d(x, w, null, sh.opts);
    if (train) {
      hy.sum(y).backward();
      x.grad!.dataSync();
      w.grad!.dataSync();
    } else {
      y.dataSync();
    }
  });
}

interface RunCall {
  op: string;
  impl: string | undefined;
}

/** fn's result and every native.run call it made, with the implementation each named. */
function spy<T>(fn: () => T): [T, RunCall[]] {
  const binding = native as unknown as { run: (op: string, args: OpArgs) => void };
  const original = binding.run;
  const calls: RunCall[] = [];
  binding.run = function (this: unknown, op: string, args: OpArgs): void {
    calls.push({ op, impl: typeof args?.impl === 'string' ? args.impl : undefined });
    return original.call(this, op, args);
  };
  try {
    return [fn(), calls];
  } finally {
    binding.run = original;
  }
}

/** Storages for one direction at g (contents irrelevant) and fn on its arguments; freed after. */
function withArgs<T>(op: ConvOp, g: ConvGeometry, device: Device, fn: (args: OpArgs) => T): T {
  const storages: StorageHandle[] = [];
  const alloc = (n: number): StorageHandle => {
    const st = native.alloc(device, Math.max(1, n) * 4);
    native.write(st, 'float32', new Float32Array(Math.max(1, n)).fill(0.25));
    storages.push(st);
    return st;
  };
  const base = { dtype: 'float32', ...g };
  const args: OpArgs =
    op === 'conv2d'
      ? { ...base, x: alloc(ref.xCount(g)), w: alloc(ref.wCount(g)), bias: null, y: alloc(ref.yCount(g)) }
      : op === 'conv2dBackwardData'
        ? { ...base, gradOut: alloc(ref.yCount(g)), w: alloc(ref.wCount(g)), gradIn: alloc(ref.xCount(g)) }
        : { ...base, x: alloc(ref.xCount(g)), gradOut: alloc(ref.yCount(g)), gradWeight: alloc(ref.wCount(g)), gradBias: null };
  try {
    return fn(args);
  } finally {
    for (const st of storages) st.dispose();
  }
}

const candidates = (op: ConvOp, sh: Shape, device: Device = 'cpu'): OpCandidate[] => withArgs(op, sh.g, device, (a) => native.candidates(op, a));
const applicable = (op: ConvOp, sh: Shape, device: Device = 'cpu'): string[] => candidates(op, sh, device).filter((c) => c.applies).map((c) => c.name);

function decisionOf(op: string, sh: Shape, device: Device = 'cpu'): AutotuneDecision {
  const key = keyPrefix(op, sh, device);
  const d = at.decisions().find((x) => x.key === key);
  assert.ok(d !== undefined, `a decision for '${key}' among ${JSON.stringify(at.decisions().map((x) => x.key))}`);
  return d;
}

function checkMeasured(d: AutotuneDecision, names: string[], what: string): void {
  assert.is(d.source, 'measured', `${what}: source`);
  assert.equal(Object.keys(d.times).sort(), [...names].sort(), `${what}: a time for each implementation that applies and passes the filters`);
  for (const [name, ms] of Object.entries(d.times)) assert.ok(Number.isFinite(ms) && ms >= 0, `${what}: ${name} took ${ms} ms`);
  const best = Math.min(...Object.values(d.times));
  assert.is(d.times[d.winner], best, `${what}: the winner ${d.winner} is the fastest of ${JSON.stringify(d.times)}`);
  for (const name of Object.keys(d.skipped)) assert.not.ok(name in d.times, `${what}: ${name} both timed and skipped`);
}

// ---- timing and dispatch ----

s('enabled: the first call times every applicable implementation (warmup + runs each) and runs the fastest; the next call re-times nothing', () =>
  fresh(() => {
    const names = applicable('conv2d', POINTWISE);
    assert.equal(names, ['gemm1x1', 'im2col', 'direct'], 'the CPU implementations that apply to 1x1');
    const [, calls] = spy(() => conv(POINTWISE));
    const ds = at.decisions();
    assert.is(ds.length, 1, 'one key');
    const d = ds[0];
    assert.is(d.key, keyPrefix('conv2d', POINTWISE));
    assert.is(d.op, 'conv2d');
    assert.is(d.device, deviceName('cpu'));
    checkMeasured(d, names, 'pointwise');
    assert.equal(d.skipped, {}, 'nothing failed');
    // 1 warmup + 5 timed runs of each, then the winner's own run
    const convCalls = calls.filter((c) => c.op === 'conv2d');
    for (const n of names) assert.is(convCalls.filter((c) => c.impl === n).length, 6 + (n === d.winner ? 1 : 0), `runs of ${n}`);
    assert.is(convCalls[convCalls.length - 1].impl, d.winner, 'the call itself runs the winner');
    const spent = at.spent;
    assert.ok(spent > 0, `time spent ${spent}`);

    const [, again] = spy(() => conv(POINTWISE));
    assert.equal(again.filter((c) => c.op === 'conv2d'), [{ op: 'conv2d', impl: d.winner }], 'the second call runs the winner once');
    assert.is(at.spent, spent, 'no time spent the second time');
    assert.equal(at.decisions(), ds, 'the decision is unchanged');

    // a 3x3 shape is its own key, timed over the implementations that apply to it
    conv(SPATIAL);
    assert.is(at.decisions().length, 2);
    checkMeasured(decisionOf('conv2d', SPATIAL), applicable('conv2d', SPATIAL), '3x3');
    assert.not.ok('gemm1x1' in decisionOf('conv2d', SPATIAL).times, 'gemm1x1 does not apply to 3x3');
    assert.ok(at.spent > spent);
  }),
);

s('a training step decides each direction under its own key', () =>
  fresh(() => {
    const [, calls] = spy(() => conv(SPATIAL, 'cpu', true));
    for (const op of OPS) {
      const d = decisionOf(op, SPATIAL);
      checkMeasured(d, applicable(op, SPATIAL), op);
      const own = calls.filter((c) => c.op === op);
      assert.is(own[own.length - 1].impl, d.winner, `${op}: runs its winner`);
    }
    assert.is(at.decisions().length, 3);
  }),
);

s('warmup and runs set how often each implementation runs while timed', () =>
  fresh(() => {
    at.warmup = 0;
    at.runs = 3;
    const [, calls] = spy(() => conv(OTHER));
    const d = decisionOf('conv2d', OTHER);
    for (const n of applicable('conv2d', OTHER)) assert.is(calls.filter((c) => c.op === 'conv2d' && c.impl === n).length, 3 + (n === d.winner ? 1 : 0), `runs of ${n}`);
  }),
);

s('cutoff: a candidate far slower than the best so far stops after the run that shows it, and never wins', () =>
  fresh(() => {
    at.cutoff = 1;  // anything slower than the best so far stops at once
    const [, calls] = spy(() => conv(SPATIAL));
    const d = decisionOf('conv2d', SPATIAL);
    const names = applicable('conv2d', SPATIAL);
    const runs = (n: string): number => calls.filter((c) => c.op === 'conv2d' && c.impl === n).length - (n === d.winner ? 1 : 0);
    assert.is(runs(names[0]), 6, `the first candidate (${names[0]}) has no best to lose to: warmup + 5 runs`);
    names.slice(1).forEach((n, i) => {
      assert.ok(runs(n) >= 1 && runs(n) <= 6, `${n}: ${runs(n)} runs`);
      const bestBefore = Math.min(...names.slice(0, i + 1).map((m) => d.times[m]));
      if (runs(n) < 6) assert.ok(d.times[n] > bestBefore, `${n} was abandoned only when slower than the best before it: ${JSON.stringify(d.times)}`);
    });
    assert.is(d.times[d.winner], Math.min(...Object.values(d.times)), 'the winner is the fastest');
    assert.throws(() => (at.cutoff = 0.5), /autotune: cutoff must be a number of at least 1, got 0.5/);
  }),
);

s('enabled false: the heuristic (first applicable implementation in preference order), no timing; enabling times the key', () =>
  fresh(() => {
    at.enabled = false;
    for (const sh of [SPATIAL, POINTWISE]) {
      const [, calls] = spy(() => conv(sh));
      const d = decisionOf('conv2d', sh);
      const first = applicable('conv2d', sh)[0];
      assert.is(d.source, 'heuristic');
      assert.is(d.winner, first);
      assert.equal(d.times, {});
      assert.equal(calls.filter((c) => c.op === 'conv2d'), [{ op: 'conv2d', impl: first }], 'one run, of the heuristic choice');
    }
    assert.is(decisionOf('conv2d', SPATIAL).winner, 'im2col');
    assert.is(decisionOf('conv2d', POINTWISE).winner, 'gemm1x1');
    assert.is(at.spent, 0, 'nothing timed');
    at.enabled = true;
    conv(SPATIAL);
    checkMeasured(decisionOf('conv2d', SPATIAL), applicable('conv2d', SPATIAL), 'timed once enabled');
    assert.is(at.decisions().filter((d) => d.key === keyPrefix('conv2d', SPATIAL)).length, 1, 'one decision per key');
  }),
);

s('enabled false after a key was timed: the heuristic again, until enabled, then the timed winner without re-timing', () =>
  fresh(() => {
    conv(SPATIAL);
    const timed = decisionOf('conv2d', SPATIAL);
    checkMeasured(timed, applicable('conv2d', SPATIAL), 'timed');
    const spent = at.spent;
    at.enabled = false;
    const [, calls] = spy(() => conv(SPATIAL));
    const first = applicable('conv2d', SPATIAL)[0];
    assert.equal(calls.filter((c) => c.op === 'conv2d'), [{ op: 'conv2d', impl: first }], 'disabled runs the heuristic choice');
    assert.is(decisionOf('conv2d', SPATIAL).source, 'heuristic');
    at.enabled = true;
    const [, again] = spy(() => conv(SPATIAL));
    assert.equal(again.filter((c) => c.op === 'conv2d'), [{ op: 'conv2d', impl: timed.winner }], 'enabled again: the timed winner');
    assert.is(decisionOf('conv2d', SPATIAL).source, 'measured');
    assert.is(at.spent, spent, 'nothing re-timed');
  }),
);

s('budgetMs 0: new keys get the heuristic; a budget once spent stops timing new keys but keeps the timed ones', () =>
  fresh(() => {
    at.budgetMs = 0;
    conv(POINTWISE);
    const d = decisionOf('conv2d', POINTWISE);
    assert.is(d.source, 'heuristic');
    assert.is(d.winner, 'gemm1x1');
    assert.is(at.spent, 0);
    at.clear();
    at.budgetMs = 1e-9; // the first timing spends it
    conv(SPATIAL);
    checkMeasured(decisionOf('conv2d', SPATIAL), applicable('conv2d', SPATIAL), 'within budget');
    const spent = at.spent;
    assert.ok(spent > at.budgetMs);
    conv(POINTWISE);
    assert.is(decisionOf('conv2d', POINTWISE).source, 'heuristic', 'past the budget');
    const [, calls] = spy(() => conv(SPATIAL));
    assert.equal(calls.filter((c) => c.op === 'conv2d'), [{ op: 'conv2d', impl: decisionOf('conv2d', SPATIAL).winner }], 'the timed key still runs its winner');
    assert.is(at.spent, spent);
  }),
);

// ---- filters ----

s('workspaceLimit 0: every implementation with a workspace is skipped, in every direction', () =>
  fresh(() => {
    const ws = (op: ConvOp, sh: Shape): Map<string, number> => new Map(candidates(op, sh).filter((c) => c.applies).map((c) => [c.name, c.workspaceBytes]));
    assert.ok([...ws('conv2d', POINTWISE).values()].some((b) => b > 0), 'some implementation needs a workspace (else the limit filters nothing)');
    at.workspaceLimit = 0;
    conv(POINTWISE, 'cpu', true);
    conv(SPATIAL, 'cpu', true);
    for (const sh of [POINTWISE, SPATIAL]) {
      for (const op of OPS) {
        const bytes = ws(op, sh);
        const free = [...bytes].filter(([, b]) => b === 0).map(([n]) => n);
        assert.ok(free.length > 0, `${op}: some implementation needs no workspace`);
        const d = decisionOf(op, sh);
        assert.is(bytes.get(d.winner), 0, `${op} ${sh.g.R}x${sh.g.S}: the winner ${d.winner} needs no workspace`);
        if (free.length === 1) {
          assert.is(d.source, 'heuristic', `${op}: one implementation left, nothing to time`);
        } else {
          checkMeasured(d, free, `${op} ${sh.g.R}x${sh.g.S}`);
        }
      }
    }
    // a limit set after a key was timed: the fastest of the allowed ones runs, nothing is re-timed
    at.workspaceLimit = Infinity;
    at.clear();
    conv(POINTWISE);
    const spent = at.spent;
    at.workspaceLimit = 0;
    const [, calls] = spy(() => conv(POINTWISE));
    const timed = decisionOf('conv2d', POINTWISE).times;
    const allowed = [...ws('conv2d', POINTWISE)].filter(([, b]) => b === 0).map(([n]) => n);
    const expected = allowed.reduce((a, b) => (timed[b] < timed[a] ? b : a));
    assert.equal(calls.filter((c) => c.op === 'conv2d'), [{ op: 'conv2d', impl: expected }], 'the fastest allowed implementation runs');
    assert.is(at.spent, spent, 'nothing re-timed');
  }),
);

/** Runs fn with native.candidates answering as the addon does, but with `alter` applied. */
function withCandidates<T>(alter: (c: OpCandidate) => OpCandidate, fn: () => T): T {
  const binding = native as unknown as { candidates: (op: string, args: OpArgs) => OpCandidate[] };
  const original = binding.candidates;
  binding.candidates = function (this: unknown, op: string, args: OpArgs): OpCandidate[] {
    return original.call(this, op, args).map(alter);
  };
  try {
    return fn();
  } finally {
    binding.candidates = original;
  }
}

s('deterministic: candidates reported nondeterministic are not timed or chosen (candidates stubbed), and none left is a RangeError', () => {
  // A private Autotuner, so that the stub touches none of hy.backends.autotune's decisions.
  const t = new Autotuner();
  withArgs('conv2d', POINTWISE.g, 'cpu', (args) => {
    const key = { case: 'stub' };
    withCandidates((c) => (c.name === 'gemm1x1' || c.name === 'direct' ? { ...c, deterministic: false } : c), () => {
      t.deterministic = true;
      assert.is(t.choose('conv2d', args, key, 'cpu'), 'im2col', 'the one deterministic implementation');
      const d = t.decisions()[0];
      assert.is(d.source, 'heuristic', 'one implementation left: nothing to time');
      assert.is(t.spent, 0);
      // without the filter, the same key is timed over all three
      t.deterministic = false;
      t.clear();
      t.choose('conv2d', args, key, 'cpu');
      assert.equal(Object.keys(t.decisions()[0].times).sort(), ['direct', 'gemm1x1', 'im2col']);
      // and with it again, the timed key dispatches to the deterministic one without timing
      const spent = t.spent;
      t.deterministic = true;
      assert.is(t.choose('conv2d', args, key, 'cpu'), 'im2col');
      assert.is(t.spent, spent);
    });
    withCandidates((c) => (c.name === 'direct' ? { ...c, deterministic: false } : c), () => {
      t.clear();
      t.deterministic = true;
      t.choose('conv2d', args, { case: 'stub 3' }, 'cpu');
      const d = t.decisions()[0];
      assert.is(d.source, 'measured');
      assert.equal(Object.keys(d.times).sort(), ['gemm1x1', 'im2col'], 'direct is not timed');
    });
    withCandidates((c) => ({ ...c, deterministic: false }), () => {
      t.clear();
      t.deterministic = true;
      assertThrows(() => t.choose('conv2d', args, { case: 'stub 4' }, 'cpu'), RangeError,
        /^conv2d: no implementation applies \(deterministic\): gemm1x1: not deterministic; im2col: not deterministic; direct: not deterministic$/, 'none deterministic');
      t.workspaceLimit = 0;
      assertThrows(() => t.choose('conv2d', args, { case: 'stub 4' }, 'cpu'), RangeError,
        /^conv2d: no implementation applies \(deterministic, within workspaceLimit 0\): gemm1x1: not deterministic; im2col: not deterministic; direct: not deterministic$/, 'both filters named');
    });
  });
});

// The registered implementations that report themselves nondeterministic, per backend (at load
// time: which cases run depends on it).
function nondeterministicImpls(device: Device): string[] {
  const out: string[] = [];
  for (const sh of [POINTWISE, SPATIAL]) {
    for (const op of OPS) for (const c of candidates(op, sh, device)) if (c.applies && !c.deterministic) out.push(`${op} ${c.name} ${sh === POINTWISE ? '1x1' : '3x3'}`);
  }
  return out;
}

for (const device of ALL_BACKENDS) {
  const name = `deterministic: the registered nondeterministic implementations are never timed or chosen [${device}]`;
  const why = !selectedBackends.includes(device)
    ? 'deselected by HY_BACKENDS'
    : !presentBackends.includes(device)
      ? `${device} not available`
      : nondeterministicImpls(device).length === 0
        ? `every ${device} conv implementation reports itself deterministic (the stubbed case above tests the filter)`
        : undefined;
  if (why !== undefined) {
    skipped.push(`${SUITE} > ${name}: ${why}`);
    s.skip(name, () => undefined);
    continue;
  }
  s(name, () =>
    fresh(() => {
      const nondet = nondeterministicImpls(device);
      at.deterministic = true;
      conv(POINTWISE, device, true);
      conv(SPATIAL, device, true);
      for (const sh of [POINTWISE, SPATIAL]) {
        for (const op of OPS) {
          const d = decisionOf(op, sh, device);
          const cs = candidates(op, sh, device);
          const winner = cs.find((c) => c.name === d.winner)!;
          assert.ok(winner.deterministic, `${op}: the winner ${d.winner} is deterministic`);
          for (const n of Object.keys(d.times)) assert.ok(cs.find((c) => c.name === n)!.deterministic, `${op}: ${n} timed though nondeterministic`);
        }
      }
      assert.ok(nondet.length > 0);
    }),
  );
}

// ---- report ----

s('report(): each key, each timed implementation, the winner and its source', () =>
  fresh(() => {
    assert.is(at.report(), 'autotune: no decisions yet');
    conv(POINTWISE);
    at.enabled = false;
    conv(SPATIAL);
    const r = at.report();
    const d = decisionOf('conv2d', POINTWISE);
    assert.match(r, /^autotune: 2 key\(s\), [0-9.]+ ms spent timing of a 10000 ms budget/);
    assert.ok(r.includes(`\n${d.key}\n`), `the key in:\n${r}`);
    assert.ok(r.includes(`winner: ${d.winner} (measured)`), `the winner in:\n${r}`);
    for (const name of Object.keys(d.times)) assert.match(r, new RegExp(`\\n  ${name} +[0-9.]+ ms`), `${name}'s time`);
    assert.ok(r.includes(`\n${keyPrefix('conv2d', SPATIAL)}\n  winner: im2col (heuristic)`), `the heuristic decision in:\n${r}`);
    at.clear();
    assert.is(at.report(), 'autotune: no decisions yet');
  }),
);

s('settings: bad values are rejected naming autotune and the value, and leave the setting as it was', () =>
  fresh(() => {
    assertThrows(() => (at.enabled = 1 as never), TypeError, /^autotune: enabled must be a boolean, got 1$/, 'enabled 1');
    assertThrows(() => (at.deterministic = 'yes' as never), TypeError, /^autotune: deterministic must be a boolean, got 'yes'$/, 'deterministic');
    assertThrows(() => (at.workspaceLimit = -1), RangeError, /^autotune: workspaceLimit must be a number of at least 0, got -1$/, 'workspaceLimit -1');
    assertThrows(() => (at.budgetMs = NaN), RangeError, /^autotune: budgetMs must be a number of at least 0, got NaN$/, 'budgetMs NaN');
    assertThrows(() => (at.runs = 0), RangeError, /^autotune: runs must be an integer of at least 1, got 0$/, 'runs 0');
    assertThrows(() => (at.warmup = 1.5), RangeError, /^autotune: warmup must be an integer of at least 0, got 1\.5$/, 'warmup 1.5');
    assertThrows(() => (at.cacheFile = '' as never), TypeError, /^autotune: cacheFile must be a file path or null, got ''$/, "cacheFile ''");
    assertThrows(() => (at.cacheFile = 5 as never), TypeError, /^autotune: cacheFile must be a file path or null, got 5$/, 'cacheFile 5');
    assert.equal([at.enabled, at.deterministic, at.workspaceLimit, at.budgetMs, at.runs, at.warmup, at.cacheFile], [true, false, Infinity, 10_000, 5, 1, null]);
  }),
);

// ---- the cache file ----

const LIB = path.join(__dirname, '..', 'lib', 'index.js');

/**
 * A child process that loads the library, takes `steps` (JavaScript run with hy, F, at, file and
 * a `log(label)` that records the decisions, spent time and warnings so far) and prints the log.
 */
function child(dir: string, steps: string): { log: { label: string; decisions: AutotuneDecision[]; spent: number; warnings: string[] }[]; stderr: string } {
  const script = `
    const hy = require(process.env.HY_AT_LIB);
    const F = hy.nn.functional;
    const at = hy.backends.autotune;
    const dir = process.env.HY_AT_DIR;
    const warnings = [];
    process.on('warning', (w) => { if (w.name === 'HayateAutotuneWarning') warnings.push(w.message); });
    const out = [];
    const tick = () => new Promise((r) => setImmediate(r));
    const log = async (label) => { await tick(); out.push({ label, decisions: at.decisions(), spent: at.spent, warnings: warnings.slice() }); };
    const step = (train) => hy.tidy(() => {
      const x = hy.ones([${POINTWISE.x.join(', ')}], { requiresGrad: train });
      const w = hy.full([${POINTWISE.w.join(', ')}], 0.5, { requiresGrad: train });
      const y = F.conv2d(x, w);
      if (train) { hy.sum(y).backward(); x.grad.dataSync(); } else y.dataSync();
    });
    (async () => { ${steps} })().then(
      () => process.stdout.write(JSON.stringify(out) + '\\n'),
      (e) => { process.stderr.write(String(e && e.stack || e)); process.exitCode = 3; },
    );
  `;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, HY_AT_LIB: LIB, HY_AT_DIR: dir } });
  assert.is(r.signal, null, `the child was killed by ${r.signal}: ${r.stderr}`);
  assert.is(r.status, 0, `the child's exit status ${r.status}: ${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  return { log: JSON.parse(lines[lines.length - 1]), stderr: r.stderr };
}

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'hayate-autotune-'));
}

const leftovers = (dir: string): string[] => fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'));

s('cacheFile across processes: the first process times and writes, the second loads the decisions as cache and times nothing', () => {
  const dir = tempDir();
  try {
    const file = path.join(dir, 'tune.json');
    const first = child(dir, `at.cacheFile = dir + '/tune.json'; await log('loaded'); step(true); await log('after');`).log;
    assert.equal(first[0].decisions, [], 'a missing file loads nothing');
    assert.equal(first[0].warnings, [], 'and is no warning');
    const made = first[1];
    assert.equal(made.decisions.map((d) => d.op).sort(), [...OPS].sort(), 'a decision per direction');
    for (const d of made.decisions) assert.is(d.source, 'measured');
    assert.ok(made.spent > 0);
    assert.equal(made.warnings, []);
    assert.equal(leftovers(dir), [], 'no temporary file left');

    const saved = JSON.parse(fs.readFileSync(file, 'utf8')) as { format: string; version: number; build: string; entries: Record<string, { times: Record<string, number> }> };
    assert.is(saved.format, 'hayate-autotune');
    assert.is(saved.version, 1);
    assert.is(saved.build, buildId(), "this build's id");
    assert.equal(Object.keys(saved.entries).sort(), made.decisions.map((d) => d.key).sort());
    for (const d of made.decisions) assert.equal(saved.entries[d.key].times, d.times, `${d.key}: the times as measured`);

    const second = child(dir, `at.cacheFile = dir + '/tune.json'; await log('loaded'); step(true); await log('after');`).log;
    for (const entry of second) {
      assert.equal(entry.warnings, [], `${entry.label}: no warning`);
      assert.is(entry.spent, 0, `${entry.label}: nothing timed`);
      assert.is(entry.decisions.length, 3, `${entry.label}: three decisions`);
      for (const d of entry.decisions) {
        const before = made.decisions.find((m) => m.key === d.key);
        assert.ok(before !== undefined, `${d.key} was measured by the first process`);
        assert.is(d.source, 'cache', `${entry.label} ${d.op}: source`);
        assert.equal(d.times, before.times, `${entry.label} ${d.op}: the first process's times`);
        assert.is(d.winner, before.winner, `${entry.label} ${d.op}: its winner`);
      }
    }
    assert.equal(leftovers(dir), []);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

s('a truncated, a foreign-format and another build\'s cache file each give exactly one HayateAutotuneWarning and are ignored, then rewritten', () => {
  const dir = tempDir();
  try {
    // a valid file to start from
    child(dir, `at.cacheFile = dir + '/good.json'; step(false); await log('made');`);
    const good = fs.readFileSync(path.join(dir, 'good.json'), 'utf8');
    const data = JSON.parse(good) as { build: string; format: string };
    fs.writeFileSync(path.join(dir, 'truncated.json'), good.slice(0, Math.floor(good.length / 2)));
    fs.writeFileSync(path.join(dir, 'format.json'), JSON.stringify({ ...data, format: 'something-else' }));
    fs.writeFileSync(path.join(dir, 'build.json'), JSON.stringify({ ...data, build: 'another-build' }));
    const a = child(dir, `
      at.cacheFile = dir + '/truncated.json'; await log('truncated');
      at.cacheFile = dir + '/truncated.json'; await log('truncated again');
      step(false); await log('after a decision');
    `).log;
    const b = child(dir, `
      at.cacheFile = dir + '/format.json'; await log('format');
      at.cacheFile = dir + '/build.json'; await log('build');
      step(false); await log('after a decision');
    `).log;
    const w = (log: typeof a, i: number): string[] => log[i].warnings;
    assert.is(w(a, 0).length, 1, `one warning: ${JSON.stringify(w(a, 0))}`);
    assert.match(w(a, 0)[0], /^autotune: the cache file .*truncated\.json is corrupt or truncated; it is ignored and will be rewritten$/);
    assert.is(w(a, 1).length, 1, 'no second warning for the same file');
    assert.is(w(b, 0).length, 1, `one warning: ${JSON.stringify(w(b, 0))}`);
    assert.match(w(b, 0)[0], /^autotune: .*format\.json is not a hayate autotune cache \(version 1\); it is ignored and will be rewritten$/);
    assert.is(w(b, 1).length, 2, 'one more for the other build\'s file');
    assert.match(w(b, 1)[1], new RegExp(`^autotune: the cache file .*build\\.json was written by another build \\(another-build, this is ${buildId()}\\); it is ignored and will be rewritten$`));
    for (const [log, i] of [[a, 0], [a, 1], [b, 0], [b, 1]] as const) assert.equal(log[i].decisions, [], `${log[i].label}: nothing loaded`);
    for (const [log, f] of [[a, 'truncated.json'], [b, 'build.json']] as const) {
      assert.is(w(log, 2).length, w(log, 1).length, 'no warning on writing');
      const after = log[2].decisions;
      assert.is(after.length, 1);
      assert.is(after[0].source, 'measured', 'the ignored entries did not stand in for a measurement');
      // the file was rewritten whole, for this build
      const saved = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as { format: string; build: string; entries: Record<string, unknown> };
      assert.is(saved.format, 'hayate-autotune', f);
      assert.is(saved.build, buildId(), f);
      assert.equal(Object.keys(saved.entries), [after[0].key], f);
    }
    assert.equal(leftovers(dir), []);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

s('a cache entry measured on a device this machine lacks is ignored with one warning; the file\'s others load', () => {
  const dir = tempDir();
  try {
    child(dir, `at.cacheFile = dir + '/tune.json'; step(false); await log('made');`);
    const file = path.join(dir, 'tune.json');
    const data = JSON.parse(fs.readFileSync(file, 'utf8')) as { entries: Record<string, { times: Record<string, number> }> };
    const [key] = Object.keys(data.entries);
    const foreign = key.replace(/ on .*$/, ' on cpu:Some Other CPU x999');
    data.entries[foreign] = { times: { direct: 1 } };
    fs.writeFileSync(file, JSON.stringify(data));
    const { log } = child(dir, `at.cacheFile = dir + '/tune.json'; await log('loaded');`);
    assert.is(log[0].warnings.length, 1, JSON.stringify(log[0].warnings));
    assert.match(log[0].warnings[0], /^autotune: 1 decision\(s\) in .*tune\.json were measured on a device this machine does not have \(.*\); they are ignored$/);
    assert.equal(log[0].decisions.map((d) => [d.key, d.source]), [[key, 'cache']]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

s('the cache file is replaced atomically on each new decision (a new file renamed over it, none left behind)', async () =>
  freshAsync(async () => {
    const dir = tempDir();
    try {
      const file = path.join(dir, 'tune.json');
      at.cacheFile = file;
      assert.not.ok(fs.existsSync(file), 'not written before a decision');
      conv(POINTWISE);
      const first = fs.statSync(file);
      const one = JSON.parse(fs.readFileSync(file, 'utf8')) as { entries: Record<string, unknown> };
      assert.equal(Object.keys(one.entries), [keyPrefix('conv2d', POINTWISE)]);
      conv(SPATIAL);
      const second = fs.statSync(file);
      assert.is.not(second.ino, first.ino, 'a new file took the name (rename), rather than the old one rewritten in place');
      const two = JSON.parse(fs.readFileSync(file, 'utf8')) as { entries: Record<string, unknown> };
      assert.equal(Object.keys(two.entries).sort(), [keyPrefix('conv2d', POINTWISE), keyPrefix('conv2d', SPATIAL)].sort());
      assert.equal(leftovers(dir), []);
      // a heuristic decision (nothing measured) does not rewrite it
      at.enabled = false;
      conv(OTHER);
      assert.is(fs.statSync(file).ino, second.ino);
      // clear() forgets the decisions but leaves the file
      at.clear();
      assert.ok(fs.existsSync(file));
      await new Promise((r) => setImmediate(r));
    } finally {
      at.cacheFile = null;
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }),
);

s('the autotuner is at its defaults after these tests', () => {
  assert.equal([at.enabled, at.deterministic, at.workspaceLimit, at.budgetMs, at.warmup, at.runs, at.cacheFile, at.decisions().length, at.spent], [true, false, Infinity, 10_000, 1, 5, null, 0, 0]);
});

s.run();
