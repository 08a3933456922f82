import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'src/generated/', 'node_modules/', 'test-results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  // The browser test runs in Node and passes functions into the page.
  { files: ['test/browser/**/*.mjs'], languageOptions: { globals: { ...globals.node, ...globals.browser } } },
);
