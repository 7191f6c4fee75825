/**
 * Worker thread that owns a PoemModel (and the couplet model, when there is one) and writes poems on
 * request (see PoemWriter). Requests that arrive while others are being written join them at the next step
 * (continuous batching): a burst is written many poems per step, each exactly what it would be alone, and a
 * lone request waits for no one. With a taste model, a request is written as several candidates and the one
 * it scores best is served (best-of-n.ts). A couplet (a few products) is answered as soon as it arrives.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CoupletModel, type CoupletRequest } from '../model/couplet/decode.js';
import { PoemInputError, PoemModel, type PoemDraft, type PoemRequest } from '../model/poem/decode/generate.js';
import { inScript, toTraditional } from '../model/verse/script.js';
import { poemText } from '../model/verse/corpus.js';
import { TasteModel } from '../model/taste/taste-model.js';
import type { GeneratedPoem } from '../model/poem/decode/poem-request.js';
import { candidateSeeds, candidatesNow, chooseCandidate } from './best-of-n.js';
import { MAX_BATCH, type TasteChoice } from './poem-writer.js';

const model = await PoemModel.load(workerData.checkpoint as string, { threads: workerData.productThreads as number });
// OpenCC's dictionaries (script.ts builds them on first use), now rather than for the first request
toTraditional('月');
inScript('月', 'simplified');
const coupletDir = workerData.couplet as string | undefined;
const couplets = coupletDir && existsSync(join(coupletDir, 'manifest.json')) ? await CoupletModel.load(coupletDir) : undefined;
/** candidates a request gets at most (BEST_OF_N), when a taste model is loaded */
const bestOf = (workerData.bestOf as number | undefined) ?? 1;
let taste: TasteModel | undefined;
/** loads the taste model named (hash-checked); none, or a damaged one, leaves n = 1. Says why it has none. */
function useTaste(choice: TasteChoice | null): string | null {
  taste = undefined;
  if (!choice) return null;
  try {
    taste = TasteModel.load(choice.path, choice.sha256);
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

parentPort!.postMessage({
  ready: true,
  manifest: model.manifest,
  backend: model.backend,
  fallback: model.backendInfo.fallback,
  coupletVersion: couplets?.version ?? null,
  tasteProblem: useTaste((workerData.taste as TasteChoice | undefined) ?? null),
});

/** a request being written: its candidates, each a draft with its seed */
type Group = { id: number; request: PoemRequest; drafts: { draft: PoemDraft; seed: number }[] };
const waiting: { id: number; request: PoemRequest }[] = [];
const writing: Group[] = [];
let running = false;
const draftsInFlight = () => writing.reduce((n, g) => n + g.drafts.length, 0);

/** the request's poem: its one candidate, or the one the taste model scores best, in the script asked for */
function served(group: Group): GeneratedPoem {
  const poems = group.drafts.map((d) => d.draft.poem!);
  const choice = taste && poems.length > 1 ? chooseCandidate(poems, taste) : undefined;
  const k = choice?.index ?? 0;
  const poem = poems[k]!;
  const script = group.request.script ?? 'traditional';
  const lines = poem.lines.map((l) => inScript(l, script));
  return {
    ...poem,
    lines,
    text: poemText(lines),
    script,
    seed: group.drafts[k]!.seed,
    candidates: poems.length,
    ...(choice && taste ? { taste: { version: taste.version, score: choice.score } } : {}),
  };
}

const fail = (id: number, e: unknown) => {
  const inputError = e instanceof PoemInputError;
  parentPort!.postMessage({
    id,
    error: inputError ? (e as Error).message : ((e as Error).stack ?? String(e)),
    inputError,
    problem: inputError ? e.problem : undefined,
  });
};

async function write(): Promise<void> {
  running = true;
  while (waiting.length > 0 || writing.length > 0) {
    while (waiting.length > 0 && draftsInFlight() < MAX_BATCH) {
      const { id, request } = waiting[0]!;
      const n = taste ? candidatesNow(bestOf, MAX_BATCH - draftsInFlight(), waiting.length) : 1;
      waiting.shift();
      try {
        const seed = request.seed ?? Math.floor(Math.random() * 2 ** 31);
        // candidates are written in the corpus's script (the taste model reads it) and shown in the one asked for
        const drafts = candidateSeeds(seed, n).map((s) => ({ draft: model.startPoem({ ...request, seed: s, script: 'traditional' }), seed: s }));
        writing.push({ id, request, drafts });
      } catch (e) {
        fail(id, e);
      }
    }
    try {
      model.step(writing.flatMap((g) => g.drafts.map((d) => d.draft)));
    } catch (e) {
      for (const { id } of writing.splice(0)) fail(id, e);
    }
    for (let k = writing.length - 1; k >= 0; k--) {
      const group = writing[k]!;
      if (!group.drafts.every((d) => d.draft.poem)) continue;
      writing.splice(k, 1);
      try {
        parentPort!.postMessage({ id: group.id, poem: served(group) });
      } catch (e) {
        fail(group.id, e);
      }
    }
    await nextTurn(); // let requests that arrived meanwhile join
  }
  running = false;
}

type Message = { id: number; request: PoemRequest } | { id: number; couplet: CoupletRequest } | { pauseProductHelper: boolean } | { taste: TasteChoice | null };
parentPort!.on('message', (m: Message) => {
  if ('pauseProductHelper' in m) {
    model.lstm.pauseProductHelper(m.pauseProductHelper);
    return;
  }
  if ('taste' in m) {
    parentPort!.postMessage({ tasteLoaded: m.taste?.sha256 ?? null, tasteProblem: useTaste(m.taste) });
    return;
  }
  if ('couplet' in m) {
    try {
      if (!couplets) throw new Error(`no couplet model at ${coupletDir}`);
      parentPort!.postMessage({ id: m.id, couplet: couplets.answer(m.couplet) });
    } catch (e) {
      fail(m.id, e);
    }
    return;
  }
  waiting.push(m);
  if (!running) void write();
});
