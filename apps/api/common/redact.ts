// Credentials must never reach a log line or an error body, even when a caller puts them where
// they do not belong (a URL path, a query string) or a library quotes them in an error message.

const BEARER = /\b(Bearer|Basic)\s+[^\s"',;]+/gi;
// Compact JWS/JWE: base64url header starting with '{"' (eyJ), then payload and signature parts.
const JWT = /\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*(\.[A-Za-z0-9_-]*){1,3}/g;
const SECRET_PARAM = /([?&;](?:access_token|id_token|refresh_token|token|jwt|secret|password|api_key|apikey|key)=)[^&#\s"']*/gi;

export const REDACTED = '[redacted]';

/** `text` with bearer credentials, JWT-shaped strings and secret-named query parameters replaced. */
export function redactSecrets(text: string): string {
  return text.replace(BEARER, `$1 ${REDACTED}`).replace(JWT, REDACTED).replace(SECRET_PARAM, `$1${REDACTED}`);
}
