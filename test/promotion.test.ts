import { describe, expect, it } from 'vitest';
import { decideGate, type GateCase } from '../src/jobs/promotion.js';
import type { GatePoems } from '../src/jobs/run-worker.js';

const poems = (over: Partial<GatePoems> = {}): GatePoems => ({
  poems: 96,
  judgeMean: 0,
  judgeLiked: 0.4,
  toneRules: 1,
  rhyme: 1,
  repeats: 0.012,
  copiedLines: 0,
  distinct2: 0.7,
  verbatim: 0,
  judgeScores: null,
  ...over,
});
const base: GateCase = {
  before: 70,
  after: 70.5,
  pplBudget: 0.015,
  active: poems(),
  candidate: poems({ judgeMean: 0.3, judgeLiked: 0.6 }),
  corpusDistinct2: 0.72,
  totalBudget: 0.045,
  root: { perplexity: 69, distinct2: 0.7 },
  baseVersion: 'v-base',
  activeVersion: 'v-base',
};

describe('the gate', () => {
  it('promotes a candidate that the judge prefers, within the perplexity budget, every rule of verse held', () => {
    const v = decideGate(base);
    expect(v.promote).toBe(true);
    expect(v.decidedBy).toBe('all');
    expect(v.checks.map((c) => c.name)).toEqual(['unchanged', 'taste', 'perplexity', 'tones', 'rhyme', 'repeats', 'copies', 'diversity', 'verbatim']);
    expect(v.checks.every((c) => c.pass)).toBe(true);
    expect(v.decision).toMatch(/dev perplexity 70\.00 → 70\.50 \(at most 71\.05: \+1\.5% a night, \+4\.5% over the root.s 69\.00\)/);
  });

  it('refuses a candidate that gains taste but breaks the perplexity budget, and says that decided it', () => {
    const v = decideGate({ ...base, after: 71.06 });
    expect(v.promote).toBe(false);
    expect(v.decidedBy).toBe('perplexity');
    expect(v.checks.find((c) => c.name === 'taste')!.pass).toBe(true);
    expect(v.decision).toMatch(/^Kept v-base: dev perplexity 70\.00 → 71\.06 \(at most 71\.05/);
  });

  it("compares each request's two poems under the judge: a difference within the judge's noise promotes nothing", () => {
    const active = Array.from({ length: 96 }, (_, k) => Math.sin(k)); // spread like a judge's scores
    const clear = decideGate({
      ...base,
      active: poems({ judgeScores: active }),
      candidate: poems({ judgeMean: 0.3, judgeScores: active.map((x, k) => x + 0.3 + 0.2 * Math.cos(k)) }),
    });
    expect(clear.checks.find((c) => c.name === 'taste')!.pass).toBe(true);
    const noise = decideGate({
      ...base,
      active: poems({ judgeScores: active }),
      candidate: poems({ judgeMean: 0.01, judgeScores: active.map((x, k) => x + 0.01 + Math.cos(3 * k)) }),
    });
    expect([noise.promote, noise.decidedBy]).toEqual([false, 'taste']);
    expect(noise.decision).toMatch(/paired t -?[\d.]+, at least 1\.28/);
  });

  it('refuses a candidate the judge does not prefer, however good its perplexity', () => {
    const v = decideGate({ ...base, after: 60, candidate: poems({ judgeMean: -0.1 }) });
    expect([v.promote, v.decidedBy]).toEqual([false, 'taste']);
  });

  it.each([
    ['tones', { toneRules: 0.98 }],
    ['rhyme', { rhyme: 0.95 }],
    ['repeats', { repeats: 0.031 }],
    ['copies', { copiedLines: 0.011 }],
    ['diversity', { distinct2: 0.66 }],
    ['verbatim', { verbatim: 1 }],
  ] as const)('refuses a candidate that breaks a rule of verse: %s', (name, broken) => {
    const v = decideGate({ ...base, candidate: poems({ judgeMean: 0.3, ...broken }) });
    expect([v.promote, v.decidedBy]).toEqual([false, name]);
  });

  it("holds diversity to the root's, or to the poets' own when the root's is higher (an untrained model's random characters)", () => {
    const untrained = { ...base, root: { perplexity: 69, distinct2: 0.995 } };
    expect(decideGate({ ...untrained, candidate: poems({ judgeMean: 0.3, distinct2: 0.69 }) }).promote).toBe(true); // ≥ 0.95 × 0.72
    expect(decideGate({ ...untrained, candidate: poems({ judgeMean: 0.3, distinct2: 0.68 }) }).decidedBy).toBe('diversity');
  });

  it('bounds the drift of many nights: diversity and perplexity against the root, not only the active model', () => {
    // an active model that has drifted already: its own figures would let the next one drift further
    const drifted = { ...base, before: 71.5, after: 72.4, active: poems({ distinct2: 0.6 }) };
    const v = decideGate({ ...drifted, candidate: poems({ judgeMean: 0.3, distinct2: 0.58 }) });
    expect(v.checks.find((c) => c.name === 'perplexity')!.pass).toBe(false); // 72.4 > 69 × 1.045 = 72.1
    expect(v.checks.find((c) => c.name === 'diversity')!.pass).toBe(false); // 0.58 < 0.95 × 0.70
    expect(v.decision).toMatch(/over the root's 69\.00/);
  });

  it('without a judge (too few ratings), a candidate may not be worse on dev at all', () => {
    const unjudged = { ...base, active: poems({ judgeMean: null, judgeLiked: null }), candidate: poems({ judgeMean: null, judgeLiked: null }) };
    expect(decideGate({ ...unjudged, after: 70.01 }).decidedBy).toBe('perplexity');
    expect(decideGate({ ...unjudged, after: 69.9 }).promote).toBe(true);
  });

  it('promotes nothing when another version was swapped in during the run', () => {
    const v = decideGate({ ...base, activeVersion: 'v-rolled-back' });
    expect([v.promote, v.decidedBy]).toEqual([false, 'unchanged']);
    expect(v.decision).toMatch(/the active model changed during the run \(to v-rolled-back\)/);
  });
});
