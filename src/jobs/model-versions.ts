/**
 * The model versions the bot knows (table ModelVersion): the shipped base and every fine-tune's candidate.
 * At most one is active, the one answering /poem. On start the bot loads the active one, or, when its files
 * are damaged or gone, the newest version that was ever active, then the shipped base, and says why.
 */
import { rmSync } from 'node:fs';
import { resolve, sep } from 'node:path';
import type { Manifest } from '../model/poem/checkpoint.js';
import { PoemWriter, type ServingOptions } from '../serving/poem-writer.js';
import {
  activeVersion,
  type Database,
  deleteVersion,
  formerlyActiveVersions,
  markActive,
  markRunsFailed,
  type ModelVersion,
  previousVersion,
  recentVersions,
  runningRunIds,
  upsertVersion,
} from '../db/db.js';
import type { Log } from '../shared/log.js';

export type { ModelVersion };
export { activeVersion, markActive, previousVersion, recentVersions };

/** Records a checkpoint as a version, by what its manifest says. */
export function registerVersion(db: Database, manifest: Manifest, path: string, runId: number | null = null): Promise<ModelVersion> {
  const facts = {
    version: manifest.version,
    parent: manifest.parent,
    createdAt: manifest.createdAt,
    weightsSha256: manifest.files['weights.bin']!,
    devPerplexity: manifest.metrics.devPerplexity,
  };
  return upsertVersion(db, facts, resolve(path), runId);
}

/**
 * A run still marked `running` when the bot starts (or, with TRAINER=queue, when a trainer holds the run lock)
 * was cut off (its process was killed or crashed): mark it failed with `why` and delete what it had written.
 * Nothing of it was ever registered or made active.
 */
export async function failInterruptedRuns(
  db: Database,
  runDir: (id: number) => string,
  why = 'interrupted: the bot stopped during the run',
): Promise<number[]> {
  const ids = await runningRunIds(db);
  for (const id of ids) {
    rmSync(runDir(id), { recursive: true, force: true });
    rmSync(`${runDir(id)}.training`, { recursive: true, force: true });
  }
  await markRunsFailed(db, ids, why);
  return ids;
}

/**
 * Loads the model to serve: the active version; if it cannot be loaded (damaged, missing), the newest
 * version that was ever active; then the shipped base. Marks what it loaded as active.
 */
export async function loadServingModel(db: Database, baseDir: string, log: Log, options: ServingOptions = {}): Promise<PoemWriter> {
  const active = await activeVersion(db);
  const previous = await formerlyActiveVersions(db);
  const choices = [...(active ? [active] : []), ...previous].map((v) => ({ version: v.version, path: v.path }));
  choices.push({ version: 'shipped base', path: resolve(baseDir) });
  for (const [i, choice] of choices.entries()) {
    let writer: PoemWriter;
    try {
      writer = await PoemWriter.start(choice.path, options);
    } catch (e) {
      const next = choices[i + 1];
      if (!next) throw e;
      log.warn(
        { version: choice.version, path: choice.path, reason: (e as Error).message, next: next.version },
        'cannot load this model version; trying the next one',
      );
      continue;
    }
    await registerVersion(db, writer.manifest, choice.path);
    if (writer.version !== active?.version) await markActive(db, writer.version);
    return writer;
  }
  throw new Error('unreachable: the last choice either loads or throws');
}

/**
 * Makes `target` the version answering /poem: hot-swap to it (which verifies it), then record it as active.
 * If recording fails, the swap is undone, so the database and the bot never disagree for long.
 */
export async function serveVersion(
  db: Database,
  swapTo: (dir: string) => Promise<unknown>,
  target: { version: string; path: string },
  current: Pick<PoemWriter, 'checkpoint'>,
): Promise<void> {
  await swapTo(target.path);
  try {
    await markActive(db, target.version);
  } catch (e) {
    await swapTo(current.checkpoint);
    throw e;
  }
}

/**
 * Deletes the versions nobody can reach any more, files and rows: every run leaves a checkpoint as large
 * as the model, so without this the disk fills. Kept: the active version, rollback's default target (the one
 * active before), the newest `keep` of those in `versionsDir`, and anything outside `versionsDir` (the
 * shipped base, a checkpoint an admin placed elsewhere). Returns the versions deleted.
 */
export async function pruneVersions(db: Database, opts: { keep: number; versionsDir: string }): Promise<string[]> {
  const root = resolve(opts.versionsDir) + sep;
  const all = (await recentVersions(db)).filter((v) => resolve(v.path).startsWith(root));
  const previous = await previousVersion(db);
  const kept = new Set([...all.slice(0, opts.keep).map((v) => v.version), ...(previous ? [previous.version] : [])]);
  const doomed = all.filter((v) => !v.active && !kept.has(v.version));
  for (const v of doomed) {
    await deleteVersion(db, v.version);
    rmSync(v.path, { recursive: true, force: true });
  }
  return doomed.map((v) => v.version);
}
