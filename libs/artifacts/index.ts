export * from './artifact-store';
export * from './fs-artifact.store';
export * from './s3-artifact.store';
export * from './create-artifact-store';
export * from './artifact-deletion';
export * from './recorded-upload';
