/** The value at percentile `p` (0-100) of `values`, in any order: the nearest rank at or above it, no interpolation. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** The median of `values` (the upper middle one of an even count). */
export function median(values: number[]): number {
  return percentile(values, 50);
}
