import { describe, expect, it } from 'vitest';
import { decidePromotion } from '../src/jobs/promotion.js';

const base = { maxPplRise: 0.5, baseVersion: 'v-base', activeVersion: 'v-base' };

describe('the promotion rule', () => {
  it('promotes a candidate that is better, or worse by no more than the allowed rise', () => {
    expect(decidePromotion({ ...base, before: 90, after: 85 })).toMatchObject({
      promote: true,
      decision: 'Promoted: dev perplexity 90.00 → 85.00 (-5.00), within the allowed rise of 0.5.',
    });
    expect(decidePromotion({ ...base, before: 90, after: 90.5 }).promote).toBe(true);
  });

  it('keeps the base when the candidate is worse by more than the allowed rise', () => {
    const verdict = decidePromotion({ ...base, before: 90, after: 90.51 });
    expect(verdict.promote).toBe(false);
    expect(verdict.decision).toBe("Kept v-base: the candidate's dev perplexity 90.00 → 90.51 (+0.51) is worse by more than the allowed 0.5.");
  });

  it('promotes nothing when another version was swapped in during the run, however good the candidate', () => {
    const verdict = decidePromotion({ ...base, activeVersion: 'v-rolled-back', before: 90, after: 60 });
    expect(verdict.promote).toBe(false);
    expect(verdict.decision).toMatch(
      /^Not promoted: the active model changed during the run \(to v-rolled-back\)\. dev perplexity 90\.00 → 60\.00 \(-30\.00\) against v-base\.$/,
    );
  });
});
