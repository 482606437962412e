import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { InvalidArgumentError } from 'commander';
import { SCOPES, type Scope } from '@mlis/auth/claims';
import { mintUserToken } from '@mlis/auth/dev-tokens';
import type { AppConfig } from '@mlis/config';
import { NAME_PATTERN } from '@mlis/contracts/names';
import { durationSeconds, UsageError } from '../arguments';
import { ExitCode, type CliIo } from '../cli-context';

export const DEFAULT_DEV_TOKEN_SCOPES: readonly Scope[] = ['jobs:submit', 'jobs:read', 'jobs:cancel'];
export const DEFAULT_DEV_TOKEN_TTL_SECONDS = 12 * 3600;
const MAX_TTL_SECONDS = 30 * 24 * 3600;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;

export interface DevTokenOptions {
  tenant?: string;
  user: string;
  scope: Scope[];
  crossTenant?: boolean;
  ttl: number;
  save?: boolean;
}

/** `--scope a,b,c` or `--scope all`; every scope must be one the API knows. */
export function parseScopeList(raw: string): Scope[] {
  if (raw.trim() === 'all') return [...SCOPES];
  const scopes = raw.split(',').map((item) => item.trim()).filter(Boolean);
  const unknown = scopes.filter((scope) => !(SCOPES as readonly string[]).includes(scope));
  if (scopes.length === 0 || unknown.length > 0) {
    throw new InvalidArgumentError(`must be "all" or a comma-separated list of ${SCOPES.join(', ')}${unknown.length > 0 ? ` (unknown: ${unknown.join(', ')})` : ''}`);
  }
  return [...new Set(scopes)] as Scope[];
}

/** `90`, `90s`, `30m`, `12h`, `7d`; between one minute and 30 days. */
export function parseTtl(raw: string): number {
  const seconds = durationSeconds(raw);
  if (!(seconds >= 60 && seconds <= MAX_TTL_SECONDS)) throw new InvalidArgumentError('must be a duration like 3600, 30m, 12h or 7d, from 1m to 30d');
  return seconds;
}

export function parseName(raw: string): string {
  if (!NAME.test(raw)) throw new InvalidArgumentError('must be 1-128 letters, digits or . _ : @ -, starting with a letter or digit');
  return raw;
}

/** A tenant id the API could ever know: a token for any other would be refused, or see no tenant at all. */
export function parseTenantId(raw: string): string {
  if (!NAME_PATTERN.test(raw)) throw new InvalidArgumentError('must be a tenant id: 1-63 lowercase letters, digits or -, starting with a letter or digit');
  return raw;
}

function readDevSecret(file: string): string {
  let secret: string;
  try {
    secret = readFileSync(file, 'utf8').trim();
  } catch (error) {
    throw new UsageError(
      `cannot read the dev signing key at ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'}); ` +
        '`npm run up` (or scripts/secrets.sh) creates it, MLIS_AUTH_DEV_SECRET_FILE points elsewhere',
    );
  }
  if (secret.length < 32) throw new UsageError(`the dev signing key at ${file} is shorter than 32 characters; delete it and run scripts/secrets.sh`);
  return secret;
}

/** Mode 0600 from the first byte (written aside, then renamed over), in a 0700 directory when we create it. */
export function saveToken(file: string, token: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const aside = `${file}.${process.pid}.tmp`;
  writeFileSync(aside, `${token}\n`, { mode: 0o600 });
  chmodSync(aside, 0o600);
  renameSync(aside, file);
}

/**
 * Mints a development user token locally with the per-install HS256 key; no API call. The token is
 * printed on stdout (a dev credential, meant to be shown); --save also stores it where the CLI looks.
 */
export function devTokenCommand(config: AppConfig, io: CliIo, json: boolean, options: DevTokenOptions): ExitCode {
  const tenant = options.tenant ?? config.defaultTenantId;
  const secret = readDevSecret(config.auth.devSecretFile);
  const scope = options.scope.join(' ');
  const token = mintUserToken(
    secret,
    config.auth,
    { sub: options.user, tenant, scope, ...(options.crossTenant ? { mlis_cross_tenant: true } : {}) },
    options.ttl,
  );
  if (options.save) saveToken(config.tokenFile, token);
  const expiresAt = new Date(Date.now() + options.ttl * 1000).toISOString();
  if (json) {
    io.stdout(`${JSON.stringify({ token, tenant, sub: options.user, scope, cross_tenant: options.crossTenant === true, expires_at: expiresAt, saved_to: options.save ? config.tokenFile : null }, null, 2)}\n`);
  } else {
    io.stdout(`${token}\n`);
    io.stderr(`token for ${options.user} in tenant ${tenant}, scopes ${scope}${options.crossTenant ? ', cross-tenant' : ''}, expires ${expiresAt}\n`);
    if (options.save) io.stderr(`saved to ${config.tokenFile}; the CLI sends it when neither --token nor MLIS_TOKEN is given\n`);
  }
  return ExitCode.Ok;
}
