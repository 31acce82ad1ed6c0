// npm start: report the devices, then a short demo on the best one.
import * as hy from '../index';

function formatBytes(n: number): string {
  return n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(1)} GiB` : `${(n / 2 ** 20).toFixed(1)} MiB`;
}

async function main(): Promise<void> {
  const info = hy.info();
  console.log(`hayate ${info.version}`);
  console.log(`backends: ${info.backends.join(', ')}`);
  if (info.cuda.available && info.cuda.device) {
    const d = info.cuda.device;
    console.log(`cuda: ${d.name} (sm_${d.computeCapability.replace('.', '')}, ${d.multiProcessors} SMs, ${formatBytes(d.totalMemory)}), driver ${info.cuda.driverVersion}, runtime ${info.cuda.runtimeVersion}`);
  } else {
    console.log(`cuda: not used — ${info.cuda.reason}`);
  }
  const device = info.cuda.available ? 'cuda' : 'cpu';
  hy.manualSeed(0);
  const n = 1 << 22;
  const t0 = performance.now();
  const x = hy.randn([n], { device });
  const half = x.to('float16');
  const values = await half.data();
  let sum = 0;
  let sumSq = 0;
  for (const v of values) {
    sum += v;
    sumSq += v * v;
  }
  const mean = sum / n;
  const std = Math.sqrt(sumSq / n - mean * mean);
  console.log(`demo on ${device}: ${n} normal samples, generated, cast to float16 and read back in ${(performance.now() - t0).toFixed(1)} ms: mean ${mean.toFixed(4)}, std ${std.toFixed(4)}`);
  x.dispose();
  half.dispose();
  const s = hy.memory.stats(device);
  console.log(`${device} allocator: ${formatBytes(s.reservedBytes)} reserved, peak live ${formatBytes(s.peakLiveBytes)}, ${s.allocations} allocations, ${s.cacheHits} cache hits`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
