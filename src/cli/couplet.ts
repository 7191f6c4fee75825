/**
 * `tangshi couplet TEXT` (answer an upper line), `tangshi couplet-train` and `tangshi couplet-eval`
 * (BLEU-4 and the rules of a couplet on the test split, beside the two baselines).
 */
import { count, type Flags, num, parse, UsageError } from '../shared/cli-args.js';
import { orList, SCRIPTS } from '../shared/verse.js';
import { initBackend } from '../model/runtime/backend.js';
import { BASE_CHECKPOINT } from '../model/poem/checkpoint.js';
import { PoemModel } from '../model/poem/decode/generate.js';
import { PoemInputError } from '../model/poem/decode/poem-request.js';
import { toTraditional } from '../model/verse/script.js';
import { z } from 'zod';
import { COUPLET_CHECKPOINT, CoupletModel } from '../model/couplet/decode.js';
import { loadCouplets, loadSongCouplets } from '../model/couplet/pairs.js';
import { retrievalBaseline, scoreCouplets, type CoupletScore } from '../model/couplet/score.js';
import { trainCouplets } from '../model/couplet/train.js';

const ScriptArg = z.enum(SCRIPTS, { message: `must be ${orList(SCRIPTS)}` });

export async function coupletCommand(values: Flags, positionals: string[]): Promise<void> {
  if (positionals.length !== 1) throw new UsageError('give one upper line of 5 or 7 characters, e.g. tangshi couplet 白日依山盡');
  const model = await CoupletModel.load(values.checkpoint ?? COUPLET_CHECKPOINT);
  try {
    const answer = model.answer({
      upper: positionals[0]!,
      temperature: num(values.temperature, 'temperature'),
      seed: num(values.seed, 'seed'),
      script: parse(ScriptArg, values.script, 'script'),
      rules: values['no-rules'] === undefined,
      beam: count(values.beam, 'beam'),
    });
    console.log(values.json ? JSON.stringify(answer) : `${answer.upper}\n${answer.lower}`);
  } catch (e) {
    if (e instanceof PoemInputError) throw new UsageError(e.message);
    throw e;
  }
}

export async function coupletTrainCommand(values: Flags): Promise<void> {
  const teacherForcing = num(values['teacher-forcing'], 'teacher-forcing') ?? 1;
  if (teacherForcing < 0 || teacherForcing > 1) throw new UsageError(`--teacher-forcing: must be between 0 and 1 (got ${teacherForcing})`);
  const dropout = num(values.dropout, 'dropout') ?? 0;
  if (dropout < 0 || dropout >= 1) throw new UsageError(`--dropout: must be at least 0 and below 1 (got ${dropout})`);
  console.error(`backend ${await initBackend()}`);
  const controller = new AbortController();
  process.once('SIGINT', () => {
    console.error('\nstopping: saving the best checkpoint so far…');
    controller.abort();
  });
  const result = await trainCouplets({
    out: values.out ?? 'data/models/couplet',
    embedDim: count(values.embed, 'embed') ?? 128,
    hiddenDim: count(values.hidden, 'hidden') ?? 256,
    attention: values['no-attention'] === undefined,
    teacherForcing,
    dropout,
    signal: controller.signal,
    lr: num(values.lr, 'lr') ?? 0.002,
    cosine: values.cosine !== undefined,
    song: values.song !== undefined,
    from: values.from,
    batchSize: count(values.batch, 'batch') ?? 256,
    maxMinutes: num(values['max-minutes'], 'max-minutes') ?? 10,
    maxSteps: count(values['max-steps'], 'max-steps'),
    evalEvery: count(values['eval-every'], 'eval-every') ?? 50,
    seed: num(values.seed, 'seed') ?? 1,
    log: (line) => console.error(line),
  });
  console.log(`saved ${values.out ?? 'data/models/couplet'} (${result.manifest!.version}), dev loss ${result.devLoss.toFixed(3)}`);
}

/** The model's lower line as scored: greedy (top-1 at each position) or, given a width, by beam search. */
const scoredLine = (model: CoupletModel, upper: string, how: { beam?: number; rules?: boolean } = {}) =>
  model.answer(how.beam ? { upper, beam: how.beam } : { upper, topK: 1, seed: 1, rules: how.rules ?? true }).lower;

/** Scores of the model and both baselines on the test split (the lower lines greedy: top-1 at each position). */
export async function evaluateCouplets(
  dir: string,
  options: { limit?: number; baselines?: boolean; beam?: number; song?: boolean } = {},
): Promise<Record<string, CoupletScore>> {
  const { train, test: all } = loadCouplets();
  const test = all.slice(0, options.limit ?? all.length);
  const model = await CoupletModel.load(dir);
  const known = test.filter((p) => {
    try {
      model.parseUpper(p.upper);
      return true;
    } catch {
      return false;
    }
  });
  const scores: Record<string, CoupletScore> = {
    model: scoreCouplets(
      known,
      known.map((p) => scoredLine(model, p.upper)),
    ),
    model_without_rules: scoreCouplets(
      known,
      known.map((p) => scoredLine(model, p.upper, { rules: false })),
    ),
  };
  if (options.beam)
    scores[`model_beam_${options.beam}`] = scoreCouplets(
      known,
      known.map((p) => scoredLine(model, p.upper, { beam: options.beam })),
    );
  if (options.baselines !== false) {
    const retrieve = retrievalBaseline(train);
    scores.retrieval = scoreCouplets(
      known,
      known.map((p) => retrieve(p.upper)),
    );
    if (options.song) {
      // the baseline with the pairs a model trained --song has seen
      const retrieveMore = retrievalBaseline([...train, ...loadSongCouplets()]);
      scores.retrieval_with_song = scoreCouplets(
        known,
        known.map((p) => retrieveMore(p.upper)),
      );
    }
    const poet = await PoemModel.load(BASE_CHECKPOINT);
    scores.poem_model = scoreCouplets(
      known,
      known.map((p) => {
        try {
          return poet.generate({ start: toTraditional(p.upper), form: [...p.upper].length === 5 ? 'wulv' : 'qilv', topK: 1, seed: 1 }).lines[1]!;
        } catch {
          return ''; // a character the poem model does not know: no answer
        }
      }),
    );
    poet.dispose();
  }
  return scores;
}

/** The first `rows` test pairs as a Markdown table: the poet's lower line beside the model's and retrieval's. */
export async function coupletTable(dir: string, rows: number, beam?: number): Promise<string> {
  const { train, test } = loadCouplets();
  const model = await CoupletModel.load(dir);
  const retrieve = retrievalBaseline(train);
  const lines = test.slice(0, rows).map((p) => {
    return `| ${p.upper} | ${p.lower} | ${scoredLine(model, p.upper, { beam })} | ${retrieve(p.upper)} |`;
  });
  return [
    `| upper line | the poet's lower line | the model's (${beam ? `beam ${beam}` : 'greedy'}) | retrieval's |`,
    '| --- | --- | --- | --- |',
    ...lines,
  ].join('\n');
}

export async function coupletEvalCommand(values: Flags): Promise<void> {
  const table = count(values.table, 'table');
  if (table) {
    console.log(await coupletTable(values.checkpoint ?? COUPLET_CHECKPOINT, table, count(values.beam, 'beam')));
    return;
  }
  const scores = await evaluateCouplets(values.checkpoint ?? COUPLET_CHECKPOINT, {
    limit: count(values.limit, 'limit'),
    baselines: values['no-baselines'] === undefined,
    beam: count(values.beam, 'beam'),
    song: values.song !== undefined,
  });
  if (values.json) console.log(JSON.stringify(scores));
  else
    for (const [name, s] of Object.entries(scores))
      console.log(
        `${name}: BLEU-4 ${(100 * s.bleu4).toFixed(2)} on ${s.pairs} test pairs; tones opposed at the key positions ${(100 * s.tone_opposition).toFixed(1)}%, on the last ${(100 * s.last_tone_opposed).toFixed(1)}%; no reused character ${(100 * s.no_reuse).toFixed(1)}%`,
      );
}
