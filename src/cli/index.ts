/** `tangshi poem | train | eval | bench | couplet …`: the bot's offline twin. */
import { join } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import cliProgress from 'cli-progress';
import { z } from 'zod';
import { readFileSync, rmSync } from 'node:fs';
import { BASE_CHECKPOINT, copyCheckpoint, loadCheckpoint } from '../model/poem/checkpoint.js';
import { FORMS, loadPoemFile, loadTangCorpus, PoemFileError, type Poem } from '../model/verse/corpus.js';
import { corpusTrainData } from '../model/poem/train/train-data.js';
import { PoemInputError, PoemModel } from '../model/poem/decode/generate.js';
import { count, type Flags, formatEta, num, parse, UsageError } from '../shared/cli-args.js';
import { DEFAULT_DATABASE_URL } from '../db/connection.js';
import { COUPLET_SAMPLING, DEFAULT_SCRIPT, orList, POEM_SAMPLING, PRECISIONS, RHYME_SYSTEMS, SCRIPTS } from '../shared/verse.js';
import { checkpointPerplexity, PERPLEXITY_DEFINITION } from '../model/poem/train/perplexity.js';
import { train, TrainOptions, type Progress } from '../model/poem/train/train.js';

function progressBar() {
  const bar = new cliProgress.SingleBar(
    {
      format: '{bar} {percentage}% | step {step} | epoch {epoch} | loss {loss} | {tps} tok/s | ETA {eta_formatted}',
      noTTYOutput: true,
      notTTYSchedule: 10000,
      etaBuffer: 50,
      formatTime: formatEta,
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
    // (a stopped bar stays silent: the next update starts it again below a log line)
    stop: () => {
      if (started) bar.stop();
      started = false;
    },
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
  lockedDropout: 'locked-dropout',
  weightDrop: 'weight-drop',
  embeddingDrop: 'embedding-drop',
  averageFrom: 'average-from',
};

async function trainCommand(values: Flags) {
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
    evalDev: values['no-eval'] === undefined,
    dropout: num(values.dropout, 'dropout'),
    lockedDropout: values['locked-dropout'] ? true : values['no-locked-dropout'] ? false : undefined,
    weightDrop: num(values['weight-drop'], 'weight-drop'),
    embeddingDrop: num(values['embedding-drop'], 'embedding-drop'),
    tied: values.tied === undefined ? undefined : true,
    averageFrom: num(values['average-from'], 'average-from'),
    snapshot: values.snapshot,
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
  const manifest = await train(options, corpusTrainData([], { stanzas: values.stanzas !== undefined, song: values.song !== undefined }), {
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

const FormArg = z.enum(FORMS, { message: `must be ${orList(FORMS)}` });
const ScriptArg = z.enum(SCRIPTS, { message: `must be ${orList(SCRIPTS)}` });
const PrecisionArg = z.enum(PRECISIONS, { message: `must be ${orList(PRECISIONS)}` });

async function poemCommand(values: Flags, positionals: string[] = []) {
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
      tones: !values['no-tones'] !== undefined,
      rhyme: parse(z.enum(RHYME_SYSTEMS, { message: `must be ${orList(RHYME_SYSTEMS)}` }), values.rhyme, 'rhyme'),
    });
    console.log(values.json ? JSON.stringify(poem) : poem.lines.join('\n'));
  } catch (e) {
    if (e instanceof PoemInputError) throw new UsageError(e.message);
    throw e;
  } finally {
    model.dispose();
  }
}

async function evalCommand(values: Flags) {
  const ck = loadCheckpoint(values.checkpoint ?? BASE_CHECKPOINT);
  let poems: Poem[];
  let skipped = 0;
  if (values.file) ({ poems, skipped } = loadPoemFile(values.file));
  else poems = loadTangCorpus().dev;
  if (poems.length === 0) throw new UsageError(`${values.file} holds no poem in one of the four regular forms`);
  const r = await checkpointPerplexity(ck, poems, count(values.workers, 'workers'));
  const result = {
    version: ck.manifest.version,
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
async function exportCommand(values: Flags) {
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
async function poeticsCommand(values: Flags, positionals: string[] = []) {
  const file = positionals[0];
  if (!file || positionals.length > 1)
    throw new UsageError('usage: tangshi poetics FILE [--json]  (a chinese-poetry JSON file, or the JSON lines of tangshi poem --json)');
  const { scorePoems } = await import('../model/verse/poetics.js');
  const { clearTone } = await import('../model/verse/tones.js');
  const { poemRhymes } = await import('../model/verse/modern-rhyme.js');
  const { classicalRhymes } = await import('../model/verse/classical-rhyme.js');
  const { toTraditional } = await import('../model/verse/script.js');
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
    poems = text
      .split('\n')
      .filter((l) => l.trim())
      .map((l, i) => {
        try {
          const { lines, script } = JSON.parse(l) as { lines?: unknown; script?: unknown };
          // the tone table is in traditional characters; a poem already in them is not converted again
          // (simplified → traditional is not idempotent: 干 would become 幹, a level rhyme an oblique one)
          if (Array.isArray(lines) && lines.every((x) => typeof x === 'string')) return script === 'traditional' ? lines : lines.map((x) => toTraditional(x));
        } catch {}
        throw new PoemFileError(`${file}: line ${i + 1} is neither the chinese-poetry format nor a JSON object with "lines" (tangshi poem --json)`);
      });
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

/**
 * The commands and their options, with help (`tangshi --help`, `tangshi poem --help`) from commander. Values
 * are checked by the commands themselves (cli-args.ts), so a bad one is named by its flag; any usage error
 * exits with code 2.
 */
const program = new Command('tangshi')
  .description("tangshi-bot's command line: write poems and couplets, train, evaluate and benchmark the models")
  .helpOption('-h, --help', 'show help for a command')
  .showHelpAfterError('(tangshi COMMAND --help lists its options)')
  .exitOverride()
  .configureOutput({ outputError: (text, write) => write(`tangshi: ${text.replace(/^error: /, '')}`) });

const FORMS_TEXT = 'wujue 五绝, qijue 七绝, wulv 五律, qilv 七律';
const checkpointOption = () => new Option('--checkpoint <dir>', 'the model to use').default('models/base', 'the shipped model');

program
  .command('poem')
  .description('write one poem')
  .argument('[start]', 'the poem begins with this (1–7 Chinese characters, simplified or traditional)')
  .option('--acrostic <text>', '藏头诗: one character per line (4 or 8 characters)')
  .addOption(new Option('--form <form>', `the form: ${FORMS_TEXT} (default: drawn as often as the corpus has each)`).choices(FORMS))
  .addOption(new Option('--temperature <t>', 'sampling temperature, 0.05–3').default(String(POEM_SAMPLING.temperature)))
  .addOption(new Option('--top-k <k>', 'sample among the k best characters').default(String(POEM_SAMPLING.topK)))
  .addOption(new Option('--top-p <p>', 'and within probability mass p (nucleus)').default(String(POEM_SAMPLING.topP)))
  .option('--seed <n>', 'the same seed writes the same poem (default: random)')
  .addOption(new Option('--script <script>', 'script of the poem').choices(SCRIPTS).default(DEFAULT_SCRIPT))
  .addOption(checkpointOption())
  .addOption(new Option('--precision <p>', 'how the products run').choices(PRECISIONS).default(PRECISIONS[0]))
  .option('--no-tones', 'do not keep the tone rules of regulated verse (平仄)')
  .addOption(new Option('--rhyme <system>', "the poets' rhyme groups, or 十三辙 on modern readings").choices(RHYME_SYSTEMS).default(RHYME_SYSTEMS[0]))
  .option('--json', 'print the poem as one JSON object')
  .action((start: string | undefined, _opts, cmd: Command) => poemCommand(flags(cmd), start === undefined ? [] : [start]));

program
  .command('train')
  .description('train the poem model from scratch, or resume --from a checkpoint (Ctrl-C saves and stops)')
  .option('--from <dir>', 'resume this checkpoint: weights, optimizer state and data position')
  .addOption(new Option('--out <dir>', 'where the checkpoint goes').default('$MODEL_DIR/trained'))
  .option('--epochs <n>', 'passes over the training split (default: until another limit)')
  .option('--max-steps <n>', 'stop after this many steps')
  .option('--max-minutes <m>', 'stop after this many minutes')
  .addOption(new Option('--optimizer <name>', 'the optimizer').choices(['adam', 'sgd-momentum', 'adagrad']).default('adam'))
  .option('--lr <x>', 'learning rate (default: 0.002 for adam, 0.2 for sgd-momentum, 0.1 for adagrad)')
  .addOption(new Option('--layers <n>', 'LSTM layers').choices(['1', '2', '3']).default('1'))
  .addOption(new Option('--hidden <h>', 'LSTM width').default('256'))
  .addOption(new Option('--embed <e>', 'embedding width').default('128'))
  .addOption(new Option('--batch-tokens <n>', 'tokens per step').default('3072'))
  .option('--workers <n>', 'data-parallel gradient workers (default: 2, or 1 where threads are unsafe)')
  .addOption(new Option('--seed <n>', 'initialisation and data order').default('1'))
  .addOption(new Option('--save-every <minutes>', 'checkpoint this often').default('10'))
  .addOption(new Option('--dtype <dtype>', 'weights as stored').choices(['float32', 'float16']).default('float32'))
  // regularisation: not given, it is what the --from checkpoint was trained with, else none
  .option('--dropout <p>', "dropout on the embedding and each LSTM output (default: the --from checkpoint's, else 0)")
  .option('--locked-dropout', 'one dropout mask per poem for all its steps (variational) instead of one per step')
  .option('--no-locked-dropout', 'one dropout mask per step (default: as the --from checkpoint, else this)')
  .option('--weight-drop <p>', "share of each recurrent matrix's weights dropped per batch, AWD-LSTM (default: the --from checkpoint's, else 0)")
  .option('--embedding-drop <p>', "share of characters dropped from the embedding per batch, AWD-LSTM (default: the --from checkpoint's, else 0)")
  .option('--tied', 'a new model whose output layer is its embedding through a projection (tied embeddings)')
  .option('--stanzas', 'also train on the regular stanzas of longer poems')
  .option('--song', "also train on the Song poets' regular poems (全宋诗; the dev split stays the Tang one)")
  .option('--average-from <f>', 'weight averaging (SWA): the mean of the weights from this fraction of the budget on, measured at each save')
  .option('--snapshot <dir>', 'keep a float16 copy of the best weights on dev here, replaced when a save beats it')
  .option('--no-eval', 'skip the dev perplexity at the end')
  .action((_opts, cmd: Command) => trainCommand(flags(cmd)));

program
  .command('eval')
  .description('perplexity on the dev split, or on any file in the chinese-poetry format')
  .addOption(checkpointOption())
  .option('--file <poems.json>', 'score this file instead of the dev split')
  .option('--workers <n>', 'threads for the forward passes')
  .option('--json', 'print one JSON object')
  .action((_opts, cmd: Command) => evalCommand(flags(cmd)));

program
  .command('export')
  .description('copy a checkpoint for shipping: float16 weights, no optimizer state, dev perplexity re-measured')
  .requiredOption('--checkpoint <dir>', 'the checkpoint to export')
  .requiredOption('--out <dir>', 'where the copy goes')
  .addOption(new Option('--dtype <dtype>', 'weights as stored').choices(['float16', 'float32']).default('float16'))
  .option('--workers <n>', 'threads for the dev perplexity')
  .action((_opts, cmd: Command) => exportCommand(flags(cmd)));

program
  .command('poetics')
  .description('score a poems file by the measures of verse (chinese-poetry JSON, or the lines of tangshi poem --json)')
  .argument('<file>', 'the poems')
  .option('--json', 'print one JSON object')
  .action((file: string, _opts, cmd: Command) => poeticsCommand(flags(cmd), [file]));

program
  .command('bench')
  .description('the figures of docs/benchmarks.md, beside PyTorch (also npm run bench)')
  .option('--json', 'print one JSON object')
  .addOption(checkpointOption())
  .addOption(new Option('--steps <n>', 'training steps per throughput run').default('10'))
  .addOption(new Option('--poems <n>', 'poems timed per precision').default('100'))
  .addOption(new Option('--ppl-poems <n>', 'dev poems for the perplexity as served').default('300'))
  .addOption(new Option('--repeats <n>', 'throughput runs per size, ours and PyTorch alternately').default('3'))
  .option('--training-only', 'only the training throughput')
  .option('--generation-only', 'only writing poems and couplets')
  .option('--skip-torch', 'do not run PyTorch')
  .option('--ablations', 'also one worker, hand BPTT vs autograd')
  .action(async (_opts, cmd: Command) => (await import('./bench.js')).benchCommand(flags(cmd)));

program
  .command('couplet')
  .description('对对子: the lower line for an upper line')
  .argument('<upper>', 'the upper line (上联), 5 or 7 Chinese characters')
  .addOption(new Option('--checkpoint <dir>', 'the couplet model').default('models/couplet', 'the shipped couplet model'))
  .addOption(new Option('--temperature <t>', 'sampling temperature, 0.05–3').default(String(COUPLET_SAMPLING.temperature)))
  .option('--seed <n>', 'the same seed writes the same line (default: random)')
  .addOption(new Option('--script <script>', 'script of the answer').choices(SCRIPTS).default(DEFAULT_SCRIPT))
  .option('--no-rules', 'the model alone: no tone opposition, no ban on reused characters')
  .option('--beam <k>', 'the most likely line a beam search of width k finds, instead of sampling')
  .option('--json', 'print one JSON object')
  .action(async (upper: string, _opts, cmd: Command) => (await import('./couplet.js')).coupletCommand(flags(cmd), [upper]));

program
  .command('couplet-train')
  .description('train the couplet model; the best dev checkpoint is saved in float16 (Ctrl-C stops early)')
  .addOption(new Option('--out <dir>', 'where the checkpoint goes').default('data/models/couplet'))
  .addOption(new Option('--embed <e>', 'embedding width').default('128'))
  .addOption(new Option('--hidden <h>', 'LSTM width, encoder and decoder').default('256'))
  .option('--no-attention', "without attention: the decoder sees only the encoder's final state")
  .addOption(new Option('--teacher-forcing <r>', 'chance a decoder step is fed the true previous character').default('1'))
  .addOption(new Option('--dropout <p>', 'dropout on the embeddings and the output layer input').default('0'))
  .addOption(new Option('--lr <x>', "Adam's learning rate").default('0.002'))
  .option('--cosine', 'decay the rate on a cosine to 10% over the budget (--max-steps, else --max-minutes)')
  .option('--song', "add the Song poets' middle couplets (全宋诗 律诗) whose characters the vocabulary holds")
  .option('--from <dir>', 'continue from a couplet checkpoint: its weights, size and vocabulary, a fresh optimizer')
  .addOption(new Option('--batch <n>', 'pairs per step').default('256'))
  .addOption(new Option('--max-minutes <m>', 'stop after this many minutes').default('10'))
  .option('--max-steps <n>', 'stop after this many steps')
  .addOption(new Option('--eval-every <n>', 'dev loss every n steps').default('50'))
  .addOption(new Option('--seed <n>', 'initialisation and data order').default('1'))
  .action(async (_opts, cmd: Command) => (await import('./couplet.js')).coupletTrainCommand(flags(cmd)));

program
  .command('couplet-eval')
  .description('BLEU-4 and the 对仗 measures on the test split, for the model and two baselines')
  .addOption(new Option('--checkpoint <dir>', 'the couplet model').default('models/couplet', 'the shipped couplet model'))
  .option('--limit <n>', 'the first n test pairs only')
  .option('--no-baselines', 'the model only')
  .option('--beam <k>', 'also the lower lines of a beam search of width k, with the rules')
  .option('--song', "also retrieval from the Tang and the Song poets' pairs (the data of a model trained --song)")
  .option('--table <n>', "instead: the first n test pairs as a Markdown table, the poet's lower line beside the model's (--beam) and retrieval's")
  .option('--json', 'print one JSON object')
  .action(async (_opts, cmd: Command) => (await import('./couplet.js')).coupletEvalCommand(flags(cmd)));

program
  .command('trainer')
  .description('run the fine-tunes of every bot process from the queue on their PostgreSQL database (bots with TRAINER=queue); settings as the bot')
  .action(async () => {
    const { runTrainer } = await import('./trainer.js');
    await runTrainer();
  });

program
  .command('db-migrate')
  .description('apply the database migrations DATABASE_URL lacks (a release step on PostgreSQL; SQLite migrates at start too)')
  .option('--status', 'list the migrations not applied yet, and apply nothing')
  .action(async (_opts, cmd: Command) => {
    const { databaseMigrations } = await import('../db/db.js');
    const url = process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL;
    const r = await databaseMigrations(url, { apply: flags(cmd).status === undefined });
    console.log(
      r.applied.length > 0
        ? `applied ${r.applied.join(', ')} to ${r.database}`
        : r.pending.length > 0
          ? `${r.database} lacks ${r.pending.join(', ')}`
          : `${r.database} is up to date (${r.provider})`,
    );
  });

/**
 * A command's options by their flag names (`max-steps`, `no-tones`), as strings: what the commands check.
 * A default shown in help but left to the command is not filled in, so the command's own default applies.
 */
function flags(cmd: Command): Flags {
  const opts = cmd.opts();
  const values: Flags = {};
  for (const o of cmd.options) {
    const name = o.long!.replace(/^--/, '');
    const v = opts[o.attributeName()];
    if (o.negate) values[name] = v === false ? 'true' : undefined;
    else if (typeof v === 'boolean') values[name] = v ? 'true' : undefined;
    else values[name] = cmd.getOptionValueSource(o.attributeName()) === 'default' ? undefined : (v as string | undefined);
  }
  return values;
}

try {
  await program.parseAsync(process.argv);
  process.exit(0);
} catch (e) {
  if (e instanceof CommanderError) process.exit(e.code === 'commander.helpDisplayed' || e.code === 'commander.help' || e.code === 'commander.version' ? 0 : 2);
  const known = e instanceof UsageError || (e as Error).name === 'CheckpointError' || (e as Error).name === 'PoemFileError';
  console.error(`tangshi: ${known ? (e as Error).message : (e as Error).stack}`);
  process.exit(known ? 2 : 1);
}
