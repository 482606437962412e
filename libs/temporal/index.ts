export * from './connection';
export * from './job-workflow-starter';
export * from './scheduler';
