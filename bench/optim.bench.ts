// Optimizer steps over ResNet-50's parameter set (161 tensors, 25.56M float32 parameters): each
// fused multi-tensor step (one launch per group) against the same kernel launched once per tensor
// (foreach: false) and, for SGD and AdamW, against the per-tensor loop of elementwise ops that an
// unfused optimizer runs (PyTorch's foreach=False path); the GradScaler's fused unscale-and-check;
// and an in-place scale of the whole set (one read, one write) as the bandwidth ceiling. Each row's gbps counts the bytes
// the step must move (extra.floorRatio: the time over bytes / the ceiling's bandwidth).
// bench/peers/optim.py times torch.optim's steps on the same set.
import * as hy from '../lib/index';
import type { Device, Tensor } from '../lib/index';
import { native } from '../lib/native';
import { BenchRow, benchDevices, caseName, disposeAll, PlannedCase, runAsMain, runPlan } from './harness';

export const covers = ['optimizerStep', 'ampUnscale', 'ampUpdateScale', 'multiTensorNorm'];

/** ResNet-50's parameter shapes (torchvision's resnet50: 161 tensors, 25,557,032 parameters). */
export function resnet50Shapes(): number[][] {
  const shapes: number[][] = [[64, 3, 7, 7], [64], [64]];
  let inC = 64;
  const stages: [number, number][] = [[64, 3], [128, 4], [256, 6], [512, 3]];
  for (const [width, blocks] of stages) {
    for (let b = 0; b < blocks; b++) {
      shapes.push([width, inC, 1, 1], [width], [width], [width, width, 3, 3], [width], [width], [width * 4, width, 1, 1], [width * 4], [width * 4]);
      if (b === 0) shapes.push([width * 4, inC, 1, 1], [width * 4], [width * 4]);
      inC = width * 4;
    }
  }
  shapes.push([1000, 2048], [1000]);
  return shapes;
}

const numelOf = (s: number[]): number => s.reduce((a, b) => a * b, 1);

interface ParamSet {
  params: Tensor[];
  dispose(): void;
}

/** The parameter set with gradients, on device. */
function paramSet(device: Device): ParamSet {
  hy.manualSeed(0);
  const params = resnet50Shapes().map((s) => {
    const p = hy.randn(s, { device, requiresGrad: true });
    p.grad = hy.randn(s, { device });
    return p;
  });
  return { params, dispose: () => disposeAll(...params.flatMap((p) => [p.grad, p])) };
}

type Make = (params: Tensor[], foreach: boolean) => hy.optim.Optimizer;
const OPTIMIZERS: [string, Make, number][] = [
  // [name, constructor, float32 arrays moved per parameter element per step]
  ['sgd momentum', (p, foreach) => new hy.optim.SGD(p, { lr: 1e-3, momentum: 0.9, foreach }), 5],
  ['adamw', (p, foreach) => new hy.optim.AdamW(p, { lr: 1e-3, foreach }), 7],
  ['lamb', (p, foreach) => new hy.optim.LAMB(p, { lr: 1e-3, foreach }), 11],
  ['lars', (p, foreach) => new hy.optim.LARS(p, { lr: 1e-3, weightDecay: 1e-4, foreach }), 7],
  ['adadelta', (p, foreach) => new hy.optim.Adadelta(p, { foreach }), 7],
];

export function plan(device: Device): PlannedCase[] {
  const total = resnet50Shapes().reduce((a, s) => a + numelOf(s), 0);
  const cases: PlannedCase[] = [];
  cases.push({
    // The ceiling: the cheapest full pass over the set, x *= s in place (read and write once).
    case: caseName(device, 'resnet50 params scale in place (ceiling)'),
    bytes: 2 * 4 * total,
    setup: () => {
      const x = hy.randn([total], { device });
      const fn = (): void => native.run('scalar', { op: 'mul', x: x.live('bench'), out: x.live('bench'), dtype: 'float32', n: total, s: 1 });
      return { fn, dispose: () => x.dispose() };
    },
  });
  for (const [name, make, arrays] of OPTIMIZERS) {
    for (const foreach of [true, false]) {
      cases.push({
        case: caseName(device, `resnet50 params ${name} ${foreach ? 'fused' : 'one launch per tensor'}`),
        bytes: arrays * 4 * total,
        setup: () => {
          const set = paramSet(device);
          const opt = make(set.params, foreach);
          opt.step(); // state allocated before timing
          return { fn: () => opt.step(), dispose: () => (opt.dispose(), set.dispose()) };
        },
      });
    }
  }
  cases.push({
    case: caseName(device, 'resnet50 params sgd momentum per-tensor elementwise loop'),
    bytes: 5 * 4 * total,
    setup: () => {
      const set = paramSet(device);
      const bufs = set.params.map((p) => hy.zeros([...p.shape], { device }));
      // buf = 0.9 buf + g; p -= lr buf, as separate kernels per tensor (what an unfused step launches)
      const fn = (): void =>
        hy.noGrad(() =>
          hy.tidy(() => {
            set.params.forEach((p, i) => {
              const b = hy.add(hy.mul(bufs[i], 0.9), p.grad!);
              hy.sub(p, hy.mul(b, 1e-3));
            });
          }),
        );
      return { fn, dispose: () => (disposeAll(...bufs), set.dispose()) };
    },
  });
  cases.push({
    case: caseName(device, 'resnet50 params adamw per-tensor elementwise loop'),
    bytes: 7 * 4 * total,
    setup: () => {
      const set = paramSet(device);
      const m = set.params.map((p) => hy.zeros([...p.shape], { device }));
      const v = set.params.map((p) => hy.zeros([...p.shape], { device }));
      // torch's single-tensor AdamW: decay, both moments, the bias-corrected denominator, the update
      const fn = (): void =>
        hy.noGrad(() =>
          hy.tidy(() => {
            set.params.forEach((p, i) => {
              const g = p.grad!;
              const w = hy.mul(p, 1 - 1e-5);
              const mi = hy.add(hy.mul(m[i], 0.9), hy.mul(g, 0.1));
              const vi = hy.add(hy.mul(v[i], 0.999), hy.mul(hy.mul(g, g), 0.001));
              const denom = hy.add(hy.mul(hy.sqrt(vi), 1 / Math.sqrt(0.001)), 1e-8);
              hy.sub(w, hy.mul(hy.div(mi, denom), 1e-2));
            });
          }),
        );
      return { fn, dispose: () => (disposeAll(...m, ...v), set.dispose()) };
    },
  });
  cases.push({
    case: caseName(device, 'resnet50 params GradScaler unscale + inf check'),
    bytes: 2 * 4 * total,
    setup: () => {
      const set = paramSet(device);
      const opt = new hy.optim.SGD(set.params, { lr: 1e-3 });
      const scaler = new hy.amp.GradScaler({ initScale: 1 }); // a scale of 1 keeps the gradients' values
      scaler.scale(set.params[0]).dispose();
      const fn = (): void => {
        scaler.unscale(opt);
        scaler.update();
      };
      return { fn, dispose: () => (scaler.dispose(), opt.dispose(), set.dispose()) };
    },
  });
  cases.push({
    case: caseName(device, 'resnet50 params gradient norm (multiTensorNorm)'),
    bytes: 4 * total,
    setup: () => {
      const set = paramSet(device);
      const grads = set.params.map((p) => p.grad!);
      const norms = hy.zeros([grads.length], { device });
      const sum = hy.zeros([1], { device });
      // LAMB's first launch and what gradient clipping reads: every tensor's norm and the global one
      const fn = (): void =>
        native.run('multiTensorNorm', {
          tensors: grads.map((g) => g.live('bench')),
          numels: grads.map((g) => g.numel),
          norms: norms.live('bench'),
          total: sum.live('bench'),
          dtype: 'float32',
        });
      return { fn, dispose: () => (disposeAll(norms, sum), set.dispose()) };
    },
  });
  return cases;
}

export function caseNames(device: Device): string[] {
  return plan(device).map((c) => c.case);
}

export async function run(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const device of benchDevices()) {
    const r = await runPlan('optim', device, plan(device), { budgetMs: device === 'cuda' ? 300 : 1500, samples: 7 });
    const copy = r.find((row) => row.case.endsWith('(ceiling)'));
    for (const row of r) {
      if (copy?.gbps !== undefined && row.gbps !== undefined && row !== copy) {
        row.extra = { ...row.extra, floorRatio: +(copy.gbps / row.gbps).toFixed(2) };
      }
      const fused = r.find((f) => f.case === row.case.replace(/ (one launch per tensor|per-tensor elementwise loop)$/, ' fused'));
      if (fused !== undefined && fused !== row) row.extra = { ...row.extra, overFused: +(row.medianMs / fused.medianMs).toFixed(2) };
    }
    rows.push(...r);
  }
  return rows;
}

if (require.main === module) runAsMain(run);
