import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import * as espree from 'espree';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'test-results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-console': 'error',
    },
  },
  {
    // An eID is one folder: what it takes from the core comes through the plugin SDK only
    // (test/unit/plugin-boundary.test.ts checks the same, dynamic imports included).
    files: ['providers/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '(^|/)src/(?!eids/sdk\\.js$)',
              message: 'Files under providers/ import from src/ only through src/eids/sdk.js, the plugin SDK.',
            },
          ],
        },
      ],
    },
  },
  {
    // The core names no eID: only the composition root (bin/main.ts) imports providers/
    // (test/unit/plugin-boundary.test.ts checks the same).
    files: ['src/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(\\.\\./)+providers/',
              message: 'Files under src/ never import from providers/: the composition root (bin/main.ts) hands the core its eIDs.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['test/**', 'bench/**'],
    rules: { 'no-console': 'off' },
  },
  {
    // The documented examples run in a browser page or in Node.
    files: ['docs/examples/**/*.mjs'],
    languageOptions: { globals: { ...globals.browser, ...globals.node } },
  },
  {
    // Plain JavaScript run by Node: the start and build scripts (before anything is compiled;
    // they talk to the terminal), and what tests preload into a broker process.
    files: ['scripts/**/*.js', 'test/**/*.mjs'],
    languageOptions: { globals: globals.node },
    rules: { 'no-console': 'off' },
  },
  {
    // The pages' own scripts run in the browser.
    files: ['views/static/**/*.mjs', 'providers/*/static/**/*.mjs'],
    languageOptions: { globals: globals.browser, sourceType: 'module' },
  },
  {
    // The pages that only pass the person on load classic scripts in ES5, for any browser that
    // runs script (views/static/form-post.js says why).
    files: ['views/static/**/*.js'],
    languageOptions: { parser: espree, globals: globals.browser, sourceType: 'script', ecmaVersion: 5 },
  },
);
