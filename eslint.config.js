// Lint: typescript-eslint's recommended rules, plus the import boundaries
// that keep the request path's layers apart (docs/architecture.md):
//  - the pure cores (sigv4/, policy/, net/, request/, errors/) import no
//    fastify, pino, config or server code;
//  - proxy/ (re-sign and forward) does not import server/ (the fastify layer).
import tseslint from 'typescript-eslint';

const framework = [
  { group: ['fastify', 'fastify/*', '@fastify/*'], message: 'pure cores import no fastify' },
  { group: ['pino', 'pino-*'], message: 'pure cores import no logger' },
  { group: ['**/config/*', '**/config/config.js'], message: 'pure cores take values, not config' },
  { group: ['**/server/*'], message: 'pure cores do not reach into the fastify layer' },
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.tap/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false }],
    },
  },
  {
    files: ['src/sigv4/**', 'src/policy/**', 'src/net/**', 'src/request/**', 'src/errors/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: framework }] },
  },
  {
    files: ['src/proxy/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['**/server/*'], message: 'proxy/ must not import server/ (a cycle): take what it needs as typed values' }] }] },
  },
  {
    // Tests and benches may use any in fixtures and casts of foreign JSON.
    files: ['test/**', 'bench/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
