/**
 * Simulated readers: the real bot (the shipped model, Prisma on SQLite, worker threads, the learning loop)
 * against the local Discord stand-in, for N nights. Each night readers ask for poems and rate them by a hidden
 * taste, with their own offsets (harsh, generous) and a quarter of their ratings at random, 1–2 ratings a poem;
 * some click 🔄 on a poem they dislike. Then an admin's /model retrain with a short budget. Sized like a small
 * server's night: about 120 poems and 150–250 ratings.
 *
 * Measured before night 1 and after each night, on the same fixed requests (prompts and seeds) through the bot:
 * the share of served poems the readers like (by their own hidden taste), the same for the policy alone (one
 * candidate a poem: the fine-tune's effect without best-of-n), mean stars, distinct-2, the rules of verse, the
 * brigade target's frequency; and from each run: dev perplexity, promoted or not, the decisive check, minutes.
 * The readers' taste is a measuring tool, not the product's: the bot never sees it, only their stars.
 *
 *   npx tsx bench/readers.ts [--taste imagery|form|mood] [--nights 5] [--minutes 4] [--recipe raft|kto] [--brigade]
 *                            [--best-of 4] [--readers 20] [--poems 120] [--eval 192] [--seed 1] [--lr X] [--share S]
 *
 * Prints one JSON line per night and a summary line.
 */
import { parseArgs } from 'node:util';
import { PermissionFlagsBits } from 'discord.js';
import prand from 'pure-rand';
import { classicalRhymes } from '../src/model/verse/classical-rhyme.js';
import { cleanLines, regularPoem } from '../src/model/verse/corpus.js';
import { distinct2, scorePoems } from '../src/model/verse/poetics.js';
import { poemRhymes } from '../src/model/verse/modern-rhyme.js';
import { toTraditional } from '../src/model/verse/script.js';
import { clearTone } from '../src/model/verse/tones.js';
import type { InteractionAnswer } from '../test/support/discord/index.js';
import { startBenchBot } from './bench-bot.js';

const { values } = parseArgs({
  options: {
    taste: { type: 'string', default: 'imagery' },
    nights: { type: 'string', default: '5' },
    minutes: { type: 'string', default: '4' },
    recipe: { type: 'string', default: 'raft' },
    brigade: { type: 'boolean', default: false },
    'best-of': { type: 'string', default: '4' },
    readers: { type: 'string', default: '20' },
    poems: { type: 'string', default: '120' },
    eval: { type: 'string', default: '192' },
    seed: { type: 'string', default: '1' },
    lr: { type: 'string' },
    share: { type: 'string' },
  },
});

/** Hidden tastes: does this reader like this poem (traditional lines, and its form)? Each one scenario. */
const TASTES: Record<string, { describe: string; likes: (lines: string[]) => boolean }> = {
  // an imagery: birds (about 15% of the shipped model's poems)
  imagery: { describe: 'likes poems with birds in them: 鳥 雁 鶯 燕 鶴 鴻', likes: (l) => /[鳥雁鶯燕鶴鴻]/.test(l.join('')) },
  // a form: seven-character lines (about 48%)
  form: { describe: 'likes 七言 poems (7-character lines), dislikes 五言', likes: (l) => [...l[0]!].length === 7 },
  // a mood: sorrow (about 18%)
  mood: { describe: 'likes sorrowful poems: 愁 淚 恨 悲 怨 傷', likes: (l) => /[愁淚恨悲怨傷]/.test(l.join('')) },
};
const taste = TASTES[values.taste!];
if (!taste) throw new Error(`--taste must be one of ${Object.keys(TASTES).join(', ')}`);
/** the brigade's character: a few accounts give 5 stars to every poem that has it, many times over */
const TARGET = '酒';
const STARTS = ['日', '月', '山', '水', '風', '花', '雪', '春', '秋', '江', '雲', '夜'];

const rng = prand.xoroshiro128plus(Number(values.seed));
const uniform = () => prand.unsafeUniformIntDistribution(0, 2 ** 30 - 1, rng) / 2 ** 30;
const pick = <T>(xs: readonly T[]) => xs[Math.floor(uniform() * xs.length)]!;

const { discord, bot } = await startBenchBot({
  FINETUNE_MAX_MINUTES: values.minutes,
  FINETUNE_RECIPE: values.recipe,
  BEST_OF_N: values['best-of'],
  FINETUNE_LR: values.lr,
  PREFERENCE_SHARE: values.share,
});
const admin = { id: '300000000000000001', username: 'admin' };
const readers = Array.from({ length: Number(values.readers) }, (_, k) => ({
  user: { id: String(400000000000000000n + BigInt(k)), username: `reader${k}` },
  offset: [-1, 0, 0, 1][k % 4]!,
}));
const brigade = Array.from({ length: 3 }, (_, k) => ({ id: String(600000000000000000n + BigInt(k)), username: `brigade${k}` }));

type Shown = { lines: string[]; answer: InteractionAnswer };
const linesOf = (answer: InteractionAnswer) => answer.embeds[0]!.description!.split('\n').map((l) => toTraditional(l));
const buttons = (answer: InteractionAnswer) =>
  (answer.components as unknown as { components: { custom_id: string }[] }[]).flatMap((r) => r.components.map((b) => b.custom_id));

async function ask(user: { id: string; username: string }, options: { name: string; type: number; value: string | number }[]): Promise<Shown> {
  const answer = await (await discord.slashCommand({ name: 'poem', options, user })).response();
  return { lines: linesOf(answer), answer };
}

const promptFor = () => (uniform() < 0.6 ? [] : [{ name: 'start', type: 3, value: pick(STARTS) }]);

/** a reader's stars: the taste, their offset, and a quarter at random */
function stars(reader: (typeof readers)[number], lines: string[]): number {
  if (uniform() < 0.25) return 1 + Math.floor(uniform() * 5);
  const base = taste!.likes(lines) ? 4 + Math.round(uniform()) : 1 + Math.round(uniform());
  return Math.min(5, Math.max(1, base + reader.offset));
}

async function rate(shown: Shown, user: { id: string; username: string }, n: number) {
  const ids = buttons(shown.answer);
  await (await discord.clickButton({ message: shown.answer.messageId, customId: ids[n - 1]!, user })).response();
}

/** one night of readers: poems asked, rated (1–2 a poem), some replaced with 🔄; the brigade too */
async function night(): Promise<{ poems: number; ratings: number; replaced: number; meanStars: number; likedServed: number }> {
  let ratings = 0,
    starSum = 0,
    replaced = 0,
    liked = 0;
  const poems = Number(values.poems);
  for (let k = 0; k < poems; k++) {
    const asker = pick(readers);
    let shown = await ask(asker.user, promptFor());
    if (!taste!.likes(shown.lines) && uniform() < 0.2) {
      // 🔄: the asker wants another one for the same request
      const again = buttons(shown.answer).find((id) => id.startsWith('again:'))!;
      const answer = await (await discord.clickButton({ message: shown.answer.messageId, customId: again, user: asker.user })).response();
      shown = { lines: linesOf(answer), answer };
      replaced++;
    }
    liked += taste!.likes(shown.lines) ? 1 : 0;
    const raters = [asker, ...(uniform() < 0.5 ? [pick(readers.filter((r) => r !== asker))] : [])];
    for (const r of raters) {
      if (uniform() < 0.15) continue; // not everyone rates
      const s = stars(r, shown.lines);
      await rate(shown, r.user, s);
      ratings++;
      starSum += s;
    }
  }
  if (values.brigade) {
    for (const member of brigade) {
      for (let k = 0; k < 40; k++) {
        const shown = await ask(member, [{ name: 'start', type: 3, value: TARGET }]);
        await rate(shown, member, 5);
      }
    }
  }
  return { poems, ratings, replaced, meanStars: +(starSum / Math.max(1, ratings)).toFixed(2), likedServed: +(liked / poems).toFixed(3) };
}

/** the fixed requests every evaluation writes (prompts and seeds), through the bot, nobody rating them */
async function evaluate(): Promise<Record<string, number>> {
  const evalUser = { id: '700000000000000001', username: 'evaluator' };
  const write = async () => {
    const poems: string[][] = [];
    for (let k = 0; k < Number(values.eval); k++) {
      const options = [...(k % 3 === 0 ? [{ name: 'start', type: 3, value: STARTS[k % STARTS.length]! }] : [])];
      // a fixed seed per request: the same poems for the same model and taste model
      poems.push((await ask(evalUser, [...options, { name: 'seed', type: 4, value: 1 + k }])).lines);
    }
    return poems;
  };
  const served = await write();
  // the policy alone: the same requests with one candidate each
  const choice = bot.ctx.model.tasteChoice;
  await bot.ctx.model.useTaste(null);
  const alone = await write();
  if (choice) await bot.ctx.model.useTaste(choice);
  const share = (poems: string[][], f: (l: string[]) => boolean) => +(poems.filter(f).length / poems.length).toFixed(3);
  const regular = served.filter((l) => regularPoem(cleanLines([l.join('，')]) ?? []) !== undefined);
  const verse = scorePoems(served, { toneOf: clearTone, rhymes: { classical: (l) => classicalRhymes(l), modern: poemRhymes } });
  return {
    liked: share(served, taste!.likes),
    likedPolicyAlone: share(alone, taste!.likes),
    target: share(served, (l) => l.join('').includes(TARGET)),
    targetPolicyAlone: share(alone, (l) => l.join('').includes(TARGET)),
    distinct2: +distinct2(served).toFixed(3),
    exactForm: +(regular.length / served.length).toFixed(3),
    toneRules: +verse.tone_rules_kept.toFixed(3),
    rhyme: +verse.rhyme_classical.toFixed(3),
    repeats: +verse.repeated_characters.toFixed(4),
  };
}

async function retrain(): Promise<Record<string, unknown>> {
  const started = Date.now();
  const i = await discord.slashCommand({
    name: 'model',
    options: [{ name: 'retrain', type: 1, options: [] } as never],
    user: admin,
    permissions: PermissionFlagsBits.ManageGuild,
  });
  await i.response();
  const report = await new Promise<import('../src/jobs/runner.js').RunReport>((resolve) => bot.ctx.finetunes.once('finished', resolve));
  const taste = report.taste;
  return {
    status: report.status,
    decidedBy: report.verdict?.decidedBy ?? report.error,
    pplBefore: report.pplBefore && +report.pplBefore.toFixed(2),
    pplAfter: report.pplAfter && +report.pplAfter.toFixed(2),
    judge: report.verdict ? [report.verdict.active.judgeMean, report.verdict.candidate.judgeMean].map((x) => (x === null ? null : +x.toFixed(3))) : null,
    recipe: report.recipe,
    preferenceExamples: report.preferenceExamples,
    tasteAuc: taste?.heldOutAuc && +taste.heldOutAuc.toFixed(3),
    tastePromoted: taste?.promoted ?? false,
    noTaste: report.noTaste,
    minutes: +((Date.now() - started) / 60000).toFixed(2),
  };
}

const nights = Number(values.nights);
const header = {
  taste: values.taste,
  describe: taste.describe,
  recipe: values.recipe,
  bestOf: Number(values['best-of']),
  brigade: values.brigade,
  minutes: Number(values.minutes),
};
console.log(JSON.stringify({ ...header, model: bot.ctx.model.version }));
const before = await evaluate();
console.log(JSON.stringify({ night: 0, eval: before }));
const rows = [{ night: 0, eval: before }];
for (let n = 1; n <= nights; n++) {
  const readersNight = await night();
  const run = await retrain();
  const after = await evaluate();
  const row = { night: n, readers: readersNight, run, eval: after, version: bot.ctx.model.version };
  rows.push(row);
  console.log(JSON.stringify(row));
}
const last = rows.at(-1)!.eval;
console.log(
  JSON.stringify({
    summary: header,
    liked: rows.map((r) => r.eval.liked),
    likedPolicyAlone: rows.map((r) => r.eval.likedPolicyAlone),
    target: rows.map((r) => r.eval.target),
    ratio: +(last.liked! / Math.max(1e-9, before.liked!)).toFixed(2),
    points: +(100 * (last.liked! - before.liked!)).toFixed(1),
  }),
);
await bot.stop();
await discord.close();
