/**
 * Announcements between processes on PostgreSQL: a promotion or rollback is NOTIFYed on one channel. NOTIFY
 * is delivered at COMMIT to every connection LISTENing then, and never replayed: a listener that was
 * disconnected missed it. So the truth stays in rows (ModelVersion.active, TasteVersion.active) and a
 * listener re-reads it on every (re)connect, which `onConnect` is for. Prisma cannot LISTEN: the listener
 * is a pg.Client of its own.
 */
import pg from 'pg';
import type { Database } from './connection.js';

/** the channel promotions and rollbacks are announced on; the payload says what changed */
export const VERSIONS_CHANNEL = 'tangshi_versions';

export type VersionNotice = { kind: 'model' | 'taste'; version: string };

/** The NOTIFY to send in the same transaction as the change (delivered when it commits); none on SQLite. */
export function announce(db: Database, notice: VersionNotice) {
  if (db.provider !== 'postgresql') return [];
  return [db.prisma.$executeRaw`SELECT pg_notify(${VERSIONS_CHANNEL}, ${JSON.stringify(notice)})`];
}

export type Listener = { close(): Promise<void> };

export type ListenHandlers = {
  onNotice(notice: VersionNotice): void;
  /** after every connect, the first included: re-read the truth (notices sent meanwhile are lost) */
  onConnect(): void;
  /** the connection failed or dropped (it is retried) */
  onLost(error: Error): void;
};

const FIRST_RETRY_MS = 500;
const LAST_RETRY_MS = 30_000;

/** LISTENs on VERSIONS_CHANNEL at `url` until closed, reconnecting after a lost connection (backing off to 30 s). */
export function listenForVersions(url: string, handlers: ListenHandlers): Listener {
  let closed = false;
  let client: pg.Client | undefined;
  let retry: NodeJS.Timeout | undefined;
  let delay = FIRST_RETRY_MS;

  const lost = (c: pg.Client, error: Error) => {
    if (c !== client || closed) return; // an 'error' and its 'end' are one loss
    client = undefined;
    void c.end().catch(() => {});
    handlers.onLost(error);
    retry = setTimeout(connect, delay);
    delay = Math.min(delay * 2, LAST_RETRY_MS);
  };
  const connect = async () => {
    if (closed) return;
    const c = new pg.Client({ connectionString: url });
    client = c;
    c.on('notification', (n) => {
      if (n.channel !== VERSIONS_CHANNEL) return;
      const notice = parseNotice(n.payload);
      if (notice) handlers.onNotice(notice);
    });
    c.on('error', (e) => lost(c, e));
    c.on('end', () => lost(c, new Error('the connection ended')));
    try {
      await c.connect();
      await c.query(`LISTEN ${VERSIONS_CHANNEL}`);
    } catch (e) {
      lost(c, e as Error);
      return;
    }
    if (c !== client) return;
    delay = FIRST_RETRY_MS;
    handlers.onConnect();
  };
  void connect();
  return {
    close: async () => {
      closed = true;
      clearTimeout(retry);
      const c = client;
      client = undefined;
      await c?.end().catch(() => {});
    },
  };
}

function parseNotice(payload: string | undefined): VersionNotice | null {
  try {
    const n = JSON.parse(payload ?? '');
    return (n.kind === 'model' || n.kind === 'taste') && typeof n.version === 'string' ? { kind: n.kind, version: n.version } : null;
  } catch {
    return null;
  }
}
