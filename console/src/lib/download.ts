/**
 * Saves a Blob under `name` through a temporary link. The API's bytes come with the bearer token, which a plain link
 * would not send, so they are fetched first and handed over this way.
 */
export function saveBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  link.click();
  URL.revokeObjectURL(url);
}
