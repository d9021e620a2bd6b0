// One file at a time: every suite runs several service processes on a machine that may have 2 cores.
module.exports = {
  ...require('../../jest.preset').preset({ services: true }),
  maxWorkers: 1,
  testTimeout: 120_000,
  setupFilesAfterEnv: ['<rootDir>/test/support/stop-everything.ts'],
};
