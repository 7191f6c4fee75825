/**
 * The promotion rule, on its own: a fine-tune's candidate replaces the model it was trained from only if
 * that model still answers (an admin did not roll back or swap meanwhile) and the candidate's dev
 * perplexity is not worse than the base's by more than `maxPplRise` (PROMOTE_MAX_PPL_RISE). Both
 * perplexities come from the same run, on the same dev poems.
 */
export type PromotionCase = {
  /** the base's and the candidate's dev perplexity */
  before: number;
  after: number;
  maxPplRise: number;
  /** the version the run started from, and the one answering now */
  baseVersion: string;
  activeVersion: string;
};

/** the case, the answer, and the answer in words (English, as the run's row records it) */
export type PromotionVerdict = PromotionCase & { promote: boolean; decision: string };

export function decidePromotion(c: PromotionCase): PromotionVerdict {
  const change = c.after - c.before;
  const figures = `dev perplexity ${c.before.toFixed(2)} → ${c.after.toFixed(2)} (${change >= 0 ? '+' : ''}${change.toFixed(2)})`;
  if (c.activeVersion !== c.baseVersion) {
    return {
      ...c,
      promote: false,
      decision: `Not promoted: the active model changed during the run (to ${c.activeVersion}). ${figures} against ${c.baseVersion}.`,
    };
  }
  if (c.after <= c.before + c.maxPplRise) return { ...c, promote: true, decision: `Promoted: ${figures}, within the allowed rise of ${c.maxPplRise}.` };
  return { ...c, promote: false, decision: `Kept ${c.baseVersion}: the candidate's ${figures} is worse by more than the allowed ${c.maxPplRise}.` };
}
