export * from './claims';
export * from './dev-tokens';
export * from './token-verifier';
