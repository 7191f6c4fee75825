/**
 * The rooms of src/ and the layers they form, each importing only those below it (checked by `npm test`):
 *   app: bot/ (the Discord bot), cli/ (the `tangshi` command)
 *   → jobs/ (the learning loop: runs, their worker thread, schedule, versions)
 *   → serving/ (the poem threads, hot swap)
 *   → model/: couplet/ → poem/ (network, train/, decode/) → kernels/ (wasm/, x86/) and verse/ → runtime/
 *   → db/, shared/
 * No cycles between folders, and nothing imports upward (type-only imports included). What loads at run time
 * is checked by .dependency-cruiser.runtime.cjs.
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
    layer('jobs', '^src/jobs/', ['serving', 'model', 'db', 'shared']),
    layer('serving', '^src/serving/', ['model', 'shared']),
    layer('couplet', '^src/model/couplet/', ['model/poem', 'model/verse', 'model/kernels', 'model/runtime', 'shared']),
    layer('poem', '^src/model/poem/', ['model/verse', 'model/kernels', 'model/runtime', 'shared']),
    layer('kernels', '^src/model/kernels/', ['model/runtime', 'shared']),
    layer('verse', '^src/model/verse/', ['shared']),
    layer('runtime', '^src/model/runtime/', ['shared']),
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
