// Lint with zero warnings (`npm run lint`). Dependency zones carry a message saying why.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import svelte from 'eslint-plugin-svelte';
import globals from 'globals';

// Patterns are regular expressions ('#' would start a comment in gitignore-style globs).
const zone = (files, patterns) => ({
  files,
  rules: {
    'no-restricted-imports': [
      'error',
      { patterns: patterns.map(({ regex, message }) => ({ regex, message })) },
    ],
  },
});

export default tseslint.config(
  {
    ignores: [
      'build/',
      'dist/',
      '.svelte-kit/',
      'node_modules/',
      'test-results/',
      'playwright-report/',
      'data/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  ...svelte.configs['flat/recommended'],
  {
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      'no-console': 'off',
      eqeqeq: ['error', 'always'],
    },
  },
  {
    // PG-14: a store call is async on every dialect; a missed await would run it outside its
    // transaction or drop its error. Typed rules (Svelte files are left out: they reach the
    // server over HTTP only).
    files: ['server/**/*.ts', 'scripts/**/*.ts', 'cli/**/*.ts', 'runtime/**/*.ts', 'test/**/*.ts'],
    ignores: ['**/*.svelte.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
    },
  },
  {
    files: ['**/*.svelte', '**/*.svelte.ts'],
    languageOptions: {
      parserOptions: { parser: tseslint.parser, extraFileExtensions: ['.svelte'] },
    },
    rules: {
      // Links are plain hrefs in an app without a base path.
      'svelte/no-navigation-without-resolve': 'off',
    },
  },
  zone(
    ['schema/**'],
    [
      {
        regex: '^(#server/|#web/|(\\.\\./)+(server|web)/)',
        message: 'schema/ is shared by server and web: it imports neither.',
      },
    ],
  ),
  zone(
    ['cli/**'],
    [
      {
        regex:
          '^(#server/|#web/|(\\.\\./)+(server|web)/|better-sqlite3$|drizzle-orm|hono(/|$)|ws$)',
        message:
          'cli/ is a client of the HTTP API: it shares schema/ (types, error ids) and imports neither server/ nor web/.',
      },
    ],
  ),
  zone(
    ['web/**'],
    [
      {
        regex: '^(#server/|(\\.\\./)+server/|better-sqlite3$|drizzle-orm|hono(/|$)|ws$)',
        message: 'web/ talks to the server over HTTP and the websocket only.',
      },
      { regex: '^#schema/db/', message: 'Database tables are server-only.' },
    ],
  ),
  zone(
    ['server/domain/**'],
    [
      {
        regex: '^(hono(/|$)|@hono/|ws$|better-sqlite3$|drizzle-orm|\\.\\./(http|collab)/)',
        message: 'The domain imports no framework: HTTP and collab call it, the store serves it.',
      },
    ],
  ),
  zone(
    ['server/http/**'],
    [
      {
        regex: '^((\\.\\./)+store/|better-sqlite3$|drizzle-orm)',
        message: 'Routes call the domain; only the domain talks to the store.',
      },
      {
        regex: '^(\\.\\./)+collab/(?!rooms\\.ts$)',
        message:
          'Routes reach live drafts through the domain (or the Rooms registry), not collab internals.',
      },
    ],
  ),
  zone(
    ['server/collab/**'],
    [
      {
        regex: '^(\\.\\./http/|hono(/|$)|@hono/)',
        message:
          'The websocket server does not depend on the HTTP API: shared request handling lives in server/request/.',
      },
    ],
  ),
  zone(
    ['server/request/**'],
    [
      {
        regex: '^(\\.\\./(http|collab|store)/|hono(/(?!utils/)|$)|@hono/|ws$)',
        message:
          'server/request/ reads who is calling and from where, for HTTP and websocket alike: it depends on neither (hono/utils is plain functions).',
      },
    ],
  ),
  zone(
    ['server/store/**'],
    [
      {
        regex: '^(\\.\\./(http|collab|domain)/|hono(/|$)|ws$)',
        message: 'The store is the bottom layer: it knows only schema/db.',
      },
    ],
  ),
  zone(
    ['runtime/**'],
    [
      {
        regex: '^(?!node:|\\./)',
        message:
          "stagecoach/runtime runs inside customers' agent runtimes: the platform only (node:*, fetch), no package and nothing from schema/, server/ or web/ (copy the types it needs) (RTC-7).",
      },
    ],
  ),
  {
    // Only the config file reads the environment; everything else gets values as arguments.
    files: ['schema/**', 'server/**', 'web/**'],
    ignores: ['server/config.ts', 'server/main.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        {
          object: 'process',
          property: 'env',
          message: 'Read configuration in server/config.ts and pass it in.',
        },
      ],
    },
  },
);
