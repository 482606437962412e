export * from './placement';
export * from './scheduler';
