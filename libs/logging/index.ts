export * from './activity-logging.interceptor';
export * from './logger';
export * from './temporal-logger';
