export * from './primitives';
export * from './errors';
export * from './envelope';
export * from './registry';
export * from './decode';
export * from './telemetry/feedback';
export * from './telemetry/rate-adjustment';
export * from './md/bar';
