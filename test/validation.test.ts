// Argument validation at the edges: each case is a mistake a user makes (a number for a gradient,
// PyTorch's snake_case option, a bad module option) or a value that once crashed or hung, and the
// error it must give: a TypeError for a wrong type, a RangeError for a value out of range, in the
// message style "<op>: <argument> must be <expected>, got <value>". Every case frees what it
// allocates: each runs inside `clean`, which checks the cpu allocator's live bytes are unchanged.
import * as assert from 'uvu/assert';

import * as hy from '../lib/index';
import type { Tensor } from '../lib/index';
import { describe } from '../lib/errors';
import { assertThrows, collectGarbage, suite } from './harness';

const s = suite('validation');
const F = hy.nn.functional;

/** Registers a case whose tensors must all be freed by its end (cpu live bytes unchanged). */
function clean(name: string, fn: () => void): void {
  s(name, async () => {
    await collectGarbage(); // earlier tests' dropped tensors are freed now, not during this case
    const before = hy.memory.stats('cpu').liveBytes;
    fn();
    assert.is(hy.memory.stats('cpu').liveBytes, before, `${name}: live bytes after the case`);
  });
}

function disposeAll(...ts: (Tensor | null | undefined)[]): void {
  for (const t of ts) t?.dispose();
}

/** A cpu tensor that reports another device: every device check must run before any kernel. */
function onFakeCuda(t: Tensor): Tensor {
  Object.defineProperty(t, 'device', { value: 'cuda' });
  return t;
}

// ---- backward ----

clean('backward: the gradient must be a Tensor, the options an object of known booleans; nothing runs before the checks', () => {
  const x = hy.ones([3], { requiresGrad: true });
  const twice = hy.mul(x, 2);
  const y = hy.sum(twice);
  assertThrows(() => y.backward(1 as never), TypeError, /^backward: gradient must be a Tensor, got 1$/, 'a number as gradient');
  assertThrows(() => y.backward('g' as never), TypeError, /^backward: gradient must be a Tensor, got 'g'$/, 'a string as gradient');
  assertThrows(() => y.backward(undefined, null as never), TypeError, /^backward: options must be an object, got null$/, 'options null');
  assertThrows(() => y.backward(undefined, 5 as never), TypeError, /^backward: options must be an object, got 5$/, 'options 5');
  assertThrows(() => y.backward(undefined, { retain_graph: true } as never), TypeError,
    /^backward: unknown option 'retain_graph' \(did you mean 'retainGraph'\? expected retainGraph\)$/, 'snake_case option');
  assertThrows(() => y.backward(undefined, { retainGraph: 1 } as never), TypeError, /^backward: retainGraph must be a boolean, got 1$/, 'retainGraph 1');
  assertThrows(() => y.backward(undefined, { retainGraph: 'yes' } as never), TypeError, /^backward: retainGraph must be a boolean, got 'yes'$/, 'retainGraph string');
  assert.is(x.grad, null, 'no failed call reached the graph');
  // The graph is intact: retainGraph keeps it for a second pass, which accumulates.
  y.backward(undefined, { retainGraph: true });
  y.backward(undefined, { retainGraph: false });
  assert.equal(Array.from(x.grad!.dataSync()), [4, 4, 4]);
  assertThrows(() => y.backward(), Error, /already freed/, 'the second pass freed the graph');
  // null is "no gradient" (PyTorch's None), as undefined is.
  const z = hy.sum(x);
  z.backward(null as never);
  assert.equal(Array.from(x.grad!.dataSync()), [5, 5, 5]);
  disposeAll(x, twice, y, z);
});

clean('backward: a gradient on another device is a RangeError, like every other device mismatch', () => {
  const x = hy.ones([3], { requiresGrad: true });
  const y = hy.mul(x, 2);
  const g = onFakeCuda(hy.ones([3]));
  assertThrows(() => y.backward(g), RangeError, /^backward: gradient must be on cpu like the tensor, got 'cuda'$/);
  const d = hy.ones([3]);
  d.dispose();
  assertThrows(() => y.backward(d), hy.DisposedError, /^backward: the tensor was disposed$/, 'a disposed gradient');
  assert.is(x.grad, null);
  disposeAll(x, y, g);
});

// ---- optimizers ----

clean('optimizers: params must be iterable (checked first), lr a number, a user-set gradient the parameter\'s size', () => {
  assertThrows(() => new hy.optim.SGD(5 as never, undefined as never), TypeError,
    /^SGD: params must be an iterable of tensors or of parameter groups, got 5$/, 'SGD(5): params named, not the missing lr');
  assertThrows(() => new hy.optim.SGD(5 as never, { lr: 0.1 }), TypeError, /^SGD: params must be an iterable/, 'SGD(5, {lr})');
  assertThrows(() => new hy.optim.Adam(null as never), TypeError, /^Adam: params must be an iterable of tensors or of parameter groups, got null$/);
  const p = hy.zeros([2, 3], { requiresGrad: true });
  const opt = new hy.optim.SGD([p], { lr: 0.1 });
  assertThrows(() => { opt.lr = 'fast' as never; }, TypeError, /^SGD: lr must be a number, got 'fast'$/, "lr = 'fast'");
  assertThrows(() => { opt.lr = -1; }, RangeError, /^SGD: lr must be a finite number >= 0, got -1$/, 'lr = -1');
  assertThrows(() => { opt.lr = NaN; }, RangeError, /^SGD: lr must be a finite number >= 0, got NaN$/, 'lr = NaN');
  assert.is(opt.lr, 0.1, 'a rejected lr changes nothing');
  // A gradient the user set by hand, larger than its parameter: the step refuses before writing.
  p.grad = hy.ones([12]);
  assertThrows(() => opt.step(), RangeError, /^SGD: the gradient of parameter 0 of group 0 has 12 elements, the parameter 6$/, 'grad of 12 for 6');
  p.grad.dispose();
  p.grad = hy.ones([2]);
  assertThrows(() => opt.step(), RangeError, /^SGD: the gradient of parameter 0 of group 0 has 2 elements, the parameter 6$/, 'grad of 2 for 6');
  assert.equal(Array.from(p.dataSync()), [0, 0, 0, 0, 0, 0], 'the parameter is untouched');
  opt.dispose();
  disposeAll(p); // frees p.grad too
});

// ---- reductions, flatten, keep ----

clean('sum/mean: keepdim must be a boolean, a dim may not repeat', () => {
  const x = hy.ones([2, 3]);
  assertThrows(() => hy.sum(x, 0, { keepdim: 1 } as never), TypeError, /^sum: keepdim must be a boolean, got 1$/);
  assertThrows(() => hy.mean(x, 0, { keepdim: 'yes' } as never), TypeError, /^mean: keepdim must be a boolean, got 'yes'$/);
  assertThrows(() => x.sum(0, { keepDim: true } as never), TypeError, /^sum: unknown option 'keepDim'/);
  assertThrows(() => hy.sum(x, [0, 0]), RangeError, /^sum: dim must not repeat a dimension, got \[0, 0\] \(dim 0 appears twice\)$/);
  assertThrows(() => hy.mean(x, [1, -1]), RangeError, /^mean: dim must not repeat a dimension, got \[1, -1\] \(dim 1 appears twice\)$/);
  assertThrows(() => hy.sum(x, [0, 1.5]), TypeError, /^sum: dim must be an integer, got 1\.5$/);
  const ok = hy.sum(x, [0, 1], { keepdim: true });
  assert.equal(ok.shape, [1, 1]);
  assert.is(ok.item(), 6);
  disposeAll(x, ok);
});

clean('flatten: a 0-d tensor takes dims -1 and 0 only, and the error names the dim', () => {
  const scalar = hy.tensor(3);
  assertThrows(() => scalar.flatten(7), RangeError, /^flatten: startDim must be an integer from -1 to 0 for a tensor of 0 dimensions, got 7$/);
  assertThrows(() => hy.flatten(scalar, 7), RangeError, /^flatten: startDim must be an integer from -1 to 0 for a tensor of 0 dimensions, got 7$/);
  assertThrows(() => hy.flatten(scalar, 0, 7), RangeError, /^flatten: endDim must be an integer from -1 to 0 for a tensor of 0 dimensions, got 7$/);
  const a = scalar.flatten(0);
  const b = hy.flatten(scalar, -1, -1);
  assert.equal(a.shape, [1]);
  assert.equal(b.shape, [1]);
  const x = hy.ones([2, 3, 4]);
  assertThrows(() => hy.flatten(x, 3), RangeError, /^flatten: startDim must be an integer from -3 to 2 for a tensor of 3 dimensions, got 3$/);
  assertThrows(() => hy.flatten(x, 0, -4), RangeError, /^flatten: endDim must be an integer from -3 to 2 for a tensor of 3 dimensions, got -4$/);
  assertThrows(() => hy.flatten(x, 2, 1), RangeError, /^flatten: startDim \(2\) must not come after endDim \(1\)/);
  assertThrows(() => hy.flatten(x, 'a' as never), TypeError, /^flatten: startDim must be an integer, got 'a'$/);
  assertThrows(() => hy.flatten(x, 0, 1.5), TypeError, /^flatten: endDim must be an integer, got 1\.5$/);
  disposeAll(scalar, a, b, x);
});

clean('keep: the argument must be a Tensor', () => {
  assertThrows(() => hy.keep(5 as never), TypeError, /^keep: tensor must be a Tensor, got 5$/);
  assertThrows(() => hy.keep({} as never), TypeError, /^keep: tensor must be a Tensor, got an object/);
  const t = hy.tidy(() => hy.keep(hy.ones([2])));
  assert.not.ok(t.isDisposed);
  t.dispose();
});

// ---- module constructors ----

clean('module options are checked at construction, naming the module and the option', () => {
  assertThrows(() => new hy.nn.MaxPool2d(0), RangeError, /^MaxPool2d: kernelSize must be positive integers, got 0$/);
  assertThrows(() => new hy.nn.MaxPool2d('2' as never), TypeError, /^MaxPool2d: kernelSize must be a number or a pair of numbers, got '2'$/);
  assertThrows(() => new hy.nn.MaxPool2d(2, { stride: 0 }), RangeError, /^MaxPool2d: stride must be positive integers, got 0$/);
  assertThrows(() => new hy.nn.MaxPool2d(2, { padding: 2 }), RangeError, /^MaxPool2d: padding 2x2 must be at most half the kernel size 2x2$/);
  assertThrows(() => new hy.nn.MaxPool2d(2, { strides: 1 } as never), TypeError, /^MaxPool2d: unknown option 'strides'/);
  assertThrows(() => new hy.nn.BatchNorm1d(3, { eps: -1 }), RangeError, /^BatchNorm1d: eps must be a finite number >= 0, got -1$/);
  assertThrows(() => new hy.nn.BatchNorm2d(3, { eps: Infinity }), RangeError, /^BatchNorm2d: eps must be a finite number >= 0, got Infinity$/);
  assertThrows(() => new hy.nn.BatchNorm1d(3, { momentum: NaN }), RangeError, /^BatchNorm1d: momentum must be a finite number, got NaN$/);
  assertThrows(() => new hy.nn.BatchNorm1d(3, { eps: '1e-5' } as never), TypeError, /^BatchNorm1d: eps must be a number, got '1e-5'$/);
  assertThrows(() => new hy.nn.Flatten('a' as never), TypeError, /^Flatten: startDim must be an integer, got 'a'$/);
  assertThrows(() => new hy.nn.Flatten(1, 0.5), TypeError, /^Flatten: endDim must be an integer, got 0\.5$/);
  assertThrows(() => new hy.nn.LogSoftmax('1' as never), TypeError, /^LogSoftmax: dim must be an integer, got '1'$/);
  assertThrows(() => new hy.nn.Conv2d(1, 1, 3, { stride: 0 }), RangeError, /^Conv2d: stride must be positive integers, got 0$/);
  assertThrows(() => new hy.nn.Conv2d(1, 1, 3, { padding: 'full' as never }), RangeError, /^Conv2d: padding must be a number, a pair, 'same' or 'valid', got 'full'$/);
  assertThrows(() => new hy.nn.Conv2d(1, 1, 3, { dilation: [1, 0] }), RangeError, /^Conv2d: dilation must be positive integers, got \[1, 0\]$/);
  assertThrows(() => new hy.nn.Conv2d(1, 1, 3, { stride: 2, padding: 'same' }), RangeError, /^Conv2d: padding 'same' needs stride 1, got stride 2$/);
  // Good options still build, and print as before.
  const pool = new hy.nn.MaxPool2d([3, 3], { stride: 1, padding: 1 });
  assert.is(String(pool), 'MaxPool2d(kernelSize=[3, 3], stride=1, padding=1)');
  const flat = new hy.nn.Flatten(0, -1);
  const x = hy.ones([2, 3]);
  const y = flat.forward(x);
  assert.equal(y.shape, [6]);
  disposeAll(x, y);
});

// ---- the generator ----

clean('setGeneratorState checks the whole state before changing anything', () => {
  const saved = hy.getGeneratorState();
  try {
    hy.manualSeed(5);
    hy.rand([8]).dispose();
    const state = hy.getGeneratorState();
    assert.equal(state, { seed: 5, offset: 2 });
    assertThrows(() => hy.setGeneratorState({ seed: 9, offset: -1 }), RangeError, /^setGeneratorState: offset must be an integer from 0 to 2\^53 - 1, got -1$/);
    assert.equal(hy.getGeneratorState(), state, 'a bad offset leaves the seed alone');
    assertThrows(() => hy.setGeneratorState({ seed: 9, offset: '3' } as never), TypeError, /^setGeneratorState: offset must be a number, got '3'$/);
    assertThrows(() => hy.setGeneratorState({ seed: 9 } as never), TypeError, /^setGeneratorState: offset must be a number, got undefined$/);
    assertThrows(() => hy.setGeneratorState({ seed: -9, offset: 0 }), RangeError, /^setGeneratorState: seed must be an integer from 0 to 2\^53 - 1, got -9$/);
    assertThrows(() => hy.setGeneratorState(null as never), TypeError, /^setGeneratorState: state must be an object \{seed, offset\}, got null$/);
    assert.equal(hy.getGeneratorState(), state, 'nothing changed');
    hy.setGeneratorState({ seed: 9, offset: 3 });
    assert.equal(hy.getGeneratorState(), { seed: 9, offset: 3 });
  } finally {
    hy.setGeneratorState(saved);
  }
});

// ---- describe ----

function hostileValues(): [string, unknown][] {
  const revoked = Proxy.revocable({}, {});
  revoked.revoke();
  const revokedArray = Proxy.revocable([1, 2], {});
  revokedArray.revoke();
  const revokedFn = Proxy.revocable(() => 0, {});
  revokedFn.revoke();
  const boom = (): never => {
    throw new Error('hostile');
  };
  // A proxy whose handler is itself a proxy: every trap V8 asks for throws.
  const everyTrapThrows = new Proxy({}, new Proxy({}, { get: () => boom }));
  const arrayTrapsThrow = new Proxy([1, 2, 3], { get: boom, getPrototypeOf: boom, has: boom, ownKeys: boom, getOwnPropertyDescriptor: boom });
  const throwingTag = Object.defineProperty({}, Symbol.toStringTag, { get: boom });
  const throwingConversions = { toString: boom, valueOf: boom, [Symbol.toPrimitive]: boom };
  const throwingElement = Object.defineProperty([1, 2], 0, { get: boom });
  const typedWithThrowingCtor = Object.defineProperty(new Float32Array(2), 'constructor', { get: boom });
  const nullProto = Object.create(null) as object;
  const detached = new Float32Array(new ArrayBuffer(8));
  structuredClone(detached.buffer, { transfer: [detached.buffer] });
  return [
    ['a revoked Proxy', revoked.proxy],
    ['a revoked Proxy of an array', revokedArray.proxy],
    ['a revoked Proxy of a function', revokedFn.proxy],
    ['a Proxy whose traps all throw', everyTrapThrows],
    ['a Proxy of an array whose traps throw', arrayTrapsThrow],
    ['a throwing Symbol.toStringTag getter', throwingTag],
    ['throwing toString, valueOf and Symbol.toPrimitive', throwingConversions],
    ['an array with a throwing element getter', throwingElement],
    ['a typed array with a throwing constructor getter', typedWithThrowingCtor],
    ['a null-prototype object', nullProto],
    ['a typed array over a detached buffer', detached],
  ];
}

clean('describe never throws, even on hostile objects, and neither does an error message built from one', () => {
  for (const [what, v] of hostileValues()) {
    let text: unknown;
    try {
      text = describe(v);
    } catch (e) {
      assert.unreachable(`describe(${what}) threw ${(e as Error).message}`);
    }
    assert.type(text, 'string', what);
    assert.ok((text as string).length > 0 && (text as string).length < 80, `${what}: ${text}`);
    assertThrows(() => hy.add(v as never, 1), TypeError, /^add: input must be a Tensor, got (an?|the) /, `add(${what}, 1)`);
    assertThrows(() => hy.relu(v as never), TypeError, /^relu: input must be a Tensor, got /, `relu(${what})`);
  }
  assert.is(describe(Object.create(null)), 'an object ([object Object])');
  assert.is(describe(hostileValues()[10][1]), 'a Float32Array over a detached ArrayBuffer');
  assert.is(describe(new Map()), 'an object ([object Map])', 'the ordinary forms are unchanged');
  assert.is(describe([1, 2]), '[1, 2]');
  assert.is(describe(new Float32Array(2)), 'a Float32Array');
});

// ---- tensors over detached buffers ----

clean('a typed array over a detached ArrayBuffer is a TypeError that says so, not an empty tensor', () => {
  // The form in the issue: constructing the view over the detached buffer is already the platform's TypeError.
  const b = new ArrayBuffer(16);
  structuredClone(b, { transfer: [b] });
  assertThrows(() => hy.tensor(new Float32Array(b)), TypeError, /detached/);
  // A view made before the transfer: it reads as length 0 once detached.
  const c = new ArrayBuffer(16);
  const view = new Float32Array(c);
  view.set([1, 2, 3, 4]);
  structuredClone(c, { transfer: [c] });
  assert.is(view.length, 0, 'a view of a detached buffer has no elements');
  const message = /^tensor: data must be a typed array over a live buffer, got a Float32Array over a detached ArrayBuffer \(it was transferred/;
  assertThrows(() => hy.tensor(view), TypeError, message, 'detached view');
  assertThrows(() => hy.tensor(view, { shape: [4] }), TypeError, message, 'detached view with a shape');
  const ints = new Int32Array(new ArrayBuffer(8));
  structuredClone(ints.buffer, { transfer: [ints.buffer] });
  assertThrows(() => hy.tensor(ints), TypeError, /^tensor: data must be a typed array over a live buffer, got a Int32Array over a detached ArrayBuffer/);
  // Genuinely empty views still make empty tensors.
  const e1 = hy.tensor(new Float32Array(0));
  const e2 = hy.tensor(new Float32Array(new ArrayBuffer(16), 16, 0));
  assert.equal(e1.shape, [0]);
  assert.equal(e2.shape, [0]);
  disposeAll(e1, e2);
});

// ---- edge sizes ----

/** Runs fn and checks it took under a second: work proportional to 2^40 would take hours, and the bound leaves room for a slow (sanitized) build. */
function quick<T>(what: string, fn: () => T): T {
  const t0 = performance.now();
  const r = fn();
  const ms = performance.now() - t0;
  assert.ok(ms < 1000, `${what} took ${ms.toFixed(1)} ms`);
  return r;
}

clean('empty tensors with huge other dimensions reduce and log-softmax in O(1)', () => {
  const x = hy.zeros([2 ** 40, 0], { requiresGrad: true });
  const s0 = quick('sum over dim 0 of [2^40, 0]', () => x.sum(0));
  assert.equal(s0.shape, [0]);
  const m0 = quick('mean over dim 0 of [2^40, 0]', () => hy.mean(x, 0, { keepdim: true }));
  assert.equal(m0.shape, [1, 0]);
  const total = quick('sum of [2^40, 0]', () => hy.sum(x));
  assert.equal(total.shape, []);
  assert.is(total.item(), 0);
  quick('backward of the sum', () => total.backward());
  assert.equal(x.grad!.shape, [2 ** 40, 0]);
  const z = hy.zeros([2 ** 32, 0], { requiresGrad: true });
  for (const dim of [1, 0, -1]) {
    for (const f of [F.logSoftmax, F.softmax]) {
      const y = quick(`${f.name} of [2^32, 0] over dim ${dim}`, () => f(z, dim));
      assert.equal(y.shape, [2 ** 32, 0]);
      const g = hy.zeros([2 ** 32, 0]);
      quick(`${f.name} backward over dim ${dim}`, () => y.backward(g));
      assert.equal(z.grad!.shape, [2 ** 32, 0]);
      z.grad!.dispose();
      z.grad = null;
      disposeAll(y, g);
    }
  }
  disposeAll(x, s0, m0, total, z);
});

clean('linear and matmul with an empty inner dimension give zeros (the bias where given), as PyTorch', () => {
  const poison = (shape: number[]): void => hy.full(shape, NaN).dispose(); // the next [2, 3] reuses this block
  const x = hy.zeros([2, 0], { requiresGrad: true });
  const w = hy.zeros([3, 0], { requiresGrad: true });
  const b = hy.tensor([1, -2, 0.5], { requiresGrad: true });
  poison([2, 3]);
  const y = hy.noGrad(() => F.linear(x, w)); // no graph: its saved inputs would live until collected
  assert.equal(y.shape, [2, 3]);
  assert.equal(Array.from(y.dataSync()), [0, 0, 0, 0, 0, 0]);
  poison([2, 3]);
  const yb = F.linear(x, w, b);
  assert.equal(Array.from(yb.dataSync()), [1, -2, 0.5, 1, -2, 0.5]);
  const l = hy.sum(yb);
  l.backward();
  assert.equal(x.grad!.shape, [2, 0]);
  assert.equal(w.grad!.shape, [3, 0]);
  assert.equal(Array.from(b.grad!.dataSync()), [2, 2, 2]);
  const p = hy.zeros([2, 0]);
  const q = hy.zeros([0, 3]);
  poison([2, 3]);
  const mm = hy.matmul(p, q);
  assert.equal(mm.shape, [2, 3]);
  assert.equal(Array.from(mm.dataSync()), [0, 0, 0, 0, 0, 0]);
  const tall = hy.zeros([2 ** 20, 0]);
  const none = hy.zeros([0, 0]);
  const big = quick('matmul [2^20, 0] x [0, 0]', () => hy.matmul(tall, none));
  assert.equal(big.shape, [2 ** 20, 0]);
  disposeAll(x, w, b, y, yb, l, p, q, mm, tall, none, big);
});

// ---- tidy ----

class Pair {
  constructor(public first: Tensor, public second: Tensor) {}
  get both(): Tensor[] {
    return [this.first, this.second];
  }
}

clean('tidy keeps tensors returned in a Set, a Map (keys and values), a class instance and a null-prototype object', () => {
  const made: Tensor[] = [];
  const mk = (): Tensor => {
    const t = hy.ones([2]);
    made.push(t);
    return t;
  };
  let scratch: Tensor | undefined;
  const out = hy.tidy(() => {
    scratch = mk();
    const bare = Object.create(null) as Record<string, unknown>;
    bare.t = mk();
    bare.nested = { list: [new Set([mk()])] };
    return {
      set: new Set([mk(), 'label']),
      map: new Map<unknown, unknown>([[mk(), 'a key'], ['a value', mk()]]),
      pair: new Pair(mk(), mk()),
      bare,
      data: new Float32Array(1 << 20), // typed arrays are not walked element by element
    };
  });
  assert.ok(scratch!.isDisposed, 'what is not returned is freed');
  const kept = made.filter((t) => t !== scratch);
  assert.is(kept.length, 7);
  for (const [i, t] of kept.entries()) assert.not.ok(t.isDisposed, `returned tensor ${i} kept`);
  assert.is(out.pair.both.length, 2);
  disposeAll(...kept);
});

clean('tidy walks a deeply nested result without overflowing the stack', () => {
  let bottom: Tensor | undefined;
  const out = hy.tidy(() => {
    bottom = hy.ones([1]);
    let list: { next: unknown; t?: Tensor } = { next: null, t: bottom };
    for (let i = 0; i < 200_000; i++) list = { next: list };
    return list;
  });
  assert.ok(out.next !== null);
  assert.not.ok(bottom!.isDisposed, 'the tensor 200,000 levels down is kept');
  bottom!.dispose();
});

clean('tidy: a returned value whose walk throws frees the scope and passes the error on', () => {
  let inner: Tensor | undefined;
  assert.throws(() =>
    hy.tidy(() => {
      inner = hy.ones([2]);
      return Object.defineProperty({}, 't', {
        enumerable: true,
        get() {
          throw new Error('hostile getter');
        },
      });
    }),
  /hostile getter/);
  assert.ok(inner!.isDisposed);
});

// ---- one error class per kind of mistake ----

clean('a device mismatch is a RangeError in every op that checks one', () => {
  const a = hy.ones([2, 3], { requiresGrad: true });
  const cuda = onFakeCuda(hy.ones([2, 3]));
  const cudaVec = onFakeCuda(hy.ones([3]));
  const cudaInt = onFakeCuda(hy.tensor([0, 1], { dtype: 'int32' }));
  const cudaW = onFakeCuda(hy.ones([3, 3]));
  const y = hy.mul(a, 2);
  const cases: [string, () => unknown][] = [
    ['add', () => hy.add(a, cuda)],
    ['matmul', () => hy.matmul(a, cudaW)],
    ['linear', () => F.linear(a, cudaW)],
    ['linear bias', () => F.linear(a, hy.ones([3, 3]), cudaVec)],
    ['nllLoss', () => F.nllLoss(a, cudaInt)],
    ['batchNorm', () => F.batchNorm(a, cudaVec, cudaVec, { training: false })],
    ['backward', () => y.backward(cuda)],
  ];
  hy.tidy(() => {
    for (const [what, f] of cases) assertThrows(f, RangeError, /must be on cpu like|is on cuda/, what);
  });
  const p = hy.zeros([3], { requiresGrad: true });
  const opt = new hy.optim.SGD([p], { lr: 0.1 });
  p.grad = onFakeCuda(hy.ones([3]));
  assertThrows(() => opt.step(), RangeError, /^SGD: the gradient of parameter 0 of group 0 is on cuda, the parameter on cpu$/, 'optimizer step');
  opt.dispose();
  disposeAll(a, cuda, cudaVec, cudaInt, cudaW, y, p);
});

s.run();
