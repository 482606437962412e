export * from './placement';
export * from './plan-cycle';
export * from './admission';
