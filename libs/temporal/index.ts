export * from './connection';
export * from './scheduler';
