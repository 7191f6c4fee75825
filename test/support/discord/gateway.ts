/**
 * The gateway: a WebSocket per client session. HELLO, IDENTIFY (token and intents checked as Discord does),
 * READY and GUILD_CREATE, heartbeats, and dispatches (INTERACTION_CREATE). Sharding as Discord does it: IDENTIFY's
 * `shard: [id, count]` is honoured, READY and GUILD_CREATE list only that shard's guilds, and a guild's
 * interactions go to the session holding shard `(guild_id >> 22) % count`. Plain JSON only: discord.js asks
 * for zlib-stream only when `zlib-sync` is installed; a RESUME is answered "invalid session", so a client
 * identifies again.
 */
import type { IncomingMessage } from 'node:http';
import { type RawData, WebSocket } from 'ws';
import { clone, type Dict, rand, type Waiter } from './state.js';
import { StandInError } from './types.js';

const INTENT_GUILDS = 1 << 0;
const PRIVILEGED_INTENTS = (1 << 1) | (1 << 8) | (1 << 15);

export interface GatewayHost {
  readonly token: string;
  readonly applicationId: string;
  /** privileged intents the application is approved for */
  readonly privilegedIntents: number;
  readonly gatewayUrl: string;
  botUser(): Dict;
  /** GUILD_CREATE payloads of the guilds the bot is in */
  guildCreates(): Dict[];
  /** the shard of `count` that receives `guildId`'s events */
  shardOf(guildId: string, count: number): number;
  applicationFlags(): number;
  log(line: string): void;
}

interface Session {
  id: string;
  ws: WebSocket;
  seq: number;
  identified: boolean;
  intents: number;
  /** [shard id, shard count] from IDENTIFY ([0, 1] when the client did not shard) */
  shard: [number, number];
}

export class Gateway {
  /** every payload a client sent */
  readonly received: Dict[] = [];
  private readonly sessions = new Map<string, Session>();
  private readonly sockets = new Set<WebSocket>();
  private readyWaiters: Waiter<void>[] = [];
  private shardWaiters: { count: number; waiter: Waiter<void> }[] = [];
  private closed = false;

  constructor(private readonly host: GatewayHost) {}

  /** true while at least one identified session is connected */
  get connected(): boolean {
    return [...this.sessions.values()].some((s) => s.identified && s.ws.readyState === WebSocket.OPEN);
  }

  /** Resolves once a client has identified and got READY (and GUILD_CREATE). */
  waitForReady(timeoutMs = 15_000): Promise<void> {
    if (this.connected) return Promise.resolve();
    if (this.closed) return Promise.reject(new StandInError('stand-in is closed'));
    return new Promise((resolve, reject) => {
      const w: Waiter<void> = { resolve, reject };
      w.timer = setTimeout(() => {
        this.readyWaiters = this.readyWaiters.filter((x) => x !== w);
        reject(new StandInError(`no client identified within ${timeoutMs} ms`));
      }, timeoutMs);
      w.timer.unref();
      this.readyWaiters.push(w);
    });
  }

  /** the shard ids with an identified, open session */
  connectedShards(): number[] {
    const open = [...this.sessions.values()].filter((s) => s.identified && s.ws.readyState === WebSocket.OPEN);
    return [...new Set(open.map((s) => s.shard[0]))].sort((a, b) => a - b);
  }

  /** Resolves once shards 0 … count − 1 each have an identified session. */
  waitForShards(count: number, timeoutMs = 15_000): Promise<void> {
    if (this.holdsAll(count)) return Promise.resolve();
    if (this.closed) return Promise.reject(new StandInError('stand-in is closed'));
    return new Promise((resolve, reject) => {
      const entry = { count, waiter: { resolve, reject } as Waiter<void> };
      entry.waiter.timer = setTimeout(() => {
        this.shardWaiters = this.shardWaiters.filter((x) => x !== entry);
        reject(new StandInError(`shards connected after ${timeoutMs} ms: [${this.connectedShards().join(', ')}] of ${count}`));
      }, timeoutMs);
      entry.waiter.timer.unref();
      this.shardWaiters.push(entry);
    });
  }

  private holdsAll(count: number): boolean {
    const held = new Set(this.connectedShards());
    return Array.from({ length: count }, (_, k) => k).every((k) => held.has(k));
  }

  /** The open session that receives `guildId`'s events (the first, if two hold its shard). */
  sessionFor(guildId: string): Session | undefined {
    return [...this.sessions.values()].find((s) => s.identified && s.ws.readyState === WebSocket.OPEN && this.host.shardOf(guildId, s.shard[1]) === s.shard[0]);
  }

  /** Sends a dispatch to one session. */
  dispatchTo(session: Session, t: string, d: unknown): void {
    this.dispatch(session, t, d);
  }

  /** Sends a dispatch to every identified session. */
  dispatchToAll(t: string, d: unknown): void {
    for (const s of this.sessions.values()) if (s.identified) this.dispatch(s, t, d);
  }

  accept(ws: WebSocket, req: IncomingMessage): void {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const session: Session = { id: rand(16), ws, seq: 0, identified: false, intents: 0, shard: [0, 1] };
    this.sockets.add(ws);
    ws.on('close', (code) => {
      this.sockets.delete(ws);
      this.sessions.delete(session.id);
      this.host.log(`gateway socket closed ${code}`);
    });
    ws.on('error', (e) => this.host.log(`gateway socket error ${String(e)}`));
    this.send(session, { op: 10, d: { heartbeat_interval: 41_250, _trace: ['["standin",{}]'] } });
    if ((url.searchParams.get('encoding') ?? 'json') !== 'json') return void ws.close(4002, 'Error while decoding payload.');
    if (url.searchParams.get('compress')) return void ws.close(4002, 'Error while decoding payload.'); // see the file's comment
    const version = url.searchParams.get('v');
    if (version !== null && version !== '10') return void ws.close(4012, 'Invalid API version');
    ws.on('message', (raw: RawData, isBinary: boolean) => {
      let payload: Dict;
      try {
        if (isBinary) throw new Error('binary (compressed) payloads are not supported');
        payload = JSON.parse((Array.isArray(raw) ? Buffer.concat(raw) : Buffer.from(raw as Buffer)).toString('utf8'));
      } catch {
        return void ws.close(4002, 'Error while decoding payload.');
      }
      this.received.push(payload);
      this.onPayload(session, payload);
    });
  }

  private onPayload(session: Session, payload: Dict): void {
    const { ws } = session;
    switch (payload.op) {
      case 1:
        return this.send(session, { op: 11 });
      case 2: {
        if (session.identified) return void ws.close(4005, 'Already authenticated.');
        const d = payload.d ?? {};
        if (d.token !== this.host.token) return void ws.close(4004, 'Authentication failed.');
        if (typeof d.intents !== 'number' || d.intents < 0) return void ws.close(4013, 'Invalid intent(s).');
        if (d.intents & PRIVILEGED_INTENTS & ~this.host.privilegedIntents) return void ws.close(4014, 'Disallowed intent(s).');
        if (d.compress === true) return void ws.close(4002, 'Error while decoding payload.');
        if (d.shard !== undefined) {
          const [id, count] = Array.isArray(d.shard) ? d.shard : [];
          if (!Number.isInteger(id) || !Number.isInteger(count) || count < 1 || id < 0 || id >= count) return void ws.close(4010, 'Invalid shard.');
          session.shard = [id, count];
        }
        session.identified = true;
        session.intents = d.intents;
        this.sessions.set(session.id, session);
        const [shardId, shardCount] = session.shard;
        const guilds = this.host.guildCreates().filter((g) => this.host.shardOf(String(g.id), shardCount) === shardId);
        this.dispatch(session, 'READY', {
          v: 10,
          user: clone(this.host.botUser()),
          user_settings: {},
          guilds: guilds.map((g) => ({ id: g.id, unavailable: true })),
          session_id: session.id,
          session_type: 'normal',
          resume_gateway_url: this.host.gatewayUrl,
          shard: [...session.shard],
          application: { id: this.host.applicationId, flags: this.host.applicationFlags() },
          private_channels: [],
          relationships: [],
          presences: [],
          guild_join_requests: [],
          geo_ordered_rtc_regions: ['standin'],
          auth: {},
          _trace: ['["standin-gateway",{}]'],
        });
        if (session.intents & INTENT_GUILDS) for (const g of guilds) this.dispatch(session, 'GUILD_CREATE', g);
        this.host.log(`identified session ${session.id} intents=${session.intents} shard=${session.shard.join('/')}`);
        for (const w of this.readyWaiters.splice(0)) {
          clearTimeout(w.timer);
          w.resolve();
        }
        for (const entry of this.shardWaiters.filter((x) => this.holdsAll(x.count))) {
          this.shardWaiters = this.shardWaiters.filter((x) => x !== entry);
          clearTimeout(entry.waiter.timer);
          entry.waiter.resolve();
        }
        return;
      }
      case 6: // RESUME: the session is gone; the client identifies again
        return this.send(session, { op: 9, d: false });
      case 3: // presence update
      case 4: // voice state update
        if (!session.identified) return void ws.close(4003, 'Not authenticated.');
        return;
      default:
        if (!session.identified) return void ws.close(4003, 'Not authenticated.');
        ws.close(4001, 'Unknown opcode.');
    }
  }

  private dispatch(session: Session, t: string, d: unknown): void {
    session.seq += 1;
    this.send(session, { op: 0, t, s: session.seq, d });
  }

  private send(session: Session, payload: Dict): void {
    if (session.ws.readyState === WebSocket.OPEN) session.ws.send(JSON.stringify(payload));
  }

  /** Ends every session; pending waits reject with `reason`. */
  close(reason: Error): void {
    this.closed = true;
    for (const w of [...this.readyWaiters.splice(0), ...this.shardWaiters.splice(0).map((x) => x.waiter)]) {
      clearTimeout(w.timer);
      w.reject(reason);
    }
    for (const ws of this.sockets) ws.terminate();
  }
}
