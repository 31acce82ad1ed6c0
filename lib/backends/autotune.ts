// hy.backends.autotune: the cudnn.benchmark of hayate, general over any op that registers several
// implementations. The first call with a new key (the op, its shape fields, the device, the build)
// times every implementation that applies and passes the filters (deterministic, workspaceLimit),
// keeps the times, and dispatches to the fastest from then on. Unlike PyTorch's, the decisions can
// persist across processes (cacheFile) and explain themselves (report()), and a tuning budget stops
// a workload whose shapes never repeat from re-benchmarking forever.
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { describe } from '../errors';
import { native, nativeAddonPath } from '../native';
import type { OpArgs, OpCandidate } from '../native';

const FORMAT = 'hayate-autotune';
const VERSION = 1;

/** How one key's implementation was chosen. */
export type DecisionSource = 'measured' | 'cache' | 'heuristic';

/** One key's decision, as report() and decisions() show it. */
export interface AutotuneDecision {
  key: string;
  op: string;
  device: string;
  winner: string;
  source: DecisionSource;
  /** Median milliseconds per implementation that was timed. */
  times: Record<string, number>;
  /** Implementations not timed, with the reason (does not apply, workspace, not deterministic, a failed trial). */
  skipped: Record<string, string>;
}

interface Entry {
  times: Record<string, number>;
  failed: Record<string, string>;
  /** Why the other candidates were not timed, at the last decision. */
  skipped: Record<string, string>;
  /** The last decision's winner: the fastest that the filters then in force allowed. */
  winner: string;
  fromCache: boolean;
}

interface CacheFile {
  format: string;
  version: number;
  build: string;
  entries: Record<string, { times: Record<string, number> }>;
}

let buildIdMemo: string | null = null;
/**
 * Identifies the native build: a decision measured on other kernels says nothing about these.
 *
 * @example
 * ```ts
 * console.log(hy.backends.buildId()); // 16 hex digits, the same in every process of this build
 * ```
 */
export function buildId(): string {
  if (buildIdMemo === null) {
    const h = createHash('sha256');
    h.update(fs.readFileSync(nativeAddonPath));
    buildIdMemo = h.digest('hex').slice(0, 16);
  }
  return buildIdMemo;
}

/** The name of the device a key is measured on: the GPU's name, or the CPU model and thread count. */
export function deviceName(device: 'cpu' | 'cuda'): string {
  if (device === 'cuda') {
    const i = native.info();
    return `cuda:${i.device?.name ?? 'unknown'}${i.emulated ? ' (emulated)' : ''}`;
  }
  const cpus = os.cpus();
  return `cpu:${cpus[0]?.model.trim() ?? 'unknown'} x${process.env.HAYATE_CPU_THREADS ?? cpus.length}`;
}

const deviceNames: Partial<Record<'cpu' | 'cuda', string>> = {};
function cachedDeviceName(device: 'cpu' | 'cuda'): string {
  return (deviceNames[device] ??= deviceName(device));
}

// Keys read "<op> <field>=<value> ... on <device>"; device names may hold any text after that.
function deviceOfKey(key: string): string {
  const i = key.indexOf(' on ');
  return i < 0 ? '' : key.slice(i + 4);
}

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function errorName(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/**
 * The autotuner's settings and decisions; `hy.backends.autotune` is the one instance.
 *
 * @example
 * ```ts
 * hy.backends.autotune.deterministic = true; // only bit-reproducible implementations
 * hy.backends.autotune.cacheFile = 'autotune.json'; // keep the decisions across runs
 * // ... run the model ...
 * console.log(hy.backends.autotune.report());
 * ```
 */
export class Autotuner {
  private enabledValue = true;
  private deterministicValue = false;
  private workspaceLimitValue = Infinity;
  private budgetMsValue = 10_000;
  private warmupValue = 1;
  private runsValue = 5;
  private cutoffValue = 3;
  private cacheFileValue: string | null = null;
  private readonly entries = new Map<string, Entry>();
  private readonly heuristic = new Map<string, string>();
  private readonly settled = new Map<string, { winner: string; version: number }>();
  private version = 0;  // bumped by every setting that can change a decision
  private spentMs = 0;
  private warned = new Set<string>();

  /** Time implementations on first sight of a key (default true); false: the heuristic choice, no timing. */
  get enabled(): boolean {
    return this.enabledValue;
  }
  set enabled(v: boolean) {
    this.enabledValue = this.bool('enabled', v);
    ++this.version;
  }

  /** Only implementations whose results are bit-identical run to run (default false). */
  get deterministic(): boolean {
    return this.deterministicValue;
  }
  set deterministic(v: boolean) {
    this.deterministicValue = this.bool('deterministic', v);
    ++this.version;
  }

  /** Bytes of workspace an implementation may use; one that needs more is skipped (default Infinity). */
  get workspaceLimit(): number {
    return this.workspaceLimitValue;
  }
  set workspaceLimit(v: number) {
    this.workspaceLimitValue = this.atLeast('workspaceLimit', v, 0, true);
    ++this.version;
  }

  /**
   * Milliseconds this process may spend timing (default 10,000). Once spent, new keys get the
   * heuristic choice, so shapes that keep changing cost one heuristic lookup each, not a benchmark.
   */
  get budgetMs(): number {
    return this.budgetMsValue;
  }
  set budgetMs(v: number) {
    this.budgetMsValue = this.atLeast('budgetMs', v, 0, true);
    ++this.version;
  }

  /** Untimed runs before timing each implementation (default 1). */
  get warmup(): number {
    return this.warmupValue;
  }
  set warmup(v: number) {
    this.warmupValue = this.atLeast('warmup', v, 0, false);
  }

  /** Timed runs per implementation; the median counts (default 5). */
  get runs(): number {
    return this.runsValue;
  }
  set runs(v: number) {
    this.runsValue = this.atLeast('runs', v, 1, false);
  }

  /**
   * A trial slower than this many times the best median so far is abandoned after the run that
   * shows it (default 3; Infinity times every candidate fully): it cannot win, and a slow
   * algorithm on a large shape would otherwise cost warmup + runs of its slow runs.
   */
  get cutoff(): number {
    return this.cutoffValue;
  }
  set cutoff(v: number) {
    this.cutoffValue = this.atLeast('cutoff', v, 1, true);
  }

  /** Milliseconds spent timing so far in this process. */
  get spent(): number {
    return this.spentMs;
  }

  /**
   * A JSON file that keeps the decisions across processes (default null: none). Setting it loads
   * the file's decisions for this build; each new decision rewrites it atomically (a temporary file
   * renamed over it). A corrupt, truncated or foreign (other build) file is ignored with one warning.
   */
  get cacheFile(): string | null {
    return this.cacheFileValue;
  }
  set cacheFile(v: string | null) {
    if (v !== null && (typeof v !== 'string' || v.length === 0)) {
      throw new TypeError(`autotune: cacheFile must be a file path or null, got ${describe(v)}`);
    }
    this.cacheFileValue = v === null ? null : path.resolve(v);
    if (this.cacheFileValue !== null) this.load(this.cacheFileValue);
    ++this.version;
  }

  /**
   * Forgets every decision and the time spent (the cache file is left as it is).
   *
   * @example
   * ```ts
   * hy.backends.autotune.clear(); // the next call of each op with a new key times again
   * ```
   */
  clear(): void {
    this.entries.clear();
    this.heuristic.clear();
    this.settled.clear();
    this.spentMs = 0;
  }

  /**
   * The implementation to run `op` with for `args`, choosing (and timing, when enabled) on first
   * sight of the key made of `op`, `keyFields`, the device and the build. Returns the name to pass
   * as `args.impl`.
   *
   * @example
   * ```ts
   * // how an op with several implementations dispatches (`args` are its native arguments):
   * const impl = hy.backends.autotune.choose('conv2d', args, { N: 64, C: 1, H: 28, W: 28 }, 'cuda');
   * // then run 'conv2d' with { ...args, impl }
   * ```
   */
  choose(op: string, args: OpArgs, keyFields: Record<string, string | number | boolean>, device: 'cpu' | 'cuda'): string {
    const key = `${op} ${Object.entries(keyFields).map(([k, v]) => `${k}=${v}`).join(' ')} on ${cachedDeviceName(device)}`;
    // Settled keys dispatch without asking the native side again, until a setting changes.
    const settled = this.settled.get(key);
    if (settled !== undefined && settled.version === this.version) return settled.winner;
    const winner = this.decide(op, key, args, device);
    this.settled.set(key, { winner, version: this.version });
    return winner;
  }

  private decide(op: string, key: string, args: OpArgs, device: 'cpu' | 'cuda'): string {
    const candidates = native.candidates(op, args);
    const allowed = candidates.filter((c) => this.skipReason(c) === null);
    if (allowed.length === 0) throw new RangeError(`${op}: no implementation applies ${this.filterText()}: ${this.explain(candidates)}`);
    const skipped: Record<string, string> = {};
    for (const c of candidates) {
      const why = this.skipReason(c);
      if (why !== null) skipped[c.name] = why;
    }
    // Disabled means the heuristic for every key, timed before or not: a fixed, reproducible choice.
    if (!this.enabledValue) {
      this.heuristic.set(key, allowed[0].name);
      return allowed[0].name;
    }
    const entry = this.entries.get(key);
    // Allowed candidates with neither a time nor a failed trial: a new key, or a filter that was
    // loosened since (a larger workspaceLimit, deterministic off) lets more of them run.
    const untimed = allowed.filter((c) => entry?.times[c.name] === undefined && entry?.failed[c.name] === undefined);
    const canTime = this.spentMs < this.budgetMsValue && (allowed.length > 1 || entry !== undefined);
    if (untimed.length > 0 && canTime) {
      // Timing waits on events, which a capture cannot record: the step must have run once before.
      if (device === 'cuda' && native.graphCapturing()) {
        throw new Error(`${op}: the autotuner has not timed this shape yet, and timing cannot happen inside a CUDA-graph capture; ` +
          'run the captured step once before capture() (PyTorch needs the same warm-up)');
      }
      const e: Entry = entry ?? { times: {}, failed: {}, skipped: {}, winner: '', fromCache: false };
      this.entries.set(key, e);
      const started = performance.now();
      for (const c of untimed) {
        try {
          const best = Math.min(...Object.values(e.times));
          e.times[c.name] = this.time(op, { ...args, impl: c.name }, device, best);
        } catch (err) {
          e.failed[c.name] = errorName(err);
        }
      }
      this.spentMs += performance.now() - started;
      e.fromCache = false;
      this.heuristic.delete(key);
      this.save();
    }
    const e = this.entries.get(key);
    const winner = e !== undefined ? this.fastest(e, allowed) : null;
    if (e !== undefined && winner !== null) {
      e.winner = winner;
      e.skipped = skipped;
      this.heuristic.delete(key);
      return winner;
    }
    // Disabled, budget spent, a single candidate, or every trial failed (out of memory, say): the
    // heuristic's choice, the first allowed in preference order, which reports its own error if any.
    this.heuristic.set(key, allowed[0].name);
    return allowed[0].name;
  }

  /**
   * Every decision so far, in the order the keys were first seen.
   *
   * @example
   * ```ts
   * for (const d of hy.backends.autotune.decisions()) console.log(d.op, d.winner, d.source, d.times);
   * ```
   */
  decisions(): AutotuneDecision[] {
    const out: AutotuneDecision[] = [];
    for (const [key, e] of this.entries) {
      if (e.winner === '' || this.heuristic.has(key)) continue;
      out.push({ key, op: key.split(' ')[0], device: deviceOfKey(key), winner: e.winner, source: e.fromCache ? 'cache' : 'measured', times: { ...e.times }, skipped: { ...e.skipped, ...e.failed } });
    }
    for (const [key, winner] of this.heuristic) {
      out.push({ key, op: key.split(' ')[0], device: deviceOfKey(key), winner, source: 'heuristic', times: {}, skipped: {} });
    }
    return out;
  }

  /**
   * The decisions as a table a person can read: per key, each implementation's time and the winner.
   *
   * @example
   * ```ts
   * const model = new hy.nn.Conv2d(1, 32, 3, { device: 'cuda' });
   * model.forward(hy.randn([64, 1, 28, 28], { device: 'cuda' })).dispose(); // timed on first sight
   * console.log(hy.backends.autotune.report());
   * ```
   */
  report(): string {
    const ds = this.decisions();
    if (ds.length === 0) return 'autotune: no decisions yet';
    const lines = [`autotune: ${ds.length} key(s), ${this.spentMs.toFixed(1)} ms spent timing of a ${this.budgetMsValue} ms budget`];
    for (const d of ds) {
      lines.push('', `${d.key}`, `  winner: ${d.winner} (${d.source})`);
      const rows = Object.entries(d.times).sort((a, b) => a[1] - b[1]);
      const width = Math.max(4, ...rows.map(([n]) => n.length), ...Object.keys(d.skipped).map((n) => n.length));
      for (const [name, ms] of rows) {
        const ratio = ms / rows[0][1];
        lines.push(`  ${name.padEnd(width)}  ${ms.toFixed(4).padStart(10)} ms  ${ratio === 1 ? '' : `${ratio.toFixed(2)}x`}`);
      }
      for (const [name, why] of Object.entries(d.skipped)) lines.push(`  ${name.padEnd(width)}  not timed: ${why}`);
    }
    return lines.join('\n');
  }

  // ---- internals ----

  private skipReason(c: OpCandidate): string | null {
    if (!c.applies) return 'does not apply';
    if (this.deterministicValue && !c.deterministic) return 'not deterministic';
    if (c.workspaceBytes > this.workspaceLimitValue) return `workspace ${c.workspaceBytes} bytes over the limit`;
    return null;
  }

  private filterText(): string {
    const parts = [];
    if (this.deterministicValue) parts.push('deterministic');
    if (this.workspaceLimitValue !== Infinity) parts.push(`within workspaceLimit ${this.workspaceLimitValue}`);
    return parts.length === 0 ? '' : `(${parts.join(', ')})`;
  }

  private explain(cs: OpCandidate[]): string {
    return cs.map((c) => `${c.name}: ${this.skipReason(c) ?? 'ok'}`).join('; ') || 'none registered';
  }

  private fastest(e: Entry, allowed: OpCandidate[]): string | null {
    let best: string | null = null;
    for (const c of allowed) {
      const t = e.times[c.name];
      if (t !== undefined && (best === null || t < e.times[best])) best = c.name;
    }
    return best;
  }

  // Median of `runs` timed runs after `warmup` untimed ones: CUDA events on the GPU, the CPU queue's
  // completion on the CPU (each run is waited for, so queue latency is inside every sample alike).
  // A candidate that cannot win is abandoned early (see cutoff), so a slow algorithm on a large
  // shape (the direct convolution at a batch of 1000) costs one run, not warmup + runs: on the CPU
  // when its warm-up run alone is over the cutoff, and on either device when a timed run is; that
  // run's time stands for it, so an abandoned candidate is always slower than the best so far.
  private time(op: string, args: OpArgs, device: 'cpu' | 'cuda', best: number): number {
    const samples: number[] = [];
    const hopeless = (ms: number): boolean => Number.isFinite(best) && ms > this.cutoffValue * best;
    if (device === 'cuda') {
      for (let i = 0; i < this.warmupValue; ++i) native.run(op, args);
      for (let i = 0; i < this.runsValue; ++i) {
        const start = native.eventRecord();
        native.run(op, args);
        const end = native.eventRecord();
        try {
          samples.push(native.eventElapsed(start, end));
        } finally {
          native.eventDestroy(start);
          native.eventDestroy(end);
        }
        if (hopeless(samples[samples.length - 1])) return samples[samples.length - 1];
      }
      return median(samples);
    }
    for (let i = 0; i < this.warmupValue; ++i) {
      const t0 = performance.now();
      native.run(op, args);
      native.cpuSynchronize();
      const ms = performance.now() - t0;
      if (hopeless(ms)) return ms;
    }
    for (let i = 0; i < this.runsValue; ++i) {
      const t0 = performance.now();
      native.run(op, args);
      native.cpuSynchronize();
      samples.push(performance.now() - t0);
      if (hopeless(samples[samples.length - 1])) return samples[samples.length - 1];
    }
    return median(samples);
  }

  private warnOnce(what: string, message: string): void {
    if (this.warned.has(what)) return;
    this.warned.add(what);
    process.emitWarning(message, 'HayateAutotuneWarning');
  }

  private load(file: string): void {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;  // written on the first decision
      this.warnOnce(`read ${file}`, `autotune: cannot read the cache file ${file} (${errorName(e)}); starting without it`);
      return;
    }
    let data: CacheFile;
    try {
      data = JSON.parse(text) as CacheFile;
    } catch {
      this.warnOnce(`parse ${file}`, `autotune: the cache file ${file} is corrupt or truncated; it is ignored and will be rewritten`);
      return;
    }
    if (data === null || typeof data !== 'object' || data.format !== FORMAT || data.version !== VERSION || typeof data.entries !== 'object' || data.entries === null) {
      this.warnOnce(`format ${file}`, `autotune: ${file} is not a hayate autotune cache (version ${VERSION}); it is ignored and will be rewritten`);
      return;
    }
    if (data.build !== buildId()) {
      this.warnOnce(`build ${file}`, `autotune: the cache file ${file} was written by another build (${String(data.build)}, this is ${buildId()}); it is ignored and will be rewritten`);
      return;
    }
    const here = new Set([cachedDeviceName('cpu'), ...(native.info().available ? [cachedDeviceName('cuda')] : [])]);
    let foreign = 0;
    for (const [key, v] of Object.entries(data.entries)) {
      const times = v?.times;
      if (times === null || typeof times !== 'object' || !Object.values(times).every((t) => typeof t === 'number' && t >= 0)) continue;
      if (!here.has(deviceOfKey(key))) {
        ++foreign;
        continue;
      }
      // Until a call decides under the filters then in force, the loaded winner is the fastest.
      const winner = Object.entries(times).sort((a, b) => a[1] - b[1])[0]?.[0] ?? '';
      if (!this.entries.has(key)) this.entries.set(key, { times: { ...times }, failed: {}, skipped: {}, winner, fromCache: true });
    }
    if (foreign > 0) {
      this.warnOnce(`device ${file}`, `autotune: ${foreign} decision(s) in ${file} were measured on a device this machine does not have (${[...here].join(', ')}); they are ignored`);
    }
  }

  private save(): void {
    const file = this.cacheFileValue;
    if (file === null) return;
    const entries: CacheFile['entries'] = {};
    for (const [key, e] of this.entries) {
      if (Object.keys(e.times).length > 0) entries[key] = { times: e.times };
    }
    const data: CacheFile = { format: FORMAT, version: VERSION, build: buildId(), entries };
    const tmp = `${file}.${process.pid}.tmp`;
    try {
      fs.writeFileSync(tmp, JSON.stringify(data, null, 1));
      fs.renameSync(tmp, file);
    } catch (e) {
      try {
        fs.unlinkSync(tmp);
      } catch {
        // never written
      }
      this.warnOnce(`write ${file}`, `autotune: cannot write the cache file ${file} (${errorName(e)}); decisions stay in memory`);
    }
  }

  private bool(name: string, v: unknown): boolean {
    if (typeof v !== 'boolean') throw new TypeError(`autotune: ${name} must be a boolean, got ${describe(v)}`);
    return v;
  }

  private atLeast(name: string, v: unknown, min: number, allowInfinity: boolean): number {
    if (typeof v !== 'number' || Number.isNaN(v) || v < min || (!allowInfinity && !Number.isInteger(v))) {
      throw new RangeError(`autotune: ${name} must be ${allowInfinity ? 'a number' : 'an integer'} of at least ${min}, got ${describe(v)}`);
    }
    return v;
  }
}

/**
 * The process's autotuner: `hy.backends.autotune`.
 *
 * @example
 * ```ts
 * hy.backends.autotune.budgetMs = 2000; // at most 2 s of timing in this process
 * hy.backends.autotune.enabled = false; // the heuristic choice, no timing
 * ```
 */
export const autotune = new Autotuner();
