export * from './placement';
export * from './scheduler';
export * from './admission';
