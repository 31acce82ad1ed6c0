// hy.cuda.Event: timing events on the compute stream, as torch.cuda.Event(enable_timing=True).
import * as assert from 'uvu/assert';

import * as hy from '../lib/index';
import { eachBackend, suite } from './harness';

const s = suite('cuda-event');

s('without CUDA, recording an event is the CUDA-unavailable error', () => {
  if (hy.cuda.isAvailable()) {
    assert.not.throws(() => new hy.cuda.Event().record());
    return;
  }
  const e = new hy.cuda.Event();
  assert.throws(() => e.record(), (err: Error & { code?: string }) => err.code === 'ERR_CUDA_UNAVAILABLE' && /CUDA is not available/.test(err.message));
});

// One case per backend is not what this is: events exist on the GPU only, so the CUDA case runs
// where CUDA is present and is skipped by name elsewhere.
eachBackend(s, 'events time the kernels between two records', async (device) => {
  if (device === 'cpu') {
    assert.throws(() => hy.cuda.Event.prototype.synchronize.call(new hy.cuda.Event()), /must be recorded first/);
    return;
  }
  const x = hy.rand([1 << 20], { device });
  const start = new hy.cuda.Event();
  const end = new hy.cuda.Event();
  start.record();
  const y = hy.nn.functional.gelu(x);
  end.record();
  end.synchronize();
  const ms = start.elapsedTime(end);
  assert.ok(Number.isFinite(ms) && ms >= 0, `elapsed ${ms} ms`);
  assert.ok(end.elapsedTime(start) <= 0, 'the other way round is not positive');
  start.record(); // re-recording replaces the mark
  assert.ok(Number.isFinite(start.elapsedTime(end)));
  assert.throws(() => new hy.cuda.Event().synchronize(), /^cuda\.Event\.synchronize: the event must be recorded first$/);
  assert.throws(() => start.elapsedTime({} as never), TypeError);
  start.dispose();
  assert.throws(() => start.elapsedTime(end), /must be recorded first/);
  end.dispose();
  for (const t of [x, y]) t.dispose();
});

s.run();
