/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/service/test', '<rootDir>/packages/core/test', '<rootDir>/examples'],
  // Tests run the library from its source; the built package (dist) is what the replica processes and the pack test load.
  moduleNameMapper: {
    '^@local-cache-sync/core$': '<rootDir>/packages/core/src/index.ts',
    '^@local-cache-sync/core/(prometheus|testing|transport|wire)$': '<rootDir>/packages/core/src/$1.ts',
  },
  testPathIgnorePatterns: ['/node_modules/'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } }] },
  globalSetup: '<rootDir>/service/test/harness/global-setup.ts',
  globalTeardown: '<rootDir>/service/test/harness/global-teardown.ts',
  testTimeout: 60000,
};
