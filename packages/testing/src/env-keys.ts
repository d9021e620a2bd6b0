export const ENV_KEYS = {
  redis: { url: 'MDP_TEST_REDIS_URL', skip: 'MDP_TEST_REDIS_SKIP' },
  postgres: { url: 'MDP_TEST_DATABASE_URL', skip: 'MDP_TEST_DATABASE_SKIP' },
} as const;
