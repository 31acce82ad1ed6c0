// `npm run bench:tips`: the seed's table. One epoch of 60,000 samples of the seed's MNIST network
// (hy.nn.models.MnistNet, Adadelta lr 1, batch 64) for each tip of NVIDIA's guide alone and all
// together, against the default with every tip off: DataLoader workers, pinned memory, autotuned
// convolutions, AMP, the fused GELU (in the network's GELU variant, against the unfused
// composition), non-blocking copies, gradients set to none, and the step captured in a CUDA graph
// and replayed (fit's cudaGraph; a GPU tip, like AMP and pinned memory). The npm package's 8,576 training digits are passed over repeatedly until 60,000
// samples have gone through (`--samples` sets another count: the CPU takes minutes a row).
// Prints a markdown table and writes an SVG bar chart (`--svg <file>`, default bench/tips.svg);
// `--peer <file>` adds PyTorch's figures (the JSON rows bench/peers/tips.py prints) and a ratio.
//   npm run bench:tips -- --samples 8576 --device cpu
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import * as hy from '../lib/index';
import type { Device } from '../lib/index';
import { GraphedStep } from '../lib/train/graphed_step';
import { deviceLabel } from './harness';

interface Tips {
  workers: boolean;
  pinMemory: boolean;
  autotune: boolean;
  amp: boolean;
  /** The network's activation: the seed's ReLU, or GELU fused / unfused. */
  activation: 'relu' | 'gelu' | 'geluUnfused';
  nonBlocking: boolean;
  gradsToNone: boolean;
  cudaGraph: boolean;
}

const OFF: Tips = { workers: false, pinMemory: false, autotune: false, amp: false, activation: 'relu', nonBlocking: false, gradsToNone: false, cudaGraph: false };
const ALL: Tips = { workers: true, pinMemory: true, autotune: true, amp: true, activation: 'gelu', nonBlocking: true, gradsToNone: true, cudaGraph: true };

/** The rows: name, the tips, and the row it is compared with. */
export const ROWS: [string, Tips, string][] = [
  ['default (every tip off)', OFF, ''],
  ['numWorkers (DataLoader workers)', { ...OFF, workers: true }, 'default (every tip off)'],
  ['pinMemory', { ...OFF, pinMemory: true }, 'default (every tip off)'],
  ['autotune (cudnn.benchmark)', { ...OFF, autotune: true }, 'default (every tip off)'],
  ['AMP (autocast + GradScaler)', { ...OFF, amp: true }, 'default (every tip off)'],
  ['GELU unfused (GELU variant)', { ...OFF, activation: 'geluUnfused' }, 'default (every tip off)'],
  ['fused GELU (GELU variant)', { ...OFF, activation: 'gelu' }, 'GELU unfused (GELU variant)'],
  ['nonBlocking (with pinMemory)', { ...OFF, pinMemory: true, nonBlocking: true }, 'pinMemory'],
  ['gradients to none', { ...OFF, gradsToNone: true }, 'default (every tip off)'],
  ['CUDA graph', { ...OFF, cudaGraph: true }, 'default (every tip off)'],
  ['all on (GELU variant, fused)', ALL, 'default (every tip off)'],
];

export interface TipRow {
  bench: 'tips';
  case: string;
  device: string;
  /** Seconds for 60,000 samples (scaled from the samples run). */
  epochSeconds: number | null;
  samplesPerSecond: number | null;
  testAccuracy?: number;
  note?: string;
}

async function epochOf(device: Device, tips: Tips, samples: number, train: hy.data.MNIST): Promise<{ seconds: number; done: number }> {
  hy.manualSeed(1);
  hy.backends.autotune.enabled = tips.autotune;
  const pin = device === 'cuda' && tips.pinMemory;
  const loader = new hy.data.DataLoader(train, {
    batchSize: 64,
    shuffle: true,
    seed: 1,
    device,
    numWorkers: tips.workers ? 'auto' : 0,
    persistentWorkers: true,
    pinMemory: pin,
    nonBlocking: pin && tips.nonBlocking,
  });
  const model = new hy.nn.models.MnistNet({ device, activation: tips.activation });
  const optimizer = new hy.optim.Adadelta(model.parameters(), { lr: 1 });
  const scaler = tips.amp ? new hy.amp.GradScaler() : undefined;
  const loss = (out: hy.Tensor, y: hy.Tensor): hy.Tensor => hy.nn.functional.nllLoss(out, y);
  const graphed = tips.cudaGraph ? new GraphedStep(optimizer) : undefined;
  try {
    // one untimed pass of a few steps: the autotuner's trials, the allocator's cache, the JIT
    const warm = new AbortController();
    let steps = 0;
    await hy.train.trainEpoch(model, loader, optimizer, { device, loss, scaler, setToNone: tips.gradsToNone, signal: warm.signal, graphed, onStep: () => { if (++steps >= 5) warm.abort(); } });
    let done = 0;
    let seconds = 0;
    while (done < samples) {
      const r = await hy.train.trainEpoch(model, loader, optimizer, { device, loss, scaler, setToNone: tips.gradsToNone, lossEvery: 50, graphed });
      done += r.samples;
      seconds += r.seconds;
    }
    return { seconds, done };
  } finally {
    graphed?.release();
    scaler?.dispose();
    await loader.close();
    optimizer.dispose();
    model.dispose();
    hy.backends.autotune.enabled = true;
  }
}

/** Runs every row on device; CUDA-only tips are skipped on the CPU with a note. */
let digits: hy.data.MNIST | undefined;
const train = (): hy.data.MNIST => (digits ??= new hy.data.MNIST({ train: true }));

export async function runTips(device: Device, samples: number): Promise<TipRow[]> {
  const rows: TipRow[] = [];
  for (const [name, tips] of ROWS) {
    const base: TipRow = { bench: 'tips', case: name, device: deviceLabel(device), epochSeconds: null, samplesPerSecond: null };
    if (device === 'cpu' && (tips.pinMemory || tips.amp || tips.cudaGraph) && tips !== ALL) {
      const note = tips.amp
        ? 'a GPU tip: float16 on the CPU computes in float32 with conversions'
        : tips.cudaGraph
          ? 'a GPU tip: a CUDA graph replays GPU work'
          : 'a GPU tip: pinned memory feeds DMA copies';
      rows.push({ ...base, note });
      continue;
    }
    const t = device === 'cpu' && tips === ALL ? { ...tips, amp: false, pinMemory: false, nonBlocking: false, cudaGraph: false } : tips;
    const { seconds, done } = await epochOf(device, t, samples, train());
    rows.push({ ...base, epochSeconds: (seconds * 60_000) / done, samplesPerSecond: done / seconds, ...(t !== tips ? { note: 'without the GPU tips (AMP, pinMemory, nonBlocking, CUDA graph)' } : {}) });
    console.error(`tips: ${name}: ${(done / seconds).toFixed(0)} samples/s`);
  }
  return rows;
}

interface PeerRow {
  case: string;
  epochSeconds: number | null;
}

export function table(rows: TipRow[], peers: PeerRow[] = []): string {
  const byName = new Map(rows.map((r) => [r.case, r]));
  const peer = new Map(peers.map((p) => [p.case, p]));
  const lines = [
    `| tip | epoch of 60,000 (s) | samples/s | speed-up over its baseline |${peers.length > 0 ? ' PyTorch (s) | PyTorch / hayate |' : ''}`,
    `|---|---:|---:|---:|${peers.length > 0 ? '---:|---:|' : ''}`,
  ];
  for (const [name, , baseline] of ROWS) {
    const r = byName.get(name);
    if (r === undefined) continue;
    const b = baseline === '' ? undefined : byName.get(baseline);
    const speedup = r.epochSeconds !== null && b?.epochSeconds != null ? `${(b.epochSeconds / r.epochSeconds).toFixed(2)}x over ${baseline}` : '';
    const p = peer.get(name);
    const peerCells = peers.length > 0 ? ` ${p?.epochSeconds?.toFixed(2) ?? ''} | ${p?.epochSeconds != null && r.epochSeconds !== null ? (p.epochSeconds / r.epochSeconds).toFixed(2) : ''} |` : '';
    const cell = r.epochSeconds === null ? `n/a: ${r.note}` : r.epochSeconds.toFixed(2) + (r.note !== undefined ? ` (${r.note})` : '');
    lines.push(`| ${name} | ${cell} | ${r.samplesPerSecond?.toFixed(0) ?? ''} | ${speedup} |${peerCells}`);
  }
  return lines.join('\n');
}

/** A horizontal bar chart of the epoch times (hand-written SVG: no dependency for a dozen rectangles). */
export function svg(rows: TipRow[], title: string): string {
  const measured = rows.filter((r) => r.epochSeconds !== null);
  const max = Math.max(...measured.map((r) => r.epochSeconds!), 1e-9);
  const rowH = 26;
  const left = 270;
  const width = 760;
  const barW = width - left - 90;
  const height = 50 + rows.length * rowH;
  const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="13">`,
    `<text x="10" y="22" font-size="15" font-weight="bold">${esc(title)}</text>`,
  ];
  rows.forEach((r, i) => {
    const y = 40 + i * rowH;
    parts.push(`<text x="${left - 8}" y="${y + 16}" text-anchor="end">${esc(r.case)}</text>`);
    if (r.epochSeconds === null) {
      parts.push(`<text x="${left + 4}" y="${y + 16}" fill="#777">n/a</text>`);
      return;
    }
    const w = Math.max(1, (r.epochSeconds / max) * barW);
    parts.push(`<rect x="${left}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowH - 8}" fill="#3b6ea8"/>`);
    parts.push(`<text x="${left + w + 6}" y="${y + 16}">${r.epochSeconds.toFixed(2)} s</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      samples: { type: 'string', default: '60000' },
      device: { type: 'string' },
      svg: { type: 'string', default: 'bench/tips.svg' },
      peer: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const samples = Number(values.samples);
  if (!Number.isInteger(samples) || samples < 64) throw new RangeError(`bench:tips: --samples must be an integer >= 64, got '${values.samples}'`);
  const device = (values.device ?? (hy.cuda.isAvailable() ? 'cuda' : 'cpu')) as Device;
  if (device !== 'cpu' && device !== 'cuda') throw new RangeError(`bench:tips: --device must be cpu or cuda, got '${values.device}'`);
  const rows = await runTips(device, samples);
  const peers: PeerRow[] = values.peer === undefined ? [] : readFileSync(values.peer, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as PeerRow);
  if (values.json) for (const r of rows) console.log(JSON.stringify(r));
  console.log(`\nThe seed's table on ${deviceLabel(device)} (whole passes over the ${train().length.toLocaleString('en')} training digits until ${samples.toLocaleString('en')} samples are timed per row, scaled to 60,000):\n`);
  console.log(table(rows, peers));
  writeFileSync(values.svg!, svg(rows, `hayate: one MNIST epoch of 60,000 samples per tip, ${deviceLabel(device)}`));
  console.log(`\nchart: ${values.svg}`);
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exitCode = 1;
  });
}
