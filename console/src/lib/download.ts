/**
 * Has the browser download what a single-use link from a download-link route opens (ADR 0063). The browser saves the
 * bytes to disk as they arrive, under the name the API gives them: nothing is held in the page, as a download fetched
 * with the bearer token would be.
 */
export function openDownloadLink(url: string): void {
  const link = document.createElement('a');
  link.href = url;
  link.download = '';
  link.click();
}
