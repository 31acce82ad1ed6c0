// autocast (lib/amp/autocast.ts): per-op compute dtypes, regions per async context, the weight
// cache, gradients and a training step against float32, option errors. Every test frees what it
// allocates; the memory ones check live bytes against a baseline.
import * as assert from 'uvu/assert';

import * as hy from '../lib/index';
import type { Device, Tensor } from '../lib/index';
import { autocast, autocastCacheSize, FLOAT16_OPS, FLOAT32_OPS, isAutocastEnabled } from '../lib/amp/autocast';
import { native } from '../lib/native';
import type { OpArgs } from '../lib/native';
import { assertClose, assertThrows, collectGarbage, eachBackend, randomArray, suite } from './harness';

const s = suite('autocast');
const F = hy.nn.functional;

function seeded(shape: number[], seed: number, device: Device, requiresGrad = false, scale = 1): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return hy.tensor(Float32Array.from(randomArray(n, seed, -scale, scale)), { shape, device, requiresGrad });
}

/** fn's result and the number of native 'cast' kernels it ran. */
function countCasts<T>(fn: () => T): [T, number] {
  const binding = native as unknown as { run: (op: string, args: OpArgs) => void };
  const original = binding.run;
  let casts = 0;
  binding.run = function (this: unknown, op: string, args: OpArgs): void {
    if (op === 'cast') casts++;
    return original.call(this, op, args);
  };
  try {
    return [fn(), casts];
  } finally {
    binding.run = original;
  }
}

function gate(): [Promise<void>, () => void] {
  let open!: () => void;
  const p = new Promise<void>((resolve) => {
    open = resolve;
  });
  return [p, open];
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const live = (device: Device): number => hy.memory.stats(device).liveBytes;

/** Tensors for one call of every op the dtype lists name. */
function opInputs(device: Device) {
  return {
    x: seeded([4, 8], 1, device),
    w: seeded([6, 8], 2, device, true),
    b: seeded([6], 3, device, true),
    m: seeded([8, 3], 4, device),
    img: seeded([2, 2, 5, 5], 5, device),
    k: seeded([3, 2, 3, 3], 6, device, true),
    t: hy.tensor(new Int32Array([0, 5, 2, 7]), { device }),
  };
}

/**
 * The dtype each op's output has, computed inside a tidy scope and without a graph (a recorded
 * graph would hold its saved buffers until a backward or the garbage collector), so nothing outlives it.
 */
function outputDtypes(inp: ReturnType<typeof opInputs>): Record<string, string> {
  return hy.noGrad(() => hy.tidy(() => {
    const { x, w, b, m, img, k, t } = inp;
    const h = x.to('float16');
    const d: Record<string, string> = {};
    d.linear = F.linear(x, w, b).dtype;
    d.matmul = hy.matmul(x, m).dtype;
    d.conv2d = F.conv2d(img, k, null, { padding: 1 }).dtype;
    d.softmax = F.softmax(h).dtype;
    d.logSoftmax = F.logSoftmax(h, 1).dtype;
    d.crossEntropy = F.crossEntropy(h, t).dtype;
    d.nllLoss = F.nllLoss(F.logSoftmax(h), t).dtype;
    d.sum = hy.sum(h).dtype;
    d.mean = hy.mean(h, 1).dtype;
    d.exp = hy.exp(h).dtype;
    d.log = hy.log(hy.abs(h)).dtype;
    d.pow = hy.pow(h, 2).dtype;
    d.relu16 = F.relu(h).dtype;
    d.relu32 = F.relu(x).dtype;
    d.add16 = hy.add(h, h).dtype;
    d.add16and32 = hy.add(h, x).dtype;
    d.gelu16 = F.gelu(h).dtype;
    d.batchNorm16 = F.batchNorm(h, null, null, { training: true }).dtype;
    return d;
  }));
}

function disposeAll(o: Record<string, Tensor>): void {
  for (const t of Object.values(o)) t.dispose();
}

eachBackend(s, 'inside autocast: matrix products in float16, softmax/losses/reductions/exp/log/pow in float32, the rest follow their inputs', (device) => {
  const inp = opInputs(device);
  const before = live(device);
  const inside = autocast(() => {
    assert.ok(isAutocastEnabled());
    return outputDtypes(inp);
  });
  assert.equal(inside, {
    linear: 'float16', matmul: 'float16', conv2d: 'float16',
    softmax: 'float32', logSoftmax: 'float32', crossEntropy: 'float32', nllLoss: 'float32',
    sum: 'float32', mean: 'float32', exp: 'float32', log: 'float32', pow: 'float32',
    relu16: 'float16', relu32: 'float32', add16: 'float16', add16and32: 'float32', gelu16: 'float16', batchNorm16: 'float16',
  });
  assert.not.ok(isAutocastEnabled());
  // outside, every op follows its rule again
  assert.equal(outputDtypes(inp), {
    linear: 'float32', matmul: 'float32', conv2d: 'float32',
    softmax: 'float16', logSoftmax: 'float16', crossEntropy: 'float16', nllLoss: 'float16',
    sum: 'float16', mean: 'float16', exp: 'float16', log: 'float16', pow: 'float16',
    relu16: 'float16', relu32: 'float32', add16: 'float16', add16and32: 'float32', gelu16: 'float16', batchNorm16: 'float16',
  });
  assert.is(live(device), before, 'the region freed its casts and weight copies');
  disposeAll(inp);
});

eachBackend(s, 'autocast values stay close to float32', (device) => {
  const inp = opInputs(device);
  const t6 = hy.tensor(new Int32Array([0, 5, 2, 1]), { device });
  const [ref, got] = [false, true].map((enabled) => autocast(() => hy.noGrad(() => hy.tidy(() => {
    const y = F.linear(inp.x, inp.w, inp.b);
    const c = F.conv2d(inp.img, inp.k, null, { padding: 1 });
    const l = F.crossEntropy(y, t6);
    return [y.to('float32').dataSync(), c.to('float32').dataSync(), l.to('float32').dataSync()];
  })), { enabled }));
  t6.dispose();
  assertClose(got[0], ref[0], { rtol: 1e-2, atol: 1e-2 }, 'linear');
  assertClose(got[1], ref[1], { rtol: 1e-2, atol: 1e-2 }, 'conv2d');
  assertClose(got[2], ref[2], { rtol: 1e-2, atol: 1e-3 }, 'crossEntropy');
  disposeAll(inp);
});

eachBackend(s, 'conv2d: a dtype mismatch is cast under autocast and stays a TypeError outside', (device) => {
  const img16 = hy.tidy(() => seeded([1, 2, 4, 4], 7, device).to('float16'));
  const k = seeded([3, 2, 3, 3], 8, device, true);
  const bias = seeded([3], 9, device, true);
  assertThrows(() => F.conv2d(img16, k), TypeError, /^conv2d: weight must have the input's dtype float16, got float32$/);
  assertThrows(() => autocast(() => F.conv2d(img16, k), { enabled: false }), TypeError, /^conv2d: weight must have the input's dtype float16/);
  const y = autocast(() => F.conv2d(img16, k, bias, { padding: 1 }));
  assert.is(y.dtype, 'float16');
  hy.tidy(() => hy.sum(y).backward());
  assert.is(k.grad!.dtype, 'float32', 'the weight gradient is cast back');
  assert.is(bias.grad!.dtype, 'float32');
  for (const t of [img16, k, bias, y]) t.dispose();
});

eachBackend(s, 'enabled: false does nothing; nested regions; the disposable form', (device) => {
  const inp = opInputs(device);
  const dt = (): string => hy.noGrad(() => hy.tidy(() => F.linear(inp.x, inp.w).dtype));
  const before = live(device);
  assert.is(autocast(() => [isAutocastEnabled(), dt()].join(), { enabled: false }), 'false,float32');
  const nested = autocast(() => {
    const out = [dt()];
    autocast(() => {
      out.push(dt(), String(isAutocastEnabled()));
      autocast(() => out.push(dt()));
      out.push(dt());
    }, { enabled: false });
    out.push(dt(), String(isAutocastEnabled()));
    return out;
  });
  assert.equal(nested, ['float16', 'float32', 'false', 'float16', 'float32', 'float16', 'true']);
  {
    using _scope = autocast();
    assert.ok(isAutocastEnabled());
    assert.is(dt(), 'float16');
    {
      using _off = autocast({ enabled: false });
      assert.is(dt(), 'float32');
    }
    assert.is(dt(), 'float16');
  }
  assert.not.ok(isAutocastEnabled());
  assert.is(dt(), 'float32');
  // an exception leaves a using block through its dispose
  assertThrows(() => {
    using _scope = autocast();
    throw new Error('inside');
  }, Error, /^inside$/);
  assert.not.ok(isAutocastEnabled());
  // explicit exit, twice, and out of order
  const a = autocast();
  const b = autocast({ enabled: false });
  assert.not.ok(isAutocastEnabled());
  a.exit();
  assert.not.ok(isAutocastEnabled(), 'b still off');
  b.exit();
  b.exit();
  assert.not.ok(isAutocastEnabled());
  assert.not.ok(a.active);
  const c = autocast();
  const d = autocast();
  c.exit();
  assert.ok(isAutocastEnabled(), 'd is still open');
  d[Symbol.dispose]();
  assert.not.ok(isAutocastEnabled());
  assert.is(dt(), 'float32');
  assert.is(live(device), before);
  disposeAll(inp);
});

eachBackend(s, 'overlapping async regions leak neither into each other nor into code outside', async (device) => {
  await collectGarbage(); // what earlier tests dropped must not be freed under the baseline
  const inp = opInputs(device);
  const before = live(device);
  const dt = (): string => hy.noGrad(() => hy.tidy(() => F.linear(inp.x, inp.w, inp.b).dtype));
  const [gA, openA] = gate();
  const [gB, openB] = gate();
  const [gC, openC] = gate();
  const log: string[] = [];
  const a = autocast(async () => {
    log.push(`a0 ${dt()} ${autocastCacheSize()}`);
    await gA;
    log.push(`a1 ${dt()} ${isAutocastEnabled()} ${autocastCacheSize()}`);
    await tick();
    log.push(`a2 ${dt()}`);
    return 'a';
  });
  const b = autocast(async () => {
    await gB;
    log.push(`b ${dt()} ${isAutocastEnabled()}`);
    return 'b';
  }, { enabled: false });
  const c = autocast(async () => {
    log.push(`c0 ${autocastCacheSize()}`); // its own cache: empty although a's holds w and b
    await gC;
    await new Promise((resolve) => setTimeout(resolve, 1));
    log.push(`c1 ${dt()} ${autocastCacheSize()}`);
    return 'c';
  });
  const outside = (what: string): void => {
    assert.not.ok(isAutocastEnabled(), `${what}: autocast off`);
    assert.is(dt(), 'float32', `${what}: linear in float32`);
    assert.is(autocastCacheSize(), 0);
  };
  outside('all pending');
  openC();
  openB();
  await tick();
  outside('a pending');
  openA();
  assert.equal(await Promise.all([a, b, c]), ['a', 'b', 'c']);
  outside('after all');
  assert.equal(log.sort(), ['a0 float16 2', 'a1 float16 true 2', 'a2 float16', 'b float32 false', 'c0 0', 'c1 float16 2']);
  assert.is(live(device), before, 'every region freed its weight copies');
  disposeAll(inp);
});

eachBackend(s, 'the weight cache: one float16 copy per parameter per region, freed when the region exits', async (device) => {
  await collectGarbage(); // what earlier tests dropped must not be freed under the baseline
  const inp = opInputs(device);
  const x16 = hy.tidy(() => inp.x.to('float16'));
  const frozen = seeded([6, 8], 10, device); // no requiresGrad: not a parameter, cast on every use
  const before = live(device);
  // without a graph, so the outputs' saved buffers do not outlive the tidy scopes (the MLP test
  // below checks the cache with a graph and backward)
  const three = (w: Tensor, bias: Tensor | null): void => {
    for (let i = 0; i < 3; i++) {
      hy.noGrad(() => hy.tidy(() => {
        F.linear(x16, w, bias);
      }));
    }
  };
  let [size, casts] = countCasts(() => autocast(() => {
    three(inp.w, inp.b);
    return autocastCacheSize();
  }));
  assert.is(casts, 2, 'weight and bias cast once for three linears');
  assert.is(size, 2);
  assert.is(autocastCacheSize(), 0);
  assert.is(live(device), before, 'copies freed at exit');
  [, casts] = countCasts(() => autocast(() => three(inp.w, inp.b)));
  assert.is(casts, 2, 'a new region casts again');
  [, casts] = countCasts(() => autocast(() => three(frozen, null)));
  assert.is(casts, 3, 'a tensor that needs no gradient is cast each time');
  [, casts] = countCasts(() => autocast(() => three(inp.w, inp.b), { cacheEnabled: false }));
  assert.is(casts, 6, 'cacheEnabled false');
  // nested regions share the outermost one's cache; only the outermost frees it
  let sizes: number[];
  [sizes, casts] = countCasts(() => autocast(() => {
    three(inp.w, inp.b);
    const inner = autocast(() => {
      three(inp.w, inp.b);
      return autocastCacheSize();
    });
    return [inner, autocastCacheSize()];
  }));
  assert.equal(sizes, [2, 2]);
  assert.is(casts, 2);
  // the disposable form uses the cache too
  [, casts] = countCasts(() => {
    using _scope = autocast();
    three(inp.w, inp.b);
    three(inp.w, inp.b);
  });
  assert.is(casts, 2);
  // an async region keeps its cache across awaits and frees it when it settles
  const [after, castsAfter] = await autocast(async () => {
    three(inp.w, inp.b);
    await tick();
    return countCasts(() => {
      three(inp.w, inp.b);
      return autocastCacheSize();
    });
  });
  assert.is(after, 2);
  assert.is(castsAfter, 0, 'the same copies after an await');
  assert.is(autocastCacheSize(), 0);
  assert.is(live(device), before);
  for (const t of [x16, frozen]) t.dispose();
  disposeAll(inp);
});

interface Mlp {
  w1: Tensor; b1: Tensor; w2: Tensor; b2: Tensor;
}

function mlp(device: Device, seed: number): Mlp {
  return {
    w1: seeded([20, 12], seed, device, true, 0.4),
    b1: seeded([20], seed + 1, device, true, 0.1),
    w2: seeded([5, 20], seed + 2, device, true, 0.4),
    b2: seeded([5], seed + 3, device, true, 0.1),
  };
}

const forward = (p: Mlp, x: Tensor, t: Tensor): Tensor => hy.tidy(() => F.crossEntropy(F.linear(F.relu(F.linear(x, p.w1, p.b1)), p.w2, p.b2), t));

function batch(device: Device): [Tensor, Tensor] {
  const x = seeded([16, 12], 40, device);
  const t = hy.tensor(Int32Array.from({ length: 16 }, (_, i) => (i * 7) % 5), { device });
  return [x, t];
}

/** ||a - b|| / ||b||. */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
}

function grads(p: Mlp): Float32Array[] {
  return [p.w1, p.b1, p.w2, p.b2].map((q) => {
    assert.is(q.grad!.dtype, 'float32', 'parameter gradients are float32');
    return q.grad!.dataSync() as Float32Array;
  });
}

function disposeMlp(p: Mlp): void {
  for (const q of Object.values(p)) q.dispose();
}

eachBackend(s, 'a 2-layer MLP: float32 parameter gradients close to float32 training, backward after the region has exited', (device) => {
  const [x, t] = batch(device);
  const ref = mlp(device, 30);
  const amp = mlp(device, 30);
  const before = live(device);
  const lossRef = forward(ref, x, t);
  lossRef.backward();
  const lossAmp = autocast(() => {
    const l = forward(amp, x, t);
    assert.is(autocastCacheSize(), 4, 'four parameters cached');
    return l;
  });
  assert.is(lossAmp.dtype, 'float32', 'crossEntropy under autocast gives float32');
  assert.is(autocastCacheSize(), 0);
  // The region has exited and its copies are disposed; the graph's own aliases keep what backward reads.
  lossAmp.backward();
  assertClose(lossAmp.dataSync(), lossRef.dataSync(), { rtol: 1e-2, atol: 1e-3 }, 'loss');
  const [g32, g16] = [grads(ref), grads(amp)];
  for (let i = 0; i < 4; i++) {
    const e = relErr(g16[i], g32[i]);
    assert.ok(e < 1e-2, `parameter ${i}: relative error ${e}`);
    const scale = Math.max(...Array.from(g32[i], Math.abs));
    assertClose(g16[i], g32[i], { rtol: 2e-2, atol: 1e-2 * scale }, `gradient ${i}`);
  }
  for (const p of [ref, amp]) for (const q of Object.values(p)) assert.is(q.dtype, 'float32', 'parameters stay float32');
  lossRef.dispose();
  lossAmp.dispose();
  for (const p of [ref, amp]) for (const q of Object.values(p)) {
    q.grad!.dispose();
    q.grad = null;
  }
  assert.is(live(device), before, 'saved buffers and copies freed by backward');
  disposeMlp(ref);
  disposeMlp(amp);
  x.dispose();
  t.dispose();
});

/** Plain SGD by hand: new float32 leaves p - lr * grad. */
function sgdStep(p: Mlp, lr: number): Mlp {
  const next = hy.noGrad(() => {
    const q = {} as Mlp;
    for (const k of Object.keys(p) as (keyof Mlp)[]) q[k] = hy.tidy(() => hy.sub(p[k], hy.mul(p[k].grad!, lr))).requiresGrad_();
    return q;
  });
  disposeMlp(p);
  return next;
}

eachBackend(s, 'three autocast SGD steps of the MLP end within tolerance of the float32 steps', (device) => {
  const [x, t] = batch(device);
  let ref = mlp(device, 50);
  let amp = mlp(device, 50);
  const before = live(device);
  const losses: [number, number][] = [];
  for (let step = 0; step < 3; step++) {
    const l32 = forward(ref, x, t);
    const l16 = autocast(() => forward(amp, x, t));
    l32.backward();
    l16.backward();
    losses.push([l32.item(), l16.item()]);
    l32.dispose();
    l16.dispose();
    ref = sgdStep(ref, 0.5);
    amp = sgdStep(amp, 0.5);
  }
  assert.ok(losses[2][0] < losses[0][0], 'the float32 steps lower the loss');
  for (const [a, b] of losses) assert.ok(Math.abs(a - b) <= 1e-2 * Math.abs(a) + 1e-3, `losses ${a} vs ${b}`);
  for (const k of Object.keys(ref) as (keyof Mlp)[]) {
    assert.is(amp[k].dtype, 'float32');
    const [a, r] = [amp[k].dataSync(), ref[k].dataSync()];
    assert.ok(relErr(a, r) < 1e-2, `${k}: relative error ${relErr(a, r)}`);
    assertClose(a, r, { rtol: 1e-2, atol: 2e-3 }, k);
  }
  assert.is(live(device), before, 'nothing outlives a step');
  disposeMlp(ref);
  disposeMlp(amp);
  x.dispose();
  t.dispose();
});

eachBackend(s, 'an exception inside a region ends it and frees its cache', async (device) => {
  await collectGarbage(); // what earlier tests dropped must not be freed under the baseline
  const inp = opInputs(device);
  const before = live(device);
  const use = (): void => hy.noGrad(() => hy.tidy(() => {
    F.linear(inp.x, inp.w, inp.b);
  }));
  assertThrows(() => autocast(() => {
    use();
    throw new Error('sync boom');
  }), Error, /^sync boom$/);
  assert.not.ok(isAutocastEnabled());
  let message = '';
  await autocast(async () => {
    use();
    await tick();
    throw new Error('async boom');
  }).catch((e: Error) => {
    message = e.message;
  });
  assert.is(message, 'async boom');
  assert.not.ok(isAutocastEnabled());
  assert.is(live(device), before);
  disposeAll(inp);
});

s('the disposable form after an await in an async function stays in that function', async () => {
  const [g, open] = gate();
  const inner = (async () => {
    await tick();
    using _scope = autocast();
    await g;
    return isAutocastEnabled();
  })();
  await tick();
  await tick();
  assert.not.ok(isAutocastEnabled(), 'the caller is outside the region');
  open();
  assert.ok(await inner, 'the function is inside it across its awaits');
  assert.not.ok(isAutocastEnabled());
});

s('bad options are errors naming autocast, the option and the value', () => {
  const fn = (): number => 1;
  assertThrows(() => autocast(fn, { dtype: 'bfloat16' } as never), RangeError, /^autocast: dtype must be 'float16' .*, got 'bfloat16'$/);
  assertThrows(() => autocast(fn, { dtype: 16 } as never), TypeError, /^autocast: dtype must be 'float16', got 16$/);
  assertThrows(() => autocast(fn, { enabled: 'yes' } as never), TypeError, /^autocast: enabled must be a boolean, got 'yes'$/);
  assertThrows(() => autocast(fn, { cacheEnabled: 1 } as never), TypeError, /^autocast: cacheEnabled must be a boolean, got 1$/);
  assertThrows(() => autocast(fn, { device: 'cuda' } as never), TypeError, /^autocast: unknown option 'device' \(got 'cuda'; the options are enabled, dtype, cacheEnabled\)$/);
  assertThrows(() => autocast(fn, 5 as never), TypeError, /^autocast: expected a function or an options object, got 5$/);
  assertThrows(() => autocast({ dtype: 'bfloat16' } as never), RangeError, /^autocast: dtype must be 'float16' .*, got 'bfloat16'$/);
  assertThrows(() => autocast({ enabled: 'yes' } as never), TypeError, /^autocast: enabled must be a boolean, got 'yes'$/);
  assertThrows(() => autocast('on' as never), TypeError, /^autocast: expected a function or an options object, got 'on'$/);
  assertThrows(() => (autocast as (...a: unknown[]) => unknown)({}, {}), TypeError, /^autocast: the options come first/);
  assert.not.ok(isAutocastEnabled(), 'a rejected call enters no region');
  assert.is(autocast(fn, {}), 1);
});

s('the op lists are disjoint and name the ops this library runs', () => {
  for (const op of FLOAT16_OPS) assert.not.ok(FLOAT32_OPS.has(op), op);
  for (const op of ['conv2d', 'linear', 'matmul']) assert.ok(FLOAT16_OPS.has(op), op);
  for (const op of ['softmax', 'logSoftmax', 'nllLoss', 'crossEntropy', 'sum', 'mean', 'exp', 'log', 'pow']) assert.ok(FLOAT32_OPS.has(op), op);
  for (const op of ['add', 'sub', 'mul', 'div', 'relu', 'gelu', 'tanh', 'sigmoid', 'batchNorm', 'maxPool2d', 'dropout']) {
    assert.not.ok(FLOAT16_OPS.has(op) || FLOAT32_OPS.has(op), `${op} follows its inputs`);
  }
});

s.run();
