// 2-D convolution, all three directions (conv2d, conv2dBackwardData, conv2dBackwardFilter), per
// implementation and through hy.nn.functional.conv2d, at a fixed set of shapes:
//   mnist    the seed network's two convolutions (1->32 on 28x28 and 32->64 on 26x26, 3x3, stride 1,
//            no padding) at batch 64 and 512;
//   resnet50 ResNet-50's distinct 3x3 layers (stride 1 and the stride-2 ones of v1.5) and a set of
//            its 1x1 layers (expansions, reductions, one stride-2 downsample) at batch 32;
//   odd      shapes off the common paths: 3->17 5x5 stride 2 pad 2 on 33x31, depthwise (32 channels,
//            groups 32), dilation 2.
// The CPU measures the mnist and odd shapes only: ResNet-50's at batch 32 take seconds a call there.
// HY_BENCH_CONV_RESNET=1 adds them to the CPU rows (expect ten minutes or more on 2 cores; the
// default CPU set takes about 80 s there).
//
// Rows per shape, dtype (benchDtypes: float32 and float16 on the GPU, float32 on the CPU) and
// direction, named '<shape> <dtype> <direction> <variant>':
//   <impl>      each implementation native.ops() lists for the device that native.candidates() says
//               applies, run with native.run(op, {...args, impl}) into preallocated outputs: the
//               kernel alone (plus any workspace the dispatcher allocates);
//   autotuned   the hy.nn.functional.conv2d path (its forward, or the backward it records with only
//               the input, or only the weight, requiring grad) with hy.backends.autotune enabled,
//               timed after its first call has made the decision; the winner is in extra;
//   heuristic   (forward only) the same path with autotune disabled: the first applicable
//               implementation, untimed.
// One more row per device and dtype, 'mnist conv stack 64 <dtype> forward+backward autotuned': the
// seed network's convolution work of a training step at batch 64 (both convolutions with bias,
// forward and both backwards each), through the functional path.
// The PyTorch peer bench/peers/conv.py prints the autotuned and stack rows under the same names
// (cudnn.benchmark on the GPU; PyTorch's CPU kernels at its best thread count on the CPU).
import * as hy from '../lib/index';
import type { Device, Tensor } from '../lib/index';
import { native } from '../lib/native';
import type { OpArgs } from '../lib/native';
import { backwardOf, BenchRow, benchDevices, benchDtypes, caseName, disposeAll, FloatDType, releaseGraph, runAsMain, toRow } from './harness';
import type { BenchCase } from './harness';
import { measure, TimedFn, TimerOptions } from './timer';

export const covers = ['conv2d', 'conv2dBackwardData', 'conv2dBackwardFilter'];

const F = hy.nn.functional;
const autotune = hy.backends.autotune;

export interface ConvShape {
  /** The family and layer: 'mnist conv1', 'resnet50 3x3', 'odd depthwise', ... */
  tag: string;
  N: number;
  C: number;
  H: number;
  W: number;
  K: number;
  R: number;
  S: number;
  stride: number;
  pad: number;
  dilation: number;
  groups: number;
}

function shape(tag: string, N: number, C: number, HW: number | [number, number], K: number, RS: number, o: Partial<Pick<ConvShape, 'stride' | 'pad' | 'dilation' | 'groups'>> = {}): ConvShape {
  const [H, W] = typeof HW === 'number' ? [HW, HW] : HW;
  return { tag, N, C, H, W, K, R: RS, S: RS, stride: o.stride ?? 1, pad: o.pad ?? 0, dilation: o.dilation ?? 1, groups: o.groups ?? 1 };
}

/** The seed network's convolutions at one batch size. */
export function mnistShapes(batch: number): ConvShape[] {
  return [shape('mnist conv1', batch, 1, 28, 32, 3), shape('mnist conv2', batch, 32, 26, 64, 3)];
}

/** ResNet-50's distinct 3x3 layers and a set of its 1x1 ones, at batch 32. */
export function resnetShapes(): ConvShape[] {
  const b = 32;
  return [
    shape('resnet50 3x3', b, 64, 56, 64, 3, { pad: 1 }),
    shape('resnet50 3x3', b, 128, 28, 128, 3, { pad: 1 }),
    shape('resnet50 3x3', b, 256, 14, 256, 3, { pad: 1 }),
    shape('resnet50 3x3', b, 512, 7, 512, 3, { pad: 1 }),
    shape('resnet50 3x3', b, 128, 56, 128, 3, { stride: 2, pad: 1 }),
    shape('resnet50 3x3', b, 256, 28, 256, 3, { stride: 2, pad: 1 }),
    shape('resnet50 3x3', b, 512, 14, 512, 3, { stride: 2, pad: 1 }),
    shape('resnet50 1x1', b, 64, 56, 256, 1),
    shape('resnet50 1x1', b, 256, 56, 64, 1),
    shape('resnet50 1x1', b, 512, 28, 128, 1),
    shape('resnet50 1x1', b, 1024, 14, 256, 1),
    shape('resnet50 1x1', b, 2048, 7, 512, 1),
    shape('resnet50 1x1', b, 256, 56, 512, 1, { stride: 2 }),
  ];
}

/** Shapes off the common paths: odd sizes with stride and padding, depthwise, dilated. */
export function oddShapes(): ConvShape[] {
  return [
    shape('odd 5x5', 8, 3, [33, 31], 17, 5, { stride: 2, pad: 2 }),
    shape('odd depthwise', 16, 32, 28, 32, 3, { pad: 1, groups: 32 }),
    shape('odd dilated', 16, 32, 28, 32, 3, { pad: 2, dilation: 2 }),
  ];
}

export function shapesFor(device: Device): ConvShape[] {
  const resnet = device === 'cuda' || process.env.HY_BENCH_CONV_RESNET === '1';
  return [...mnistShapes(64), ...mnistShapes(512), ...(resnet ? resnetShapes() : []), ...oddShapes()];
}

/** 'mnist conv2 64x32x26x26 w64x32x3x3', with ' s2 p1 d2 g32' for what is not 1, 0, 1, 1. */
export function shapeLabel(s: ConvShape): string {
  let label = `${s.tag} ${s.N}x${s.C}x${s.H}x${s.W} w${s.K}x${s.C / s.groups}x${s.R}x${s.S}`;
  if (s.stride !== 1) label += ` s${s.stride}`;
  if (s.pad !== 0) label += ` p${s.pad}`;
  if (s.dilation !== 1) label += ` d${s.dilation}`;
  if (s.groups !== 1) label += ` g${s.groups}`;
  return label;
}

function outSize(s: ConvShape): [number, number] {
  const span = (k: number) => s.dilation * (k - 1) + 1;
  return [Math.floor((s.H + 2 * s.pad - span(s.R)) / s.stride) + 1, Math.floor((s.W + 2 * s.pad - span(s.S)) / s.stride) + 1];
}

/** Multiply-adds times two: the same for every direction (the bias terms left out). */
export function convFlops(s: ConvShape): number {
  const [P, Q] = outSize(s);
  return 2 * s.N * s.K * P * Q * (s.C / s.groups) * s.R * s.S;
}

function geometry(s: ConvShape) {
  return {
    N: s.N, C: s.C, H: s.H, W: s.W, K: s.K, R: s.R, S: s.S, strideH: s.stride, strideW: s.stride,
    padH: s.pad, padW: s.pad, dilationH: s.dilation, dilationW: s.dilation, groups: s.groups,
  };
}

function convOptions(s: ConvShape) {
  return { stride: s.stride, padding: s.pad, dilation: s.dilation, groups: s.groups };
}

const xShape = (s: ConvShape) => [s.N, s.C, s.H, s.W];
const wShape = (s: ConvShape) => [s.K, s.C / s.groups, s.R, s.S];
const yShape = (s: ConvShape) => [s.N, s.K, ...outSize(s)];

export type Direction = 'forward' | 'backward data' | 'backward filter';
const OPS: Record<Direction, string> = { forward: 'conv2d', 'backward data': 'conv2dBackwardData', 'backward filter': 'conv2dBackwardFilter' };
const DIRECTIONS: Direction[] = ['forward', 'backward data', 'backward filter'];

interface Setup {
  fn: TimedFn;
  dispose(): void;
  /** Known only once the case is set up: the chosen implementation, the workspace. */
  extra?: BenchRow['extra'];
}

/** A planned case whose setup returns null when it does not apply (an implementation not for this shape). */
export interface ConvCase extends Omit<BenchCase, 'fn'> {
  setup(): Setup | null;
}

/** One implementation of one direction through native.run, into outputs made once. */
function implCase(device: Device, s: ConvShape, dtype: FloatDType, dir: Direction, impl: string): () => Setup | null {
  return () => {
    const opts = { device, dtype };
    const op = OPS[dir];
    const g = geometry(s);
    const o = 'conv bench';
    const w = hy.randn(wShape(s), opts);
    let owned: Tensor[];
    let args: OpArgs;
    if (dir === 'forward') {
      const x = hy.randn(xShape(s), opts);
      const y = hy.empty(yShape(s), opts);
      owned = [x, w, y];
      args = { x: x.live(o), w: w.live(o), bias: null, y: y.live(o), dtype, ...g };
    } else if (dir === 'backward data') {
      const gy = hy.randn(yShape(s), opts);
      const gx = hy.empty(xShape(s), opts);
      owned = [gy, w, gx];
      args = { gradOut: gy.live(o), w: w.live(o), gradIn: gx.live(o), dtype, ...g };
    } else {
      const x = hy.randn(xShape(s), opts);
      const gy = hy.randn(yShape(s), opts);
      owned = [x, gy, w];
      args = { x: x.live(o), gradOut: gy.live(o), gradWeight: w.live(o), gradBias: null, dtype, ...g };
    }
    const dispose = () => disposeAll(...owned);
    const c = native.candidates(op, args).find((cand) => cand.name === impl);
    if (c === undefined || !c.applies) {
      dispose();
      return null;
    }
    const run = { ...args, impl };
    return { fn: () => native.run(op, run), dispose, extra: { workspaceBytes: c.workspaceBytes, deterministic: c.deterministic } };
  };
}

/** The decision the autotuner made for op (the autotuner is cleared per shape and dtype, so there is one). */
function decisionExtra(op: string): BenchRow['extra'] {
  const d = autotune.decisions().filter((e) => e.op === op).pop();
  return d === undefined ? {} : { winner: d.winner, source: d.source };
}

/** Sets autotune.enabled; returns what puts the previous setting back. */
function setAutotune(enabled: boolean): () => void {
  const was = autotune.enabled;
  // Every change of the setting makes each key decide again once: set here, in setup, never in a
  // timed call.
  if (was !== enabled) autotune.enabled = enabled;
  return () => {
    if (autotune.enabled !== was) autotune.enabled = was;
  };
}

/**
 * The functional path of one direction. Autotuned: the first call (made here) decides, the timed
 * ones dispatch to the winner. Heuristic: the autotuner is cleared and disabled while it runs.
 */
function functionalCase(device: Device, s: ConvShape, dtype: FloatDType, dir: Direction, tuned: boolean): () => Setup {
  return () => {
    const opts = { device, dtype };
    // Each shape and dtype starts with no decisions (the heuristic row comes first), so the
    // autotuned rows time this shape's implementations afresh and decisions() names its winner.
    // Clearing also keeps the heuristic row heuristic: a disabled autotuner still sends a key it
    // has already timed to that key's winner.
    if (!tuned) autotune.clear();
    const restore = setAutotune(tuned);
    const x = hy.randn(xShape(s), opts);
    const w = hy.randn(wShape(s), opts);
    const o = convOptions(s);
    if (dir === 'forward') {
      const fn = () => F.conv2d(x, w, null, o).dispose();
      fn();
      return { fn, dispose: () => (disposeAll(x, w), restore()), extra: decisionExtra(OPS[dir]) };
    }
    (dir === 'backward data' ? x : w).requiresGrad_();
    const y = F.conv2d(x, w, null, o);
    const g = hy.randn(yShape(s), opts);
    const fn = backwardOf(y, g);
    fn();
    return { fn, dispose: () => (releaseGraph(y), disposeAll(x, w, g), restore()), extra: decisionExtra(OPS[dir]) };
  };
}

/** The seed network's convolution work of one step at batch 64: both convs, forward and both backwards. */
function stackCase(device: Device, dtype: FloatDType): ConvCase {
  const convs = mnistShapes(64);
  return {
    case: caseName(device, `mnist conv stack 64 ${dtype} forward+backward autotuned`),
    flops: 3 * convs.reduce((sum, s) => sum + convFlops(s), 0),
    extra: { dtype, bias: true },
    setup: () => {
      const opts = { device, dtype, requiresGrad: true };
      const layers = convs.map((s) => ({ x: hy.randn(xShape(s), opts), w: hy.randn(wShape(s), opts), b: hy.randn([s.K], opts), g: hy.randn(yShape(s), { device, dtype }), o: convOptions(s) }));
      const restore = setAutotune(true);
      const fn = () => {
        for (const l of layers) {
          const y = F.conv2d(l.x, l.w, l.b, l.o);
          backwardOf(y, l.g)();
          releaseGraph(y);
        }
      };
      fn();
      return { fn, dispose: () => (layers.forEach((l) => disposeAll(l.x, l.w, l.b, l.g)), restore()) };
    },
  };
}

/** The implementations native.ops() lists for op on device. */
function implsOf(op: string, device: Device): string[] {
  const d = native.ops().find((e) => e.name === op);
  if (d === undefined) throw new Error(`conv bench: native.ops() does not list ${op}`);
  return d.impls[device];
}

export function plan(device: Device): ConvCase[] {
  const cases: ConvCase[] = [];
  for (const s of shapesFor(device)) {
    const label = shapeLabel(s);
    const flops = convFlops(s);
    for (const dtype of benchDtypes(device)) {
      const extra = { ...geometry(s), dtype };
      const named = (dir: Direction, variant: string) => caseName(device, `${label} ${dtype} ${dir} ${variant}`);
      for (const dir of DIRECTIONS) {
        for (const impl of implsOf(OPS[dir], device)) {
          cases.push({ case: named(dir, impl), flops, extra: { ...extra, impl }, setup: implCase(device, s, dtype, dir, impl) });
        }
        if (dir === 'forward') cases.push({ case: named(dir, 'heuristic'), flops, extra, setup: functionalCase(device, s, dtype, dir, false) });
        cases.push({ case: named(dir, 'autotuned'), flops, extra, setup: functionalCase(device, s, dtype, dir, true) });
      }
    }
  }
  for (const dtype of benchDtypes(device)) cases.push(stackCase(device, dtype));
  return cases;
}

/**
 * The case names bench/peers/conv.py prints for a device: the autotuned rows and the stack, in the
 * order run() gives them (the per-implementation and heuristic rows have no PyTorch counterpart).
 */
export function peerCaseNames(device: Device): string[] {
  return plan(device)
    .map((c) => c.case)
    .filter((n) => n.endsWith(' autotuned'));
}

// The GPU rows are many (every implementation, direction and dtype at 20 shapes) and each kernel
// short, so a sample is short too: the device check's time is minutes for every benchmark together.
const TIMING: Record<Device, TimerOptions> = {
  cuda: { warmup: 2, sampleMs: 3, samples: 5, budgetMs: 15 },
  // The slowest CPU cases (batch 512, direct) take seconds a call: no warm-up beyond the timer's
  // first, discarded, call that sizes a sample (and setup's call on the functional path), then at
  // least three samples.
  cpu: { warmup: 0, budgetMs: 1000 },
};

async function runCases(device: Device, cases: ConvCase[]): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const c of cases) {
    const set = c.setup();
    if (set === null) continue; // an implementation that does not apply to this shape
    try {
      rows.push(toRow('conv', c.case, device, await measure(device, set.fn, TIMING[device]), c, { ...c.extra, ...set.extra }));
    } finally {
      set.dispose();
    }
  }
  return rows;
}

export async function run(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  // Every autotuned row is a decision made afresh; the process's tuning budget (10 s by default)
  // would otherwise run out part-way through the shapes and leave later rows on the heuristic.
  const budget = autotune.budgetMs;
  autotune.budgetMs = Infinity;
  try {
    for (const device of benchDevices()) rows.push(...(await runCases(device, plan(device))));
  } finally {
    autotune.budgetMs = budget;
    autotune.clear();
  }
  return rows;
}

if (require.main === module) runAsMain(run);
