/** `tangshi poem | train | eval | bench`: the bot's offline twin. */
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { corpusTrainData } from './model/data.js';
import { train, type Progress } from './model/train.js';

class UsageError extends Error {}

const num = (v: string | undefined, name: string) => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number (got "${v}")`);
  return n;
};

function progressBar() {
  const bar = new cliProgress.SingleBar(
    { format: '{bar} {percentage}% | step {step} | epoch {epoch} | loss {loss} | {tps} tok/s | ETA {eta_formatted}', noTTYOutput: true, notTTYSchedule: 10000, etaBuffer: 50 },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(p: Progress) {
      const payload = { step: p.step, epoch: p.epoch.toFixed(2), loss: p.loss.toFixed(3), tps: Math.round(p.tokensPerSecond) };
      if (!started) (bar.start(1000, 0, payload), (started = true));
      bar.update(Math.round(p.fraction * 1000), payload);
    },
    stop: () => started && bar.stop(),
  };
}

async function trainCommand(args: string[]) {
  const { values } = parseArgs({
    args,
    options: {
      from: { type: 'string' }, out: { type: 'string' }, epochs: { type: 'string' }, 'max-steps': { type: 'string' },
      'max-minutes': { type: 'string' }, optimizer: { type: 'string' }, lr: { type: 'string' }, embed: { type: 'string' },
      hidden: { type: 'string' }, layers: { type: 'string' }, 'batch-tokens': { type: 'string' }, workers: { type: 'string' },
      seed: { type: 'string' }, 'save-every': { type: 'string' }, dtype: { type: 'string' }, 'no-eval': { type: 'boolean' },
    },
  });
  const bar = progressBar();
  const controller = new AbortController();
  process.once('SIGINT', () => {
    console.error('\nstopping: saving a checkpoint…');
    controller.abort();
  });
  const manifest = await train(
    {
      out: values.out ?? 'data/models/trained',
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
      workers: num(values.workers, 'workers'),
      seed: num(values.seed, 'seed'),
      saveEveryMinutes: num(values['save-every'], 'save-every'),
      dtype: values.dtype as never,
      evalDev: !values['no-eval'],
    },
    corpusTrainData(),
    { onProgress: bar.update, onLog: (m) => (bar.stop(), console.error(m)), signal: controller.signal },
  );
  bar.stop();
  console.log(`saved ${values.out ?? 'data/models/trained'} (${manifest.version}), dev perplexity ${manifest.metrics.devPerplexity?.toFixed(2) ?? 'not measured'}`);
}

const commands: Record<string, (args: string[]) => Promise<void>> = { train: trainCommand };

const [name, ...rest] = process.argv.slice(2);
try {
  const command = name && commands[name];
  if (!command) throw new UsageError(`usage: tangshi <${Object.keys(commands).join('|')}> [options]`);
  await command(rest);
  process.exit(0);
} catch (e) {
  console.error(`tangshi: ${(e as Error).message}`);
  process.exit(e instanceof UsageError ? 2 : 1);
}
