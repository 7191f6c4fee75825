/** `tangshi poem | train | eval | bench | couplet …`: the bot's offline twin. */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { z } from 'zod';
import { readFileSync, rmSync } from 'node:fs';
import { BASE_CHECKPOINT, copyCheckpoint, loadCheckpoint } from './model/checkpoint.js';
import { loadPoemFile, loadTangCorpus, PoemFileError, type Poem } from './model/corpus.js';
import { corpusTrainData } from './model/data.js';
import { PoemInputError, PoemModel } from './model/generate.js';
import { count, num, parse, UsageError } from './cli-args.js';
import { checkpointPerplexity, PERPLEXITY_DEFINITION, train, TrainOptions, type Progress } from './model/train.js';

function progressBar() {
  const bar = new cliProgress.SingleBar(
    {
      format: '{bar} {percentage}% | step {step} | epoch {epoch} | loss {loss} | {tps} tok/s | ETA {eta_formatted}',
      noTTYOutput: true,
      notTTYSchedule: 10000,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(p: Progress) {
      const payload = { step: p.step, epoch: p.epoch.toFixed(2), loss: p.loss.toFixed(3), tps: Math.round(p.tokensPerSecond) };
      if (!started) {
        bar.start(1000, 0, payload);
        started = true;
      }
      bar.update(Math.round(p.fraction * 1000), payload);
    },
    stop: () => started && bar.stop(),
  };
}

/** TrainOptions' fields whose command-line flag has another name */
const TRAIN_FLAGS: Record<string, string> = {
  maxSteps: 'max-steps',
  maxMinutes: 'max-minutes',
  embedDim: 'embed',
  hiddenDim: 'hidden',
  batchTokens: 'batch-tokens',
  saveEveryMinutes: 'save-every',
};

async function trainCommand(args: string[]) {
  const { values } = parseArgs({
    args,
    options: {
      from: { type: 'string' },
      out: { type: 'string' },
      epochs: { type: 'string' },
      'max-steps': { type: 'string' },
      'max-minutes': { type: 'string' },
      optimizer: { type: 'string' },
      lr: { type: 'string' },
      embed: { type: 'string' },
      hidden: { type: 'string' },
      layers: { type: 'string' },
      'batch-tokens': { type: 'string' },
      workers: { type: 'string' },
      seed: { type: 'string' },
      'save-every': { type: 'string' },
      dtype: { type: 'string' },
      'no-eval': { type: 'boolean' },
      dropout: { type: 'string' },
      stanzas: { type: 'boolean' },
    },
  });
  const out = values.out ?? join(process.env.MODEL_DIR ?? 'data/models', 'trained');
  const bar = progressBar();
  const controller = new AbortController();
  process.once('SIGINT', () => {
    console.error('\nstopping: saving a checkpoint…');
    controller.abort();
  });
  const options: TrainOptions = {
    out,
    from: values.from,
    epochs: num(values.epochs, 'epochs'),
    maxSteps: num(values['max-steps'], 'max-steps'),
    maxMinutes: num(values['max-minutes'], 'max-minutes'),
    optimizer: values.optimizer as never,
    lr: num(values.lr, 'lr'),
    embedDim: num(values.embed, 'embed'),
    hiddenDim: num(values.hidden, 'hidden'),
    layers: num(values.layers, 'layers'),
    batchTokens: num(values['batch-tokens'], 'batch-tokens'),
    workers: count(values.workers, 'workers'),
    seed: num(values.seed, 'seed'),
    saveEveryMinutes: num(values['save-every'], 'save-every'),
    dtype: values.dtype as never,
    evalDev: !values['no-eval'],
    dropout: num(values.dropout, 'dropout'),
  };
  // checked here too, so that a bad value is named by its flag before the corpus is read
  const checked = TrainOptions.safeParse(options);
  if (!checked.success) {
    const issue = checked.error.issues[0]!;
    const key = String(issue.path[0]);
    const flag = TRAIN_FLAGS[key] ?? key;
    const got = issue.code === 'invalid_enum_value' ? '' : ` (got "${values[flag as keyof typeof values]}")`; // zod's enum message names it
    throw new UsageError(`--${flag}: ${issue.message}${got}`);
  }
  const manifest = await train(options, corpusTrainData([], { stanzas: values.stanzas }), {
    onProgress: bar.update,
    onLog: (m) => {
      bar.stop();
      console.error(m);
    },
    signal: controller.signal,
  });
  bar.stop();
  console.log(`saved ${out} (${manifest.version}), dev perplexity ${manifest.metrics.devPerplexity?.toFixed(2) ?? 'not measured'}`);
}

const FormArg = z.enum(['wujue', 'qijue', 'wulv', 'qilv'], { message: 'must be wujue, qijue, wulv or qilv' });
const ScriptArg = z.enum(['simplified', 'traditional'], { message: 'must be simplified or traditional' });
const PrecisionArg = z.enum(['int8', 'float32'], { message: 'must be int8 or float32' });

async function poemCommand(args: string[]) {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      acrostic: { type: 'string' },
      form: { type: 'string' },
      temperature: { type: 'string' },
      'top-k': { type: 'string' },
      'top-p': { type: 'string' },
      seed: { type: 'string' },
      script: { type: 'string' },
      checkpoint: { type: 'string' },
      precision: { type: 'string' },
      json: { type: 'boolean' },
      'no-tones': { type: 'boolean' },
      rhyme: { type: 'string' },
    },
  });
  if (positionals.length > 1) throw new UsageError(`give one start text (got ${positionals.length} words: ${positionals.join(' ')})`);
  const precision = parse(PrecisionArg, values.precision, 'precision');
  const model = await PoemModel.load(values.checkpoint ?? BASE_CHECKPOINT, { precision });
  try {
    const poem = model.generate({
      start: positionals[0],
      acrostic: values.acrostic,
      form: parse(FormArg, values.form, 'form'),
      temperature: num(values.temperature, 'temperature'),
      topK: num(values['top-k'], 'top-k'),
      topP: num(values['top-p'], 'top-p'),
      seed: num(values.seed, 'seed'),
      script: parse(ScriptArg, values.script, 'script'),
      tones: !values['no-tones'],
      rhyme: parse(z.enum(['classical', 'modern'], { message: 'must be classical or modern' }), values.rhyme, 'rhyme'),
    });
    console.log(values.json ? JSON.stringify(poem) : poem.lines.join('\n'));
  } catch (e) {
    if (e instanceof PoemInputError) throw new UsageError(e.message);
    throw e;
  } finally {
    model.dispose();
  }
}

async function evalCommand(args: string[]) {
  const { values } = parseArgs({
    args,
    options: { checkpoint: { type: 'string' }, file: { type: 'string' }, json: { type: 'boolean' }, workers: { type: 'string' } },
  });
  const ck = loadCheckpoint(values.checkpoint ?? BASE_CHECKPOINT);
  let poems: Poem[];
  let skipped = 0;
  if (values.file) ({ poems, skipped } = loadPoemFile(values.file));
  else poems = loadTangCorpus().dev;
  if (poems.length === 0) throw new UsageError(`${values.file} holds no poem in one of the four regular forms`);
  const r = await checkpointPerplexity(ck, poems, count(values.workers, 'workers'));
  const result = {
    checkpoint: ck.manifest.version,
    data: values.file ?? 'dev split',
    perplexity: r.perplexity,
    content_perplexity: r.contentPerplexity,
    tokens: r.tokens,
    poems: r.poems,
    skipped_poems: skipped,
  };
  if (values.json) console.log(JSON.stringify(result));
  else {
    console.log(PERPLEXITY_DEFINITION);
    console.log(`${result.data}: ${r.poems} poems, ${r.tokens} tokens${skipped ? ` (${skipped} poems not in a regular form skipped)` : ''}`);
    console.log(`perplexity ${r.perplexity.toFixed(2)}, content perplexity ${r.contentPerplexity.toFixed(2)} (checkpoint ${ck.manifest.version})`);
  }
}

/** Copies a checkpoint for shipping: float16 weights, no optimizer state, dev perplexity re-measured on them. */
async function exportCommand(args: string[]) {
  const { values } = parseArgs({
    args,
    options: { checkpoint: { type: 'string' }, out: { type: 'string' }, dtype: { type: 'string' }, workers: { type: 'string' } },
  });
  if (!values.checkpoint || !values.out) throw new UsageError('usage: tangshi export --checkpoint DIR --out DIR [--dtype float16|float32]');
  const dtype = parse(z.enum(['float16', 'float32'], { message: 'must be float16 or float32' }), values.dtype, 'dtype') ?? 'float16';
  const ck = loadCheckpoint(values.checkpoint);
  const tmp = `${values.out}.export-tmp`;
  copyCheckpoint(ck, tmp, { dtype });
  const stored = loadCheckpoint(tmp); // measure what was actually written
  try {
    const r = await checkpointPerplexity(stored, loadTangCorpus().dev, count(values.workers, 'workers'));
    const manifest = copyCheckpoint(stored, values.out, {
      metrics: { devPerplexity: r.perplexity, devContentPerplexity: r.contentPerplexity, devTokens: r.tokens },
    });
    console.log(
      `exported ${values.checkpoint} → ${values.out} (${dtype}); dev perplexity ${manifest.metrics.devPerplexity!.toFixed(2)}, content ${manifest.metrics.devContentPerplexity!.toFixed(2)}`,
    );
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * Scores any poems file by the measures of verse (poetics.ts): the chinese-poetry JSON format, or the JSON lines
 * `tangshi poem --json` prints (either script).
 */
async function poeticsCommand(args: string[]) {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { json: { type: 'boolean' } } });
  const file = positionals[0];
  if (!file || positionals.length > 1)
    throw new UsageError('usage: tangshi poetics FILE [--json]  (a chinese-poetry JSON file, or the JSON lines of tangshi poem --json)');
  const { scorePoems } = await import('./model/poetics.js');
  const { clearTone } = await import('./model/tones.js');
  const { poemRhymes } = await import('./model/rhyme.js');
  const { classicalRhymes } = await import('./model/classical-rhyme.js');
  const { toTraditional } = await import('./model/script.js');
  let poems: string[][];
  try {
    poems = loadPoemFile(file).poems.map((p) => p.lines);
  } catch (e) {
    if ((e as Error).name !== 'PoemFileError') throw e;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new PoemFileError(`cannot read ${file}: ${(err as Error).message}`);
    }
    const rows = text
      .split('\n')
      .filter((l) => l.trim())
      .map((l, i) => {
        try {
          const lines = (JSON.parse(l) as { lines?: unknown }).lines;
          if (Array.isArray(lines) && lines.every((x) => typeof x === 'string')) return lines as string[];
        } catch {}
        throw new PoemFileError(`${file}: line ${i + 1} is neither the chinese-poetry format nor a JSON object with "lines" (tangshi poem --json)`);
      });
    poems = rows.map((lines) => lines.map((l) => toTraditional(l)));
  }
  if (poems.length === 0) throw new UsageError(`${file} holds no poem in one of the four regular forms`);
  const corpusLines = new Set(loadTangCorpus().train.flatMap((p) => p.lines));
  const score = scorePoems(poems, { toneOf: clearTone, rhymes: { classical: (l) => classicalRhymes(l), modern: poemRhymes }, corpusLines });
  if (values.json) console.log(JSON.stringify(score));
  else {
    const pct = (x: number | null) => (x === null ? 'n/a' : `${(100 * x).toFixed(1)}%`);
    console.log(`${file}: ${score.poems} poems`);
    console.log(`tone rules of regulated verse kept: ${pct(score.tone_rules_kept)} of poems whole, ${pct(score.tone_positions_kept)} of the positions checked`);
    console.log(
      `rhyme: even lines in one classical group ${pct(score.rhyme_classical)} (in one 十三辙 group ${pct(score.rhyme_modern)}), all on level tones ${pct(score.rhyme_level_tone)}`,
    );
    console.log(
      `repeated characters (reduplication aside) ${pct(score.repeated_characters)}; lines copied from the training corpus ${pct(score.copied_lines)}; distinct-2 ${score.distinct_2.toFixed(3)}`,
    );
  }
}

const commands: Record<string, (args: string[]) => Promise<void>> = {
  export: exportCommand,
  poetics: poeticsCommand,
  poem: poemCommand,
  train: trainCommand,
  eval: evalCommand,
  bench: async (args) => (await import('./bench.js')).benchCommand(args),
  couplet: async (args) => (await import('./couplet/cli.js')).coupletCommand(args),
  'couplet-train': async (args) => (await import('./couplet/cli.js')).coupletTrainCommand(args),
  'couplet-eval': async (args) => (await import('./couplet/cli.js')).coupletEvalCommand(args),
};

const [name, ...rest] = process.argv.slice(2);
try {
  const command = name && commands[name];
  if (!command) throw new UsageError(`usage: tangshi <${Object.keys(commands).join('|')}> [options]`);
  await command(rest);
  process.exit(0);
} catch (e) {
  const known =
    e instanceof UsageError ||
    (e as Error).name === 'CheckpointError' ||
    (e as Error).name === 'PoemFileError' ||
    /^ERR_PARSE_ARGS_/.test((e as { code?: string }).code ?? '');
  console.error(`tangshi: ${known ? (e as Error).message : (e as Error).stack}`);
  process.exit(known ? 2 : 1);
}
