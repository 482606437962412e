export * from './job-workflow-worker';
export * from './workflow-bundle';
