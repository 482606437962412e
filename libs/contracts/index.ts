export * from './task-queues';
export * from './states';
export * from './failures';
export * from './payloads';
export * from './workflow-api';
export * from './audit';
export * from './labels';
export * from './artifacts';
