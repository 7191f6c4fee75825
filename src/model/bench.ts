/**
 * `tangshi bench`: figures measured on this machine in one run, ours beside the same architecture in
 * PyTorch (bench/torch_lstm.py, run afterwards so the two never share the CPU). Figures, not assertions.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { count } from '../cli-args.js';
import { BASE_CHECKPOINT, loadCheckpoint } from './checkpoint.js';
import { loadTangCorpus } from './corpus.js';
import { PoemModel, type Precision } from './generate.js';
import { createEngine, epochBatches } from './train.js';
import { initBackend } from './backend.js';
import { poemRhymes, rhymeRate } from './rhyme.js';

const PYTHON = '/usr/bin/python3';
const TORCH_SCRIPT = new URL('../../bench/torch_lstm.py', import.meta.url).pathname;

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
const median = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 50);

async function trainingThroughput(dir: string, workers: number | undefined, steps: number, handGrad = true) {
  const ck = loadCheckpoint(dir);
  const engine = await createEngine(ck.manifest.config.model, workers);
  try {
    for (const [name, p] of engine.params) p.set(ck.params.get(name)!);
    const examples = loadTangCorpus().train.map((poem) => ({ poem, weight: 1 }));
    const batches = epochBatches(examples, ck.vocab, Number(ck.manifest.config.training.batchTokens ?? 3072), 7);
    const dropout = Number(ck.manifest.config.training.dropout ?? 0); // the shipped configuration, as trained
    const run = (k: number) => engine.run(batches[k]!, { grads: true, handGrad, dropout });
    await run(0); // warm-up: kernels, XNNPACK operator setup
    await run(1);
    let tokens = 0;
    const t0 = performance.now();
    for (let k = 2; k < steps + 2; k++) {
      await run(k);
      tokens += batches[k]!.reduce((n, s) => n + s.ids.length - 1, 0);
    }
    return tokens / ((performance.now() - t0) / 1000);
  } finally {
    await engine.close();
  }
}

export async function benchCommand(args: string[]) {
  const { values } = parseArgs({ args, options: { json: { type: 'boolean' }, checkpoint: { type: 'string' }, steps: { type: 'string' }, poems: { type: 'string' }, 'ppl-poems': { type: 'string' }, 'skip-torch': { type: 'boolean' }, ablations: { type: 'boolean' } } });
  const dir = values.checkpoint ?? BASE_CHECKPOINT;
  const steps = count(values.steps, 'steps') ?? 10;
  const poems = count(values.poems, 'poems') ?? 100;
  const say = (m: string) => !values.json && console.error(m);
  const backend = await initBackend();
  const config = loadCheckpoint(dir).manifest.config.model;
  say(`backend ${backend}, ${availableParallelism()} cores (${cpus()[0]?.model}); model ${JSON.stringify(config)}`);

  // Generation at both precisions (int8 is what the bot serves), and what each costs in perplexity on dev poems.
  const devSample = loadTangCorpus().dev.slice(0, count(values['ppl-poems'], 'ppl-poems') ?? 300);
  const generation: Record<Precision, { loadMs: number; p50: number; p99: number; servedPerplexity: number }> = {} as never;
  let model: PoemModel | undefined;
  for (const precision of ['float32', 'int8'] as const) {
    const loadMs: number[] = [];
    for (let k = 0; k < 5; k++) {
      model?.dispose();
      const t0 = performance.now();
      model = await PoemModel.load(dir, { precision });
      loadMs.push(performance.now() - t0);
    }
    for (let k = 0; k < 5; k++) model!.generate({ start: '月', form: 'qijue', seed: k }); // warm-up
    const latencies: number[] = [];
    for (let k = 0; k < poems; k++) {
      const t0 = performance.now();
      model!.generate({ start: '月', form: 'qijue', seed: 1000 + k });
      latencies.push(performance.now() - t0);
    }
    latencies.sort((a, b) => a - b);
    const served = model!.servedPerplexity(devSample).perplexity;
    generation[precision] = { loadMs: median(loadMs), p50: percentile(latencies, 50), p99: percentile(latencies, 99), servedPerplexity: served };
    say(`generation (${precision}): one 七言绝句 p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms; load ${median(loadMs).toFixed(0)} ms; perplexity as served on ${devSample.length} dev poems ${served.toFixed(2)}`);
  }
  // Rhyme rate of generated poems (free form choice, unseeded starts from the README's characters) beside
  // the corpus's own, by the same measure (rhyme.ts).
  const starts = ['日', '紅', '山', '夜', '湖', '海', '月'];
  const generated = Array.from({ length: 200 }, (_, k) => model!.generate({ start: starts[k % starts.length], seed: 5000 + k }).lines);
  const generatedRhymeRate = generated.filter(poemRhymes).length / generated.length;
  const corpusRhymeRate = rhymeRate(loadTangCorpus().train.map((p) => p.lines));
  say(`rhyme rate: generated ${generatedRhymeRate.toFixed(3)} (200 poems), corpus ${corpusRhymeRate.toFixed(3)} (training split)`);
  model!.dispose();
  const served = generation.int8;

  say(`training: ${steps} steps of ~3072 tokens…`);
  const trainTps = await trainingThroughput(dir, undefined, steps);
  say(`training: ${trainTps.toFixed(0)} tokens/s`);
  const ablations: Record<string, number> = {};
  if (values.ablations) {
    ablations.one_worker_hand_bptt_tokens_per_s = await trainingThroughput(dir, 1, steps, true);
    ablations.one_worker_autograd_tokens_per_s = await trainingThroughput(dir, 1, steps, false);
    say(`ablations: ${JSON.stringify(ablations)}`);
  }
  const peakRssMb = process.resourceUsage().maxRSS / 1024;

  let torch: Record<string, unknown> | undefined;
  let torchNote: string | undefined;
  if (values['skip-torch']) torchNote = 'skipped (--skip-torch)';
  else if (!existsSync(PYTHON)) torchNote = `skipped: ${PYTHON} not found (apt-get install python3-torch libopenblas0-pthread)`;
  else {
    say('pytorch: same architecture, batch 64×48, 2 threads…');
    const r = spawnSync(PYTHON, [TORCH_SCRIPT, '--vocab', String(config.vocabSize), '--embed', String(config.embedDim), '--hidden', String(config.hiddenDim), '--layers', String(config.layers), '--steps', String(steps)], { encoding: 'utf8', env: { ...process.env, OPENBLAS_NUM_THREADS: '1' } });
    if (r.status === 0) torch = JSON.parse(r.stdout.trim().split('\n').pop()!);
    else torchNote = `skipped: torch script failed (${(r.stderr || r.error?.message || '').trim().split('\n').pop()})`;
  }
  const result = {
    backend,
    cores: availableParallelism(),
    config,
    train_tokens_per_s: Math.round(trainTps),
    quatrain_ms_p50: +served.p50.toFixed(2),
    quatrain_ms_p99: +served.p99.toFixed(2),
    load_ms: +served.loadMs.toFixed(1),
    quatrain_ms_p50_float32: +generation.float32.p50.toFixed(2),
    quatrain_ms_p99_float32: +generation.float32.p99.toFixed(2),
    served_perplexity_int8: +generation.int8.servedPerplexity.toFixed(3),
    served_perplexity_float32: +generation.float32.servedPerplexity.toFixed(3),
    served_perplexity_poems: devSample.length,
    peak_rss_mb: Math.round(peakRssMb),
    rhyme_rate_generated: +generatedRhymeRate.toFixed(3),
    rhyme_rate_corpus: +corpusRhymeRate.toFixed(3),
    ...ablations,
    pytorch: torch ?? null,
    pytorch_note: torchNote ?? null,
    ratios: torch
      ? {
          train_tokens_per_s_vs_pytorch: +(trainTps / (torch.train_tokens_per_s as number)).toFixed(2),
          quatrain_p50_speedup_vs_pytorch: +((torch.quatrain_ms_p50 as number) / served.p50).toFixed(2),
          load_speedup_vs_pytorch: +((torch.load_ms as number) / served.loadMs).toFixed(2),
        }
      : null,
  };
  if (values.json) console.log(JSON.stringify(result));
  else console.log(JSON.stringify(result, null, 2));
}
