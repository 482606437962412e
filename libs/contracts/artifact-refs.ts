/** How params name an artifact: `"artifact://<uuid>"`, anywhere in the params (any depth, in arrays too). */
export const ARTIFACT_REF_PREFIX = 'artifact://';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The whole form of a reference, for schemas that state it. */
export const ARTIFACT_REF_PATTERN = '^artifact://[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';

/** The artifact id of a reference, or null when `value` is not one (a malformed id is not a reference either). */
export function parseArtifactRef(value: string): string | null {
  if (!value.startsWith(ARTIFACT_REF_PREFIX)) return null;
  const id = value.slice(ARTIFACT_REF_PREFIX.length);
  return UUID.test(id) ? id.toLowerCase() : null;
}

export function artifactRef(id: string): string {
  return `${ARTIFACT_REF_PREFIX}${id}`;
}

/**
 * Every string in `params` that starts with the prefix, in document order. A prefixed string that is not a
 * well-formed reference is returned with id null so the caller can refuse it rather than pass it on as text.
 */
export function findArtifactRefs(params: unknown, path = 'params'): { path: string; id: string | null; ref: string }[] {
  if (typeof params === 'string') return params.startsWith(ARTIFACT_REF_PREFIX) ? [{ path, id: parseArtifactRef(params), ref: params }] : [];
  if (Array.isArray(params)) return params.flatMap((item, index) => findArtifactRefs(item, `${path}[${index}]`));
  if (params !== null && typeof params === 'object') {
    return Object.entries(params as Record<string, unknown>).flatMap(([key, item]) =>
      findArtifactRefs(item, /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`),
    );
  }
  return [];
}
