/** `attachment` under `name`: an ASCII fallback for old clients, and the exact name in UTF-8 (RFC 6266). */
export function attachmentNamed(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}
