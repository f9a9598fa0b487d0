// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';

// The layer rules of STYLE.md, enforced: the engine and the shared contract never touch
// Electron; the engine never reaches into the app around it; the renderer never touches Node.
const electronBan = { name: 'electron', message: 'This layer must not import Electron.' };

export default tseslint.config(
  { ignores: ['dist/**', 'release/**', 'node_modules/**', 'coverage/**', 'e2e/artifacts/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    files: ['src/main/engine/**', 'src/shared/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [electronBan],
          patterns: [
            {
              group: ['**/renderer/**', '**/electron/**', '**/server/**', '**/cli/**', '**/ipc/**'],
              message: 'The engine is a library: it must not import the app around it.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/renderer/**'],
    languageOptions: { globals: { ...globals.browser } },
    plugins: { 'react-hooks': reactHooks },
    rules: {
      ...reactHooks.configs.recommended.rules,
      'no-restricted-imports': [
        'error',
        {
          paths: [electronBan],
          patterns: [
            {
              group: ['node:*'],
              message: 'The renderer runs in a browser sandbox: no Node modules.',
            },
            {
              group: ['**/main/**', '**/preload/**'],
              message: 'The renderer talks to main only through src/shared.',
            },
          ],
        },
      ],
    },
  },
  {
    // Raw ipcMain / ipcRenderer only inside the typed binders.
    files: ['src/main/**', 'src/preload/**'],
    ignores: ['src/main/electron/electron-ipc.ts', 'src/preload/preload.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "ImportSpecifier[imported.name='ipcMain']",
          message: 'Register IPC handlers through src/main/electron/ipc-binder.ts (bindWindowIpc).',
        },
        {
          selector: "ImportSpecifier[imported.name='ipcRenderer']",
          message: 'Only the preload talks to ipcRenderer.',
        },
      ],
    },
  },
);
