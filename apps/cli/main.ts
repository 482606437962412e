import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { SCOPES } from '@mlis/auth/claims';
import { loadConfig, type AppConfig } from '@mlis/config';
import { ApiClient, DEFAULT_RETRIES } from './api-client';
import {
  collectParam,
  collectSelector,
  parseInteger,
  parseJobState,
  parseNonNegativeInteger,
  parsePositiveInteger,
  parsePositiveSeconds,
  parseSeconds,
  UsageError,
} from './arguments';
import { createContext, ExitCode, reportError, stderrLine, type CliContext, type CliIo } from './cli-context';
import {
  artifactsDownloadCommand,
  artifactsListCommand,
  artifactsRmCommand,
  artifactsUploadCommand,
  parseExpiresIn,
  type UploadOptions,
} from './commands/artifacts.command';
import { cancelCommand } from './commands/cancel.command';
import {
  DEFAULT_DEV_TOKEN_SCOPES,
  DEFAULT_DEV_TOKEN_TTL_SECONDS,
  devTokenCommand,
  parseName,
  parseScopeList,
  parseTenantId,
  parseTtl,
  type DevTokenOptions,
} from './commands/dev-token.command';
import { auditCommand, auditExportCommand, parseAuditResult, type AuditExportOptions } from './commands/audit.command';
import { groupsCommand } from './commands/groups.command';
import { listCommand, type ListOptions } from './commands/list.command';
import { resultCommand, type ResultOptions } from './commands/result.command';
import { statusCommand, type StatusOptions } from './commands/status.command';
import { DEFAULT_WAIT_TIMEOUT_SECONDS } from './commands/job-waiter';
import { submitCommand, type SubmitOptions } from './commands/submit.command';
import { parseLimit, tenantsCreateCommand, tenantsListCommand, tenantsSetLimitsCommand, type TenantLimitOptions } from './commands/tenants.command';
import { tokensRevokeCommand, tokensRevokedCommand } from './commands/tokens.command';
import { whoamiCommand } from './commands/whoami.command';
import { drainCommand, workersCommand } from './commands/workers.command';

const SCOPES_HELP = SCOPES.join(', ');

interface GlobalOptions {
  apiUrl?: string;
  json?: boolean;
  token?: string;
  retries: number;
}

function apiBaseUrl(option: string | undefined, config: () => AppConfig): string {
  const raw = option ?? config().apiUrl;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`--api-url must be an http(s) URL, got "${raw}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`--api-url must be an http(s) URL, got "${raw}"`);
  }
  return raw;
}

/** --token, else MLIS_TOKEN, else the token file `mlis dev-token --save` and `npm run up` write; else none. */
function bearerToken(option: string | undefined, config: () => AppConfig): string | undefined {
  if (option !== undefined) return option;
  const { token, tokenFile } = config();
  if (token !== null) return token;
  try {
    return readFileSync(tokenFile, 'utf8').trim() || undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

// Read once, and only when an option leaves something to look up.
function lazyConfig(): () => AppConfig {
  let config: AppConfig | undefined;
  return () => (config ??= loadConfig());
}

function buildProgram(io: CliIo, setExitCode: (code: ExitCode) => void): Command {
  // Every action runs through here: one place turns errors into messages and exit codes.
  const action = <A extends unknown[]>(handler: (context: CliContext, ...args: A) => Promise<ExitCode>) => async (...args: unknown[]): Promise<void> => {
    const command = args[args.length - 1] as Command;
    const globals = command.optsWithGlobals<GlobalOptions>();
    try {
      const config = lazyConfig();
      const client = new ApiClient({
        baseUrl: apiBaseUrl(globals.apiUrl, config),
        token: bearerToken(globals.token, config),
        retries: globals.retries,
        onRetry: stderrLine(io),
        sleep: io.sleep,
      });
      const context = createContext(client, globals.json === true, io);
      setExitCode(await handler(context, ...(args.slice(0, -1) as A)));
    } catch (error) {
      setExitCode(reportError(error, stderrLine(io)));
    }
  };

  const program = new Command('mlis')
    .description('Submit and inspect MLIS jobs and workers.')
    .option('--api-url <url>', 'base URL of the MLIS API (default: MLIS_API_URL, else the local API)')
    .option('--json', 'print the raw API JSON, for scripts')
    .option('--token <token>', 'bearer token sent as Authorization: Bearer (default: MLIS_TOKEN, else the saved token file)')
    .addOption(
      new Option(
        '--retries <n>',
        'send a call again this many times after a 503 (as its Retry-After says, up to 10 s) or a refused or dropped connection; reads, submissions and uploads only',
      )
        .argParser(parseNonNegativeInteger)
        .default(DEFAULT_RETRIES),
    )
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError('(add --help for usage)')
    .allowExcessArguments(false)
    .exitOverride();

  program
    .command('submit')
    .description('submit a job; with --wait, follow it to the end (exit 0 SUCCEEDED, 1 FAILED/CANCELLED, 3 wait timeout)')
    .argument('<task_type>', 'runner to use, e.g. sleep, gpu_demo, inference, onnx')
    .option('--seconds <n>', 'shorthand for --param seconds=<n> (more than 0)', parsePositiveSeconds)
    .option('--param <key=value>', 'a runner param, repeatable; the value is parsed as JSON when it parses, else kept as a string', collectParam)
    .option('--params-file <file>', 'a JSON object of params; --param and --seconds override its keys')
    .option('--input <file>', 'upload this file as an artifact first and pass it as params.input ("artifact://<id>")')
    .option('--cpu <n>', 'whole CPU cores to reserve', parseNonNegativeInteger)
    .option('--mem-mb <n>', 'memory to reserve, MiB', parseNonNegativeInteger)
    .option('--gpu <n>', 'GPUs to reserve', parseNonNegativeInteger)
    .option('--priority <n>', 'priority among waiting jobs (higher first)', parseInteger)
    .option('--priority-class <name>', 'a configured priority class instead of --priority (e.g. low, normal, high, urgent)')
    .option('--worker-group <group>', 'run only on nodes of this worker group')
    .option('--selector <key=value>', 'run only on nodes with this label, repeatable', collectSelector)
    .option('--gpu-model <model>', 'the GPUs must be of this model')
    .option('--gpu-memory-mb <n>', 'each GPU must have at least this much memory, MiB (0: any)', parseNonNegativeInteger)
    .option('--max-attempts <n>', 'attempts allowed when nodes are lost', parsePositiveInteger)
    .option('--timeout-seconds <n>', 'run time limit of one attempt', parsePositiveInteger)
    .option('--idempotency-key <key>', 'resubmitting with the same key returns the same job (and, with --input, the same artifact)')
    .option('--wait', 'follow the job (long-poll, no polling loop) until it ends, then print it')
    .addOption(
      new Option('--wait-timeout <seconds>', 'give up waiting after this long (exit 3)').argParser(parseSeconds).default(DEFAULT_WAIT_TIMEOUT_SECONDS),
    )
    .action(action((context, taskType: string, options: SubmitOptions) => submitCommand(context, taskType, options)));

  program
    .command('status')
    .description('show one job: state, result, error and its assignments; with --wait, once it ends (exit codes as submit --wait)')
    .argument('<id>', 'job id')
    .option('--wait', 'follow the job (long-poll) until it ends, then print it')
    .addOption(
      new Option('--wait-timeout <seconds>', 'give up waiting after this long (exit 3)').argParser(parseSeconds).default(DEFAULT_WAIT_TIMEOUT_SECONDS),
    )
    .action(action((context, id: string, options: StatusOptions) => statusCommand(context, id, options)));

  program
    .command('result')
    .description("print a job's whole result JSON (also when it is stored as an artifact), or write it to a file")
    .argument('<id>', 'job id')
    .option('-o, --output <file>', 'write the result to this file instead of stdout')
    .action(action((context, id: string, options: ResultOptions) => resultCommand(context, id, options)));

  program
    .command('list')
    .description('list jobs, newest first')
    .option('--limit <n>', 'page size', parsePositiveInteger)
    .option('--state <state>', 'only jobs in this state (QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED)', parseJobState)
    .option('--task-type <type>', 'only jobs of this task type')
    .option('--group <name>', 'only jobs that asked for this worker group')
    .option('--node <id>', 'only jobs with an attempt on this node')
    .option('--submitted-by <subject>', 'only jobs submitted by this subject (sub)')
    .option('--since <time>', 'only jobs submitted at or after this ISO 8601 UTC time, e.g. 2026-12-04T09:00:00Z')
    .option('--until <time>', 'only jobs submitted before this ISO 8601 UTC time')
    .option('--tenant <tenant>', "another tenant's jobs (needs the cross-tenant capability)", parseTenantId)
    .option('--cursor <cursor>', 'the next cursor printed by the previous page')
    .action(action((context, options: ListOptions) => listCommand(context, options)));

  program
    .command('cancel')
    .description('cancel a job')
    .argument('<id>', 'job id')
    .action(action((context, id: string) => cancelCommand(context, id)));

  const workers = program
    .command('workers')
    .description('list worker nodes and their used/total capacity; drain or undrain one')
    .action(action((context) => workersCommand(context)));
  workers
    .command('drain <node>')
    .description('stop new placements on a node; its running work finishes')
    .action(action((context, node: string) => drainCommand(context, node, true)));
  workers
    .command('undrain <node>')
    .description('let a drained node take new placements again')
    .action(action((context, node: string) => drainCommand(context, node, false)));

  program
    .command('groups')
    .description('list worker groups: nodes by status, used/total capacity of the live nodes, GPU models')
    .action(action((context) => groupsCommand(context)));

  program
    .command('whoami')
    .description('show who the API takes your token for: subject, tenant, scopes')
    .action(action((context) => whoamiCommand(context)));

  program
    .command('dev-token')
    .description('mint a development token locally with the per-install key (no API call); prints it, --save stores it for the CLI')
    .option('--tenant <tenant>', 'tenant of the token (default: MLIS_DEFAULT_TENANT, "default")', parseTenantId)
    .addOption(new Option('--user <user>', 'subject (sub) of the token').argParser(parseName).default('dev'))
    .addOption(
      new Option('--scope <scopes>', `comma-separated scopes, or "all" (${SCOPES_HELP})`)
        .argParser(parseScopeList)
        .default([...DEFAULT_DEV_TOKEN_SCOPES], DEFAULT_DEV_TOKEN_SCOPES.join(',')),
    )
    .option('--cross-tenant', 'add the cross-tenant capability (still needs the route scope)')
    .addOption(new Option('--ttl <duration>', 'lifetime: 3600, 30m, 12h, 7d (1m to 30d)').argParser(parseTtl).default(DEFAULT_DEV_TOKEN_TTL_SECONDS, '12h'))
    .option('--save', 'also write the token to the token file (MLIS_TOKEN_FILE, mode 0600) that the CLI reads')
    .action((options: DevTokenOptions, command: Command) => {
      try {
        setExitCode(devTokenCommand(loadConfig(), io, command.optsWithGlobals<GlobalOptions>().json === true, options));
      } catch (error) {
        setExitCode(reportError(error, stderrLine(io)));
      }
    });

  const tenants = program.command('tenants').description('administer tenants and their limits (scope admin:tenants)');
  const limitOptions = (command: Command): Command =>
    command
      .option('--max-queued-jobs <n>', 'most jobs waiting at once, or "none"', parseLimit)
      .option('--submit-rate <n>', 'submissions per minute, or "none"', parseLimit)
      .option('--max-running-jobs <n>', 'most jobs running at once, or "none"', parseLimit)
      .option('--max-gpus <n>', 'most GPUs in use at once, or "none"', parseLimit)
      .option('--max-artifact-bytes <n>', "largest artifact upload in bytes (below the server's limit), or \"none\"", parseLimit)
      .option('--weight <n>', 'fair-share weight (1-1000): weight 2 is entitled to twice the share of weight 1', parsePositiveInteger)
      .option('--group <name>', 'apply --max-running-jobs and --max-gpus inside this worker group, together (one not given: none; neither: remove the group limits)');
  tenants
    .command('list')
    .description('list tenants and their limits')
    .action(action((context) => tenantsListCommand(context)));
  limitOptions(tenants.command('create').description('create a tenant').argument('<id>', 'tenant id').option('--name <name>', 'display name'))
    .action(action((context, id: string, options: TenantLimitOptions) => tenantsCreateCommand(context, id, options)));
  limitOptions(tenants.command('set-limits').description("change a tenant's limits; the ones not given stay").argument('<id>', 'tenant id'))
    .action(action((context, id: string, options: TenantLimitOptions) => tenantsSetLimitsCommand(context, id, options)));

  const tokens = program.command('tokens').description('revoke user tokens (scope admin:tenants)');
  tokens
    .command('revoke')
    .description('refuse every token of a holder issued up to now, on every API replica within 2 s; tokens it gets later work')
    .argument('<subject>', "the tokens' subject (sub)")
    .requiredOption('--tenant <tenant>', 'the tenant the tokens name', parseTenantId)
    .action(action((context, subject: string, options: { tenant: string }) => tokensRevokeCommand(context, subject, options.tenant)));
  tokens
    .command('revoked')
    .description('list every holder whose tokens were revoked, and up to when')
    .action(action((context) => tokensRevokedCommand(context)));

  const artifacts = program.command('artifacts').description('upload, download, list and delete artifacts (scopes artifacts:read, artifacts:write)');
  artifacts
    .command('upload')
    .description('upload a file, streamed; prints the artifact (its id is what params reference as artifact://<id>)')
    .argument('<file>', 'the file to upload')
    .option('--name <name>', 'name to record (default: the file name)')
    .option('--content-type <type>', 'media type to record (default: application/octet-stream)')
    .option('--expires-in <duration>', 'deletable after this long, once no waiting or running job uses it: 3600, 30m, 12h, 7d (default: the server\'s)', parseExpiresIn)
    .option('--idempotency-key <key>', 'uploading again with the same key returns the same artifact')
    .action(action((context, file: string, options: UploadOptions) => artifactsUploadCommand(context, file, options)));
  artifacts
    .command('download')
    .description('download an artifact, streamed, checked against its sha256')
    .argument('<id>', 'artifact id')
    .requiredOption('-o, --output <file>', 'where to write it (replaced only once the whole artifact arrived intact)')
    .action(action((context, id: string, options: { output: string }) => artifactsDownloadCommand(context, id, options.output)));
  artifacts
    .command('ls')
    .description("list your tenant's artifacts, newest first")
    .option('--prefix <text>', 'only artifacts whose name starts with this (case-sensitive)')
    .option('--limit <n>', 'page size', parsePositiveInteger)
    .option('--cursor <cursor>', 'the next cursor printed by the previous page (give the same --prefix)')
    .action(action((context, options: { prefix?: string; limit?: number; cursor?: string }) => artifactsListCommand(context, options)));
  artifacts
    .command('rm')
    .description('delete an artifact (refused while a waiting or running job uses it)')
    .argument('<id>', 'artifact id')
    .action(action((context, id: string) => artifactsRmCommand(context, id)));

  const audit = program
    .command('audit')
    .description('show audit events, newest first (scope admin:audit); `audit export` for every event, oldest first')
    .option('--action <action>', 'only this action, e.g. job.submit')
    .option('--result <result>', 'allow or deny', parseAuditResult)
    .option('--actor-tenant <id>', "only events by this tenant's callers")
    .option('--target-tenant <id>', 'only events on this tenant')
    .option('--since <time>', 'only events at or after this ISO 8601 time')
    .option('--limit <n>', 'page size', parsePositiveInteger)
    .option('--cursor <cursor>', 'the next cursor printed by the previous page')
    .action(
      action((context, options: { action?: string; result?: 'allow' | 'deny'; actorTenant?: string; targetTenant?: string; since?: string; limit?: number; cursor?: string }) =>
        auditCommand(context, {
          action: options.action,
          result: options.result,
          actor_tenant: options.actorTenant,
          target_tenant: options.targetTenant,
          since: options.since,
          limit: options.limit,
          cursor: options.cursor,
        }),
      ),
    );
  audit
    .command('export')
    .description('print every audit event from a cursor, oldest first, one JSON object a line: missing none, even one committed late (scope admin:audit)')
    .option('--cursor <cursor>', 'start after this cursor (printed to stderr at the end)')
    .option('--cursor-file <file>', 'start after the cursor stored in this file, if any, and store the next one there after each page')
    .option('--follow', 'keep asking for new events (every 2 s, through API restarts) until stopped')
    .option('--limit <n>', 'events a request', parsePositiveInteger)
    // `audit` parses the --cursor and --limit it shares with `export` wherever they stand: take its values.
    .action(
      action((context, options: AuditExportOptions) => {
        const { cursor, limit } = audit.opts<{ cursor?: string; limit?: number }>();
        return auditExportCommand(context, { cursor, limit, ...options });
      }),
    );

  return program;
}

/** Runs one command line (without the node and script paths) and returns its exit code; never exits the process. */
export async function run(argv: string[], io: CliIo): Promise<number> {
  let exitCode: ExitCode = ExitCode.Ok;
  const program = buildProgram(io, (code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    // exitOverride turns commander's own exits (help, usage errors) into throws; it has printed already.
    if (error instanceof CommanderError) return error.exitCode === 0 ? ExitCode.Ok : ExitCode.Error;
    return reportError(error, stderrLine(io));
  }
  return exitCode;
}

/** The real process's streams. */
export function processIo(): CliIo {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    progress: process.stderr.isTTY === true,
  };
}

if (require.main === module) {
  void run(process.argv.slice(2), processIo()).then((code) => process.exit(code));
}
