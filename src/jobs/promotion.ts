/**
 * The gate, on its own: a night's candidate replaces the model it was trained from only if, measured in the
 * same run on the same poems,
 *
 * - **taste**: its own poems (fixed prompts and seeds, one candidate each) score higher than the active
 *   model's under the judge, a taste model fitted on half of the rated poems that the policy never learnt from:
 *   the poems of the same request compared pairwise, their mean difference at least `TASTE_T` standard errors
 *   above 0 (a judge fitted on a few dozen poems is noisy: a difference within its noise promotes nothing);
 * - **quality**: its dev perplexity is at most the active's × (1 + `pplBudget`) (PROMOTE_PPL_BUDGET): a step
 *   towards readers moves a model off its best fit to the corpus, so a small rise is the price of learning,
 *   and the budget bounds it — and at most the root's (the model the lineage started from, BASE_MODEL_DIR)
 *   × (1 + `totalBudget`) (PROMOTE_PPL_TOTAL_BUDGET), so nights of small rises cannot add up without end;
 * - **verse**: the tone rules and the rhyme hold as well as the active's (to a point), repeated characters
 *   ≤ 3%, lines copied from the corpus ≤ 1%, distinct-2 at least 95% of the root's (or of the Tang poets' own
 *   on as many poems, when that is lower: an untrained model's random characters are no diversity to keep) —
 *   the root's, not the active's, so diversity cannot ratchet down 5% a night — and no poem is a rated poem
 *   word for word;
 * - and the model it was trained from still answers (an admin did not roll back or swap meanwhile).
 *
 * Without a judge (a night with too few ratings) there is no taste to gain: the candidate must then not be
 * worse on dev at all. The verdict lists every check with its figures and names the one that decided.
 */
import type { GatePoems } from './run-worker.js';

export type GateCase = {
  /** the active model's and the candidate's dev perplexity */
  before: number;
  after: number;
  /** the share dev perplexity may rise by */
  pplBudget: number;
  active: GatePoems;
  candidate: GatePoems;
  /** distinct-2 of as many dev poems as the gate writes */
  corpusDistinct2: number;
  /** the share dev perplexity may have risen by since the root, all nights together */
  totalBudget: number;
  /** the root of the lineage (BASE_MODEL_DIR): its dev perplexity and its gate poems' distinct-2 */
  root: { perplexity: number; distinct2: number };
  /** the version the run started from, and the one answering now */
  baseVersion: string;
  activeVersion: string;
};

export type GateCheck = {
  name: 'unchanged' | 'taste' | 'perplexity' | 'tones' | 'rhyme' | 'repeats' | 'copies' | 'diversity' | 'verbatim';
  pass: boolean;
  detail: string;
};

/** the case, every check, the answer, and the answer in words (English, as the run's row records it) */
export type GateVerdict = GateCase & { checks: GateCheck[]; promote: boolean; decidedBy: GateCheck['name'] | 'all'; decision: string };

export const VERSE_LIMITS = { repeats: 0.03, copies: 0.01, diversity: 0.95, rulesSlack: 0.01 };
/** how many standard errors the judge's paired difference must be above 0 (one-sided, about 90%) */
export const TASTE_T = 1.28;

/** the paired differences' mean and its t statistic (mean / standard error) */
export function pairedT(before: number[], after: number[]): { mean: number; t: number } {
  const d = after.map((x, k) => x - before[k]!);
  const mean = d.reduce((a, b) => a + b, 0) / d.length;
  const sd = Math.sqrt(d.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, d.length - 1));
  return { mean, t: sd > 0 ? mean / (sd / Math.sqrt(d.length)) : mean > 0 ? Number.POSITIVE_INFINITY : 0 };
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

export function decideGate(c: GateCase): GateVerdict {
  const { active: a, candidate: k } = c;
  const judged = a.judgeMean !== null && k.judgeMean !== null;
  const paired = judged && a.judgeScores && k.judgeScores ? pairedT(a.judgeScores, k.judgeScores) : null;
  const maxPpl = judged ? Math.min(c.before * (1 + c.pplBudget), c.root.perplexity * (1 + c.totalBudget)) : c.before;
  const minDistinct2 = VERSE_LIMITS.diversity * Math.min(c.root.distinct2, c.corpusDistinct2);
  const checks: GateCheck[] = [
    {
      name: 'unchanged',
      pass: c.activeVersion === c.baseVersion,
      detail:
        c.activeVersion === c.baseVersion ? `trained from ${c.baseVersion}, still active` : `the active model changed during the run (to ${c.activeVersion})`,
    },
    judged
      ? {
          name: 'taste',
          pass: paired ? paired.t >= TASTE_T : k.judgeMean! > a.judgeMean!,
          detail: `judge's score ${a.judgeMean!.toFixed(3)} → ${k.judgeMean!.toFixed(3)}${paired ? ` (paired t ${paired.t.toFixed(2)}, at least ${TASTE_T})` : ''}, liked ${pct(a.judgeLiked!)} → ${pct(k.judgeLiked!)}, ${k.poems} poems each`,
        }
      : { name: 'taste', pass: true, detail: 'no judge tonight (too few ratings): the candidate may not be worse on dev at all' },
    {
      name: 'perplexity',
      pass: c.after <= maxPpl,
      detail: `dev perplexity ${c.before.toFixed(2)} → ${c.after.toFixed(2)} (at most ${maxPpl.toFixed(2)}${judged ? `: +${pct(c.pplBudget)} a night, +${pct(c.totalBudget)} over the root's ${c.root.perplexity.toFixed(2)}` : ''})`,
    },
    { name: 'tones', pass: k.toneRules >= a.toneRules - VERSE_LIMITS.rulesSlack, detail: `tone rules kept ${pct(a.toneRules)} → ${pct(k.toneRules)}` },
    { name: 'rhyme', pass: k.rhyme >= a.rhyme - VERSE_LIMITS.rulesSlack, detail: `rhyme ${pct(a.rhyme)} → ${pct(k.rhyme)}` },
    { name: 'repeats', pass: k.repeats <= VERSE_LIMITS.repeats, detail: `repeated characters ${pct(k.repeats)} (at most ${pct(VERSE_LIMITS.repeats)})` },
    {
      name: 'copies',
      pass: k.copiedLines <= VERSE_LIMITS.copies,
      detail: `lines copied from the corpus ${pct(k.copiedLines)} (at most ${pct(VERSE_LIMITS.copies)})`,
    },
    {
      name: 'diversity',
      pass: k.distinct2 >= minDistinct2,
      detail: `distinct-2 ${a.distinct2.toFixed(3)} → ${k.distinct2.toFixed(3)} (at least ${minDistinct2.toFixed(3)}: the root's ${c.root.distinct2.toFixed(3)}, the poets' ${c.corpusDistinct2.toFixed(3)})`,
    },
    { name: 'verbatim', pass: k.verbatim === 0, detail: `${k.verbatim} poems word for word a rated poem` },
  ];
  const failed = checks.find((check) => !check.pass);
  const figures = checks.map((check) => check.detail).join('; ');
  return {
    ...c,
    checks,
    promote: !failed,
    decidedBy: failed?.name ?? 'all',
    decision: failed ? `Kept ${c.baseVersion}: ${failed.detail}. (${figures}.)` : `Promoted: every check passed (${figures}).`,
  };
}
