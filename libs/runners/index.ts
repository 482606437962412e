export * from './runner';
export * from './registry';
export * from './params-checker';
export * from './sleep.runner';
export * from './gpu-demo.runner';
export * from './inference.runner';
export * from './params-schema';
