import { ConfigError } from '@mdp/service-kit';
import { bootstrap } from './bootstrap';

bootstrap().catch((err: unknown) => {
  // Bad configuration is an operator error: say exactly which variables, without a stack trace.
  if (err instanceof ConfigError) console.error(`orchestrator: ${err.message}`);
  else console.error('orchestrator failed to start', err);
  process.exit(1);
});
