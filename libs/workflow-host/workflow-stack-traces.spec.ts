import { loadConfig } from '@mlis/config';
import { decideWorkflowStackTraces, SDK_GLOBAL_HANDLERS_MODULE } from './workflow-stack-traces';

interface Handlers {
  install(): void;
  uninstall(): void;
  promiseHookInstalled: boolean;
}
type Sdk = { GlobalHandlers: new () => Handlers };

/** A fresh copy of the SDK module, so that replacing its installer does not reach the other tests. */
function freshSdk(): Sdk {
  let sdk: Sdk | undefined;
  jest.isolateModules(() => {
    sdk = jest.requireActual<Sdk>(SDK_GLOBAL_HANDLERS_MODULE);
  });
  return sdk!;
}

/** Whether a workflow thread that loaded this SDK module would record promise stack traces. */
function installsHook(sdk: Sdk): boolean {
  const handlers = new sdk.GlobalHandlers();
  handlers.install();
  try {
    return handlers.promiseHookInstalled;
  } finally {
    handlers.uninstall();
  }
}

const notLoaded = (): never => {
  throw new Error('the SDK should not be touched');
};

describe('workflow stack traces (ADR 0044)', () => {
  it('are recorded by the SDK as it comes', () => {
    expect(installsHook(freshSdk())).toBe(true);
  });

  it('are off in a thread that preloaded the module, by default: the SDK installs no promise hook there', () => {
    const sdk = freshSdk();
    expect(decideWorkflowStackTraces(true, () => sdk, {})).toEqual({ state: 'off' });
    expect(installsHook(sdk)).toBe(false);
  });

  it('stay on with MLIS_WORKFLOW_STACK_TRACES=true, the SDK untouched', () => {
    expect(decideWorkflowStackTraces(true, notLoaded, { MLIS_WORKFLOW_STACK_TRACES: 'true' })).toEqual({ state: 'on' });
  });

  it('stay on, and say why, when the module was not preloaded or the SDK has moved the hook', () => {
    expect(decideWorkflowStackTraces(false, notLoaded, {})).toEqual({ state: 'on', notOff: expect.stringContaining('not preloaded') });
    expect(decideWorkflowStackTraces(true, () => ({ GlobalHandlers: class {} }), {})).toEqual({
      state: 'on',
      notOff: expect.stringContaining('no GlobalHandlers.setPromiseHook'),
    });
  });

  it('leave a bad value to loadConfig, which stops control with its name', () => {
    expect(decideWorkflowStackTraces(true, notLoaded, { MLIS_WORKFLOW_STACK_TRACES: 'yes' })).toEqual({ state: 'on' });
    expect(() => loadConfig({ MLIS_WORKFLOW_STACK_TRACES: 'yes' })).toThrow('MLIS_WORKFLOW_STACK_TRACES must be true or false, got "yes"');
    expect(loadConfig({}).temporal.workflowStackTraces).toBe(false);
  });
});
