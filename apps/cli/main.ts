import { Command, CommanderError, Option } from 'commander';
import { loadConfig } from '../../libs/config';
import { ApiClient } from './api-client';
import {
  collectParam,
  parseInteger,
  parseJobState,
  parseNonNegativeInteger,
  parsePositiveInteger,
  parseSeconds,
  UsageError,
} from './arguments';
import { createContext, ExitCode, reportError, type CliContext, type CliIo } from './cli-context';
import { cancelCommand } from './commands/cancel.command';
import { listCommand } from './commands/list.command';
import { statusCommand } from './commands/status.command';
import { DEFAULT_WAIT_TIMEOUT_SECONDS, submitCommand, type SubmitOptions } from './commands/submit.command';
import { workersCommand } from './commands/workers.command';

interface GlobalOptions {
  apiUrl?: string;
  json?: boolean;
  token?: string;
}

function apiBaseUrl(option: string | undefined): string {
  const raw = option ?? loadConfig().apiUrl;
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

function buildProgram(io: CliIo, setExitCode: (code: ExitCode) => void): Command {
  // Every action runs through here: one place turns errors into messages and exit codes.
  const action =
    <A extends unknown[]>(handler: (context: CliContext, ...args: A) => Promise<ExitCode>) =>
    async (...args: unknown[]): Promise<void> => {
      const command = args[args.length - 1] as Command;
      const globals = command.optsWithGlobals<GlobalOptions>();
      try {
        const client = new ApiClient({ baseUrl: apiBaseUrl(globals.apiUrl), token: globals.token });
        const context = createContext(client, globals.json === true, io);
        setExitCode(await handler(context, ...(args.slice(0, -1) as A)));
      } catch (error) {
        setExitCode(reportError(error, (line) => io.stderr(`${line}\n`)));
      }
    };

  const program = new Command('mlis')
    .description('Submit and inspect MLIS jobs and workers.')
    .option('--api-url <url>', 'base URL of the MLIS API (default: MLIS_API_URL, else the local API)')
    .option('--json', 'print the raw API JSON, for scripts')
    .option('--token <token>', 'bearer token sent as Authorization: Bearer')
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError('(add --help for usage)')
    .allowExcessArguments(false)
    .exitOverride();

  program
    .command('submit')
    .description('submit a job; with --wait, follow it to the end (exit 0 SUCCEEDED, 1 FAILED/CANCELLED, 3 wait timeout)')
    .argument('<task_type>', 'runner to use, e.g. sleep, gpu_demo, inference')
    .option('--seconds <n>', 'shorthand for --param seconds=<n>', parseSeconds)
    .option('--param <key=value>', 'a runner param, repeatable; the value is parsed as JSON when it parses, else kept as a string', collectParam)
    .option('--params-file <file>', 'a JSON object of params; --param and --seconds override its keys')
    .option('--cpu <n>', 'whole CPU cores to reserve', parseNonNegativeInteger)
    .option('--mem-mb <n>', 'memory to reserve, MiB', parseNonNegativeInteger)
    .option('--gpu <n>', 'GPUs to reserve', parseNonNegativeInteger)
    .option('--priority <n>', 'priority among waiting jobs (higher first)', parseInteger)
    .option('--max-attempts <n>', 'attempts allowed when nodes are lost', parsePositiveInteger)
    .option('--timeout-seconds <n>', 'run time limit of one attempt', parsePositiveInteger)
    .option('--idempotency-key <key>', 'resubmitting with the same key returns the same job')
    .option('--wait', 'poll until the job ends, then print it')
    .addOption(
      new Option('--wait-timeout <seconds>', 'give up waiting after this long (exit 3)').argParser(parseSeconds).default(DEFAULT_WAIT_TIMEOUT_SECONDS),
    )
    .action(action((context, taskType: string, options: SubmitOptions) => submitCommand(context, taskType, options)));

  program
    .command('status')
    .description('show one job: state, result, error and its assignments')
    .argument('<id>', 'job id')
    .action(action((context, id: string) => statusCommand(context, id)));

  program
    .command('list')
    .description('list jobs, newest first')
    .option('--limit <n>', 'page size', parsePositiveInteger)
    .option('--state <state>', 'only jobs in this state (QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED)', parseJobState)
    .option('--cursor <cursor>', 'the next cursor printed by the previous page')
    .action(action((context, options: { limit?: number; state?: ReturnType<typeof parseJobState>; cursor?: string }) => listCommand(context, options)));

  program
    .command('cancel')
    .description('cancel a job')
    .argument('<id>', 'job id')
    .action(action((context, id: string) => cancelCommand(context, id)));

  program
    .command('workers')
    .description('list worker nodes and their used/total capacity')
    .action(action((context) => workersCommand(context)));

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
    return reportError(error, (line) => io.stderr(`${line}\n`));
  }
  return exitCode;
}

/** The real process's streams. */
export function processIo(): CliIo {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
  };
}

if (require.main === module) {
  void run(process.argv.slice(2), processIo()).then((code) => process.exit(code));
}
