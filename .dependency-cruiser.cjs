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
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^src/generated/' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
  },
};
