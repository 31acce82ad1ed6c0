// Op-table entries of the fused optimizers and the GradScaler (ops/optim.h: optimizerStep for every
// kind, multiTensorNorm through LAMB's global gradient norm, ampUnscale and ampUpdateScale through
// GradScaler.step/update). An entry's call builds the optimizer over its inputs as parameters, sets
// the gradients (from the sample's params, rounded to the dtype), runs two steps (three under the
// scaler), disposes the optimizer's state and returns the updated parameters; the oracle is the
// float64 rule of test/reference/optim.ts. Every config moves the weights well past the float16
// tolerance, so a float16 run that did nothing would fail.
//
// How these entries fit the driver (test/optable.test.ts), which is not changed for them:
// - no `grad`: an optimizer step is not differentiable (PyTorch runs it under no_grad), so there is
//   no gradient oracle; the inputs still say requiresGrad: true, as the optimizers require of
//   their parameters, and the driver checks no gradient when the entry has no grad spec;
// - poisoned memory applies as to any entry: the state buffers (zeros) and the gradients come from
//   freed blocks of the inputs' sizes, so a state buffer the kernels read before writing shows;
// - fn / fuzzArity: the constructor (params, options), whose every malformed call must fail cleanly
//   naming the optimizer; the fuzz pool holds no Tensor, so no fuzzed call builds an optimizer.
import * as hy from '../../lib/index';
import type { Device, Tensor } from '../../lib/index';
import type { Optimizer } from '../../lib/optim/index';
import * as ref from '../reference/optim';
import type { RefGrads } from '../reference/optim';
import { entry, ErrorCase, Expected, FLOATS, FloatDType, numel, OpEntry, roundTo, Sample, SampleSize, shapeLabel, Tol, uniform } from './entry';

const O = hy.optim;

const TOL: Record<FloatDType, Tol> = { float32: { rtol: 1e-5, atol: 1e-6 }, float16: { rtol: 1e-2, atol: 2e-3 } };

type RefFn = (w0: number[][], steps: RefGrads[], o: never) => { w: number[][] };
type Ctor = new (params: Tensor[], opts: never) => Optimizer;

interface Config {
  opts: Record<string, unknown>;
  /** The oracle's options (the optimizer's defaults spelled out where they differ from the oracle's). */
  refOpts: Record<string, unknown>;
}

interface StepParams {
  shapes: number[][];
  /** Per step, per parameter, already rounded to the dtype; null: no gradient that step. */
  grads: RefGrads[];
  opts: Record<string, unknown>;
  refOpts: Record<string, unknown>;
}

/** Gives each parameter its gradient of this step (disposing the last); null leaves it without. */
function setGrads(params: Tensor[], grads: RefGrads, factor = 1, poison?: { param: number; index: number; value: number }): void {
  params.forEach((p, i) => {
    if (p.grad !== null) p.grad.dispose();
    const g = grads[i];
    if (g === null) {
      p.grad = null;
      return;
    }
    const v = factor === 1 ? g.slice() : g.map((x) => x * factor);
    if (poison !== undefined && poison.param === i) v[poison.index] = poison.value;
    p.grad = hy.tensor(v, { device: p.device, dtype: p.dtype, shape: [...p.shape] });
  });
}

/**
 * Parameter lists by size. 'edge': 70000 elements (three chunks of optim::kChunk) and 40 tiny
 * tensors (past the 32 tensors of one CUDA table), all-zero weights (the trust ratios' norm-0
 * branch), an all-zero gradient, and a parameter without a gradient on the first step.
 */
interface Layout {
  shapes: number[][];
  zeroWeights: number[];
  zeroGrads: number[];
  /** [step, parameter] without a gradient */
  missing: [number, number][];
}

function layout(size: SampleSize, big: boolean): Layout {
  if (size !== 'edge') {
    const shapes = size === 1 ? [[1]] : [[size], [3, size]];
    return { shapes, zeroWeights: [], zeroGrads: [], missing: [] };
  }
  const tiny = Array.from({ length: 40 }, (_, i) => [1 + (i % 3)]);
  const head = big ? [[70000]] : [[37]];
  const shapes = [...head, ...tiny, [4], [5], [3]];
  const n = shapes.length;
  return { shapes, zeroWeights: [n - 3], zeroGrads: [n - 2], missing: [[0, n - 1]] };
}

function stepSamples(rng: () => number, size: SampleSize, dtype: FloatDType, configs: Config[], nSteps: number): Sample<StepParams>[] {
  return configs.map((c, ci) => {
    const l = layout(size, ci === 0);
    const inputs = l.shapes.map((shape, i) => ({
      shape,
      values: l.zeroWeights.includes(i) ? new Array<number>(numel(shape)).fill(0) : uniform(rng, numel(shape)),
      requiresGrad: true,
    }));
    const grads: RefGrads[] = Array.from({ length: nSteps }, (_, t) =>
      l.shapes.map((shape, i) => {
        if (l.missing.some(([st, p]) => st === t && p === i)) return null;
        if (l.zeroGrads.includes(i)) return new Array<number>(numel(shape)).fill(0);
        return uniform(rng, numel(shape)).map((v) => roundTo(dtype, v));
      }),
    );
    const label = size === 'edge' ? `edge: ${l.shapes.length} tensors (${shapeLabel(l.shapes[0])} first) ${JSON.stringify(c.opts)}` : `${l.shapes.map(shapeLabel).join(' ')} ${JSON.stringify(c.opts)}`;
    return { label, inputs, params: { shapes: l.shapes, grads, opts: c.opts, refOpts: c.refOpts } };
  });
}

/** The error cases every optimizer shares; `base` are valid options. */
function optimizerErrors(name: string, Make: Ctor, base: Record<string, unknown>, device: Device): ErrorCase[] {
  const param = (): Tensor => hy.tensor([1, 2, 3], { device, requiresGrad: true });
  const make = (params: Tensor[], extra: Record<string, unknown> = {}): Optimizer => new Make(params, { ...base, ...extra } as never);
  const stepWith = (prepare: (p: Tensor) => void): void => {
    const p = param();
    const opt = make([p]);
    try {
      prepare(p);
      opt.step();
    } finally {
      opt.dispose();
    }
  };
  return [
    { label: 'lr -1', run: () => make([param()], { lr: -1 }), cls: RangeError, pattern: new RegExp(`^${name}: lr must be a finite number >= 0, got -1$`) },
    { label: 'lr NaN', run: () => make([param()], { lr: NaN }), cls: RangeError, pattern: new RegExp(`^${name}: lr must be a finite number >= 0, got NaN$`) },
    { label: 'unknown option', run: () => make([param()], { bogus: 1 }), cls: TypeError, pattern: new RegExp(`^${name}: unknown option 'bogus'`) },
    { label: 'options not an object', run: () => new Make([param()], 3 as never), cls: TypeError, pattern: new RegExp(`^${name}: options must be an object, got 3$`) },
    { label: 'no parameters', run: () => make([]), cls: RangeError, pattern: new RegExp(`^${name}: params is an empty list`) },
    { label: 'a parameter that does not require grad', run: () => make([hy.ones([2], { device })]), cls: RangeError, pattern: new RegExp(`^${name}: parameter 0 must be a leaf tensor that requires grad$`) },
    {
      label: 'a parameter in two groups',
      run: () => {
        const p = param();
        return new Make([{ params: [p] }, { params: [p] }] as never, base as never);
      },
      cls: RangeError,
      pattern: new RegExp(`^${name}: parameter 0 appears in more than one parameter group$`),
    },
    {
      label: 'a gradient of the wrong numel',
      run: () => stepWith((p) => { p.grad = hy.ones([2], { device }); }),
      cls: RangeError,
      pattern: new RegExp(`^${name}: the gradient of parameter 0 of group 0 has 2 elements, the parameter 3$`),
    },
    {
      label: 'a float16 gradient of a float32 parameter',
      run: () => stepWith((p) => { p.grad = hy.ones([3], { device, dtype: 'float16' }); }),
      cls: TypeError,
      pattern: new RegExp(`^${name}: the gradient of parameter 0 of group 0 is float16, the parameter float32$`),
    },
    {
      label: 'a disposed parameter',
      run: () => stepWith((p) => { p.dispose(); }),
      cls: Error,
      pattern: new RegExp(`^${name}: parameter 0 of group 0 was disposed`),
    },
  ];
}

function optimizerEntry(
  name: string,
  Make: Ctor,
  kind: 'sgd' | 'adam' | 'adadelta' | 'lamb' | 'lars',
  refFn: RefFn,
  configs: Config[],
  base: Record<string, unknown>,
  extraErrors: (device: Device) => ErrorCase[] = () => [],
): OpEntry {
  return entry<StepParams>({
    name: `optim.${name}`,
    errorName: name,
    native: kind === 'lamb' ? [{ op: 'optimizerStep', values: [kind] }, { op: 'multiTensorNorm' }] : [{ op: 'optimizerStep', values: [kind] }],
    dtypes: FLOATS,
    fn: (params: unknown, opts: unknown) => new Make(params as never, opts as never),
    fuzzArity: 2,
    sample: (rng, size, dtype) => stepSamples(rng, size, dtype, configs, 2),
    call(inputs, p) {
      const opt = new Make(inputs, p.opts as never);
      try {
        for (const grads of p.grads) {
          setGrads(inputs, grads);
          opt.step();
        }
      } finally {
        opt.dispose();
      }
      return inputs;
    },
    oracle: (x, p): Expected[] => refFn(x, p.grads, p.refOpts as never).w.map((w, i) => ({ shape: p.shapes[i], values: w })),
    tol: TOL,
    errors: (device) => [...optimizerErrors(name, Make, base, device), ...extraErrors(device)],
  });
}

const SGD_CONFIGS: Config[] = [
  { opts: { lr: 0.1, momentum: 0.9, dampening: 0.2 }, refOpts: { lr: 0.1, momentum: 0.9, dampening: 0.2 } },
  { opts: { lr: 0.1 }, refOpts: { lr: 0.1 } },
  { opts: { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.05 }, refOpts: { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.05 } },
];
const ADAM_CONFIGS: Config[] = [
  { opts: { lr: 0.05, amsgrad: true, weightDecay: 0.1 }, refOpts: { lr: 0.05, amsgrad: true, weightDecay: 0.1 } },
  { opts: { lr: 0.05, betas: [0.5, 0.9], eps: 1e-4 }, refOpts: { lr: 0.05, betas: [0.5, 0.9], eps: 1e-4 } },
];
const ADAMW_CONFIGS: Config[] = [
  { opts: { lr: 0.05, weightDecay: 0.5 }, refOpts: { lr: 0.05, weightDecay: 0.5, decoupled: true } },
  { opts: { lr: 0.05, amsgrad: true }, refOpts: { lr: 0.05, weightDecay: 1e-2, amsgrad: true, decoupled: true } },
];
const ADADELTA_CONFIGS: Config[] = [
  // eps 1e-3: the first steps move by ~0.1 g, not the default's ~1e-3 (below float16's resolution)
  { opts: { eps: 1e-3 }, refOpts: { eps: 1e-3 } },
  { opts: { lr: 0.5, rho: 0.5, eps: 1e-2, weightDecay: 0.1 }, refOpts: { lr: 0.5, rho: 0.5, eps: 1e-2, weightDecay: 0.1 } },
];
const LAMB_CONFIGS: Config[] = [
  { opts: { lr: 0.05 }, refOpts: { lr: 0.05, weightDecay: 0.01 } },
  { opts: { lr: 0.05, weightDecay: 0, useNvLamb: true, maxGradNorm: 0.5 }, refOpts: { lr: 0.05, weightDecay: 0, useNvLamb: true, maxGradNorm: 0.5 } },
  { opts: { lr: 0.05, biasCorrection: false, maxGradNorm: 0, weightDecay: 0.1 }, refOpts: { lr: 0.05, biasCorrection: false, maxGradNorm: 0, weightDecay: 0.1 } },
];
const LARS_CONFIGS: Config[] = [
  // trustCoefficient 0.02 and lr 1: steps of ~0.02 |w|, visible in float16
  { opts: { lr: 1, trustCoefficient: 0.02, weightDecay: 0.01 }, refOpts: { lr: 1, trustCoefficient: 0.02, weightDecay: 0.01 } },
  { opts: { lr: 1, trustCoefficient: 0.02, nesterov: true }, refOpts: { lr: 1, trustCoefficient: 0.02, nesterov: true } },
  { opts: { lr: 0.5, trustCoefficient: 0.05, momentum: 0 }, refOpts: { lr: 0.5, trustCoefficient: 0.05, momentum: 0 } },
];

const betasErrors = (name: string, Make: Ctor) => (device: Device): ErrorCase[] => [
  { label: 'betas [1, 0.9]', run: () => new Make([hy.tensor([1], { device, requiresGrad: true })], { betas: [1, 0.9] } as never), cls: RangeError, pattern: new RegExp(`^${name}: betas\\[0\\] must be a finite number in \\[0, 1\\), got 1$`) },
];

// ---- GradScaler ----

interface ScalerParams {
  shapes: number[][];
  grads: RefGrads[];
  /** Per step: an inf or NaN put into one gradient (null: a clean step). */
  poison: ({ param: number; index: number; value: number } | null)[];
}

const SCALER = { initScale: 256, growthFactor: 2, backoffFactor: 0.5, growthInterval: 2 };
const SCALER_SGD = { lr: 0.1, momentum: 0.9 };

function scalerSamples(rng: () => number, size: SampleSize, dtype: FloatDType): Sample<ScalerParams>[] {
  const [base] = stepSamples(rng, size, dtype, [{ opts: {}, refOpts: {} }], 3);
  const n = base.params.shapes.length;
  const clean = { label: `${base.label} clean`, inputs: base.inputs, params: { shapes: base.params.shapes, grads: base.params.grads, poison: [null, null, null] } };
  // the middle step overflows: an inf in the first (for 'edge', 70000-element) tensor's last element, or a NaN in the last tensor
  const lastOf = numel(base.params.shapes[0]) - 1;
  const inf = { ...clean, label: `${base.label} inf at step 1`, params: { ...clean.params, poison: [null, { param: 0, index: lastOf, value: Infinity }, null] } };
  const nan = { ...clean, label: `${base.label} NaN at step 0`, params: { ...clean.params, poison: [{ param: Math.max(0, n - 2), index: 0, value: NaN }, null, null] } };
  return [clean, inf, nan];
}

function scalerOracle(x: number[][], p: ScalerParams): Expected[] {
  const finite = p.poison.map((q) => ({ finite: q === null }));
  const { scales } = ref.gradScalerRef(finite, SCALER);
  const { w } = ref.sgdRef(x, p.grads.filter((_, t) => p.poison[t] === null), SCALER_SGD);
  return [...w.map((values, i) => ({ shape: p.shapes[i], values })), { shape: [1], values: [scales[scales.length - 1]], dtype: 'float32' }];
}

const GRAD_SCALER: OpEntry = entry<ScalerParams>({
  name: 'amp.GradScaler',
  errorName: 'GradScaler',
  native: [{ op: 'ampUnscale' }, { op: 'ampUpdateScale' }, { op: 'optimizerStep', values: ['sgd'] }],
  dtypes: FLOATS,
  fn: (opts: unknown) => new hy.amp.GradScaler(opts as never),
  fuzzArity: 1,
  sample: scalerSamples,
  call(inputs, p, ctx) {
    const opt = new O.SGD(inputs, SCALER_SGD);
    const scaler = new hy.amp.GradScaler(SCALER);
    try {
      let scale = SCALER.initScale;
      p.grads.forEach((grads, t) => {
        scaler.scale(hy.tensor([1], { device: ctx.device })); // makes the scaler's state on the device
        // scale * g with a power-of-two scale: exact, as is the unscale
        setGrads(inputs, grads, scale, p.poison[t] ?? undefined);
        scaler.step(opt);
        scaler.update();
        scale = scaler.getScale();
      });
      return [...inputs, hy.tensor([scale], { device: ctx.device })];
    } finally {
      scaler.dispose();
      opt.dispose();
    }
  },
  oracle: (x, p) => scalerOracle(x, p),
  tol: TOL,
  errors: (device) => {
    const make = (o: unknown) => () => new hy.amp.GradScaler(o as never);
    const staged = (run: (sc: InstanceType<typeof hy.amp.GradScaler>, opt: Optimizer) => void) => () => {
      const p = hy.tensor([1, 2], { device, requiresGrad: true });
      const opt = new O.SGD([p], { lr: 0.1 });
      const sc = new hy.amp.GradScaler();
      try {
        sc.scale(hy.tensor([1], { device }));
        p.grad = hy.ones([2], { device });
        run(sc, opt);
      } finally {
        sc.dispose();
        opt.dispose();
      }
    };
    return [
      { label: 'initScale 0', run: make({ initScale: 0 }), cls: RangeError, pattern: /^GradScaler: initScale must be a finite number > 0, got 0$/ },
      { label: 'growthFactor 1', run: make({ growthFactor: 1 }), cls: RangeError, pattern: /^GradScaler: growthFactor must be a finite number > 1, got 1$/ },
      { label: 'backoffFactor 1.5', run: make({ backoffFactor: 1.5 }), cls: RangeError, pattern: /^GradScaler: backoffFactor must be a finite number in \(0, 1\), got 1.5$/ },
      { label: 'growthInterval 0', run: make({ growthInterval: 0 }), cls: RangeError, pattern: /^GradScaler: growthInterval must be an integer in \[1, 2\^31 - 1\], got 0$/ },
      { label: 'growthInterval 1.5', run: make({ growthInterval: 1.5 }), cls: RangeError, pattern: /^GradScaler: growthInterval must be an integer in \[1, 2\^31 - 1\], got 1.5$/ },
      { label: 'unknown option', run: make({ scale: 2 }), cls: TypeError, pattern: /^GradScaler: unknown option 'scale'/ },
      { label: 'scale() of a number', run: () => new hy.amp.GradScaler().scale(2 as never), cls: TypeError, pattern: /^GradScaler\.scale: loss must be a Tensor, got 2$/ },
      { label: 'step twice', run: staged((sc, opt) => { sc.step(opt); sc.step(opt); }), cls: Error, pattern: /^GradScaler\.step: step\(\) was already called on this optimizer since the last update\(\)$/ },
      { label: 'unscale twice', run: staged((sc, opt) => { sc.unscale(opt); sc.unscale(opt); }), cls: Error, pattern: /^GradScaler\.unscale: unscale\(\) was already called/ },
      { label: 'update with nothing stepped', run: staged((sc) => sc.update()), cls: Error, pattern: /^GradScaler\.update: no optimizer was unscaled or stepped since the last update\(\)$/ },
    ];
  },
});

export const OPTIM: OpEntry[] = [
  optimizerEntry('SGD', O.SGD as unknown as Ctor, 'sgd', ref.sgdRef as RefFn, SGD_CONFIGS, { lr: 0.1 }, (device) => [
    { label: 'nesterov without momentum', run: () => new O.SGD([hy.tensor([1], { device, requiresGrad: true })], { lr: 0.1, nesterov: true }), cls: RangeError, pattern: /^SGD: nesterov needs momentum > 0 and dampening 0$/ },
    { label: 'momentum NaN', run: () => new O.SGD([hy.tensor([1], { device, requiresGrad: true })], { lr: 0.1, momentum: NaN }), cls: RangeError, pattern: /^SGD: momentum must be a finite number >= 0, got NaN$/ },
  ]),
  optimizerEntry('Adam', O.Adam as unknown as Ctor, 'adam', ref.adamRef as RefFn, ADAM_CONFIGS, {}, betasErrors('Adam', O.Adam as unknown as Ctor)),
  optimizerEntry('AdamW', O.AdamW as unknown as Ctor, 'adam', ref.adamRef as RefFn, ADAMW_CONFIGS, {}, betasErrors('AdamW', O.AdamW as unknown as Ctor)),
  optimizerEntry('Adadelta', O.Adadelta as unknown as Ctor, 'adadelta', ref.adadeltaRef as RefFn, ADADELTA_CONFIGS, {}, (device) => [
    { label: 'rho 1', run: () => new O.Adadelta([hy.tensor([1], { device, requiresGrad: true })], { rho: 1 }), cls: RangeError, pattern: /^Adadelta: rho must be a finite number in \[0, 1\), got 1$/ },
  ]),
  optimizerEntry('LAMB', O.LAMB as unknown as Ctor, 'lamb', ref.lambRef as RefFn, LAMB_CONFIGS, {}, (device) => [
    ...betasErrors('LAMB', O.LAMB as unknown as Ctor)(device),
    {
      label: 'parameters of two dtypes (one global gradient norm)',
      run: () => {
        const a = hy.tensor([1, 2], { device, requiresGrad: true });
        const b = hy.tensor([1, 2], { device, dtype: 'float16', requiresGrad: true });
        const opt = new O.LAMB([a, b]);
        try {
          a.grad = hy.ones([2], { device });
          b.grad = hy.ones([2], { device, dtype: 'float16' });
          opt.step();
        } finally {
          opt.dispose();
        }
      },
      cls: TypeError,
      pattern: /^LAMB: the global gradient norm needs every parameter in one dtype, got float32 and float16$/,
    },
  ]),
  optimizerEntry('LARS', O.LARS as unknown as Ctor, 'lars', ref.larsRef as RefFn, LARS_CONFIGS, { lr: 0.1 }),
  GRAD_SCALER,
];
