/**
 * Hot swap, the way TF Serving does it: load and warm the new version beside the old one, switch the
 * reference in one assignment, let the poems in flight finish on the old one, then free it. A /poem handler
 * reads `holder.model` once per request, so no request sees a half-loaded model and none is dropped.
 */
import { PoemWriter, type ServingOptions } from './poem-writer.js';

export type ModelHolder = { model: PoemWriter };

/** Makes a swapper for `holder`: swaps run one at a time, in the order asked. */
export function hotSwapper(holder: ModelHolder, options: ServingOptions = {}): (dir: string) => Promise<PoemWriter> {
  let queue: Promise<unknown> = Promise.resolve();
  return (dir) => {
    const swap = queue.then(async () => {
      // the old model writes on one thread meanwhile: the load gets its product helper's core
      const old = holder.model;
      old.pauseProductHelper('swap', true);
      let next: PoemWriter | undefined;
      try {
        // verifies every file's sha256 and the shapes; the taste model choosing among candidates stays
        next = await PoemWriter.start(dir, { ...options, taste: old.tasteChoice });
        await next.warm(); // the first poem on each thread pays one-time costs (kernel set-up, caches)
      } catch (e) {
        old.pauseProductHelper('swap', false);
        await next?.close();
        throw e;
      }
      // a fine-tune's pause as it stands now (one may have ended during the load), in the same turn as the switch
      next.pauseProductHelper('finetune', old.productHelperPausedFor('finetune'));
      holder.model = next;
      void old.close(); // after its poems in flight are done
      return next;
    });
    queue = swap.catch(() => {});
    return swap;
  };
}
