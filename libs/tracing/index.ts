export * from './temporal-tracing';
export * from './tracing';
