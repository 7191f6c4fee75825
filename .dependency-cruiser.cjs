/**
 * The layers of src/, each importing only those below it (checked by `npm test`):
 *   app: bot/ (start-up, router, commands), cli.ts, bench.ts
 *   → learning: jobs/ (runs, fine-tune worker, schedule, versions)
 *   → serving: serving/ (the poem threads, hot swap)
 *   → the models: couplet/ → model/
 *   → db/, shared/
 * No cycles between folders, and nothing imports upward.
 */
const layer = (name, path, below) => ({
  name: `${name}-imports-only-below`,
  comment: `${name} may import only ${below.join(', ') || 'nothing of src/'} (and itself)`,
  severity: 'error',
  from: { path },
  to: { path: '^src/', pathNot: [path, ...below.map((b) => `^src/${b}/`), '^src/generated/'] },
});

module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'a cycle of imports', from: { path: '^src/' }, to: { circular: true } },
    layer('jobs', '^src/jobs/', ['serving', 'couplet', 'model', 'db', 'shared']),
    layer('serving', '^src/serving/', ['couplet', 'model', 'shared']),
    layer('couplet', '^src/couplet/', ['model', 'shared']),
    layer('model', '^src/model/', ['shared']),
    layer('db', '^src/db/', ['shared', 'generated']),
    layer('shared', '^src/shared/', []),
    {
      name: 'prisma-only-in-db',
      comment: 'the Prisma client is used by src/db only: every query is a function of the data layer',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/db/', '^src/generated/'] },
      to: { path: ['^src/generated/', '^node_modules/@prisma/', '^node_modules/prisma/'] },
    },
  ],
  options: {
    // the generated Prisma client is a node of the graph (so imports of it are seen) but not walked
    doNotFollow: { path: ['node_modules', '^src/generated/'] },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
  },
};
