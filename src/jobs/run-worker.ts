/**
 * The night's learning itself, on a worker thread (never on the thread that talks to Discord):
 *
 * 1. taste models from the readers' fair scores (taste-signal.ts): the one to serve (fitted on the poems first
 *    rated earlier, its AUC measured on the latest, then refitted on all), the policy's (half A of the rated
 *    poems) and the gate's judge (half B: it never saw the ratings the policy learnt from);
 * 2. a copy of the active checkpoint fine-tuned on the corpus with preference steps interleaved: RAFT (the
 *    active model's own poems for the readers' recent prompts, the policy's taste model keeping the best) or
 *    KTO (half A's liked and disliked poems against the frozen active model); corpus only when there is no
 *    taste to learn;
 * 3. the gate's figures, measured here for both models in the same run: dev perplexity; for the same fixed
 *    prompts and seeds, each model's own poems (one candidate each) scored by the judge, and the rules of verse
 *    (tones, rhyme, repeats, copied lines, distinct-2), and whether any is a rated poem word for word.
 *
 * Messages to the parent: progress (throttled), phase changes, and at the end `done` or `stopped`. A `stop`
 * message ends training early; nothing is evaluated or written then.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import prand from 'pure-rand';
import { copyCheckpoint, loadCheckpoint, type Manifest } from '../model/poem/checkpoint.js';
import { PoemModel, type PoemRequest } from '../model/poem/decode/generate.js';
import { corpusTrainData } from '../model/poem/train/train-data.js';
import { checkpointPerplexity, type PerplexityResult } from '../model/poem/train/perplexity.js';
import { chosenObjective, ktoObjective, referenceNll, type Objective, type PreferenceExample } from '../model/poem/train/preference.js';
import { train, type Progress } from '../model/poem/train/train.js';
import { TasteModel, type TasteExample, type TastePair } from '../model/taste/taste-model.js';
import { classicalRhymes } from '../model/verse/classical-rhyme.js';
import { cleanLines, isDev, loadTangCorpus, poemText, regularPoem } from '../model/verse/corpus.js';
import { distinct2, scorePoems } from '../model/verse/poetics.js';
import { poemRhymes } from '../model/verse/modern-rhyme.js';
import { clearTone } from '../model/verse/tones.js';
import type { Form, Recipe } from '../shared/verse.js';

export type { Recipe };

/** the night's ratings as the taste models learn them (traditional text), by part */
export type TasteData = {
  /** the serving model's fit (poems first rated earlier) and test (the latest) */
  train: TasteExample[];
  test: TasteExample[];
  /** the policy's half and the judge's half (disjoint, by poem) */
  halfA: TasteExample[];
  halfB: TasteExample[];
  pairsA: TastePair[];
  pairsB: TastePair[];
  readers: number;
};

export type FinetuneJob = {
  /** the active checkpoint: the starting point and the model to beat */
  from: string;
  /** the root of the lineage (BASE_MODEL_DIR): the gate bounds drift from it */
  root: string;
  /** where the candidate checkpoint is written (its directory must not be in use) */
  out: string;
  maxSteps?: number;
  maxMinutes?: number;
  lr: number;
  workers?: number;
  recipe: Recipe;
  /** the share of training steps that learn from the readers */
  preferenceShare: number;
  /** null: too few ratings to learn a taste (the corpus fine-tune and the gate still run) */
  taste: TasteData | null;
  /** the active taste model's JSON (its AUC on tonight's test is the bar a new one must pass) */
  activeTaste: string | null;
  /** where the new taste model is written */
  tasteOut: string;
  /** prompts readers asked with lately: RAFT writes its samples for these */
  prompts: PoemRequest[];
  /** the gate's fixed requests (prompts and seeds), written by both models */
  gatePrompts: PoemRequest[];
  /** the rated poems' texts (traditional): no candidate poem may be one of them word for word */
  ratedTexts: string[];
  /** RAFT: samples written, and the share the taste model keeps */
  samples: number;
  keep: number;
  /** KTO's β */
  beta: number;
  seed: number;
};

/** the rules of verse and the judge's score for one model's gate poems */
export type GatePoems = {
  poems: number;
  /** the judge's mean score (its ensemble mean), and the share of poems it calls liked (score > 0) */
  judgeMean: number | null;
  judgeLiked: number | null;
  /** the judge's score of each poem, in the gate's request order (the two models' poems are compared pairwise) */
  judgeScores: number[] | null;
  toneRules: number;
  rhyme: number;
  repeats: number;
  copiedLines: number;
  distinct2: number;
  /** poems that are a rated poem word for word */
  verbatim: number;
};

export type TasteResult = {
  version: string;
  sha256: string;
  path: string;
  trainedPoems: number;
  heldOutPoems: number;
  heldOutAuc: number | null;
  /** the active taste model's AUC on the same held-out ratings (null without one, or without both classes) */
  activeAuc: number | null;
};

export type FinetuneResult = {
  candidate: Manifest;
  before: PerplexityResult;
  after: PerplexityResult;
  steps: number;
  tokens: number;
  /** what the policy learnt from: the recipe, or 'corpus' when there was no taste to learn */
  recipe: Recipe | 'corpus';
  preferenceExamples: number;
  taste: TasteResult | null;
  gate: { active: GatePoems; candidate: GatePoems; judgePoems: number; corpusDistinct2: number; root: { perplexity: number; distinct2: number } };
  seconds: { taste: number; training: number; evaluation: number };
};

export type FinetuneMessage =
  | { type: 'phase'; phase: 'training' | 'evaluating' }
  | { type: 'progress'; progress: Progress }
  | { type: 'log'; message: string }
  | { type: 'done'; result: FinetuneResult }
  | { type: 'stopped' };

/** fewer rated poems than this in a part, and no taste model is fitted on it */
export const MIN_TASTE_POEMS = 20;

const job = workerData.job as FinetuneJob;
const post = (m: FinetuneMessage) => parentPort!.postMessage(m);
const log = (message: string) => post({ type: 'log', message });
const controller = new AbortController();
parentPort!.on('message', (m: { type: string }) => {
  if (m.type === 'stop') controller.abort();
});
const began = performance.now();
const minutes = () => (performance.now() - began) / 60000;

// 1. taste models
const enough = (examples: TasteExample[]) => examples.length >= MIN_TASTE_POEMS && examples.some((e) => e.label === 1) && examples.some((e) => e.label === 0);
let tasteResult: TasteResult | null = null;
let policyTaste: TasteModel | undefined;
let judge: TasteModel | undefined;
if (job.taste) {
  const t = job.taste;
  const all = [...t.train, ...t.test];
  if (enough(t.train) && enough(all)) {
    const fitted = TasteModel.train(t.train, [...t.pairsA, ...t.pairsB], { readers: t.readers, seed: job.seed });
    const heldOutAuc = fitted.auc(t.test);
    const activeAuc = job.activeTaste ? TasteModel.fromJSON(job.activeTaste).auc(t.test) : null;
    const serving = TasteModel.train(all, [...t.pairsA, ...t.pairsB], { readers: t.readers, seed: job.seed }).withHeldOut({
      poems: t.test.length,
      auc: heldOutAuc,
    });
    const json = serving.toJSON();
    writeFileSync(job.tasteOut, json);
    tasteResult = {
      version: serving.version,
      sha256: TasteModel.sha256(json),
      path: job.tasteOut,
      trainedPoems: all.length,
      heldOutPoems: t.test.length,
      heldOutAuc,
      activeAuc,
    };
    log(
      `taste model ${serving.version}: ${all.length} rated poems, held-out AUC ${heldOutAuc?.toFixed(3) ?? 'n/a'} (active ${activeAuc?.toFixed(3) ?? 'none'})`,
    );
  }
  if (enough(t.halfA)) policyTaste = TasteModel.train(t.halfA, t.pairsA, { seed: job.seed + 1 });
  if (enough(t.halfB)) judge = TasteModel.train(t.halfB, t.pairsB, { seed: job.seed + 2 });
}
const tasteSeconds = minutes() * 60;

/** a stored poem's text → the corpus's lines (traditional text in, as the runner sends it) */
const linesOf = (text: string) => {
  const lines = cleanLines([text]);
  return lines && regularPoem(lines);
};

// 2. the policy's preference steps
const start = loadCheckpoint(job.from);
let recipe: FinetuneResult['recipe'] = 'corpus';
let preferenceExamples = 0;
let makeObjective: ((engine: Parameters<Objective['batch']>[0]) => Promise<Objective>) | undefined;
if (job.recipe === 'raft' && policyTaste && job.prompts.length > 0) {
  const writer = await PoemModel.load(job.from);
  const rng = prand.xoroshiro128plus(job.seed);
  const requests = Array.from({ length: job.samples }, () => ({
    ...job.prompts[prand.unsafeUniformIntDistribution(0, job.prompts.length - 1, rng)]!,
    seed: prand.unsafeUniformIntDistribution(0, 2 ** 31 - 1, rng),
    script: 'traditional' as const,
  }));
  const written = writer.generateMany(requests);
  writer.dispose();
  const scored = written.map((p) => ({ poem: { lines: p.lines, form: p.form }, score: policyTaste!.score(p.text, p.form).conservative }));
  scored.sort((a, b) => b.score - a.score);
  const chosen = scored.slice(0, Math.max(1, Math.round(job.keep * scored.length))).map((s) => s.poem);
  preferenceExamples = chosen.length;
  recipe = 'raft';
  log(
    `RAFT: ${written.length} poems written, the best ${chosen.length} by the taste model kept (score ${scored[0]!.score.toFixed(2)} … ${scored[chosen.length - 1]!.score.toFixed(2)})`,
  );
  makeObjective = async () => chosenObjective(chosen, start.vocab, { batchTokens: 3072, seed: job.seed });
} else if (job.recipe === 'kto' && job.taste && enough(job.taste.halfA)) {
  const examples: PreferenceExample[] = job.taste.halfA.flatMap((e) => {
    const poem = linesOf(e.text);
    // a rated poem that falls in the dev split is never trained on; nor one the vocabulary cannot spell
    const usable = poem && !isDev(poem.lines) && poem.lines.every((l) => [...l].every((ch) => start.vocab.has(ch)));
    return usable ? [{ poem, sign: e.label === 1 ? 1 : -1, weight: e.weight } as const] : [];
  });
  if (examples.some((e) => e.sign > 0) && examples.some((e) => e.sign < 0)) {
    preferenceExamples = examples.length;
    recipe = 'kto';
    log(`KTO: ${examples.filter((e) => e.sign > 0).length} liked and ${examples.filter((e) => e.sign < 0).length} disliked poems, β ${job.beta}`);
    makeObjective = async (engine) =>
      ktoObjective(examples, await referenceNll(engine, examples, start.vocab), start.vocab, { beta: job.beta, batchTokens: 3072, seed: job.seed });
  }
}

const data = corpusTrainData();
const trainDir = `${job.out}.training`;
post({ type: 'phase', phase: 'training' });
let lastPost = 0;
// the budget is the whole run's: training gets what the taste models left, less what the gate will take
const evaluationMinutes = job.maxMinutes ? Math.min(1.5, job.maxMinutes * 0.3) : 0;
const trainMinutes = job.maxMinutes ? Math.max(0.1, job.maxMinutes - minutes() - evaluationMinutes) : undefined;
const trainingStarted = performance.now();
let objective: Objective | undefined;
const trained = await train(
  // the final save drops optimizer state (float16 weights, like the shipped base); no periodic saves:
  // a run the bot does not finish is discarded, not resumed
  {
    from: job.from,
    out: trainDir,
    maxSteps: job.maxSteps,
    maxMinutes: trainMinutes,
    lr: job.lr,
    // no regularisation given: train() keeps what the active model was trained with
    workers: job.workers,
    dtype: 'float16',
    evalDev: false,
    saveEveryMinutes: 1e9,
  },
  data,
  {
    signal: controller.signal,
    onLog: log,
    onProgress: (progress) => {
      const now = performance.now();
      if (now - lastPost < 250 && progress.fraction < 1) return;
      lastPost = now;
      post({ type: 'progress', progress });
    },
    preference: makeObjective && {
      share: job.preferenceShare,
      objective: {
        name: recipe,
        batch: async (engine) => {
          objective ??= await makeObjective!(engine);
          return objective.batch(engine);
        },
      },
    },
  },
);
const trainingSeconds = (performance.now() - trainingStarted) / 1000;
if (controller.signal.aborted) {
  rmSync(trainDir, { recursive: true, force: true });
  post({ type: 'stopped' });
} else {
  // 3. the gate's figures, both models in the same run
  post({ type: 'phase', phase: 'evaluating' });
  const evaluationStarted = performance.now();
  const candidate = loadCheckpoint(trainDir);
  const after = await checkpointPerplexity(candidate, data.dev, job.workers);
  const before = await checkpointPerplexity(start, data.dev, job.workers);
  const manifest = copyCheckpoint(candidate, job.out, {
    metrics: { devPerplexity: after.perplexity, devContentPerplexity: after.contentPerplexity, devTokens: after.tokens },
  });
  rmSync(trainDir, { recursive: true, force: true });
  const corpusLines = new Set(loadTangCorpus().train.flatMap((p) => p.lines));
  const rated = new Set(job.ratedTexts);
  const gatePoems = async (dir: string): Promise<GatePoems> => {
    const writer = await PoemModel.load(dir);
    try {
      const poems = writer.generateMany(job.gatePrompts.map((r) => ({ ...r, script: 'traditional' })));
      const scores = judge ? poems.map((p) => judge!.score(p.text, p.form as Form).mean) : [];
      const measures = scorePoems(
        poems.map((p) => p.lines),
        { toneOf: clearTone, rhymes: { classical: (l) => classicalRhymes(l), modern: poemRhymes }, corpusLines },
      );
      return {
        poems: poems.length,
        judgeMean: judge ? scores.reduce((a, b) => a + b, 0) / scores.length : null,
        judgeLiked: judge ? scores.filter((s) => s > 0).length / scores.length : null,
        judgeScores: judge ? scores.map((x) => Math.round(x * 1e4) / 1e4) : null,
        toneRules: measures.tone_rules_kept,
        rhyme: measures.rhyme_classical,
        repeats: measures.repeated_characters,
        copiedLines: measures.copied_lines ?? 0,
        distinct2: measures.distinct_2,
        verbatim: poems.filter((p) => rated.has(poemText(p.lines))).length,
      };
    } finally {
      writer.dispose();
    }
  };
  /** the root's dev perplexity (as its manifest records it, measured the same way; else measured now) and its poems' distinct-2 */
  const rootFigures = async () => {
    const root = job.root === job.from ? start : loadCheckpoint(job.root);
    const perplexity =
      root.manifest.metrics.devPerplexity ?? (job.root === job.from ? before : await checkpointPerplexity(root, data.dev, job.workers)).perplexity;
    return { perplexity, distinct2: job.root === job.from ? gateActive.distinct2 : (await gatePoems(job.root)).distinct2 };
  };
  const gateActive = await gatePoems(job.from);
  const gate = {
    active: gateActive,
    candidate: await gatePoems(job.out),
    judgePoems: job.taste?.halfB.length ?? 0,
    corpusDistinct2: distinct2(data.dev.slice(0, job.gatePrompts.length).map((p) => p.lines)),
    root: await rootFigures(),
  };
  post({
    type: 'done',
    result: {
      candidate: manifest,
      before,
      after,
      steps: trained.training.step - start.manifest.training.step,
      tokens: trained.training.tokensSeen - start.manifest.training.tokensSeen,
      recipe,
      preferenceExamples,
      taste: tasteResult,
      gate,
      seconds: { taste: tasteSeconds, training: trainingSeconds, evaluation: (performance.now() - evaluationStarted) / 1000 },
    },
  });
}
