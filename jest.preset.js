// Shared Jest preset: SWC for speed (type-checking is `pnpm typecheck`).
const path = require('path');

/** SWC options for TypeScript with the decorator metadata Nest's injection needs. */
const swcOptions = {
  jsc: {
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true },
    target: 'es2022',
    keepClassNames: true,
  },
  module: { type: 'commonjs' },
  sourceMaps: 'inline',
};

/** Workspace packages resolved to their sources so tests never depend on a stale build. */
const WORKSPACE_PACKAGE = /^@mdp\/(contracts|pulse|testing|service-kit|sql)$/;

/** @param {{ services?: boolean }} [opts] services: resolve Redis/Postgres once per run (see @mdp/testing). */
function preset(opts = {}) {
  const config = {
    testEnvironment: 'node',
    transform: { '^.+\\.(t|j)sx?$': ['@swc/jest', swcOptions] },
    moduleNameMapper: { [WORKSPACE_PACKAGE.source]: path.join(__dirname, 'packages/$1/src') },
    testMatch: ['<rootDir>/test/**/*.test.ts', '<rootDir>/src/**/*.test.ts'],
    testTimeout: 30000,
  };
  if (opts.services) {
    config.globalSetup = path.join(__dirname, 'packages/testing/src/jest-global-setup.ts');
    config.globalTeardown = path.join(__dirname, 'packages/testing/src/jest-global-teardown.ts');
  }
  return config;
}

module.exports = { preset, swcOptions, WORKSPACE_PACKAGE };
