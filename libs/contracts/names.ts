/**
 * Tenant ids, worker group names, node ids and priority class names: lowercase letters, digits and dashes, 1-63
 * characters, starting with a letter or digit (the ledger's CHECK constraints say the same).
 */
export const NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
