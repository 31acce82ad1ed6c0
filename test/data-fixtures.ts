// Datasets the data tests rebuild inside DataLoader worker threads (loaded by module path).
import { Dataset, FieldSpec, Sample } from '../lib/data/dataset';

export const FIXTURES = __filename;

/** Sample i is [[i, i + 0.5], i]. */
export class RangeDataset extends Dataset {
  constructor(readonly n: number) {
    super();
  }
  get length(): number {
    return this.n;
  }
  get(i: number): Sample {
    return [new Float32Array([i, i + 0.5]), i];
  }
  override fields(): FieldSpec[] {
    return [
      { shape: [2], dtype: 'float32' },
      { shape: [], dtype: 'int32' },
    ];
  }
  override workerSource() {
    return { modulePath: __filename, exportName: 'RangeDataset', args: [this.n] };
  }
}

/** Like RangeDataset, but sample `bad` throws. */
export class ThrowingDataset extends RangeDataset {
  constructor(
    n: number,
    readonly bad: number,
  ) {
    super(n);
  }
  override get(i: number): Sample {
    if (i === this.bad) throw new Error(`sample ${i} is broken`);
    return super.get(i);
  }
  override workerSource() {
    return { modulePath: __filename, exportName: 'ThrowingDataset', args: [this.n, this.bad] };
  }
}

/** Like RangeDataset, but reading sample `bad` ends the worker thread with exit code 3. */
export class DyingDataset extends RangeDataset {
  constructor(
    n: number,
    readonly bad: number,
  ) {
    super(n);
  }
  override get(i: number): Sample {
    if (i === this.bad) process.exit(3);
    return super.get(i);
  }
  override workerSource() {
    return { modulePath: __filename, exportName: 'DyingDataset', args: [this.n, this.bad] };
  }
}

/** Like RangeDataset, but reading sample `bad` throws outside any handler (an uncaught error in the worker). */
export class UncaughtDataset extends RangeDataset {
  constructor(
    n: number,
    readonly bad: number,
  ) {
    super(n);
  }
  override get(i: number): Sample {
    if (i === this.bad) {
      queueMicrotask(() => {
        throw new Error('uncaught in the worker');
      });
    }
    return super.get(i);
  }
  override workerSource() {
    return { modulePath: __filename, exportName: 'UncaughtDataset', args: [this.n, this.bad] };
  }
}

/** A collate function loadable in workers: sums each sample's pair into one float32 field. */
export function sumCollate(samples: Sample[]) {
  const data = new Float32Array(samples.length);
  samples.forEach((s, k) => {
    const v = s[0] as Float32Array;
    data[k] = v[0] + v[1];
  });
  return [{ data, shape: [samples.length], dtype: 'float32' as const }];
}

/** Like RangeDataset, but each get() busy-waits `us` microseconds: a dataset whose samples cost. */
export class SlowDataset extends RangeDataset {
  constructor(
    n: number,
    readonly us: number,
  ) {
    super(n);
  }
  override get(i: number): Sample {
    const end = performance.now() + this.us / 1000;
    while (performance.now() < end) {
      // a sample that takes time to decode
    }
    return super.get(i);
  }
  override workerSource() {
    return { modulePath: __filename, exportName: 'SlowDataset', args: [this.n, this.us] };
  }
}
