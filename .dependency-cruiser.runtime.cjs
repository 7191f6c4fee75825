/**
 * What loads at run time: the imports left after TypeScript removes the type-only ones (checked by `npm test`).
 * TensorFlow.js stays where it belongs: verse and kernels never load it (they are plain arrays and text), and
 * nor does the bot's main thread (it talks to Discord; the models run on worker threads, whose entry files are
 * started by URL — runtime/threads.ts — and never imported).
 */
module.exports = {
  forbidden: [
    {
      name: 'verse-and-kernels-without-tensorflow',
      comment: 'verse (corpus, vocabulary, tones, rhyme) and the kernels work on plain arrays: they never load TensorFlow.js',
      severity: 'error',
      from: { path: ['^src/model/verse/', '^src/model/kernels/'] },
      to: { path: '^node_modules/@tensorflow/', reachable: true },
    },
    {
      name: 'bot-main-thread-without-tensorflow',
      comment:
        "the bot's main thread talks to Discord and never loads TensorFlow.js: the models run on worker threads, started by URL (runtime/threads.ts), never imported",
      severity: 'error',
      from: { path: '^src/bot/' },
      to: { path: '^node_modules/@tensorflow/', reachable: true },
    },
  ],
  options: {
    doNotFollow: { path: ['node_modules', '^src/generated/'] },
    tsConfig: { fileName: 'tsconfig.json' },
    // after compilation: a type-only import loads nothing
    tsPreCompilationDeps: false,
  },
};
