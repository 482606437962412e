/** A model file onnxruntime cannot open on any provider: the caller's file, not the node, is at fault. */
export class ModelLoadError extends Error {}
