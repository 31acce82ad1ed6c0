import * as assert from 'uvu/assert';

import * as hy from '../lib/index';
import { suite } from './harness';

const s = suite('info');

s('reports version, backends and the CUDA state', () => {
  const info = hy.info();
  assert.match(info.version, /^\d+\.\d+\.\d+/);
  assert.ok(info.backends.includes('cpu'));
  assert.type(info.cuda.compiled, 'boolean');
  if (info.cuda.available) {
    assert.ok(info.backends.includes('cuda'));
    assert.type(info.cuda.device?.name, 'string');
    assert.ok((info.cuda.device?.totalMemory ?? 0) > 0);
    assert.ok((info.cuda.runtimeVersion ?? 0) >= 12000);
    assert.is(hy.cuda.isAvailable(), true);
  } else {
    assert.not.ok(info.backends.includes('cuda'));
    assert.type(info.cuda.reason, 'string');
    assert.ok((info.cuda.reason ?? '').length > 0, 'a reason is given');
    assert.is(hy.cuda.isAvailable(), false);
  }
});

s("the emulated device is announced as such, with an H100's sm_90 limits, and only when asked for", () => {
  const cuda = hy.info().cuda;
  const asked = process.env.HAYATE_CUDA_EMULATOR === '1';
  assert.is(cuda.emulated, asked, 'emulated exactly when HAYATE_CUDA_EMULATOR=1');
  if (!asked) return;
  assert.is(cuda.compiled, true);
  assert.is(cuda.available, true);
  assert.ok(hy.info().backends.includes('cuda'));
  assert.is(cuda.device?.computeCapability, '9.0');
  assert.is(cuda.device?.multiProcessors, 132);
  assert.match(cuda.device?.name ?? '', /emulated sm_90/);
});

s('an unavailable CUDA device is a clear error, not a crash', () => {
  if (hy.cuda.isAvailable()) return;
  try {
    hy.zeros([2], { device: 'cuda' });
    assert.unreachable('expected an error');
  } catch (e) {
    const err = e as Error & { code?: string };
    assert.instance(err, Error);
    assert.is(err.code, 'ERR_CUDA_UNAVAILABLE');
    assert.match(err.message, /^zeros: CUDA is not available/);
  }
});

s.run();
