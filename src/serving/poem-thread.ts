/**
 * Worker thread that owns a PoemModel (and the couplet model, when there is one) and writes poems on
 * request (see PoemWriter). Requests that arrive while others are being written join them at the next step
 * (continuous batching): a burst is written many poems per step, each exactly what it would be alone, and a
 * lone request waits for no one. A couplet (a few products) is answered as soon as it arrives.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CoupletModel, type CoupletRequest } from '../model/couplet/decode.js';
import { PoemInputError, PoemModel, type PoemDraft, type PoemRequest } from '../model/poem/decode/generate.js';
import { inScript, toTraditional } from '../model/verse/script.js';
import { MAX_BATCH } from './poem-writer.js';

const model = await PoemModel.load(workerData.checkpoint as string, { threads: workerData.productThreads as number });
// OpenCC's dictionaries (script.ts builds them on first use), now rather than for the first request
toTraditional('月');
inScript('月', 'simplified');
const coupletDir = workerData.couplet as string | undefined;
const couplets = coupletDir && existsSync(join(coupletDir, 'manifest.json')) ? await CoupletModel.load(coupletDir) : undefined;
parentPort!.postMessage({
  ready: true,
  manifest: model.manifest,
  backend: model.backend,
  fallback: model.backendInfo.fallback,
  coupletVersion: couplets?.version ?? null,
});

const waiting: { id: number; request: PoemRequest }[] = [];
const writing: { id: number; draft: PoemDraft }[] = [];
let running = false;

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
    while (waiting.length > 0 && writing.length < MAX_BATCH) {
      const { id, request } = waiting.shift()!;
      try {
        writing.push({ id, draft: model.startPoem(request) });
      } catch (e) {
        fail(id, e);
      }
    }
    try {
      model.step(writing.map((w) => w.draft));
    } catch (e) {
      for (const { id } of writing.splice(0)) fail(id, e);
    }
    for (let k = writing.length - 1; k >= 0; k--) {
      const { id, draft } = writing[k]!;
      if (!draft.poem) continue;
      parentPort!.postMessage({ id, poem: draft.poem });
      writing.splice(k, 1);
    }
    await nextTurn(); // let requests that arrived meanwhile join
  }
  running = false;
}

parentPort!.on('message', (m: { id: number; request: PoemRequest } | { id: number; couplet: CoupletRequest } | { pauseProductHelper: boolean }) => {
  if ('pauseProductHelper' in m) {
    model.lstm.pauseProductHelper(m.pauseProductHelper);
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
