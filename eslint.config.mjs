// ESLint flat config: typescript-eslint's type-aware recommended rules over every TypeScript file
// of the project (server, shared, client, demo, tests, bench, scripts); formatting is Prettier's.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/** Files matching `files` may not import any of `forbidden` (package names or path globs). */
function layer(files, forbidden) {
  return {
    files: [files],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: forbidden, message: 'crosses a layer boundary (README "Architecture")' }] }],
    },
  };
}

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'client/sdk/dist/', 'coverage/', 'bench/results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
      globals: { ...globals.node },
    },
  },
  { files: ['**/*.mjs'], ...tseslint.configs.disableTypeChecked },
  // Layers (README "Architecture"): what each folder may not import. The room domain talks to media,
  // signalling and the cluster through its ports only; the client never reaches into the server;
  // the contract depends on nothing but zod.
  layer('server/rooms/**/*.ts', [
    'mediasoup',
    'mediasoup/*',
    'socket.io',
    'socket.io-client',
    'express',
    '**/signalling/**',
    '**/media/**',
    '**/cluster/**',
    '**/http/**',
    '**/admin/**',
    '**/webhooks/**',
    '**/metrics/**',
  ]),
  layer('client/**/*.ts', ['**/server/**', 'mediasoup', 'express', 'socket.io']),
  layer('shared/**/*.ts', ['**/server/**', '**/client/**', 'mediasoup', 'socket.io', 'socket.io-client', 'express']),
  prettier,
);
