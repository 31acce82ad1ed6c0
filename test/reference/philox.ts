// Float64/BigInt oracle of Philox4x32-10 and of the library's mapping from counters to values.
const M0 = 0xd2511f53n;
const M1 = 0xcd9e8d57n;
const W0 = 0x9e3779b9n;
const W1 = 0xbb67ae85n;
const MASK = 0xffffffffn;

export function philox4x32(counter: bigint, seed: bigint): bigint[] {
  let c = [counter & MASK, (counter >> 32n) & MASK, 0n, 0n];
  let k0 = seed & MASK;
  let k1 = (seed >> 32n) & MASK;
  for (let r = 0; r < 10; r++) {
    const p0 = M0 * c[0];
    const p1 = M1 * c[2];
    c = [((p1 >> 32n) ^ c[1] ^ k0) & MASK, p1 & MASK, ((p0 >> 32n) ^ c[3] ^ k1) & MASK, p0 & MASK];
    k0 = (k0 + W0) & MASK;
    k1 = (k1 + W1) & MASK;
  }
  return c;
}

export function uniform(seed: number, offset: number, i: number): number {
  const r = philox4x32(BigInt(offset + Math.floor(i / 4)), BigInt(seed));
  return Number(r[i % 4] >> 8n) / 16777216;
}

export function normal(seed: number, offset: number, i: number): number {
  const r = philox4x32(BigInt(offset + Math.floor(i / 4)), BigInt(seed));
  const lane = i % 4;
  const pair = lane & ~1;
  const u1 = (Number(r[pair]) + 0.5) / 4294967296;
  const u2 = (Number(r[pair + 1]) + 0.5) / 4294967296;
  const radius = Math.sqrt(-2 * Math.log(u1));
  const angle = 2 * Math.PI * u2;
  return lane & 1 ? radius * Math.sin(angle) : radius * Math.cos(angle);
}
