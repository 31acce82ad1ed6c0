// The shape kernels at sizes that split their work over the pool (more than 2^15 elements, so
// several chunks) and reach the tiled transpose with partial tiles, against the index-arithmetic
// oracles of reference/shape.ts. The op table covers the small sizes and every dtype.
import * as assert from 'uvu/assert';

import * as hy from '../lib/index';
import { assertClose, eachBackend, randomArray, suite } from './harness';
import * as ref from './reference/shape';

const s = suite('shape-large');
const exact = { rtol: 0, atol: 0 };

eachBackend(s, 'transpose, permute, cat, expand and slices of 100k+ elements match the oracle', (device) => {
  hy.tidy(() => {
    const shape = [3, 301, 197]; // 177,891 elements; 301 and 197 leave partial 32 x 32 tiles
    const xv = Array.from(randomArray(3 * 301 * 197, 1), Math.fround);
    const x = hy.tensor(xv, { shape, device });
    assertClose(hy.transpose(x, 1, 2).dataSync(), ref.apply(ref.permute(shape, [0, 2, 1]), [xv]), exact, 'transpose of the last two dims (tiles)');
    assertClose(hy.permute(x, [2, 0, 1]).dataSync(), ref.apply(ref.permute(shape, [2, 0, 1]), [xv]), exact, 'permute');
    assertClose(hy.cat([x, x], 2).dataSync(), ref.apply(ref.cat([shape, shape], 2), [xv, xv]), exact, 'cat');
    assertClose(hy.slice(x, 1, 5, null, 3).dataSync(), ref.apply(ref.slice(shape, 1, 5, 3, 99), [xv]), exact, 'slice with a step');
    const col = hy.narrow(x, 2, 7, 1);
    const colv = ref.apply(ref.slice(shape, 2, 7, 1, 1), [xv]);
    assertClose(hy.expand(col, [3, 301, 400]).dataSync(), ref.apply(ref.expand([3, 301, 1], [3, 301, 400]), [colv]), exact, 'expand');
  });
});

eachBackend(s, 'compare, where, argmax, indexSelect and arange at 100k+ elements match the oracle', (device) => {
  hy.tidy(() => {
    const shape = [257, 401];
    const av = Array.from(randomArray(257 * 401, 2), (v) => Math.fround(Math.round(v * 4) / 4));
    const bv = Array.from(randomArray(401, 3), (v) => Math.fround(Math.round(v * 4) / 4));
    const a = hy.tensor(av, { shape, device });
    const b = hy.tensor(bv, { device });
    const gt = ref.compare((p, q) => p > q, av, shape, bv, [401]);
    const m = hy.gt(a, b);
    assertClose(m.dataSync(), gt.values, exact, 'gt with a broadcast row');
    assertClose(hy.where(m, a, b).dataSync(), ref.apply(ref.where(gt.values, shape, shape, [401]), [av, bv]), exact, 'where');
    const am = ref.argExtreme(av, shape, 1, 'max');
    assertClose(hy.argmax(a, 1).dataSync(), am.at, exact, 'argmax over rows');
    const am0 = ref.argExtreme(av, shape, 0, 'min');
    const r0 = hy.min(a, 0);
    assertClose(r0.indices.dataSync(), am0.at, exact, 'argmin over columns');
    assertClose(r0.values.dataSync(), ref.apply({ shape: am0.shape, src: am0.src }, [av]), exact, 'min values');
    const idx = Array.from({ length: 300 }, (_, i) => (i * 37) % 257);
    assertClose(hy.indexSelect(a, 0, hy.tensor(idx, { dtype: 'int32', device })).dataSync(), ref.apply(ref.indexSelect(shape, 0, idx), [av]), exact, 'indexSelect of rows');
    const n = 100_003;
    const r = hy.arange(n, { device }).dataSync();
    assert.is(r.length, n);
    assert.ok(r.every((v, i) => v === i), 'arange');
    const l = hy.linspace(-1, 1, n, { device }).dataSync();
    assert.is(l[0], -1);
    assert.is(l[n - 1], 1);
    assertClose(l, Array.from({ length: n }, (_, i) => (i < Math.floor(n / 2) ? -1 + (i * 2) / (n - 1) : 1 - ((n - 1 - i) * 2) / (n - 1))), { rtol: 1e-7, atol: 1e-7 }, 'linspace');
  });
});

eachBackend(s, 'sum of a bool tensor counts its true elements as int32, over all or some dims', (device) => {
  hy.tidy(() => {
    const m = hy.tensor([[true, false, true], [true, true, true]], { device });
    const all = m.sum();
    assert.is(all.dtype, 'int32');
    assert.is(all.item(), 5);
    assert.equal(Array.from(m.sum(1).dataSync()), [2, 3]);
    assert.equal(Array.from(m.sum(0, { keepdim: true }).dataSync()), [2, 1, 2]);
    const y = hy.tensor([1, 2, 3, 4], { dtype: 'int32', device });
    assert.is(hy.tensor([1, 0, 3, 4], { dtype: 'int32', device }).eq(y).sum().item(), 3, 'correct predictions counted as PyTorch users count them');
  });
});

s.run();
