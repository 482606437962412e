export type TimeMode = 'utc' | 'local';

/** An instant as YYYY-MM-DD HH:MM:SS in UTC or the browser's zone (labelled). */
export function formatTime(iso: string | null | undefined, mode: TimeMode): string {
  if (!iso) return '—';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '—';
  if (mode === 'utc') return `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/** A duration as the two largest units: 45s, 3m 12s, 2h 5m, 3d 4h. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

export function ageOf(iso: string | null | undefined, now: number): string {
  return iso ? formatDuration(now - Date.parse(iso)) : '—';
}
