export * from './bootstrap';
export * from './config';
export * from './observer/observed-streams';
export * from './observer/pulse-observer.service';
export * from './observer/stream-stats';
