/** The training data every run uses: the corpus's training split (dev is never trained on). */
import { loadSongPoems, loadTangCorpus, stanzasOf, type Poem } from '../../verse/corpus.js';
import type { Example } from './batches.js';

/** what a run trains on (`train`) and measures on (`dev`), and the split's counts for the manifest */
export type TrainData = { train: Example[]; dev: Poem[]; split: { trainPoems: number; devPoems: number; stanzas?: number; songPoems?: number } };

/**
 * `stanzas`: also train on the 4-line stanzas of the irregular poems (corpus.ts, stanzasOf), each once,
 * leaving out any whose text is already a regular training poem. `song`: also train on the Song poets'
 * regular poems (corpus.ts, loadSongPoems: pretraining text; the dev split stays the Tang one).
 */
export function corpusTrainData(extra: Example[] = [], options: { stanzas?: boolean; song?: boolean } = {}): TrainData {
  const corpus = loadTangCorpus();
  const train: Example[] = corpus.train.map((poem: Poem) => ({ poem, weight: 1 }));
  const seen = new Set(corpus.train.map((p) => p.lines.join('|')));
  const stanzas: Example[] = [];
  if (options.stanzas) {
    for (const poem of corpus.others.flatMap(stanzasOf)) {
      const key = poem.lines.join('|');
      if (seen.has(key)) continue;
      seen.add(key);
      stanzas.push({ poem, weight: 1 });
    }
  }
  const song: Example[] = options.song ? loadSongPoems(corpus).map((poem) => ({ poem, weight: 1 })) : [];
  return {
    train: [...train, ...stanzas, ...song, ...extra],
    dev: corpus.dev,
    split: {
      trainPoems: corpus.train.length,
      devPoems: corpus.dev.length,
      ...(options.stanzas ? { stanzas: stanzas.length } : {}),
      ...(options.song ? { songPoems: song.length } : {}),
    },
  };
}
