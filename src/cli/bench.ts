/**
 * `tangshi bench`: figures measured on this machine in one run, ours beside the same architecture in
 * PyTorch (bench/torch_lstm.py, run afterwards so the two never share the CPU). Figures, not assertions.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism, cpus } from 'node:os';
import { count, type Flags } from '../shared/cli-args.js';
import { BASE_CHECKPOINT, loadCheckpoint } from '../model/poem/checkpoint.js';
import { loadTangCorpus } from '../model/verse/corpus.js';
import { PoemModel, type Precision } from '../model/poem/decode/generate.js';
import { defaultProductThreads } from '../serving/poem-writer.js';
import { median, percentile } from '../shared/stats.js';
import { epochBatches } from '../model/poem/train/batches.js';
import { createEngine } from '../model/poem/train/grad-engines.js';
import { ParamOptimizer } from '../model/poem/train/optimizer.js';
import { describeBackend, initBackendInfo } from '../model/runtime/backend.js';
import { describeKernels } from '../model/kernels/native-kernels.js';
import { initParams, type ModelConfig, type ModelParams } from '../model/poem/network.js';
import type { Vocab } from '../model/verse/vocab.js';
import { classicalRhymes } from '../model/verse/classical-rhyme.js';
import { repeatShare, toneRulesKept } from '../model/verse/poetics.js';
import { clearTone } from '../model/verse/tones.js';
import { COUPLET_CHECKPOINT, CoupletModel } from '../model/couplet/decode.js';
import { loadCouplets } from '../model/couplet/pairs.js';

const TORCH_SCRIPT = new URL('../../bench/torch_lstm.py', import.meta.url).pathname;
/** PyTorch as a user installs it today (`pip install torch`), in a git-ignored venv the bench creates once */
export const TORCH_VENV = new URL('../../.venv-bench/', import.meta.url).pathname;
const DEBIAN_PYTHON = '/usr/bin/python3';

/**
 * Multiply-adds of one training token, ×2 for FLOPs and ×3 for the backward pass (two products per forward
 * product): the LSTM's input and recurrent products, the output layer with its bias row. Elementwise work is
 * left out, as is usual for GFLOP/s figures.
 */
export function trainingFlopsPerToken(c: ModelConfig): number {
  const H4 = 4 * c.hiddenDim;
  const macs = (c.embedDim + c.hiddenDim) * H4 + (c.layers - 1) * 2 * c.hiddenDim * H4 + (c.hiddenDim + 1) * c.vocabSize;
  return 3 * 2 * macs;
}

/** The machine's peak: cores × clock × FLOPs per cycle (two fused multiply-add units of 8 floats with AVX2+FMA, 16 with AVX-512). */
function peakGflops(): { gflops: number; how: string } {
  const info = readFileSync('/proc/cpuinfo', 'utf8');
  const flags = /^flags\s*:(.*)$/m.exec(info)?.[1] ?? '';
  const mhz = Number(/^cpu MHz\s*:\s*([\d.]+)/m.exec(info)?.[1] ?? cpus()[0]?.speed ?? 0);
  const perCycle = /\bavx512f\b/.test(flags) ? 64 : /\bfma\b/.test(flags) && /\bavx2\b/.test(flags) ? 32 : /\bavx\b/.test(flags) ? 16 : 8;
  const cores = availableParallelism();
  return { gflops: (cores * mhz * perCycle) / 1000, how: `${cores} cores × ${(mhz / 1000).toFixed(2)} GHz × ${perCycle} FLOP/cycle` };
}

/** A Python with PyTorch: the bench's venv (created on first use with pip's torch), else none. */
function torchPython(say: (m: string) => void): { python?: string; note?: string } {
  const python = `${TORCH_VENV}bin/python`;
  const hasTorch = (py: string) => existsSync(py) && spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
  if (hasTorch(python)) return { python };
  say(`pytorch: creating ${TORCH_VENV} with pip's torch (once)…`);
  const venv = spawnSync('python3', ['-m', 'venv', TORCH_VENV], { encoding: 'utf8' });
  const pip =
    venv.status === 0
      ? spawnSync(`${TORCH_VENV}bin/pip`, ['install', '--quiet', '--retries', '1', '--timeout', '30', 'torch', 'numpy'], { encoding: 'utf8' })
      : venv;
  if (hasTorch(python)) return { python };
  return { note: `skipped: could not install torch into ${TORCH_VENV} (${(pip.stderr || pip.error?.message || '').trim().split('\n').pop()})` };
}

function runTorch(python: string, c: ModelConfig, extra: string[]): Record<string, unknown> {
  const r = spawnSync(
    python,
    [TORCH_SCRIPT, '--vocab', String(c.vocabSize), '--embed', String(c.embedDim), '--hidden', String(c.hiddenDim), '--layers', String(c.layers), ...extra],
    { encoding: 'utf8', env: { ...process.env, OPENBLAS_NUM_THREADS: '1' } },
  );
  if (r.status !== 0) throw new Error(`torch script failed: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

/** Training tokens/s of our trainer: forward, hand backward, clip and Adam, on real corpus batches. */
async function trainingThroughput(
  config: ModelConfig,
  params: ModelParams,
  vocab: Vocab,
  opts: { steps: number; dropout: number; workers?: number; handGrad?: boolean },
) {
  const engine = await createEngine(config, opts.workers);
  try {
    for (const [name, p] of engine.params) p.set(params.get(name)!);
    const optimizer = await ParamOptimizer.create('adam', engine.params);
    const examples = loadTangCorpus().train.map((poem) => ({ poem, weight: 1 }));
    const batches = epochBatches(examples, vocab, 3072, 7);
    const step = async (k: number) => {
      const r = await engine.run(batches[k]!, { grads: true, handGrad: opts.handGrad ?? true, dropout: { rate: opts.dropout } });
      optimizer.step(engine.gradParts, r.weightSum, 5, 1e-4);
    };
    await step(0); // warm-up: kernels, operator setup, the allocator's pool
    await step(1);
    let tokens = 0;
    const t0 = performance.now();
    for (let k = 2; k < opts.steps + 2; k++) {
      await step(k);
      tokens += batches[k]!.reduce((n, s) => n + s.ids.length - 1, 0);
    }
    return tokens / ((performance.now() - t0) / 1000);
  } finally {
    await engine.close();
  }
}

export async function benchCommand(values: Flags): Promise<void> {
  const dir = values.checkpoint ?? BASE_CHECKPOINT;
  const steps = count(values.steps, 'steps') ?? 10;
  const poems = count(values.poems, 'poems') ?? 100;
  const repeats = count(values.repeats, 'repeats') ?? 3;
  const say = (m: string) => !values.json && console.error(m);
  const info = await initBackendInfo();
  const shipped = loadCheckpoint(dir);
  const config = shipped.manifest.config.model;
  const peak = peakGflops();
  say(
    `backend ${describeBackend(info)}; poem kernels on ${describeKernels(true)}; ${availableParallelism()} cores (${cpus()[0]?.model}), peak ${peak.gflops.toFixed(0)} GFLOP/s (${peak.how}); model ${JSON.stringify(config)}`,
  );

  // Generation at both precisions (int8 is what the bot serves), and what each costs in perplexity on dev poems.
  const devSample = loadTangCorpus().dev.slice(0, count(values['ppl-poems'], 'ppl-poems') ?? 300);
  const generation: Record<Precision, { loadMs: number; p50: number; p99: number; servedPerplexity: number }> = {} as never;
  let generatedRhymeRate = NaN,
    corpusRhymeRate = NaN,
    generatedRepeats = NaN,
    corpusRepeats = NaN;
  let toneRules: Record<'generated' | 'dev', { poems: number; positions: number }> | null = null;
  let burstRate = { alone: NaN, batched: NaN };
  let coupletMs = { p50: NaN, p99: NaN };
  let oneThread = { p50: NaN, p99: NaN };
  if (!values['training-only']) {
    let model: PoemModel | undefined;
    // int8 as served last: with a helper thread for the big products where the bot uses one (poem-writer.ts)
    const servedThreads = defaultProductThreads(1);
    const variants: { precision: Precision; threads: number }[] = [
      { precision: 'float32', threads: 1 },
      ...(servedThreads > 1 ? [{ precision: 'int8' as const, threads: 1 }] : []),
      { precision: 'int8', threads: servedThreads },
    ];
    for (const { precision, threads } of variants) {
      const loadMs: number[] = [];
      for (let k = 0; k < 5; k++) {
        model?.dispose();
        const t0 = performance.now();
        model = await PoemModel.load(dir, { precision, threads });
        loadMs.push(performance.now() - t0);
      }
      for (let k = 0; k < 5; k++) model!.generate({ start: '月', form: 'qijue', seed: k }); // warm-up
      const latencies: number[] = [];
      for (let k = 0; k < poems; k++) {
        const t0 = performance.now();
        model!.generate({ start: '月', form: 'qijue', seed: 1000 + k });
        latencies.push(performance.now() - t0);
      }
      const [p50, p99] = [percentile(latencies, 50), percentile(latencies, 99)];
      const timing = `one 七言绝句 p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms; load ${median(loadMs).toFixed(0)} ms`;
      if (precision === 'int8' && threads === 1 && servedThreads > 1) {
        // the same products as with the helper, bit for bit: only the timing differs, so no second perplexity
        oneThread = { p50, p99 };
        say(`generation (int8, one thread for the products): ${timing}`);
        continue;
      }
      const served = model!.lstm.servedPerplexity(devSample).perplexity;
      generation[precision] = { loadMs: median(loadMs), p50, p99, servedPerplexity: served };
      say(
        `generation (${precision}, ${threads} thread${threads > 1 ? 's' : ''} for the products): ${timing}; perplexity as served on ${devSample.length} dev poems ${served.toFixed(2)}`,
      );
    }
    // Rhyme rate of generated poems (free form choice, unseeded starts from the README's characters) beside
    // the corpus's own, by the same measure (rhyme.ts).
    const starts = ['日', '紅', '山', '夜', '湖', '海', '月'];
    const generated = Array.from({ length: 200 }, (_, k) => model!.generate({ start: starts[k % starts.length], seed: 5000 + k }).lines);
    // A burst: the same 200 requests one at a time, then together in batches of 64 (as the poem worker
    // writes them); the poems must be the same.
    const burst = starts.flatMap((start) => Array.from({ length: 200 / 7 + 1 }, (_, k) => ({ start, seed: 7000 + k }))).slice(0, 200);
    let t0 = performance.now();
    const alone = burst.map((r) => model!.generate(r).text);
    const aloneMs = performance.now() - t0;
    t0 = performance.now();
    const together: string[] = [];
    for (let k = 0; k < burst.length; k += 64) together.push(...model!.generateMany(burst.slice(k, k + 64)).map((p) => p.text));
    const togetherMs = performance.now() - t0;
    if (together.some((text, k) => text !== alone[k])) throw new Error('bench: a poem written in a batch differs from the same poem written alone');
    burstRate = { alone: (burst.length / aloneMs) * 1000, batched: (burst.length / togetherMs) * 1000 };
    say(
      `a burst of 200 poems (free forms): one at a time ${burstRate.alone.toFixed(0)} poems/s, in batches of 64 ${burstRate.batched.toFixed(0)} poems/s (${(burstRate.batched / burstRate.alone).toFixed(2)}×), the same poems`,
    );
    // One /couplet answer, as served (the shipped couplet model, int8), if there is one.
    if (existsSync(join(COUPLET_CHECKPOINT, 'manifest.json'))) {
      const couplets = await CoupletModel.load(COUPLET_CHECKPOINT);
      const uppers = loadCouplets()
        .test.slice(0, poems + 5)
        .map((c) => c.upper)
        .filter((u) => {
          try {
            couplets.parseUpper(u);
            return true;
          } catch {
            return false;
          }
        });
      for (const upper of uppers.slice(0, 5)) couplets.answer({ upper, seed: 1 }); // warm-up
      const times = uppers
        .slice(5)
        .map((upper, k) => {
          const t0 = performance.now();
          couplets.answer({ upper, seed: k });
          return performance.now() - t0;
        })
        .sort((a, b) => a - b);
      coupletMs = { p50: percentile(times, 50), p99: percentile(times, 99) };
      say(`one /couplet answer (int8): p50 ${coupletMs.p50.toFixed(2)} ms, p99 ${coupletMs.p99.toFixed(2)} ms over ${times.length} test upper lines`);
    }
    generatedRhymeRate = generated.filter((lines) => classicalRhymes(lines)).length / generated.length;
    const train = loadTangCorpus().train;
    corpusRhymeRate = train.filter((p) => classicalRhymes(p.lines)).length / train.length;
    generatedRepeats = repeatShare(generated);
    corpusRepeats = repeatShare(train.map((p) => p.lines));
    say(`repeated characters (not reduplication): generated ${(100 * generatedRepeats).toFixed(2)}%, corpus ${(100 * corpusRepeats).toFixed(2)}%`);
    toneRules = {
      generated: toneRulesKept(generated, clearTone),
      dev: toneRulesKept(
        devSample.map((p) => p.lines),
        clearTone,
      ),
    };
    say(
      `tone rules of regulated verse kept (whole poems / positions): generated ${toneRules.generated.poems.toFixed(3)} / ${toneRules.generated.positions.toFixed(3)}, dev poems ${toneRules.dev.poems.toFixed(3)} / ${toneRules.dev.positions.toFixed(3)}`,
    );
    say(`rhyme rate (classical groups): generated ${generatedRhymeRate.toFixed(3)} (200 poems), corpus ${corpusRhymeRate.toFixed(3)} (training split)`);
    model!.dispose();
  }
  const served = generation.int8 ?? { p50: NaN, p99: NaN, loadMs: NaN, servedPerplexity: NaN };

  // Training throughput at the shipped size and at E256/H512 (at E128/H256, the size shipped before, when the
  // shipped model is E256/H512), ours and PyTorch's alternately in each repeat, with the shipped checkpoint's
  // dropout in both; the ratio of each repeat, and their median.
  const torch = values['skip-torch'] ? { note: 'skipped (--skip-torch)' } : torchPython(say);
  const dropout = Number(shipped.manifest.config.training.dropout ?? 0);
  const [embedDim, hiddenDim] = config.embedDim === 256 && config.hiddenDim === 512 ? [128, 256] : [256, 512];
  const other = { ...config, embedDim, hiddenDim };
  const sizes = [
    { name: 'shipped', config, params: shipped.params },
    { name: `E${embedDim}-H${hiddenDim}`, config: other, params: initParams(other, 1) },
  ];
  const training = [];
  for (const size of values['generation-only'] ? [] : sizes) {
    const flops = trainingFlopsPerToken(size.config);
    const ours: number[] = [];
    const theirs: number[] = [];
    for (let r = 0; r < repeats; r++) {
      ours.push(await trainingThroughput(size.config, size.params, shipped.vocab, { steps, dropout }));
      if (torch.python)
        theirs.push(Number(runTorch(torch.python, size.config, ['--steps', String(steps), '--dropout', String(dropout), '--train-only']).train_tokens_per_s));
      say(
        `training ${size.name} (${size.config.embedDim}/${size.config.hiddenDim}, ${steps} steps of ~3072 tokens, dropout ${dropout}), run ${r + 1}: ours ${ours[r]!.toFixed(0)} tokens/s${theirs[r] ? `, PyTorch ${theirs[r]!.toFixed(0)}: ${(ours[r]! / theirs[r]!).toFixed(2)}×` : ''}`,
      );
    }
    const ratios = theirs.map((t, r) => +(ours[r]! / t).toFixed(2));
    training.push({
      size: size.name,
      config: size.config,
      tokens_per_s: ours.map(Math.round),
      pytorch_tokens_per_s: theirs.map(Math.round),
      ratios,
      median_ratio: ratios.length ? median(ratios) : null,
      gflops: +((median(ours) * flops) / 1e9).toFixed(1),
      pytorch_gflops: theirs.length ? +((median(theirs) * flops) / 1e9).toFixed(1) : null,
      peak_share: +((median(ours) * flops) / 1e9 / peak.gflops).toFixed(2),
    });
  }
  const ablations: Record<string, number> = {};
  if (values.ablations) {
    ablations.one_worker_hand_bptt_tokens_per_s = Math.round(
      await trainingThroughput(config, shipped.params, shipped.vocab, { steps, dropout, workers: 1, handGrad: true }),
    );
    ablations.one_worker_autograd_tokens_per_s = Math.round(
      await trainingThroughput(config, shipped.params, shipped.vocab, { steps, dropout, workers: 1, handGrad: false }),
    );
    say(`ablations: ${JSON.stringify(ablations)}`);
  }
  const peakRssMb = process.resourceUsage().maxRSS / 1024;

  // PyTorch's generation, load time and memory at the shipped size, for the same rows.
  let torchServing: Record<string, unknown> | undefined;
  let debian: Record<string, unknown> | undefined;
  if (torch.python && !values['training-only']) {
    torchServing = runTorch(torch.python, config, ['--steps', String(steps), '--dropout', String(dropout)]);
    if (existsSync(DEBIAN_PYTHON) && spawnSync(DEBIAN_PYTHON, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0) {
      debian = runTorch(DEBIAN_PYTHON, config, ['--steps', String(steps), '--dropout', String(dropout), '--train-only']); // a side note: Debian's python3-torch
    }
  }
  const result = {
    backend: info.name,
    tensorflow: info.tensorflow,
    threads: info.threads,
    cores: availableParallelism(),
    peak_gflops: +peak.gflops.toFixed(0),
    peak_estimate: peak.how,
    config,
    training,
    quatrain_ms_p50: +served.p50.toFixed(2),
    quatrain_ms_p99: +served.p99.toFixed(2),
    load_ms: +served.loadMs.toFixed(1),
    couplet_ms_p50: +coupletMs.p50.toFixed(2),
    couplet_ms_p99: +coupletMs.p99.toFixed(2),
    burst_poems_per_s_alone: Math.round(burstRate.alone),
    burst_poems_per_s_batched: Math.round(burstRate.batched),
    product_threads_served: defaultProductThreads(1),
    quatrain_ms_p50_int8_one_thread: +oneThread.p50.toFixed(2),
    quatrain_ms_p99_int8_one_thread: +oneThread.p99.toFixed(2),
    quatrain_ms_p50_float32: +(generation.float32?.p50 ?? NaN).toFixed(2),
    quatrain_ms_p99_float32: +(generation.float32?.p99 ?? NaN).toFixed(2),
    served_perplexity_int8: +served.servedPerplexity.toFixed(3),
    served_perplexity_float32: +(generation.float32?.servedPerplexity ?? NaN).toFixed(3),
    served_perplexity_poems: devSample.length,
    peak_rss_mb: Math.round(peakRssMb),
    rhyme_rate_generated: +generatedRhymeRate.toFixed(3),
    rhyme_rate_corpus: +corpusRhymeRate.toFixed(3),
    repeat_share_generated: +generatedRepeats.toFixed(4),
    repeat_share_corpus: +corpusRepeats.toFixed(4),
    tone_rules_kept: toneRules,
    ...ablations,
    pytorch: torchServing ?? null,
    pytorch_note: torch.note ?? null,
    debian_pytorch_train_tokens_per_s: debian?.train_tokens_per_s ?? null,
    ratios: torchServing
      ? {
          quatrain_p50_speedup_vs_pytorch: +((torchServing.quatrain_ms_p50 as number) / served.p50).toFixed(2),
          load_speedup_vs_pytorch: +((torchServing.load_ms as number) / served.loadMs).toFixed(2),
        }
      : null,
  };
  if (values.json) console.log(JSON.stringify(result));
  else console.log(JSON.stringify(result, null, 2));
}
