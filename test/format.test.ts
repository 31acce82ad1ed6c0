// Printing: String(t), console.log(t) and JSON.stringify(t) as PyTorch 1.13 prints. The expected
// strings are torch's repr of the same values, pasted, with only the suffix spelling translated
// (dtype=torch.float16 -> dtype=float16, requires_grad=True -> requiresGrad=true,
// grad_fn=<MulBackward0> -> gradFn=<Mul>, size=(0, 3) -> size=[0, 3]).
import * as assert from 'uvu/assert';
import { inspect } from 'node:util';

import * as hy from '../lib/index';
import type { Device, DType } from '../lib/index';
import { formatTensor, Formatter, pyExponential, pyFixed, tensorJSON } from '../lib/format';
import { eachBackend, suite } from './harness';

const s = suite('format');

/** Prints a cpu tensor made from values (disposed after), checking that nothing leaks. */
function printed(values: hy.TensorData, opts: { dtype?: DType; shape?: number[]; requiresGrad?: boolean; device?: Device } = {}): string {
  const device = opts.device ?? 'cpu';
  const before = hy.memory.stats(device).liveBytes;
  const t = hy.tensor(values, { ...opts, device });
  const str = String(t);
  assert.is(inspect(t), str, 'util.inspect (console.log) prints what String does');
  assert.is(`${t}`, str);
  t.dispose();
  assert.is(hy.memory.stats(device).liveBytes, before, 'no leak');
  return str;
}

const lines = (...l: string[]): string => l.join('\n');

s('1-D, 2-D and 3-D float32 as torch prints them', () => {
  assert.is(printed([0.1234, -1.0, 2.5, 3.0]), 'tensor([ 0.1234, -1.0000,  2.5000,  3.0000])');
  assert.is(printed([[0.1234, -1.0], [2.5, 3.0]]), lines(
    'tensor([[ 0.1234, -1.0000],',
    '        [ 2.5000,  3.0000]])',
  ));
  const v3 = Array.from({ length: 24 }, (_, i) => (((i * 37) % 19) - 9) / 7);
  assert.is(printed(v3, { shape: [2, 3, 4] }), lines(
    'tensor([[[-1.2857,  1.2857,  1.1429,  1.0000],',
    '         [ 0.8571,  0.7143,  0.5714,  0.4286],',
    '         [ 0.2857,  0.1429,  0.0000, -0.1429]],',
    '',
    '        [[-0.2857, -0.4286, -0.5714, -0.7143],',
    '         [-0.8571, -1.0000, -1.1429, -1.2857],',
    '         [ 1.2857,  1.1429,  1.0000,  0.8571]]])',
  ));
});

s('negative numbers and wide values align to one column width', () => {
  assert.is(printed([-100.5, 2.25, -0.125, 33.0]), 'tensor([-100.5000,    2.2500,   -0.1250,   33.0000])');
});

s('a row longer than 80 characters wraps under the first value', () => {
  assert.is(printed(Array.from({ length: 20 }, (_, i) => i / 3 - 3)), lines(
    'tensor([-3.0000, -2.6667, -2.3333, -2.0000, -1.6667, -1.3333, -1.0000, -0.6667,',
    '        -0.3333,  0.0000,  0.3333,  0.6667,  1.0000,  1.3333,  1.6667,  2.0000,',
    '         2.3333,  2.6667,  3.0000,  3.3333])',
  ));
});

s('scientific notation when magnitudes are too small, too large or too far apart', () => {
  assert.is(printed([1e-5, 1.0, 1e10]), 'tensor([1.0000e-05, 1.0000e+00, 1.0000e+10])');
  assert.is(printed([1e-5, 0.5, -2.0]), 'tensor([ 1.0000e-05,  5.0000e-01, -2.0000e+00])');
  assert.is(printed([1.0, 1e10]), 'tensor([1.0000e+00, 1.0000e+10])', 'integer-valued, but max/min > 1000');
});

s('integer-valued floats print with a bare point', () => {
  assert.is(printed([1, 2]), 'tensor([1., 2.])');
  assert.is(printed([[-3, 10], [100, 0]]), lines(
    'tensor([[ -3.,  10.],',
    '        [100.,   0.]])',
  ));
  assert.is(printed([[0, 0], [0, 0]]), lines(
    'tensor([[0., 0.],',
    '        [0., 0.]])',
  ));
  assert.is(printed([-0, 1]), 'tensor([-0., 1.])');
});

s('int32 prints integers and its dtype', () => {
  assert.is(printed([[1, -20], [300, 4]], { dtype: 'int32' }), lines(
    'tensor([[  1, -20],',
    '        [300,   4]], dtype=int32)',
  ));
  assert.is(printed(7, { dtype: 'int32' }), 'tensor(7, dtype=int32)');
});

s('float16 prints its dtype (values read back as float32, as torch does)', () => {
  assert.is(printed([0.1, 1.5, -2.0], { dtype: 'float16' }), 'tensor([ 0.1000,  1.5000, -2.0000], dtype=float16)');
  // A suffix that does not fit on the last line goes on its own line, under the values.
  const v = Array.from({ length: 16 }, (_, i) => i / 4 - 2);
  assert.is(printed(v, { shape: [2, 8], dtype: 'float16', requiresGrad: true }), lines(
    'tensor([[-2.0000, -1.7500, -1.5000, -1.2500, -1.0000, -0.7500, -0.5000, -0.2500],',
    '        [ 0.0000,  0.2500,  0.5000,  0.7500,  1.0000,  1.2500,  1.5000,  1.7500]],',
    '       dtype=float16, requiresGrad=true)',
  ));
});

s('requiresGrad and gradFn suffixes', () => {
  assert.is(printed([1.5, 2.0], { requiresGrad: true }), 'tensor([1.5000, 2.0000], requiresGrad=true)');
  const x = hy.tensor([1.5, 2.0], { requiresGrad: true });
  const y = hy.mul(x, 2);
  assert.is(String(y), 'tensor([3., 4.], gradFn=<Mul>)');
  assert.is(inspect(y), String(y));
  const z = hy.noGrad(() => hy.mul(x, 2));
  assert.is(String(z), 'tensor([3., 4.])', 'nothing recorded: no suffix');
  for (const t of [x, y, z]) t.dispose();
});

s('a 0-d tensor prints the bare number', () => {
  assert.is(printed(3.14159265), 'tensor(3.1416)');
  assert.is(printed(3), 'tensor(3.)');
});

s('NaN and infinities print as torch: nan, inf, -inf', () => {
  assert.is(printed([NaN, Infinity, -Infinity, 1.5]), 'tensor([   nan,    inf,   -inf, 1.5000])');
  assert.is(printed([NaN, 2, -Infinity]), 'tensor([nan, 2., -inf])');
});

s('exact halves round to even, as Python formats', () => {
  assert.is(printed([0.03125, 0.09375, 2.5]), 'tensor([0.0312, 0.0938, 2.5000])');
  assert.is(pyFixed(2.5, 0), '2');
  assert.is(pyFixed(3.5, 0), '4');
  assert.is(pyFixed(-0.03125, 4), '-0.0312');
  assert.is(pyFixed(1e21, 1), '1000000000000000000000.0');
  assert.is(pyExponential(1.03125, 4), '1.0312e+00');
  assert.is(pyExponential(1.09375, 4), '1.0938e+00');
  assert.is(pyExponential(9.99995, 4), '1.0000e+01', 'rounding up carries into the exponent');
  assert.is(pyExponential(2.00005, 4), '2.0000e+00', 'not a tie in binary: rounded by its exact value (2.0000499...)');
  assert.is(pyExponential(1.00025, 4), '1.0003e+00', 'not a tie in binary: rounded by its exact value (1.0002500...01)');
  assert.is(pyExponential(1e100, 4), '1.0000e+100');
  assert.is(pyExponential(-0, 4), '-0.0000e+00');
});

s('empty tensors print [] and their size, reading nothing, in O(1) for a dimension of 2**32', () => {
  assert.is(printed([]), 'tensor([])');
  const a = hy.zeros([0, 3]);
  assert.is(String(a), 'tensor([], size=[0, 3])');
  const b = hy.zeros([2, 0], { dtype: 'int32' });
  assert.is(String(b), 'tensor([], size=[2, 0], dtype=int32)');
  const huge = hy.zeros([2 ** 32, 0]);
  const t0 = performance.now();
  const str = String(huge);
  const json = JSON.stringify(huge);
  const ms = performance.now() - t0;
  assert.is(str, 'tensor([], size=[4294967296, 0])');
  assert.equal(JSON.parse(json), { shape: [2 ** 32, 0], dtype: 'float32', device: 'cpu', summary: str });
  // A formatter that walked the 2^32 empty rows would take seconds; the bound leaves room for a slow (sanitized) build.
  assert.ok(ms < 1000, `printing [2**32, 0] took ${ms.toFixed(2)} ms`);
  // The pure formatter never asks for the values of an empty tensor.
  const never = (): never => {
    throw new Error('read');
  };
  assert.is(formatTensor({ shape: [2 ** 32, 0, 2 ** 32], dtype: 'float16', device: 'cuda' }, never),
    "tensor([], device='cuda:0', size=[4294967296, 0, 4294967296], dtype=float16)");
  for (const t of [a, b, huge]) t.dispose();
});

s('more than 1000 elements: 3 items at each edge of every dimension', () => {
  const before = hy.memory.stats('cpu').liveBytes;
  const big1 = hy.tensor(Array.from({ length: 2000 }, (_, i) => Math.fround(i) / 1000));
  assert.is(String(big1), lines(
    'tensor([0.0000e+00, 1.0000e-03, 2.0000e-03,  ..., 1.9970e+00, 1.9980e+00,',
    '        1.9990e+00])',
  ));
  const big2 = hy.tensor(Array.from({ length: 2500 }, (_, i) => (i % 17) / 4 - 2), { shape: [50, 50] });
  assert.is(String(big2), lines(
    'tensor([[-2.0000, -1.7500, -1.5000,  ...,  1.2500,  1.5000,  1.7500],',
    '        [ 2.0000, -2.0000, -1.7500,  ...,  1.0000,  1.2500,  1.5000],',
    '        [ 1.7500,  2.0000, -2.0000,  ...,  0.7500,  1.0000,  1.2500],',
    '        ...,',
    '        [-1.0000, -0.7500, -0.5000,  ..., -2.0000, -1.7500, -1.5000],',
    '        [-1.2500, -1.0000, -0.7500,  ...,  2.0000, -2.0000, -1.7500],',
    '        [-1.5000, -1.2500, -1.0000,  ...,  1.7500,  2.0000, -2.0000]])',
  ));
  const big3 = hy.tensor(Array.from({ length: 7 * 7 * 30 }, (_, i) => i - 700), { shape: [7, 7, 30] });
  assert.is(String(big3), lines(
    'tensor([[[-700., -699., -698.,  ..., -673., -672., -671.],',
    '         [-670., -669., -668.,  ..., -643., -642., -641.],',
    '         [-640., -639., -638.,  ..., -613., -612., -611.],',
    '         ...,',
    '         [-580., -579., -578.,  ..., -553., -552., -551.],',
    '         [-550., -549., -548.,  ..., -523., -522., -521.],',
    '         [-520., -519., -518.,  ..., -493., -492., -491.]],',
    '',
    '        [[-490., -489., -488.,  ..., -463., -462., -461.],',
    '         [-460., -459., -458.,  ..., -433., -432., -431.],',
    '         [-430., -429., -428.,  ..., -403., -402., -401.],',
    '         ...,',
    '         [-370., -369., -368.,  ..., -343., -342., -341.],',
    '         [-340., -339., -338.,  ..., -313., -312., -311.],',
    '         [-310., -309., -308.,  ..., -283., -282., -281.]],',
    '',
    '        [[-280., -279., -278.,  ..., -253., -252., -251.],',
    '         [-250., -249., -248.,  ..., -223., -222., -221.],',
    '         [-220., -219., -218.,  ..., -193., -192., -191.],',
    '         ...,',
    '         [-160., -159., -158.,  ..., -133., -132., -131.],',
    '         [-130., -129., -128.,  ..., -103., -102., -101.],',
    '         [-100.,  -99.,  -98.,  ...,  -73.,  -72.,  -71.]],',
    '',
    '        ...,',
    '',
    '        [[ 140.,  141.,  142.,  ...,  167.,  168.,  169.],',
    '         [ 170.,  171.,  172.,  ...,  197.,  198.,  199.],',
    '         [ 200.,  201.,  202.,  ...,  227.,  228.,  229.],',
    '         ...,',
    '         [ 260.,  261.,  262.,  ...,  287.,  288.,  289.],',
    '         [ 290.,  291.,  292.,  ...,  317.,  318.,  319.],',
    '         [ 320.,  321.,  322.,  ...,  347.,  348.,  349.]],',
    '',
    '        [[ 350.,  351.,  352.,  ...,  377.,  378.,  379.],',
    '         [ 380.,  381.,  382.,  ...,  407.,  408.,  409.],',
    '         [ 410.,  411.,  412.,  ...,  437.,  438.,  439.],',
    '         ...,',
    '         [ 470.,  471.,  472.,  ...,  497.,  498.,  499.],',
    '         [ 500.,  501.,  502.,  ...,  527.,  528.,  529.],',
    '         [ 530.,  531.,  532.,  ...,  557.,  558.,  559.]],',
    '',
    '        [[ 560.,  561.,  562.,  ...,  587.,  588.,  589.],',
    '         [ 590.,  591.,  592.,  ...,  617.,  618.,  619.],',
    '         [ 620.,  621.,  622.,  ...,  647.,  648.,  649.],',
    '         ...,',
    '         [ 680.,  681.,  682.,  ...,  707.,  708.,  709.],',
    '         [ 710.,  711.,  712.,  ...,  737.,  738.,  739.],',
    '         [ 740.,  741.,  742.,  ...,  767.,  768.,  769.]]])',
  ));
  for (const t of [big1, big2, big3]) t.dispose();
  assert.is(hy.memory.stats('cpu').liveBytes, before, 'no leak');
});

s('the notation and width come from the printed values only (the summarised corners)', () => {
  // The middle value would force scientific notation, but it is not shown.
  const v = new Float32Array(1001).fill(1.5);
  v[500] = 1e-7;
  const f = new Formatter([1.5], true);
  assert.is(f.sciMode, false);
  assert.is(formatTensor({ shape: [1001], dtype: 'float32', device: 'cpu' }, v), 'tensor([1.5000, 1.5000, 1.5000,  ..., 1.5000, 1.5000, 1.5000])');
  // At the threshold (1000 elements) nothing is summarised.
  assert.not.match(formatTensor({ shape: [1000], dtype: 'float32', device: 'cpu' }, new Float32Array(1000)), /\.\.\./);
});

s('a disposed tensor prints tensor(<disposed>) and never throws', () => {
  const t = hy.tensor([[1, 2], [3, 4]], { requiresGrad: true });
  t.dispose();
  assert.is(String(t), 'tensor(<disposed>)');
  assert.is(inspect(t), 'tensor(<disposed>)');
  assert.equal(t.toJSON(), { shape: [2, 2], dtype: 'float32', device: 'cpu', summary: 'tensor(<disposed>)' });
});

s('console.log prints through util.inspect.custom, nested in objects and arrays too', () => {
  const t = hy.tensor([[0.1234, -1.0], [2.5, 3.0]]);
  assert.is(inspect(t), 'tensor([[ 0.1234, -1.0000],\n        [ 2.5000,  3.0000]])');
  assert.match(inspect({ w: t }), /^\{\s+w: tensor\(\[\[ 0\.1234, -1\.0000\],/);
  const logged: string[] = [];
  const original = console.log;
  console.log = (...args: unknown[]) => void logged.push(args.map((a) => (typeof a === 'string' ? a : inspect(a))).join(' '));
  try {
    console.log(t);
  } finally {
    console.log = original;
  }
  assert.equal(logged, [String(t)]);
  t.dispose();
});

s('toJSON: nested numbers up to 1000 elements, else {shape, dtype, device, summary}', () => {
  const small = hy.tensor([[1, 2], [3, 4.5]]);
  assert.is(JSON.stringify(small), '[[1,2],[3,4.5]]');
  assert.equal(small.toJSON(), [[1, 2], [3, 4.5]]);
  const scalar = hy.tensor(2.5);
  assert.is(JSON.stringify({ loss: scalar }), '{"loss":2.5}');
  const ints = hy.tensor([1, -2], { dtype: 'int32' });
  assert.is(JSON.stringify(ints), '[1,-2]');
  const thousand = hy.zeros([10, 100]);
  assert.is((thousand.toJSON() as number[][]).length, 10);
  assert.is((thousand.toJSON() as number[][])[9].length, 100);
  const empty = hy.zeros([2, 0]);
  assert.equal(empty.toJSON(), [[], []]);
  const large = hy.tensor(Array.from({ length: 1001 }, (_, i) => i), { dtype: 'int32', requiresGrad: false });
  const j = large.toJSON();
  assert.equal(Object.keys(j as object), ['shape', 'dtype', 'device', 'summary']);
  assert.equal(j, { shape: [1001], dtype: 'int32', device: 'cpu', summary: String(large) });
  assert.is(String(large), 'tensor([   0,    1,    2,  ...,  998,  999, 1000], dtype=int32)');
  assert.not.match(JSON.stringify(large), /storage|native|refs/);
  // The pure form reads the values once, and not at all for the summary of an empty tensor.
  assert.equal(tensorJSON({ shape: [3], dtype: 'float32', device: 'cpu' }, [1, 2, 3]), [1, 2, 3]);
  for (const t of [small, scalar, ints, thousand, empty, large]) t.dispose();
});

s('suffixes come in torch order: device, size, dtype, gradFn / requiresGrad', () => {
  const desc = { shape: [2], dtype: 'float16', device: 'cuda', requiresGrad: true };
  assert.is(formatTensor(desc, [1, 2]), "tensor([1., 2.], device='cuda:0', dtype=float16, requiresGrad=true)");
  assert.is(formatTensor({ ...desc, gradFn: 'logSoftmax' }, [1, 2]), "tensor([1., 2.], device='cuda:0', dtype=float16, gradFn=<LogSoftmax>)");
});

eachBackend(s, 'the device suffix: none on cpu, cuda:0 on cuda', (device) => {
  const before = hy.memory.stats(device).liveBytes;
  const t = hy.tensor([[1.5, -2], [0.25, 4]], { device, requiresGrad: true });
  const y = hy.mul(t, 2);
  const suffix = device === 'cuda' ? ", device='cuda:0'" : '';
  assert.is(String(t), `tensor([[ 1.5000, -2.0000],\n        [ 0.2500,  4.0000]]${suffix}, requiresGrad=true)`);
  assert.is(String(y), `tensor([[ 3.0000, -4.0000],\n        [ 0.5000,  8.0000]]${suffix}, gradFn=<Mul>)`);
  assert.equal(JSON.parse(JSON.stringify(y)), [[3, -4], [0.5, 8]]);
  const big = hy.zeros([40, 40], { device, dtype: 'float16' });
  assert.equal(big.toJSON(), { shape: [40, 40], dtype: 'float16', device, summary: String(big) });
  assert.ok(String(big).endsWith(`[0., 0., 0.,  ..., 0., 0., 0.]]${suffix}, dtype=float16)`), String(big));
  for (const x of [t, y, big]) x.dispose();
  assert.is(hy.memory.stats(device).liveBytes, before, 'no leak');
});

s.run();
