/** Circular-import check (run by `npm run lint`). Dependency zones are ESLint rules with messages. */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'Circular imports make load order matter and hide layering mistakes: break the cycle.',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|build|\\.svelte-kit)' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: {
      extensions: ['.ts', '.js', '.svelte'],
      conditionNames: ['import', 'node', 'default'],
    },
  },
};
