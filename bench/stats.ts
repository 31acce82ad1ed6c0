// Statistics the timer and the interleaved runs share; no library import, so a driver that only
// reads rows does not load the addon.

/** The median of xs (the mean of the middle two for an even count); xs is not reordered. */
export function median(xs: readonly number[]): number {
  const sorted = xs.slice().sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
