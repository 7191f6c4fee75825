/**
 * The taste model: what the bot's readers like, learnt from their ratings, as a score for any poem's text.
 *
 * Features are what a reader sees: the form, and which characters the poem holds (traditional script; each
 * character once). The model is a small ensemble of logistic regressions, each fitted on a bootstrap resample
 * of the rated poems with L2 shrinkage: the ensemble's mean is the score, and its spread says how unsure the
 * model is (a character seen in two rated poems gets weights that disagree). Serving ranks candidates by the
 * conservative score, mean − κ·spread, so a poem is preferred for what the readers clearly liked, not for a
 * character the model has barely seen. Scoring is a few dozen additions: far under a millisecond a poem.
 *
 * Preference pairs (a poem its asker replaced with 🔄 against the one they kept) enter as a Bradley–Terry term
 * on the difference of the two scores. Weights are per character, not per vocabulary id, so a taste model
 * survives a new poem model. Stored as JSON whose sha256 the caller records and checks on load.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import prand from 'pure-rand';
import { z } from 'zod';
import { FORMS, type Form } from '../../shared/verse.js';

/** one rated poem as the taste model learns it: `label` 1 liked, 0 disliked; `weight` how much it counts */
export type TasteExample = { text: string; form: Form; label: 0 | 1; weight: number };
/** the asker kept `kept` after replacing `replaced` (🔄): a preference with `weight` */
export type TastePair = { kept: { text: string; form: Form }; replaced: { text: string; form: Form }; weight: number };

export const TasteFile = z.object({
  format: z.literal('tangshi-taste-1'),
  version: z.string(),
  createdAt: z.string(),
  /** the ensemble: per member, a bias, a weight per form and per character */
  members: z.array(z.object({ bias: z.number(), forms: z.record(z.number()), chars: z.record(z.number()) })).min(1),
  /** how the conservative score discounts disagreement */
  kappa: z.number().min(0),
  /** what it was trained on, and how well it did on ratings it did not see */
  trainedOn: z.object({ poems: z.number().int(), pairs: z.number().int(), readers: z.number().int() }),
  heldOut: z.object({ poems: z.number().int(), auc: z.number().nullable() }).nullable(),
});
export type TasteFile = z.infer<typeof TasteFile>;

export type TasteScore = { mean: number; spread: number; conservative: number };

const HAN = /\p{Script=Han}/u;

/** each Han character of the text once */
function characters(text: string): string[] {
  return [...new Set([...text].filter((ch) => HAN.test(ch)))];
}

export class TasteModel {
  private constructor(readonly file: TasteFile) {}

  get version(): string {
    return this.file.version;
  }

  /** the score of one poem: each member's logit, their mean and spread, and mean − κ·spread */
  score(text: string, form: Form): TasteScore {
    const chars = characters(text);
    const logits = this.file.members.map((m) => chars.reduce((s, ch) => s + (m.chars[ch] ?? 0), m.bias + (m.forms[form] ?? 0)));
    const mean = logits.reduce((a, b) => a + b, 0) / logits.length;
    const spread = Math.sqrt(logits.reduce((a, b) => a + (b - mean) ** 2, 0) / logits.length);
    return { mean, spread, conservative: mean - this.file.kappa * spread };
  }

  /** Fits an ensemble. Deterministic for its `seed`. */
  static train(
    examples: TasteExample[],
    pairs: TastePair[] = [],
    options: { members?: number; l2?: number; epochs?: number; kappa?: number; seed?: number; readers?: number; version?: string } = {},
  ): TasteModel {
    const members = options.members ?? 5;
    const rng = prand.xoroshiro128plus(options.seed ?? 1);
    const draw = (n: number) => prand.unsafeUniformIntDistribution(0, n - 1, rng);
    const data = examples.map((e) => ({ ...e, chars: characters(e.text) }));
    const pairData = pairs.map((p) => ({ ...p, keptChars: characters(p.kept.text), replacedChars: characters(p.replaced.text) }));
    const fitted = Array.from({ length: members }, (_, k) => {
      // member 0 sees every example once; the others a bootstrap resample (counts drawn with replacement)
      const counts = data.map(() => 0);
      if (k === 0) counts.fill(1);
      else for (let i = 0; i < data.length; i++) counts[draw(data.length)]!++;
      const pairCounts = pairData.map(() => 0);
      if (k === 0) pairCounts.fill(1);
      else for (let i = 0; i < pairData.length; i++) pairCounts[draw(pairData.length)]!++;
      return fitLogistic(
        data.map((d, i) => ({ ...d, weight: d.weight * counts[i]! })),
        pairData.map((p, i) => ({ ...p, weight: p.weight * pairCounts[i]! })),
        options.l2 ?? 10,
        options.epochs ?? 200,
      );
    });
    return new TasteModel({
      format: 'tangshi-taste-1',
      version:
        options.version ??
        `taste-${new Date()
          .toISOString()
          .replace(/[-:.TZ]/g, '')
          .slice(0, 14)}`,
      createdAt: new Date().toISOString(),
      members: fitted,
      kappa: options.kappa ?? 1,
      trainedOn: { poems: examples.length, pairs: pairs.length, readers: options.readers ?? 0 },
      heldOut: null,
    });
  }

  /** the same model with its held-out figures recorded */
  withHeldOut(heldOut: TasteFile['heldOut']): TasteModel {
    return new TasteModel({ ...this.file, heldOut });
  }

  /** AUC of liked against disliked: the chance a liked poem outscores a disliked one (ties count half), by the mean score */
  auc(examples: TasteExample[]): number | null {
    return rocAuc(examples.map((e) => ({ score: this.score(e.text, e.form).mean, label: e.label })));
  }

  toJSON(): string {
    return `${JSON.stringify(this.file)}\n`;
  }

  static sha256(json: string): string {
    return createHash('sha256').update(json).digest('hex');
  }

  /** Loads a taste model, refusing a file whose sha256 is not `sha256` or whose content is not a taste model. */
  static load(path: string, sha256: string): TasteModel {
    const json = readFileSync(path, 'utf8');
    if (TasteModel.sha256(json) !== sha256) throw new Error(`taste model ${path} is damaged (sha256 does not match)`);
    const parsed = TasteFile.safeParse(JSON.parse(json));
    if (!parsed.success) throw new Error(`taste model ${path} is not a taste model: ${parsed.error.issues[0]?.message}`);
    return new TasteModel(parsed.data);
  }

  static fromJSON(json: string): TasteModel {
    return new TasteModel(TasteFile.parse(JSON.parse(json)));
  }
}

type Fit = TasteFile['members'][number];

/**
 * Weighted logistic regression (labels) plus a Bradley–Terry term (pairs) with L2 on every weight but the
 * bias, by full-batch Adam: a few hundred poems and a few thousand features, milliseconds.
 */
function fitLogistic(
  data: { chars: string[]; form: Form; label: 0 | 1; weight: number }[],
  pairs: { keptChars: string[]; replacedChars: string[]; kept: { form: Form }; replaced: { form: Form }; weight: number }[],
  l2: number,
  epochs: number,
): Fit {
  const index = new Map<string, number>();
  const id = (key: string) => {
    if (!index.has(key)) index.set(key, index.size);
    return index.get(key)!;
  };
  for (const f of FORMS) id(`form:${f}`);
  const rows = data.map((d) => ({ ids: [id(`form:${d.form}`), ...d.chars.map((ch) => id(ch))], y: d.label, w: d.weight }));
  const pairRows = pairs.map((p) => ({
    kept: [id(`form:${p.kept.form}`), ...p.keptChars.map((ch) => id(ch))],
    replaced: [id(`form:${p.replaced.form}`), ...p.replacedChars.map((ch) => id(ch))],
    w: p.weight,
  }));
  const n = index.size;
  const w = new Float64Array(n);
  let bias = 0;
  const total = rows.reduce((s, r) => s + r.w, 0) + pairRows.reduce((s, r) => s + r.w, 0);
  if (total === 0) return { bias: 0, forms: {}, chars: {} };
  const [m, v] = [new Float64Array(n + 1), new Float64Array(n + 1)];
  const grad = new Float64Array(n + 1); // [weights…, bias]
  const lr = 0.05;
  const dot = (ids: number[]) => ids.reduce((s, i) => s + w[i]!, 0);
  for (let t = 1; t <= epochs; t++) {
    grad.fill(0);
    for (const r of rows) {
      if (r.w === 0) continue;
      const g = (r.w * (sigmoid(bias + dot(r.ids)) - r.y)) / total;
      for (const i of r.ids) grad[i]! += g;
      grad[n]! += g;
    }
    for (const p of pairRows) {
      if (p.w === 0) continue;
      // −log σ(s_kept − s_replaced): the bias cancels
      const g = (p.w * (sigmoid(dot(p.kept) - dot(p.replaced)) - 1)) / total;
      for (const i of p.kept) grad[i]! += g;
      for (const i of p.replaced) grad[i]! -= g;
    }
    for (let i = 0; i < n; i++) grad[i]! += (l2 * w[i]!) / total;
    for (let i = 0; i <= n; i++) {
      m[i] = 0.9 * m[i]! + 0.1 * grad[i]!;
      v[i] = 0.999 * v[i]! + 0.001 * grad[i]! ** 2;
      const step = (lr * (m[i]! / (1 - 0.9 ** t))) / (Math.sqrt(v[i]! / (1 - 0.999 ** t)) + 1e-8);
      if (i === n) bias -= step;
      else w[i]! -= step;
    }
  }
  const forms: Record<string, number> = {};
  const chars: Record<string, number> = {};
  for (const [key, i] of index) {
    const value = Math.round(w[i]! * 1e4) / 1e4;
    if (value === 0) continue;
    if (key.startsWith('form:')) forms[key.slice(5)] = value;
    else chars[key] = value;
  }
  return { bias: Math.round(bias * 1e4) / 1e4, forms, chars };
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** AUC by ranks (Mann–Whitney U), ties counted half; null without both classes */
export function rocAuc(scored: { score: number; label: 0 | 1 }[]): number | null {
  const positives = scored.filter((s) => s.label === 1).length;
  const negatives = scored.length - positives;
  if (positives === 0 || negatives === 0) return null;
  const sorted = [...scored].sort((a, b) => a.score - b.score);
  let rankSum = 0;
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j < sorted.length && sorted[j]!.score === sorted[i]!.score) j++;
    const rank = (i + 1 + j) / 2; // the mean rank of a run of ties
    for (let k = i; k < j; k++) if (sorted[k]!.label === 1) rankSum += rank;
    i = j;
  }
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}
