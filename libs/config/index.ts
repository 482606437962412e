export * from './config';
export * from './v8-heap';
