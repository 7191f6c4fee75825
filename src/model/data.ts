/** The training data every run uses: the corpus's training split (dev is never trained on). */
import { loadTangCorpus, type Poem } from './corpus.js';
import type { Example, TrainData } from './train.js';

export function corpusTrainData(extra: Example[] = []): TrainData {
  const corpus = loadTangCorpus();
  const train: Example[] = corpus.train.map((poem: Poem) => ({ poem, weight: 1 }));
  return { train: [...train, ...extra], dev: corpus.dev, split: { trainPoems: corpus.train.length, devPoems: corpus.dev.length } };
}
