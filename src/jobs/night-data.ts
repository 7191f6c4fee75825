/**
 * What a night learns from, read from the database on the bot's side and handed to the run's worker: the
 * readers' fair scores split for the taste models (taste-signal.ts), the prompts readers asked with lately
 * (RAFT writes its samples for them), the gate's fixed requests, and the rated poems' texts.
 */
import type { PoemRequest } from '../model/poem/decode/poem-request.js';
import { cleanLines, poemText, regularPoem, type Poem } from '../model/verse/corpus.js';
import { toTraditional, type Script } from '../model/verse/script.js';
import { type Database, poemRatings, poemTexts, recentPrompts, replacements } from '../db/db.js';
import { FORMS, type Form } from '../shared/verse.js';
import type { TasteData } from './run-worker.js';
import { exampleWeight, fairScores, halves, splitByTime, tasteExamples, tastePairs, type FairScores, type RatedText } from './taste-signal.js';

export type NightData = {
  taste: TasteData | null;
  /** why there is no taste to learn tonight, or null */
  noTaste: string | null;
  ratings: number;
  ratedPoems: number;
  readers: number;
  ratedTexts: string[];
  prompts: PoemRequest[];
  gatePrompts: PoemRequest[];
  scores: FairScores;
};

/** fewer rated poems than this, and the night learns no taste (the corpus fine-tune and the gate still run) */
export const MIN_RATED_POEMS = 30;
/** a reader's recent prompts the night writes samples for, at most */
const PROMPTS_PER_READER = 5;
/** the gate's requests: free poems of every form and the readers' recent prompts, fixed seeds */
const GATE_POEMS = 96;

/**
 * A stored poem's text (with punctuation) → the corpus's form (traditional lines), if regular. Only simplified
 * text is converted: opencc also rewrites some traditional variants, which would change a traditional poem.
 */
export function poemFromText(text: string, script: Script): Poem | undefined {
  const lines = cleanLines([script === 'simplified' ? toTraditional(text) : text]);
  return lines && regularPoem(lines);
}

/** a stored poem's request again, from its prompt and options (what 🔄 asks and RAFT writes for) */
export function requestOf(p: { promptKind: string; promptText: string; options: string }): PoemRequest {
  let options: Record<string, unknown> = {};
  try {
    options = JSON.parse(p.options) as Record<string, unknown>;
  } catch {}
  const form = FORMS.find((f) => f === options.form);
  return {
    ...(p.promptKind === 'start' ? { start: p.promptText } : p.promptKind === 'acrostic' ? { acrostic: p.promptText } : {}),
    ...(form ? { form } : {}),
    ...(typeof options.temperature === 'number' ? { temperature: options.temperature } : {}),
    ...(typeof options.tones === 'boolean' ? { tones: options.tones } : {}),
    ...(options.rhyme === 'classical' || options.rhyme === 'modern' ? { rhyme: options.rhyme } : {}),
  };
}

export async function nightData(db: Database, o: { maxReaderShare: number; heldOut?: number }): Promise<NightData> {
  const ratings = await poemRatings(db);
  const swaps = await replacements(db);
  const ids = [...new Set([...ratings.map((r) => r.poemId), ...swaps.flatMap((s) => [s.keptId, s.replacedId])])];
  const texts = new Map<number, RatedText>();
  for (const p of await poemTexts(db, ids)) {
    const poem = poemFromText(p.text, p.script === 'simplified' ? 'simplified' : 'traditional');
    if (poem) texts.set(p.id, { id: p.id, text: poemText(poem.lines), form: poem.form as Form });
  }
  const scores = fairScores(ratings, swaps, { maxReaderShare: o.maxReaderShare });
  const readers = new Set(ratings.map((r) => r.userId)).size;
  const rated = [...scores.poems.keys()].filter((id) => texts.has(id));
  // the readers' recent prompts, a few per reader: a brigade's hundred requests are a few prompts among many
  const perReader = new Map<string, number>();
  const recent = (await recentPrompts(db, 1000))
    .filter((p) => {
      const n = perReader.get(p.userId) ?? 0;
      perReader.set(p.userId, n + 1);
      return n < PROMPTS_PER_READER;
    })
    .slice(0, 256)
    .map(requestOf);
  const gatePrompts = Array.from({ length: GATE_POEMS }, (_, k) => ({
    ...(k % 2 === 1 && recent.length > 0 ? recent[Math.floor(k / 2) % recent.length]! : { form: FORMS[k % FORMS.length]! }),
    seed: 1000 + k,
  }));
  const base = {
    ratings: ratings.length,
    ratedPoems: rated.length,
    readers,
    ratedTexts: rated.map((id) => texts.get(id)!.text),
    prompts: recent,
    gatePrompts,
    scores,
  };
  if (rated.length < MIN_RATED_POEMS) {
    return { ...base, taste: null, noTaste: `${rated.length} rated poems (a taste model needs ${MIN_RATED_POEMS})` };
  }
  // the last quarter of the night's evidence, not of its poems (a brigade's poems weigh next to nothing)
  const byTime = splitByTime(
    ratings.filter((r) => texts.has(r.poemId)),
    o.heldOut ?? 0.25,
    (id) => {
      const p = scores.poems.get(id);
      return p ? exampleWeight(p) : 0;
    },
  );
  const { a, b } = halves(rated);
  const inA = new Set(a);
  const examples = (part: number[]) => tasteExamples(scores, texts, part);
  return {
    ...base,
    noTaste: null,
    taste: {
      train: examples(byTime.train),
      test: examples(byTime.test),
      halfA: examples(a),
      halfB: examples(b),
      pairsA: tastePairs(
        swaps.filter((s) => inA.has(s.keptId)),
        scores,
        texts,
      ),
      pairsB: tastePairs(
        swaps.filter((s) => !inA.has(s.keptId)),
        scores,
        texts,
      ),
      readers,
    },
  };
}
