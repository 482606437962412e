export * from './job-workflow-worker';
