export * from './claims';
export * from './dev-tokens';
