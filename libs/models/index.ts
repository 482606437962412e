export * from './batcher';
export * from './model-host';
export * from './model-load-error';
export * from './model-pool';
export * from './onnx-session';
export * from './sentence-embedder';
