// The compiled addon and its typed surface. Everything above this file talks to the GPU and the
// CPU backend only through these functions: storages and transfers by name, and every kernel through
// one entry, run(op, args), whose ops and fields native.ops() lists (declared once in ops/*.h).
// The binding checks memory safety (extents, devices, overflow); what the values mean is checked
// in TypeScript (lib/validate.ts).
import bindings from 'bindings';
import * as fs from 'fs';
import * as path from 'path';

import type { DType } from './dtype';

/** The binding's storage functions, which take and return storage ids (binding/storage.h). */
interface RawStorageBinding {
  alloc(device: unknown, nbytes: unknown, pinned?: unknown): number;
  free(id: unknown): void;
  toDevice(src: unknown, nbytes: unknown, nonBlocking: unknown): number;
}

/** Only loadAddon's wrappers construct handles: `new native.Storage()` is refused. */
const constructing = Symbol('hayate.storage');

/** The binding's free(), once loadAddon has wrapped it. */
let freeStorage: (id: number) => void = () => undefined;

/**
 * The safety net for handles nobody disposed: their slots are freed after a collection finds them
 * unreachable. dispose() unregisters, so a disposed handle is never freed twice.
 */
const collected = new FinalizationRegistry<number>((id) => freeStorage(id));

/**
 * The binding's handle to one native storage: its id in the binding's table of storages
 * (binding/storage.h), with its size, device and pinning; lib/tensor.ts's Storage owns one.
 * dispose() frees the storage at once; a handle dropped undisposed is freed after a collection.
 */
export class StorageHandle {
  readonly #id: number;
  readonly #nbytes: number;
  readonly #device: 'cpu' | 'cuda';
  readonly #pinned: boolean;
  #live = true;

  /** @internal Handles come from alloc() and toDevice(); a direct call is refused. */
  constructor(token: unknown, id: number, nbytes: number, device: 'cpu' | 'cuda', pinned: boolean) {
    if (token !== constructing) throw new TypeError('Storage: use alloc() to create storage, not the constructor');
    this.#id = id;
    this.#nbytes = nbytes;
    this.#device = device;
    this.#pinned = pinned;
    collected.register(this, id, this);
  }

  get nbytes(): number {
    return this.#live ? this.#nbytes : 0;
  }
  get device(): 'cpu' | 'cuda' | 'disposed' {
    return this.#live ? this.#device : 'disposed';
  }
  get pinned(): boolean {
    return this.#live && this.#pinned;
  }
  get disposed(): boolean {
    return !this.#live;
  }
  dispose(): void {
    if (!this.#live) return;
    this.#live = false;
    collected.unregister(this);
    freeStorage(this.#id);
  }

  /**
   * @internal What the binding takes for `v`: a handle's id (a disposed one's stale id, which the
   * binding refuses as disposed), an array's entries each so, anything else as it is, for the
   * binding's error to describe.
   */
  static toBinding(v: unknown): unknown {
    if (typeof v !== 'object' || v === null) return v;
    if (#id in v) return (v as StorageHandle).#id;
    if (Array.isArray(v) && v.some((e) => typeof e === 'object' && e !== null && #id in e)) return v.map((e) => StorageHandle.toBinding(e));
    return v;
  }
}

export interface NativeCudaInfo {
  compiled: boolean;
  available: boolean;
  /** True in the test build whose CUDA device is emulated on the CPU (HAYATE_CUDA_EMULATOR=1). */
  emulated: boolean;
  reason?: string;
  device?: { name: string; computeCapability: string; totalMemory: number; multiProcessors: number };
  driverVersion?: number;
  runtimeVersion?: number;
}

export interface NativeMemoryStats {
  liveBytes: number;
  requestedBytes: number;
  reservedBytes: number;
  peakLiveBytes: number;
  peakReservedBytes: number;
  allocations: number;
  frees: number;
  cacheHits: number;
  segmentAllocations: number;
  segmentReleases: number;
  oomRetries: number;
  pendingFrees: number;
  liveBlocks: number;
  segments: number;
  limitBytes: number;
}

export type MemoryPool = 'cpu' | 'cuda' | 'pinned';

/** How the binding reads one field of an op's argument object (see `native.ops()`). */
export type OpFieldKind = 'storage' | 'optionalStorage' | 'dtype' | 'size' | 'number' | 'bool' | 'enum' | 'dims' | 'storageList' | 'sizeList';

export interface OpField {
  name: string;
  kind: OpFieldKind;
  /** For kind 'enum' and 'dtype': the names the field accepts. */
  values?: string[];
}

/** One registered op: its argument fields and its implementations per backend, in preference order. */
export interface OpDescriptor {
  name: string;
  fields: OpField[];
  impls: { cpu: string[]; cuda: string[] };
}

/** Every enum of the native op list, by name: each maps its value names to the native codes. */
export interface NativeEnums {
  DType: Record<string, number>;
  UnaryOp: Record<string, number>;
  UnaryGradOp: Record<string, number>;
  ScalarOp: Record<string, number>;
  BinaryOp: Record<string, number>;
  Reduction: Record<string, number>;
  RandomKind: Record<string, number>;
}

/** One implementation of an op as the autotuner sees it for one call's arguments. */
export interface OpCandidate {
  name: string;
  /** Whether it can run these arguments at all (a 1x1-only algorithm on a 3x3 kernel cannot). */
  applies: boolean;
  /** Scratch bytes it allocates for these arguments (0 when it needs none or does not apply). */
  workspaceBytes: number;
  /** Whether two runs give bit-identical results. */
  deterministic: boolean;
}

/** An op's argument object: fields by name as `native.ops()` lists them, plus an optional `impl`. */
export type OpArgs = Record<string, StorageHandle | StorageHandle[] | number | boolean | string | number[] | null | undefined>;

export interface NativeBinding {
  /** The handle class; constructing one directly is refused. */
  Storage: new (...args: unknown[]) => StorageHandle;
  info(): NativeCudaInfo;
  alloc(device: 'cpu' | 'cuda', nbytes: number, pinned?: boolean): StorageHandle;
  copy(dst: StorageHandle, src: StorageHandle, nbytes: number, nonBlocking: boolean): void;
  /** A new cuda storage holding src's first nbytes; from pinned memory with nonBlocking it overlaps compute. */
  toDevice(src: StorageHandle, nbytes: number, nonBlocking: boolean): StorageHandle;
  write(s: StorageHandle, dtype: DType, data: Float32Array | Int32Array | Uint8Array): void;
  /** float32 and float16 read as Float32Array, int32 as Int32Array, bool as Uint8Array (0 or 1). */
  read(s: StorageHandle, dtype: DType, n: number): Float32Array | Int32Array | Uint8Array;
  readAsync(s: StorageHandle, dtype: DType, n: number): Promise<Float32Array | Int32Array | Uint8Array>;
  memoryStats(pool: MemoryPool): NativeMemoryStats;
  /** The host bytes this thread's storages have reported to V8 as external memory, net. */
  externalReportedBytes(): number;
  emptyCache(pool: MemoryPool): void;
  resetPeakStats(pool: MemoryPool): void;
  setMemoryLimit(pool: MemoryPool, bytes: number): void;
  synchronize(): void;
  /**
   * Runs one registered op: reads `args` by field name, checks every storage's extent and device,
   * and enqueues the op on the device's queue (the CUDA compute stream, or the CPU queue), returning
   * at once. `args.impl` names one implementation; otherwise the first that applies runs.
   */
  run(op: string, args: OpArgs): void;
  /** Every registered op, in registration order. */
  ops(): OpDescriptor[];
  /** Every implementation of `op` on the arguments' device, in preference order, checked against `args`. */
  candidates(op: string, args: OpArgs): OpCandidate[];
  readonly enums: NativeEnums;
  /** Records a timing event on the CUDA compute stream; returns its id. */
  eventRecord(): number;
  eventSynchronize(id: number): void;
  /** Milliseconds from start to end; waits for both. */
  eventElapsed(start: number, end: number): number;
  eventDestroy(id: number): void;
  /** Starts capturing the CUDA compute stream into a new graph (with a private memory pool); returns its id. */
  graphBegin(): number;
  /** Ends the capture and instantiates the graph; on failure the id is released. */
  graphEnd(id: number): void;
  /** Queues one replay on the compute stream. */
  graphReplay(id: number): void;
  graphDestroy(id: number): void;
  graphCapturing(): boolean;
  /** Blocks until the CPU queue has run everything enqueued so far; throws the first error it raised. */
  cpuSynchronize(): void;
  /** The CPU's measured fp32 peak: an FMA loop on every pool thread at once, after the queued work. */
  cpuPeakGflops(): { gflops: number; threads: number; isa: string };
  /**
   * The footprint in bytes (read and written) from which the CPU's memory-bound ops (binary and
   * scalar) write their outputs with streaming stores, after setting it when given (0: the
   * last-level cache's size, the default). For tests.
   */
  cpuStreamThreshold(bytes?: number): number;
  /** As cpuSynchronize, without blocking the event loop. */
  cpuSynchronizeAsync(): Promise<void>;
  setErrorClasses(classes: { OutOfMemoryError: new (message: string) => Error }): void;

}

/** @internal Where to look for the addon: the package root and the environment (tests point these elsewhere). */
export interface AddonLookup {
  /** The package root; by default the one holding this file (bindings' own choice). */
  root?: string;
  env?: Record<string, string | undefined>;
}

/** @internal The error for a package whose addon was never built (installed with --ignore-scripts, or the build failed). */
export function addonMissingError(root: string): Error {
  const err = new Error(
    `hayate: the native addon is not built (no build/Release/hayate.node in ${root}). ` +
      'Build it with `npm rebuild hayate` (in a checkout of hayate itself: `npm run build:native`); ' +
      'that needs CMake 3.18+ and a C++17 compiler (g++ or clang), and for the GPU the CUDA toolkit (nvcc on PATH). ' +
      'It is missing when the package was installed with --ignore-scripts or when its install-time build failed.',
  ) as Error & { code: string };
  err.code = 'ERR_HAYATE_ADDON_MISSING';
  return err;
}

/**
 * @internal The addon `npm install` built, or with HAYATE_CUDA_EMULATOR=1 the test flavour whose
 * CUDA device is emulated on the CPU (`npm run build:emu`; HAYATE_EMULATOR_ASAN=1: its
 * AddressSanitizer build, `npm run build:asan`). Throws addonMissingError when none was built.
 */
export function resolveAddon(lookup: AddonLookup = {}): string {
  const env = lookup.env ?? process.env;
  if (env.HAYATE_CUDA_EMULATOR === '1') {
    const dir = env.HAYATE_EMULATOR_ASAN === '1' ? 'build-asan' : 'build-emu';
    return path.join(lookup.root ?? path.join(__dirname, '..', '..'), dir, 'Release', 'hayate.node');
  }
  const find = bindings as unknown as (o: { bindings: string; path: true; module_root?: string }) => string;
  try {
    return find({ bindings: 'hayate', path: true, ...(lookup.root === undefined ? {} : { module_root: lookup.root }) });
  } catch (e) {
    // bindings' "Could not locate the bindings file. Tried: <13 paths>" carries the list as `tries`.
    if (Array.isArray((e as { tries?: unknown }).tries)) throw addonMissingError(lookup.root ?? path.join(__dirname, '..', '..'));
    throw e;
  }
}

/** The loaded addon's file: its contents identify the build (the autotuner's cache is per build). */
export const nativeAddonPath: string = resolveAddon();

const WRAPPED = Symbol.for('hayate.addon.wrapped');

/** @internal Loads the addon at `file` (see resolveAddon), with info()'s CUDA reason in plain words. */
export function loadAddon(file: string, env: Record<string, string | undefined> = process.env): NativeBinding {
  let binding: NativeBinding;
  if (env.HAYATE_CUDA_EMULATOR === '1') {
    try {
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      binding = require(file) as NativeBinding;
    } catch (e) {
      throw new Error(`HAYATE_CUDA_EMULATOR=1: cannot load the emulated addon ${file} (build it with npm run build:emu): ${(e as Error).message}`);
    }
  } else {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    binding = require(file) as NativeBinding;
  }
  // require() hands every caller the one exports object: a second load (another copy of this
  // module) finds it wrapped already, and must not wrap its wrappers.
  const marked = binding as unknown as Record<symbol, boolean>;
  if (marked[WRAPPED]) return binding;
  marked[WRAPPED] = true;
  const probe = binding.info;
  binding.info = () => withCudaReason(probe.call(binding));
  withStorageHandles(binding);
  binding.run = positionalRun(binding);
  return binding;
}

/**
 * The binding's storage functions take and return ids; these wrappers give and take
 * StorageHandles instead, so that nothing above this file sees an id.
 */
function withStorageHandles(binding: NativeBinding): void {
  const raw = binding as unknown as RawStorageBinding & Record<string, (...a: unknown[]) => unknown>;
  const toBinding = StorageHandle.toBinding;
  const { alloc, free, toDevice, copy, write, read, readAsync, run, candidates } = raw;
  freeStorage = (id) => free.call(binding, id);
  binding.Storage = StorageHandle as unknown as NativeBinding['Storage'];
  // The binding has checked the arguments once it returns an id, so they describe the storage.
  binding.alloc = (device, nbytes, pinned) => new StorageHandle(constructing, alloc.call(binding, device, nbytes, pinned), nbytes, device, pinned === true);
  binding.toDevice = (src, nbytes, nonBlocking) => new StorageHandle(constructing, toDevice.call(binding, toBinding(src), nbytes, nonBlocking), nbytes, 'cuda', false);
  binding.copy = (dst, src, nbytes, nonBlocking) => void copy.call(binding, toBinding(dst), toBinding(src), nbytes, nonBlocking);
  binding.write = (s, dtype, data) => void write.call(binding, toBinding(s), dtype, data);
  binding.read = (s, dtype, n) => read.call(binding, toBinding(s), dtype, n) as ReturnType<NativeBinding['read']>;
  binding.readAsync = (s, dtype, n) => readAsync.call(binding, toBinding(s), dtype, n) as ReturnType<NativeBinding['readAsync']>;
  binding.run = (op, args) => void run.call(binding, op, argsToBinding(args));
  binding.candidates = (op, args) => candidates.call(binding, op, argsToBinding(args)) as OpCandidate[];
}

/** An op's argument object with its storage handles as ids; anything else as it is, for the binding's errors. */
function argsToBinding(args: unknown): unknown {
  if (typeof args !== 'object' || args === null || Array.isArray(args)) return args;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(args)) out[k] = StorageHandle.toBinding(v);
  return out;
}

/** One op's fields in declared order, with each enum or dtype field's codes by name. */
interface OpLayout {
  index: number;
  keys: string[];
  codes: (Map<string, number> | undefined)[];
  /** dims fields: sent as their length, then their entries, each an argument. */
  dims: boolean[];
}

/** The most sizes a dims field holds (core/op_registry.h kMaxDims). */
const MAX_DIMS = 8;

/**
 * @internal run(op, args) over the binding's runAt: the fields go positionally, in the order the op
 * declares them, and enum and dtype names as their codes, since a property read through N-API costs
 * several times a positional argument. Anything runAt cannot take as is (an op name that is not a
 * string, arguments that are not a plain object) goes to the binding's own run, whose errors name
 * it.
 */
export function positionalRun(binding: NativeBinding): NativeBinding['run'] {
  const byName = binding.run.bind(binding);
  const runAt = (binding as unknown as { runAt?: (index: number, impl: unknown, ...values: unknown[]) => void }).runAt;
  if (runAt === undefined) return byName;
  const toBinding = StorageHandle.toBinding;
  const layouts = new Map<string, OpLayout>();
  binding.ops().forEach((op, index) => {
    layouts.set(op.name, {
      index,
      keys: op.fields.map((f) => f.name),
      // A dtype field lists only the dtypes it accepts, so its codes come from the enum itself; an
      // enum field lists every value, in code order.
      codes: op.fields.map((f) =>
        f.values === undefined ? undefined : new Map(f.values.map((v, i) => [v, f.kind === 'dtype' ? binding.enums.DType[v] : i])),
      ),
      dims: op.fields.map((f) => f.kind === 'dims'),
    });
  });
  return (op: string, args: OpArgs): void => {
    const layout = typeof op === 'string' ? layouts.get(op) : undefined;
    if (layout === undefined || typeof args !== 'object' || args === null || Array.isArray(args)) return byName(op, args);
    const { keys, codes, dims } = layout;
    // One array per call: a getter on args may itself run an op while this loop reads.
    const values: unknown[] = [];
    for (let i = 0; i < keys.length; i++) {
      const v = args[keys[i]];
      if (dims[i]) {
        // A plain array that fits goes flat; anything else is for run's error.
        // The length read once: a getter on an entry cannot shift the fields after it.
        const n = Array.isArray(v) ? v.length : -1;
        if (n < 0 || n > MAX_DIMS) return byName(op, args);
        values.push(n);
        for (let d = 0; d < n; d++) values.push((v as unknown[])[d]);
        continue;
      }
      const names = codes[i];
      if (names === undefined) {
        values.push(toBinding(v));
        continue;
      }
      // Only a known name becomes its code: anything else (a code, a typo) is for run's error.
      const code = typeof v === 'string' ? names.get(v) : undefined;
      if (code === undefined) return byName(op, args);
      values.push(code);
    }
    runAt.call(binding, layout.index, args.impl, ...values);
  };
}

/**
 * @internal The CUDA runtime reports a machine with no NVIDIA driver at all (no libcuda) as
 * cudaErrorInsufficientDriver, "CUDA driver version is insufficient for CUDA runtime version",
 * which reads as if a driver update would help. Where no driver is present, the reason says so.
 */
export function cudaReason(reason: string, driverPresent: () => boolean = driverPresentHere): string {
  if (reason.startsWith('cudaErrorInsufficientDriver') && !driverPresent()) return 'no NVIDIA driver found';
  return reason;
}

function withCudaReason(info: NativeCudaInfo): NativeCudaInfo {
  if (info.reason !== undefined) info.reason = cudaReason(info.reason);
  return info;
}

/** @internal What nvidiaDriverPresent reads of the file system (tests pass a fake). */
export interface DriverProbe {
  existsSync(file: string): boolean;
  readdirSync(dir: string): string[];
}

/**
 * @internal Whether an NVIDIA driver is installed: its kernel side (/proc/driver/nvidia/version,
 * /dev/nvidiactl, /dev/nvidia<N>) or its user-space library libcuda.so.1 where the dynamic loader
 * looks (LD_LIBRARY_PATH, the system library folders, WSL's /usr/lib/wsl/lib).
 */
export function nvidiaDriverPresent(env: Record<string, string | undefined> = process.env, probe: DriverProbe = fs): boolean {
  if (probe.existsSync('/proc/driver/nvidia/version')) return true;
  try {
    if (probe.readdirSync('/dev').some((f) => /^nvidia(\d+|ctl)$/.test(f))) return true;
  } catch {
    // no readable /dev: only the library folders tell
  }
  const libDirs = [
    ...(env.LD_LIBRARY_PATH ?? '').split(':').filter((d) => d !== ''),
    '/usr/lib/wsl/lib',
    '/usr/lib/x86_64-linux-gnu',
    '/usr/lib/aarch64-linux-gnu',
    '/usr/lib64',
    '/usr/lib',
    '/lib64',
    '/lib',
    '/usr/local/nvidia/lib64',
    '/usr/local/nvidia/lib',
  ];
  return libDirs.some((d) => probe.existsSync(path.join(d, 'libcuda.so.1')));
}

let driverSeen: boolean | undefined;
/** Asked only after the runtime found no usable driver, and once per process. */
function driverPresentHere(): boolean {
  return (driverSeen ??= nvidiaDriverPresent());
}

export const native: NativeBinding = loadAddon(nativeAddonPath);
