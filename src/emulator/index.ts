export * from './runtime-api-server.js';
export * from './log-lines.js';
export * from './ids.js';
export * from './local-runtime.js';
