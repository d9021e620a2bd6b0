import { ConfigError } from '@mdp/service-kit';
import { bootstrap } from './bootstrap';

bootstrap().catch((err) => {
  // A configuration problem is the operator's to fix: say exactly what, without a stack trace.
  if (err instanceof ConfigError) console.error(`pipeline: ${err.message}`);
  else console.error('pipeline: failed to start', err);
  process.exit(1);
});
