export * from './contract';
export * from './errors';
export * from './ids';
export * from './media';
