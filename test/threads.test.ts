/**
 * Thread priority (src/model/runtime/threads.ts): the bot's fine-tune runs at the lowest priority, and so do the
 * threads it starts (native TensorFlow's pool: test/native-backend.test.ts), so /poem keeps its cores while
 * the bot trains.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { startFinetuneThread } from '../src/jobs/run-thread.js';
import type { FinetuneJob } from '../src/jobs/run-worker.js';
import { LOWEST_PRIORITY, startWorker } from '../src/model/runtime/threads.js';

const linux = existsSync('/proc/thread-self/stat');
const ownNice = () => Number(readFileSync('/proc/thread-self/stat', 'utf8').split(') ')[1]!.split(' ')[16]);

async function report(lowPriority: boolean): Promise<{ nice: number; child: number }> {
  const worker = startWorker(new URL('./support/priority-worker.ts', import.meta.url).href, { startChild: true }, { lowPriority });
  try {
    const m = await new Promise<{ nice: number; child: number }>((resolve, reject) => worker.once('message', resolve).once('error', reject));
    return { nice: m.nice, child: m.child };
  } finally {
    await worker.terminate();
  }
}

describe.runIf(linux)('thread priority', () => {
  it('a low-priority worker runs at the lowest priority, and so does a thread it starts', async () => {
    expect(await report(true)).toEqual({ nice: LOWEST_PRIORITY, child: LOWEST_PRIORITY });
  });

  it('other workers keep the priority of the thread that starts them', async () => {
    const parent = ownNice();
    expect(parent).toBeLessThan(LOWEST_PRIORITY);
    expect(await report(false)).toEqual({ nice: parent, child: parent });
  });

  it("the bot's fine-tune thread runs at the lowest priority, and so do the gradient threads it starts", async () => {
    let log!: (message: string) => void;
    const logged = new Promise<string>((resolve) => (log = resolve));
    const job = { startChild: true } as unknown as FinetuneJob; // (read by the stand-in as its workerData.job)
    const thread = startFinetuneThread(new URL('./support/priority-worker.ts', import.meta.url).href, job, { onPhase() {}, onProgress() {}, onLog: log });
    thread.result.catch(() => {}); // the stand-in ends without a result
    expect(JSON.parse(await logged)).toEqual({ nice: LOWEST_PRIORITY, child: LOWEST_PRIORITY });
  });
});
