export * from './metrics-server';
export * from './mlis-metrics';
export * from './process-registry';
export * from './tenant-label';
export * from './temporal-sdk-metrics';
