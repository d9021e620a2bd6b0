import { ConfigError } from '@mdp/service-kit';
import { bootstrap } from './bootstrap';

bootstrap().catch((err) => {
  // Configuration problems are listed one per line; anything else is a start-up failure.
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
