/* eslint-disable @typescript-eslint/no-require-imports -- a CommonJS preload hook (node -r) */
// Lets a child `node` process run the service from TypeScript sources, the way Jest does (SWC with
// decorator metadata, which Nest's injection needs; workspace packages from their src), so the
// tests that start a service as a child process exercise its real src/main.ts without a prior build:
//   spawn(process.execPath, ['-r', require.resolve('@mdp/testing/register-ts'), 'src/main.ts'])
const fs = require('node:fs');
const path = require('node:path');
const Module = require('node:module');
const { transformSync } = require('@swc/core');

const { swcOptions, WORKSPACE_PACKAGE } = require('../../../jest.preset');

const root = path.resolve(__dirname, '../../..');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  const m = WORKSPACE_PACKAGE.exec(request);
  return resolve.call(this, m ? path.join(root, 'packages', m[1], 'src') : request, ...rest);
};

require.extensions['.ts'] = (module, filename) => {
  const { code } = transformSync(fs.readFileSync(filename, 'utf8'), { ...swcOptions, filename });
  module._compile(code, filename);
};
