import { existsSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { bundleWorkflowCode, DefaultLogger, type WorkflowBundleOption } from '@temporalio/worker';

/**
 * Workflow interceptors are part of the bundle: a Worker given a bundle ignores its own `workflowModules`. The workflow
 * tests bundle the same list.
 */
export const JOB_WORKFLOW_INTERCEPTOR_MODULES = [require.resolve('../../workflows/interceptors')];
const BUNDLE_PATH = resolve(__dirname, 'job-workflows.bundle.js');

/**
 * Bundles the job workflows with their interceptors once, at build time (`npm run build` runs this file), so a process
 * that runs them (control, the API) starts polling at once instead of spending seconds of CPU in webpack on every start
 * and restart.
 */
async function writeWorkflowBundle(): Promise<void> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../../workflows'),
    workflowInterceptorModules: JOB_WORKFLOW_INTERCEPTOR_MODULES,
    logger: new DefaultLogger('WARN'),
  });
  writeFileSync(BUNDLE_PATH, code);
}

/** The bundle `npm run build` wrote beside this file. */
export function jobWorkflowBundle(): WorkflowBundleOption {
  if (!existsSync(BUNDLE_PATH)) throw new Error(`no workflow bundle at ${BUNDLE_PATH}: run npm run build`);
  return { codePath: BUNDLE_PATH };
}

if (require.main === module) {
  writeWorkflowBundle().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
