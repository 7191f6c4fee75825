/**
 * A bot as its own process (`node --import tsx src/bot/index.ts`, what `npm start` runs), for the tests of
 * several processes on one database: its JSON log lines are kept, `ready` resolves at its "ready" line, and it
 * can be killed as a machine would lose it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export type LogLine = { msg?: string; level?: number; [key: string]: unknown };

export class BotProcess {
  readonly lines: LogLine[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcess;

  /** `args`: what node runs (default: the bot, as `npm start`; e.g. ['bin/tangshi.js', 'trainer']) */
  constructor(
    readonly name: string,
    env: Record<string, string>,
    args = ['--import', 'tsx', 'src/bot/index.ts'],
  ) {
    this.child = spawn(process.execPath, args, {
      cwd: ROOT,
      env: { ...process.env, LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let partial = '';
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop()!;
      for (const line of parts) {
        try {
          this.lines.push(JSON.parse(line) as LogLine);
        } catch {
          this.lines.push({ msg: line });
        }
      }
    });
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => this.stderr.push(chunk));
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  /** Resolves at the "ready" log line; rejects if the process exits first or `timeoutMs` passes. */
  async ready(timeoutMs = 90_000): Promise<void> {
    await this.waitFor((l) => l.msg === 'ready', timeoutMs);
  }

  /** Resolves to the first log line `match` accepts (from the start), waiting for it. */
  async waitFor(match: (line: LogLine) => boolean, timeoutMs = 30_000): Promise<LogLine> {
    const end = Date.now() + timeoutMs;
    let exited = false;
    void this.exited.then(() => (exited = true));
    for (;;) {
      const hit = this.lines.find(match);
      if (hit) return hit;
      if (exited || Date.now() > end) {
        const tail = [...this.lines.slice(-5).map((l) => JSON.stringify(l)), this.stderr.join('').slice(-2000)].join('\n');
        throw new Error(`${this.name}: ${exited ? 'exited' : `nothing matched within ${timeoutMs} ms`}; last output:\n${tail}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Lost without warning (SIGKILL): no shutdown, sockets just drop. */
  async kill(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** A clean stop (SIGTERM, as `npm start` handles it); resolves to the exit code. */
  async stop(): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    return this.exited;
  }
}
