// The bearer token lives in sessionStorage: gone with the tab, never in a URL or localStorage.
const TOKEN_KEY = 'mlis.token';

export function readToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function saveToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token.trim());
}

export function clearToken(): void {
  sessionStorage.removeItem(TOKEN_KEY);
}
