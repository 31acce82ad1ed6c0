// Float64 oracle for IEEE binary16 rounding (round to nearest, ties to even), written from the
// definition: pick the nearest multiple of the binade's spacing.
export function roundToHalf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const a = Math.abs(x);
  if (a >= 65520) return x > 0 ? Infinity : -Infinity; // 65504 + half a spacing rounds up to inf
  // spacing: 2^(e-10) for normals (e >= -14), 2^-24 for subnormals
  const e = a === 0 ? -14 : Math.max(-14, Math.floor(Math.log2(a)));
  let spacing = 2 ** (e - 10);
  // guard against log2 rounding at binade edges
  if (a >= 2 ** (e + 1)) spacing *= 2;
  const q = a / spacing;
  let r = Math.floor(q);
  const frac = q - r;
  if (frac > 0.5 || (frac === 0.5 && r % 2 === 1)) r += 1;
  const v = r * spacing;
  return x < 0 || Object.is(x, -0) ? -v : v;
}

/** float -> int32 as the library defines it: truncate, saturate, NaN -> 0. */
export function toInt32(x: number): number {
  if (Number.isNaN(x)) return 0;
  if (x >= 2147483647) return 2147483647;
  if (x <= -2147483648) return -2147483648;
  return Math.trunc(x);
}
