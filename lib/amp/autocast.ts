// Automatic mixed precision: autocast, as torch.autocast (float16 only). Inside an enabled region
// the ops of FLOAT16_OPS (convolutions and matrix products) compute in float16, those of
// FLOAT32_OPS (softmax, losses, reductions, exp/log/pow) in float32, and every other op follows
// its inputs by its own rule (lib/policy.ts). The region is an override that lib/policy.ts looks
// up in the current async context (AsyncLocalStorage): it covers fn and the async work fn starts,
// never code outside it, even while fn is awaiting.
//
// The float16 copy of a float32 leaf that requires a gradient (a parameter) is made once per region
// and reused by every op in it (PyTorch's autocast weight cache); the copies are freed when the
// outermost region that made them exits. Nothing of the graph depends on them staying: each op
// records its backward on the parameter itself and keeps its own alias of the copy it read, so a
// backward after the region has exited still runs, and the parameter's gradient is cast back to
// float32. Like PyTorch's, the cache assumes parameters do not change inside a region: wrap the
// forward pass and the loss, not the optimizer step.
import type { DType } from '../dtype';
import { describe } from '../errors';
import { currentDtypeOverride, enterDtypeOverride, runWithDtypeOverride } from '../policy';
import type { DtypeOverride } from '../policy';
import { keep } from '../scope';
import type { Tensor } from '../tensor';
import { fail } from '../validate';

/** The dtypes autocast computes in; float16 only (bfloat16 is not a tensor dtype here). */
export type AutocastDtype = 'float16';

export interface AutocastOptions {
  /** false makes the region a no-op (a disabled region inside an enabled one turns autocast off). Default true. */
  enabled?: boolean;
  /** The lower-precision dtype; only 'float16'. */
  dtype?: AutocastDtype;
  /** Keep one float16 copy of each parameter per region (torch's cache_enabled). Default true. */
  cacheEnabled?: boolean;
}

/**
 * Ops that compute in the autocast dtype (PyTorch autocast_mode.cpp's lower_precision_fp list, in
 * hayate's op names). Those this library has: conv2d, linear, matmul; the others are listed so an
 * op added under PyTorch's name is covered.
 */
export const FLOAT16_OPS: ReadonlySet<string> = new Set([
  'conv2d', 'linear', 'matmul',
  'conv1d', 'conv3d', 'convTranspose1d', 'convTranspose2d', 'convTranspose3d', 'mm', 'mv', 'bmm', 'addmm', 'addmv', 'addbmm', 'baddbmm', 'prelu',
  'scaledDotProductAttention',
]);

/**
 * Ops that compute in float32 (PyTorch's fp32 and fp32_set_opt_dtype lists). Those this library
 * has: softmax, logSoftmax, nllLoss, crossEntropy, sum, mean, exp, log, pow. mean is not on
 * PyTorch's list (it accumulates in float32 there and returns the input's dtype); here it computes
 * in float32. batchNorm is on neither list, as in PyTorch: its statistics and parameters are
 * float32 inside the kernels whatever the input, and its output follows the input.
 */
export const FLOAT32_OPS: ReadonlySet<string> = new Set([
  'softmax', 'logSoftmax', 'nllLoss', 'crossEntropy', 'sum', 'mean', 'exp', 'log', 'pow',
  'acos', 'asin', 'cosh', 'sinh', 'tan', 'erfinv', 'expm1', 'log10', 'log2', 'log1p', 'reciprocal', 'rsqrt', 'softplus',
  'layerNorm', 'groupNorm', 'norm', 'vectorNorm', 'matrixNorm', 'cosineSimilarity', 'logsumexp', 'prod', 'cumsum', 'cumprod',
  'mseLoss', 'l1Loss', 'smoothL1Loss', 'huberLoss', 'klDiv', 'binaryCrossEntropyWithLogits', 'poissonNllLoss',
  'marginRankingLoss', 'hingeEmbeddingLoss', 'cosineEmbeddingLoss', 'tripletMarginLoss', 'dist', 'pdist', 'cdist', 'renorm',
]);

/** The float16 copies of one outermost region's parameters. */
class WeightCache {
  readonly copies = new Map<Tensor, Tensor>();
  released = false;

  release(): void {
    for (const c of this.copies.values()) c.dispose();
    this.copies.clear();
    this.released = true;
  }
}

/** One autocast region: the override runOp consults while the region is the context's. */
class AutocastRegion implements DtypeOverride {
  live = true;

  constructor(
    readonly enabled: boolean,
    readonly dtype: AutocastDtype,
    readonly cache: WeightCache | null,
    private readonly ownsCache: boolean,
    /** The context's override when the region began: what applies again once it has exited. */
    readonly parent: DtypeOverride | undefined,
  ) {}

  dtypeFor(op: string, inputs: readonly (Tensor | null)[]): DType | null {
    // An exited region can stay in a context that outlives it (work fn started and left running,
    // or the caller of an async function that entered a disposable scope): it defers to what was there before.
    if (!this.live) return this.parent === undefined ? null : this.parent.dtypeFor(op, inputs);
    if (!this.enabled) return null;
    if (FLOAT16_OPS.has(op)) return this.dtype;
    if (FLOAT32_OPS.has(op)) return 'float32';
    return null;
  }

  cachedCast(t: Tensor, dtype: DType): Tensor | null {
    if (!this.live) return this.parent?.cachedCast?.(t, dtype) ?? null;
    const cache = this.cache;
    if (!this.enabled || cache === null || cache.released) return null;
    if (dtype !== this.dtype || t.dtype !== 'float32' || !t.requiresGrad || t.gradFn !== null) return null;
    let c = cache.copies.get(t);
    if (c === undefined || c.isDisposed) {
      // kept out of every tidy() scope: the region, not the scope the first use ran in, frees it
      c = keep(t.convert(dtype));
      cache.copies.set(t, c);
    }
    return c;
  }

  exit(): void {
    if (!this.live) return;
    this.live = false;
    if (this.ownsCache) this.cache!.release();
    // The disposable form entered this region into the current context: put back what was there.
    if (currentDtypeOverride() === this) enterDtypeOverride(liveOverride(this.parent));
  }
}

/** o, or the nearest region before it that has not exited. */
function liveOverride(o: DtypeOverride | undefined): DtypeOverride | undefined {
  while (o instanceof AutocastRegion && !o.live) o = o.parent;
  return o;
}

function currentRegion(): AutocastRegion | undefined {
  const o = liveOverride(currentDtypeOverride());
  return o instanceof AutocastRegion ? o : undefined;
}

const OPTIONS = ['enabled', 'dtype', 'cacheEnabled'] as const;

function parseOptions(opts: unknown): { enabled: boolean; dtype: AutocastDtype; cacheEnabled: boolean } {
  if (opts === undefined) return { enabled: true, dtype: 'float16', cacheEnabled: true };
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) {
    throw new TypeError(`autocast: expected a function or an options object, got ${describe(opts)}`);
  }
  const o = opts as Record<string, unknown>;
  for (const [k, v] of Object.entries(o)) {
    if (!(OPTIONS as readonly string[]).includes(k)) {
      throw new TypeError(`autocast: unknown option '${k}' (got ${describe(v)}; the options are ${OPTIONS.join(', ')})`);
    }
  }
  const flag = (name: 'enabled' | 'cacheEnabled'): boolean => {
    const v = o[name];
    if (v === undefined) return true;
    if (typeof v !== 'boolean') fail('type', 'autocast', name, 'a boolean', v);
    return v;
  };
  const enabled = flag('enabled');
  const cacheEnabled = flag('cacheEnabled');
  const dtype = o.dtype ?? 'float16';
  if (typeof dtype !== 'string') fail('type', 'autocast', 'dtype', "'float16'", dtype);
  if (dtype !== 'float16') fail('range', 'autocast', 'dtype', "'float16' (the one dtype autocast supports)", dtype);
  return { enabled, dtype, cacheEnabled };
}

function openRegion(opts: unknown): AutocastRegion {
  const { enabled, dtype, cacheEnabled } = parseOptions(opts);
  const parent = currentDtypeOverride();
  const outer = currentRegion();
  // Nested regions share the outermost one's cache (PyTorch clears it when the outermost exits).
  const inherited = outer?.cache != null && !outer.cache.released ? outer.cache : null;
  if (inherited !== null) return new AutocastRegion(enabled, dtype, cacheEnabled ? inherited : null, false, parent);
  const own = enabled && cacheEnabled ? new WeightCache() : null;
  return new AutocastRegion(enabled, dtype, own, own !== null, parent);
}

/**
 * The disposable form's handle: `using _ = autocast()` ends the region at the end of the block,
 * or call exit(). Exiting twice is harmless.
 *
 * @example
 * ```ts
 * {
 *   using _ = hy.amp.autocast();
 *   const loss = hy.nn.functional.crossEntropy(model.forward(x), y); // linear and conv in float16
 * } // the region ends here
 * ```
 */
export class AutocastScope {
  /** Made by hy.amp.autocast. */
  constructor(private readonly region: AutocastRegion) {
    if (!(region instanceof AutocastRegion)) throw new TypeError(`AutocastScope: scopes are made by hy.amp.autocast(options), got ${describe(region)}`);
  }

  /** Whether the region autocasts (its `enabled` option). */
  get enabled(): boolean {
    return this.region.enabled;
  }

  /** True until the region has exited. */
  get active(): boolean {
    return this.region.live;
  }

  /**
   * Ends the region: the context's previous state applies again and the weight cache is freed.
   *
   * @example
   * ```ts
   * const scope = hy.amp.autocast();
   * const logits = model.forward(x);
   * scope.exit(); // later ops run in their inputs' dtypes again
   * ```
   */
  exit(): void {
    this.region.exit();
  }

  /**
   * exit(), for `using`: the region ends at the end of the block.
   *
   * @example
   * ```ts
   * using _ = hy.amp.autocast(); // exit() runs at the end of the enclosing block
   * ```
   */
  [Symbol.dispose](): void {
    this.region.exit();
  }
}

/**
 * Runs fn in an autocast region (torch.autocast): sync or async fn. For an async fn the region
 * ends, and its weight cache is freed, when the returned promise settles; the caller's own code
 * is outside the region even while fn awaits.
 *
 * @example
 * ```ts
 * const loss = hy.amp.autocast(() => hy.nn.functional.crossEntropy(model.forward(x), y));
 * const logits = hy.amp.autocast(() => model.forward(x), { enabled: useAmp });
 * ```
 */
export function autocast<T>(fn: () => T, opts?: AutocastOptions): T;
/**
 * Opens an autocast region in the current context until the returned scope is disposed:
 * `using _ = hy.amp.autocast();` (or `const s = hy.amp.autocast(); ... s.exit();`).
 *
 * It is entered with AsyncLocalStorage.enterWith, so it covers the rest of the current synchronous
 * code and the async work that code starts before the scope ends. Limits of that form: in an async
 * function, open it after the function's first `await` (or use the function form): opened before
 * it, the region also covers the caller's code that runs while the function is suspended, until
 * the scope is disposed. Work started inside the region that is still running after it has exited
 * (a timer, an unawaited promise) sees the state from before the region, and casts without a cache.
 *
 * @example
 * ```ts
 * using _ = hy.amp.autocast();
 * const logits = model.forward(x); // linear and conv in float16 until the block ends
 * ```
 */
export function autocast(opts?: AutocastOptions): AutocastScope;
export function autocast<T>(fnOrOpts?: (() => T) | AutocastOptions, opts?: AutocastOptions): T | AutocastScope {
  if (typeof fnOrOpts !== 'function') {
    if (opts !== undefined) throw new TypeError(`autocast: the options come first when no function is given, got a second argument ${describe(opts)}`);
    const region = openRegion(fnOrOpts);
    enterDtypeOverride(region);
    return new AutocastScope(region);
  }
  const region = openRegion(opts);
  let out: T;
  try {
    out = runWithDtypeOverride(region, fnOrOpts);
  } catch (e) {
    region.exit();
    throw e;
  }
  if (out instanceof Promise) return out.finally(() => region.exit()) as T;
  region.exit();
  return out;
}

/**
 * Whether ops in the current async context run under an enabled autocast region (torch.is_autocast_enabled).
 *
 * @example
 * ```ts
 * hy.amp.isAutocastEnabled(); // false
 * hy.amp.autocast(() => hy.amp.isAutocastEnabled()); // true
 * ```
 */
export function isAutocastEnabled(): boolean {
  return currentRegion()?.enabled === true;
}

/**
 * The number of parameter copies the current region's weight cache holds (0 outside a region).
 *
 * @example
 * ```ts
 * const n = hy.amp.autocast(() => {
 *   model.forward(x);
 *   return hy.amp.autocastCacheSize(); // the parameters cast to float16 so far
 * });
 * ```
 */
export function autocastCacheSize(): number {
  const c = currentRegion()?.cache;
  return c == null || c.released ? 0 : c.copies.size;
}
