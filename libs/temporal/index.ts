export * from './connection';
export * from './capacity-waker';
