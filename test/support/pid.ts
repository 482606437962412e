/**
 * The process id a pidfile holds, or undefined when it holds none. Never 0 or less: `process.kill(0)` would signal the
 * caller's own process group (jest, npm and all), and a pidfile read while it is being written is empty: Number 0.
 */
export function parsePid(text: string): number | undefined {
  const trimmed = text.trim();
  return /^\d+$/.test(trimmed) && Number(trimmed) > 1 ? Number(trimmed) : undefined;
}
