/** Answers that say this API cannot serve the call now (a proxy without a backend, or an API draining), not that it is wrong. */
const UNAVAILABLE = new Set([502, 503, 504]);

/** Whether an answer with this status hands the node's calls to its next API. */
export function unavailable(status: number): boolean {
  return UNAVAILABLE.has(status);
}

/**
 * The APIs a node reaches the ledger through (MLIS_NODE_API_URLS), in order of preference, shared by its registration
 * and its artifact transfers. Calls go to the API that answered last; one that did not answer, or answered
 * `unavailable`, hands them to the next in the list (ADR 0053). With one API alone, every call goes there.
 */
export class ApiEndpoints {
  private readonly urls: readonly string[];
  private current = 0;

  constructor(urls: readonly string[]) {
    if (urls.length === 0) throw new Error('a node needs at least one API URL');
    this.urls = urls.map((url) => url.replace(/\/+$/, ''));
  }

  /** Where the next call goes. */
  get preferred(): string {
    return this.urls[this.current];
  }

  /** Every API once, the preferred first and the rest in list order after it: the order to try a call in. */
  inTurn(): string[] {
    return [...this.urls.slice(this.current), ...this.urls.slice(0, this.current)];
  }

  /** `url` answered: calls stay with it. */
  answered(url: string): void {
    const index = this.urls.indexOf(url);
    if (index >= 0) this.current = index;
  }

  /** `url` did not answer, or could not serve: if calls still go there, they go to the next API from now on. */
  failed(url: string): void {
    if (this.urls[this.current] === url) this.current = (this.current + 1) % this.urls.length;
  }
}
