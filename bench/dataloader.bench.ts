// One epoch of MNIST (the training split of the digits the loader ships with) at batch 64,
// through the DataLoader with numWorkers 0 / 1 / 2 / N and pinMemory off / on: the seed's tips 1.1,
// 1.2 and 7. Where CUDA is present, batches go to the GPU (nonBlocking with pinned memory) and each
// epoch ends with a synchronize; otherwise they stay on the host and pinMemory degrades to ordinary
// memory (the "on" rows then measure the same path).
//
// Workers are persistent and warmed up, so a row is the steady-state epoch; starting the workers is
// reported separately (extra.startupMs: the first epoch minus the median). extra.speedup is the
// epoch rate against numWorkers 0 with the same pinMemory, measured in the same run.
import { availableParallelism, cpus } from 'node:os';

import * as hy from '../lib/index';
import { measure } from './timer';

/** The data loader runs no kernel of its own: its rows time the host side. */
export const covers: string[] = [];

export interface Row {
  bench: string;
  case: string;
  device: string;
  medianMs: number;
  extra?: Record<string, number | string>;
}

function deviceLabel(): string {
  const info = hy.info();
  if (info.cuda.available && info.cuda.device !== undefined) return info.cuda.device.name;
  return `cpu: ${cpus()[0]?.model ?? 'unknown'} x${availableParallelism()}`;
}

export async function run(opts: { iterations?: number } = {}): Promise<Row[]> {
  const iterations = opts.iterations ?? 10;
  const cuda = hy.cuda.isAvailable();
  const device = cuda ? 'cuda' : 'cpu';
  const dataset = new hy.data.MNIST();
  const n = availableParallelism();
  const workerCounts = [...new Set([0, 1, 2, n])];
  const rows: Row[] = [];
  // Warnings about pinMemory without CUDA are expected here; the rows say which device ran.
  for (const pinMemory of [false, true]) {
    let base = 0;
    for (const numWorkers of workerCounts) {
      const loader = new hy.data.DataLoader(dataset, {
        batchSize: 64,
        shuffle: true,
        seed: 0,
        numWorkers,
        persistentWorkers: true,
        pinMemory,
        nonBlocking: pinMemory && cuda,
        device,
      });
      const epoch = async () => {
        for await (const batch of loader) for (const t of batch) t.dispose();
        if (cuda) hy.cuda.synchronize();
      };
      const t0 = performance.now();
      await epoch();
      const firstMs = performance.now() - t0;
      const name = `mnist epoch b64 numWorkers=${numWorkers}${numWorkers === n ? ' (N)' : ''} pinMemory=${pinMemory ? 'on' : 'off'}`;
      // One epoch a sample; the cost is on the host, so wall time even where CUDA events exist.
      const m = await measure(device, epoch, { samples: iterations, minSamples: iterations, warmup: 1, sampleMs: 0, maxReps: 1, clock: 'wall' });
      await loader.close();
      const medianMs = m.medianMs;
      if (numWorkers === 0) base = medianMs;
      rows.push({
        bench: 'dataloader',
        case: name,
        device: deviceLabel(),
        medianMs,
        extra: {
          batchesPerSec: Math.round((loader.length / medianMs) * 1000),
          batches: loader.length,
          samples: dataset.length,
          startupMs: Math.max(0, Math.round(firstMs - medianMs)),
          speedup: Number((base / medianMs).toFixed(2)),
          pinned: loader.pinMemory ? 'yes' : 'no (no CUDA)',
          clock: m.clock,
        },
      });
    }
  }
  return rows;
}

if (require.main === module) {
  run().then(
    (rows) => {
      for (const r of rows) {
        const e = r.extra ?? {};
        console.log(`${r.case.padEnd(52)} ${r.medianMs.toFixed(1).padStart(7)} ms  ${String(e.batchesPerSec).padStart(6)} batches/s  x${e.speedup}  (${r.device})`);
      }
    },
    (e) => {
      console.error(e);
      process.exitCode = 1;
    },
  );
}
