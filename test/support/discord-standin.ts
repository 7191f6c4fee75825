/**
 * # Discord stand-in for end-to-end tests
 *
 * A local, in-process fake of the parts of Discord that a discord.js v14 bot
 * talks to: a real HTTP server (REST, `/api/v10/...`) and a real gateway
 * WebSocket on the same random 127.0.0.1 port. The bot under test is an
 * unmodified discord.js `Client` pointed at it:
 *
 * ```ts
 * const discord = await startDiscordStandIn();
 * const client = new Client({ intents: [GatewayIntentBits.Guilds], rest: { api: discord.apiUrl } });
 * await client.login(discord.token);
 * await discord.waitForReady();                       // IDENTIFY seen, READY + GUILD_CREATE sent
 *
 * const i = await discord.slashCommand({
 *   name: 'poem',
 *   options: [{ name: 'start', type: 3, value: '月' }],   // subcommands: [{ type: 1, name: 'status', options: [] }]
 *   user: { id: '…', username: 'li_bai' },                // optional; becomes a guild member
 *   locale: 'zh-CN',
 *   permissions: '0',                                     // or PermissionFlagsBits.Administrator, …
 * });
 * const answer = await i.response();   // the first visible answer (after a defer: after the edit)
 * answer.content; answer.embeds; answer.components; answer.ephemeral; answer.allowedMentions;
 * answer.attachments;                   // [{ filename, size, contentType, width, height, data }]
 * answer.latencyMs;                     // gateway dispatch → first accepted callback
 * answer.messageId;
 *
 * const click = await discord.clickButton({ message: answer.messageId, customId: 'again', user });
 * await click.response();                              // for `update`: the edited message
 * discord.message(answer.messageId);                   // current state + .history of every state
 * await discord.selectMenu({ message, customId, values: ['a'] });
 *
 * client.destroy(); await discord.close();
 * ```
 *
 * ## What it refuses (as Discord does), so tests fail where production would
 * - interaction callback > 3 s after dispatch → 404 `{ code: 10062, message: 'Unknown interaction' }`
 * - a second callback → 400 `{ code: 40060, message: 'Interaction has already been acknowledged.' }`
 * - invalid message bodies → 400 50035 "Invalid Form Body" (content > 2000, > 10 embeds, embed limits,
 *   > 5 rows / > 5 buttons, duplicate or missing custom_id, …) and 400 50006 for empty messages
 * - webhook (interaction token) routes: unknown token / app → 404 10015; token older than 15 min →
 *   401 50027; unknown message → 404 10008; token of an interaction that was never acknowledged → 404 10015
 * - bot-authenticated routes with a missing/wrong `Authorization: Bot <token>` → 401
 * - IDENTIFY with a wrong token → close 4004; privileged intents the app is not approved for → close 4014
 * - command registration that Discord would reject (bad names, missing descriptions, duplicate names,
 *   required-after-optional options, > 25 options/choices, > 100 commands)
 * - with `strictCommands` (default on) `slashCommand` throws if the command is not registered, the options do
 *   not fit the registered schema, or the user lacks `default_member_permissions`; `clickButton` throws for
 *   unknown/disabled/link buttons and for someone else's ephemeral message — a user could not do these.
 * Every refused REST call is in `discord.refusals` (and on `i.refusals` when it concerns an interaction);
 * every REST call is in `discord.requests`; routes the stand-in does not know are in `discord.unhandled`.
 *
 * ## Behaviour mirrored from Discord
 * - callbacks answer 204, or with `?with_response=true` 200 `{ interaction, resource: { type, message } }`
 * - deferred reply (5) creates a "thinking" message (flag 128 LOADING); the first `PATCH @original` or the first
 *   follow-up replaces it (keeping the defer's ephemeral flag); later follow-ups are new messages
 * - for component interactions `@original` is the clicked message after `update`/`deferUpdate`
 * - non-ephemeral bot messages are dispatched as MESSAGE_CREATE/UPDATE/DELETE when the client asked for
 *   the GuildMessages intent
 * - GET /gateway/bot, compression: plain JSON by default; `compress=zlib-stream` and IDENTIFY `compress: true`
 *   are supported too (discord.js only asks for zlib-stream when `zlib-sync` is installed)
 *
 * ## Time
 * `discord.advanceTime(ms)` moves the stand-in's clock (3 s / 15 min windows) without sleeping.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import zlib from 'node:zlib';
import { WebSocketServer, WebSocket, type RawData } from 'ws';
import type { APIAllowedMentions, APIEmbed, APIMessageTopLevelComponent } from 'discord.js';

// ───────────────────────────── public types ─────────────────────────────

export interface StandInOptions {
  guildId?: string;
  channelId?: string;
  applicationId?: string;
  botUsername?: string;
  guildName?: string;
  channelName?: string;
  /** More text channels in the guild (e.g. a report channel), by name; their ids are in `channelIds`. */
  extraChannels?: string[];
  /** guild_locale sent with interactions (default 'en-US') */
  guildLocale?: string;
  /** Throw from slashCommand/clickButton when a real user could not do it (default true). */
  strictCommands?: boolean;
  /** Privileged intents the application is approved for (GuildMembers 1<<1, GuildPresences 1<<8, MessageContent 1<<15). Default 0. */
  privilegedIntents?: number;
  /** The bot's role permissions (app_permissions). */
  botPermissions?: string | bigint;
  /** @everyone permissions in the guild. */
  everyonePermissions?: string | bigint;
  /** Debug log sink. */
  log?: (line: string) => void;
}

export interface UserInput {
  id?: string;
  username?: string;
  globalName?: string | null;
}

export interface CommandOptionInput {
  name: string;
  type: number;
  value?: string | number | boolean;
  options?: CommandOptionInput[];
  focused?: boolean;
}

export interface SlashCommandInput {
  name: string;
  options?: CommandOptionInput[];
  user?: UserInput;
  /** member role ids (must exist in the guild) */
  roles?: string[];
  /** The member's computed permissions; Administrator expands to all permissions like Discord does. */
  permissions?: string | bigint | number;
  locale?: string;
  channelId?: string;
  /**
   * A server admin allowed this user the command (Server Settings → Integrations), which Discord honours
   * whatever default_member_permissions says: the bot's own permission check must then decide.
   */
  permissionOverride?: boolean;
}

export interface ComponentInput {
  /** message id, or anything with `messageId`/`id` (an answer, a SeenMessage) */
  message: string | { messageId: string } | { id: string };
  customId: string;
  user?: UserInput;
  roles?: string[];
  permissions?: string | bigint | number;
  locale?: string;
}

export interface SelectInput extends ComponentInput {
  values: string[];
}

export interface SeenAttachment {
  id: string;
  filename: string;
  size: number;
  contentType: string | null;
  description: string | null;
  width: number | null;
  height: number | null;
  url: string;
  data: Buffer;
}

export interface MessageSnapshot {
  content: string;
  embeds: APIEmbed[];
  components: APIMessageTopLevelComponent[];
  flags: number;
  ephemeral: boolean;
  /** a deferred reply still "thinking" */
  loading: boolean;
  allowedMentions: APIAllowedMentions | undefined;
  attachments: SeenAttachment[];
  /** wall-clock ms */
  at: number;
}

export interface SeenMessage extends MessageSnapshot {
  id: string;
  channelId: string;
  guildId: string | null;
  authorId: string;
  /** interaction this message answers / follows up, if any */
  interactionId: string | null;
  webhookId: string | null;
  createdAt: number;
  editedAt: number | null;
  deleted: boolean;
  /** every state, oldest first (the last one equals the current state) */
  history: MessageSnapshot[];
}

export interface InteractionAnswer extends MessageSnapshot {
  messageId: string;
  /** dispatch → first accepted callback */
  latencyMs: number;
  /** dispatch → the answer became visible (equals latencyMs unless deferred) */
  answeredMs: number;
  /** type of the first accepted callback (4, 5, 6, 7) */
  callbackType: number;
  deferred: boolean;
  /** the message as it is when the answer resolved */
  message: SeenMessage;
}

export interface CallbackRecord {
  type: number;
  /** ms after the interaction was dispatched */
  atMs: number;
  accepted: boolean;
  status: number;
  code?: number;
  body: unknown;
}

export interface Refusal {
  method: string;
  path: string;
  status: number;
  code: number;
  message: string;
  errors?: unknown;
  interactionId?: string;
  /** wall-clock ms */
  at: number;
}

export interface RestCall {
  method: string;
  path: string;
  query: string;
  status: number;
  body: unknown;
  files: { name: string; size: number }[];
  interactionId?: string;
  at: number;
}

export interface RegisteredCommand {
  id: string;
  application_id: string;
  version: string;
  type: number;
  name: string;
  description: string;
  guild_id?: string;
  options?: Record<string, unknown>[];
  default_member_permissions: string | null;
  [key: string]: unknown;
}

export class StandInError extends Error {
  override name = 'StandInError';
}

// ───────────────────────────── constants / helpers ─────────────────────────────

type Dict = Record<string, any>;

const P = (bit: number): bigint => 1n << BigInt(bit);
const ADMINISTRATOR = P(3);
const ALL_PERMISSIONS = (1n << 51n) - 1n;
const DEFAULT_EVERYONE = P(0) | P(6) | P(10) | P(11) | P(14) | P(15) | P(16) | P(18) | P(20) | P(21) | P(25) | P(26) | P(31) | P(35) | P(38);
const DEFAULT_BOT = P(6) | P(10) | P(11) | P(14) | P(15) | P(16) | P(18) | P(31) | P(38);

const FLAG_SUPPRESS_EMBEDS = 1 << 2;
const FLAG_EPHEMERAL = 1 << 6;
const FLAG_LOADING = 1 << 7;
const FLAG_SUPPRESS_NOTIFICATIONS = 1 << 12;
const FLAG_VOICE = 1 << 13;
const FLAG_COMPONENTS_V2 = 1 << 15;
const SETTABLE_FLAGS = FLAG_SUPPRESS_EMBEDS | FLAG_SUPPRESS_NOTIFICATIONS | FLAG_VOICE | FLAG_COMPONENTS_V2;

const INTENT_GUILDS = 1 << 0;
const INTENT_GUILD_MESSAGES = 1 << 9;
const PRIVILEGED_INTENTS = (1 << 1) | (1 << 8) | (1 << 15);

const ACK_WINDOW_MS = 3_000;
const TOKEN_LIFETIME_MS = 15 * 60_000;
const MAX_FILE_SIZE = 10 * 1024 * 1024;
const MAX_BODY = 26 * 1024 * 1024;
const SELECT_TYPES = new Set([3, 5, 6, 7, 8]);
const NAME_RE = /^[-_'\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$/u;

const DISCORD_EPOCH = 1420070400000n;
let increment = 0n;
function snowflake(at = Date.now()): string {
  increment = (increment + 1n) & 0xfffn;
  return (((BigInt(at) - DISCORD_EPOCH) << 22n) | (1n << 17n) | increment).toString();
}
const rand = (bytes: number): string => randomBytes(bytes).toString('base64url');
const chars = (s: string): number => [...s].length;
const clone = <T>(v: T): T => structuredClone(v);
const iso = (ms: number): string => new Date(ms).toISOString();

class HttpRefusal {
  constructor(
    readonly status: number,
    readonly body: { code: number; message: string; errors?: unknown },
  ) {}
}
function refuse(status: number, code: number, message: string, errors?: unknown): never {
  throw new HttpRefusal(status, errors === undefined ? { code, message } : { code, message, errors });
}

/** Collects Discord-style nested form errors: `{ data: { content: { _errors: [...] } } }`. */
class FormErrors {
  readonly root: Dict = {};
  count = 0;
  constructor(readonly prefix: (string | number)[] = []) {}
  add(path: (string | number)[], code: string, message: string): void {
    let node = this.root;
    for (const p of [...this.prefix, ...path]) node = node[String(p)] ??= {};
    (node._errors ??= []).push({ code, message });
    this.count++;
  }
  throwIfAny(): void {
    if (this.count) refuse(400, 50035, 'Invalid Form Body', this.root);
  }
}

function parsePermissions(p: string | bigint | number | undefined, fallback: bigint): bigint {
  if (p === undefined) return fallback;
  const v = BigInt(p);
  return v & ADMINISTRATOR ? ALL_PERMISSIONS : v;
}

function pngSize(data: Buffer): { width: number; height: number } | null {
  if (data.length >= 24 && data.readUInt32BE(0) === 0x89504e47 && data.toString('latin1', 12, 16) === 'IHDR') {
    return { width: data.readUInt32BE(16), height: data.readUInt32BE(20) };
  }
  return null;
}

interface Upload {
  field: string;
  index: string;
  name: string;
  size: number;
  type: string;
  data: Buffer;
}

interface MessageState {
  id: string;
  channelId: string;
  guildId: string | null;
  authorId: string;
  type: number;
  content: string;
  embeds: APIEmbed[];
  components: APIMessageTopLevelComponent[];
  flags: number;
  allowedMentions: APIAllowedMentions | undefined;
  attachments: SeenAttachment[];
  tts: boolean;
  createdAt: number;
  editedAt: number | null;
  deleted: boolean;
  webhookId: string | null;
  interactionId: string | null;
  interactionMeta: Dict | null;
  messageReference: Dict | null;
  /** ephemeral messages are visible to this user only */
  visibleTo: string | null;
  history: MessageSnapshot[];
}

interface Session {
  id: string;
  ws: WebSocket | null;
  seq: number;
  identified: boolean;
  intents: number;
  shard: [number, number];
  compress: 'none' | 'zlib-stream' | 'identify';
  deflate: zlib.Deflate | null;
  chain: Promise<void>;
  buffer: Dict[];
}

interface Waiter<T> {
  resolve: (v: T) => void;
  reject: (e: Error) => void;
  timer?: NodeJS.Timeout;
}

interface InteractionState {
  id: string;
  token: string;
  type: number;
  label: string;
  payload: Dict;
  userId: string;
  /** stand-in clock */
  dispatchedAt: number;
  callbacks: CallbackRecord[];
  refusals: Refusal[];
  ack: CallbackRecord | null;
  originalMessageId: string | null;
  sourceMessageId: string | null;
  followUpIds: string[];
  /** a type-5 loading message still waiting for its content */
  loadingPending: boolean;
  answer: InteractionAnswer | null;
  failure: Error | null;
  ackWaiters: Waiter<CallbackRecord>[];
  answerWaiters: Waiter<InteractionAnswer>[];
  expiry: NodeJS.Timeout | null;
}

/** Handle on one interaction the stand-in dispatched. */
export class StandInInteraction {
  /** @internal */
  constructor(
    private readonly state: InteractionState,
    private readonly host: { message(id: string): SeenMessage; now(): number },
  ) {}
  get id(): string {
    return this.state.id;
  }
  get token(): string {
    return this.state.token;
  }
  /** 2 = application command, 3 = message component */
  get type(): number {
    return this.state.type;
  }
  /** the exact INTERACTION_CREATE payload sent over the gateway */
  get payload(): Dict {
    return this.state.payload;
  }
  /** every callback attempt, accepted or refused */
  get callbacks(): readonly CallbackRecord[] {
    return this.state.callbacks;
  }
  /** every refused REST call that used this interaction's id or token */
  get refusals(): readonly Refusal[] {
    return this.state.refusals;
  }
  /** Resolves at the first accepted callback; rejects if none came within 3 s. */
  acknowledged(): Promise<CallbackRecord> {
    const s = this.state;
    if (s.ack) return Promise.resolve(s.ack);
    if (s.failure) return Promise.reject(s.failure);
    return new Promise((resolve, reject) => s.ackWaiters.push({ resolve, reject }));
  }
  /**
   * Resolves with the first visible answer: the reply (4), the edited deferred reply (5) or its first
   * follow-up, the updated message (7), or for a deferred update (6) the first edit/follow-up.
   * Rejects if the interaction was not acknowledged within 3 s, or no answer came within `timeoutMs`.
   */
  response(opts: { timeoutMs?: number } = {}): Promise<InteractionAnswer> {
    const s = this.state;
    if (s.answer) return Promise.resolve(s.answer);
    if (s.failure) return Promise.reject(s.failure);
    const timeoutMs = opts.timeoutMs ?? 60_000;
    return new Promise((resolve, reject) => {
      const w: Waiter<InteractionAnswer> = { resolve, reject };
      w.timer = setTimeout(() => {
        s.answerWaiters = s.answerWaiters.filter((x) => x !== w);
        const how = s.ack ? `was acknowledged with type ${s.ack.type} but` : 'was';
        reject(new StandInError(`interaction ${s.label} ${how} not answered within ${timeoutMs} ms`));
      }, timeoutMs);
      w.timer.unref();
      s.answerWaiters.push(w);
    });
  }
  /** current state of the original response message (or the clicked message after update) */
  message(): SeenMessage | undefined {
    return this.state.originalMessageId ? this.host.message(this.state.originalMessageId) : undefined;
  }
  /** follow-up messages (not counting one that replaced a deferred reply) */
  followUps(): SeenMessage[] {
    return this.state.followUpIds.map((id) => this.host.message(id));
  }
}

interface Guild {
  id: string;
  name: string;
  ownerId: string;
  locale: string;
  channels: Map<string, Dict>;
  roles: Map<string, Dict>;
  members: Map<string, Dict>;
  commands: Map<string, RegisteredCommand>;
  joinedAt: number;
}

interface RouteContext {
  params: Record<string, string>;
  query: URLSearchParams;
  body: any;
  uploads: Upload[];
  arrived: number;
  method: string;
  path: string;
  call: RestCall;
}
type RouteResult = { status: number; json?: unknown };
interface Route {
  method: string;
  re: RegExp;
  keys: string[];
  auth: boolean;
  handler: (ctx: RouteContext) => RouteResult | Promise<RouteResult>;
}

// ───────────────────────────── the stand-in ─────────────────────────────

export async function startDiscordStandIn(options: StandInOptions = {}): Promise<DiscordStandIn> {
  const standIn = new DiscordStandIn(options);
  await standIn.listen();
  return standIn;
}

export class DiscordStandIn {
  readonly applicationId: string;
  readonly token: string;
  readonly guildId: string;
  readonly channelId: string;
  /** ids of the extra channels, by name (StandInOptions.extraChannels) */
  readonly channelIds = new Map<string, string>();
  /** every REST call, in order */
  readonly requests: RestCall[] = [];
  /** every refused REST call */
  readonly refusals: Refusal[] = [];
  /** REST calls to routes the stand-in does not implement */
  readonly unhandled: RestCall[] = [];
  /** exceptions thrown by the stand-in itself (500s) */
  readonly errors: Error[] = [];
  /** gateway payloads received from clients */
  readonly gatewayReceived: Dict[] = [];

  private readonly strict: boolean;
  private readonly privilegedIntents: number;
  private readonly log: (line: string) => void;
  private readonly botUser: Dict;
  private readonly defaultUser: Dict;
  private readonly users = new Map<string, Dict>();
  private readonly guilds = new Map<string, Guild>();
  private readonly globalCommands = new Map<string, RegisteredCommand>();
  private readonly messagesById = new Map<string, MessageState>();
  private readonly interactions = new Map<string, InteractionState>();
  private readonly interactionsByToken = new Map<string, InteractionState>();
  private readonly sessions = new Map<string, Session>();
  private readonly sockets = new Set<WebSocket>();
  private readyWaiters: Waiter<void>[] = [];
  private readonly routes: Route[] = [];
  private readonly server: Server;
  private readonly wss: WebSocketServer;
  private readonly botPermissions: bigint;
  private readonly everyonePermissions: bigint;
  private offsetMs = 0;
  private port = 0;
  private closed = false;

  constructor(opts: StandInOptions = {}) {
    this.applicationId = opts.applicationId ?? snowflake();
    this.guildId = opts.guildId ?? snowflake();
    this.channelId = opts.channelId ?? snowflake();
    this.token = `${Buffer.from(this.applicationId).toString('base64url')}.${rand(4)}.${rand(27)}`;
    this.strict = opts.strictCommands ?? true;
    this.privilegedIntents = opts.privilegedIntents ?? 0;
    this.log = opts.log ?? (() => {});
    this.botPermissions = parsePermissions(opts.botPermissions, DEFAULT_BOT);
    this.everyonePermissions = parsePermissions(opts.everyonePermissions, DEFAULT_EVERYONE);

    this.botUser = this.makeUser({ id: this.applicationId, username: opts.botUsername ?? 'standin-bot' }, true);
    const owner = this.makeUser({ username: 'guild-owner' });
    this.defaultUser = this.makeUser({ username: 'tester', globalName: 'Tester' });

    const now = Date.now();
    const guild: Guild = {
      id: this.guildId,
      name: opts.guildName ?? 'Stand-in Guild',
      ownerId: owner.id,
      locale: opts.guildLocale ?? 'en-US',
      channels: new Map(),
      roles: new Map(),
      members: new Map(),
      commands: new Map(),
      joinedAt: now,
    };
    guild.roles.set(guild.id, this.makeRole(guild.id, '@everyone', this.everyonePermissions, 0));
    const botRole = this.makeRole(snowflake(), this.botUser.username, this.botPermissions, 1, {
      managed: true,
      tags: { bot_id: this.botUser.id },
    });
    guild.roles.set(botRole.id, botRole);
    guild.channels.set(this.channelId, {
      id: this.channelId,
      type: 0,
      guild_id: guild.id,
      name: opts.channelName ?? 'general',
      position: 0,
      permission_overwrites: [],
      topic: null,
      nsfw: false,
      last_message_id: null,
      rate_limit_per_user: 0,
      parent_id: null,
      flags: 0,
    });
    for (const [i, name] of (opts.extraChannels ?? []).entries()) {
      const id = snowflake();
      guild.channels.set(id, { ...guild.channels.get(this.channelId)!, id, name, position: i + 1 });
      this.channelIds.set(name, id);
    }
    guild.members.set(this.botUser.id, this.makeMember(this.botUser, [botRole.id], now));
    guild.members.set(owner.id, this.makeMember(owner, [], now));
    guild.members.set(this.defaultUser.id, this.makeMember(this.defaultUser, [], now));
    this.guilds.set(guild.id, guild);

    this.server = createServer((req, res) => void this.onRequest(req, res));
    this.wss = new WebSocketServer({ noServer: true });
    this.server.on('upgrade', (req, socket, head) => {
      this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, req));
    });
    this.defineRoutes();
  }

  /** @internal */
  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** base for `rest: { api }` in the discord.js Client options */
  get apiUrl(): string {
    return `http://127.0.0.1:${this.port}/api`;
  }
  get gatewayUrl(): string {
    return `ws://127.0.0.1:${this.port}`;
  }
  get httpUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }
  /** the bot user (id = applicationId) */
  get botUserId(): string {
    return this.botUser.id;
  }
  /** the user who runs commands when no `user` is given */
  get defaultUserId(): string {
    return this.defaultUser.id;
  }
  /** true while at least one identified gateway session is connected */
  get connected(): boolean {
    return [...this.sessions.values()].some((s) => s.identified && s.ws?.readyState === WebSocket.OPEN);
  }

  /** Stand-in clock (ms, monotonic); `advanceTime` moves it. */
  now(): number {
    return performance.now() + this.offsetMs;
  }
  /** Pretend `ms` passed: interactions and tokens age, without sleeping. */
  advanceTime(ms: number): void {
    this.offsetMs += ms;
    for (const s of this.interactions.values()) this.checkExpiry(s);
  }

  /**
   * Registered application commands.
   * - `commands()`: what users of the default guild can see (global + that guild's commands)
   * - `commands(guildId)`: only that guild's commands
   * - `commands('global')`: only global commands
   */
  commands(scope?: string): RegisteredCommand[] {
    if (scope === 'global') return [...this.globalCommands.values()].map(clone);
    if (scope !== undefined) return [...(this.guilds.get(scope)?.commands.values() ?? [])].map(clone);
    return [...this.globalCommands.values(), ...this.requireGuild(this.guildId).commands.values()].map(clone);
  }

  /** Current state of a message (throws if unknown). */
  message(id: string): SeenMessage {
    const m = this.messagesById.get(id);
    if (!m) throw new StandInError(`no message ${id}`);
    return this.view(m);
  }
  /** All messages, oldest first (default: every message in every channel, ephemeral ones included). */
  messages(filter: { channelId?: string; includeEphemeral?: boolean; includeDeleted?: boolean } = {}): SeenMessage[] {
    return [...this.messagesById.values()]
      .filter((m) => (filter.channelId ? m.channelId === filter.channelId : true))
      .filter((m) => filter.includeEphemeral !== false || !(m.flags & FLAG_EPHEMERAL))
      .filter((m) => filter.includeDeleted || !m.deleted)
      .map((m) => this.view(m));
  }

  /** Resolves once a client has identified and got READY (and GUILD_CREATE). */
  waitForReady(opts: { timeoutMs?: number } = {}): Promise<void> {
    if (this.connected) return Promise.resolve();
    if (this.closed) return Promise.reject(new StandInError('stand-in is closed'));
    const timeoutMs = opts.timeoutMs ?? 15_000;
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

  /** A user runs a slash command; resolves once INTERACTION_CREATE was sent. */
  async slashCommand(input: SlashCommandInput): Promise<StandInInteraction> {
    await this.waitForReady({ timeoutMs: 10_000 });
    const guild = this.requireGuild(this.guildId);
    const channel = this.requireChannel(guild, input.channelId ?? this.channelId);
    const { member, permissions } = this.memberFor(guild, input);
    const cmd =
      [...guild.commands.values()].find((c) => c.name === input.name && c.type === 1) ??
      [...this.globalCommands.values()].find((c) => c.name === input.name && c.type === 1);
    const label = `/${input.name}`;
    if (this.strict) {
      if (!cmd) {
        throw new StandInError(
          `${label} is not registered (guild: ${[...guild.commands.values()].map((c) => c.name).join(', ') || 'none'}; ` +
            `global: ${[...this.globalCommands.values()].map((c) => c.name).join(', ') || 'none'}) — a user could not run it`,
        );
      }
      const problem = checkOptions(cmd.options as Dict[] | undefined, input.options ?? [], '');
      if (problem) throw new StandInError(`${label}: ${problem} — Discord's client would not send this`);
      if (cmd.default_member_permissions !== null && !(permissions & ADMINISTRATOR) && !input.permissionOverride) {
        const need = BigInt(cmd.default_member_permissions);
        if (need === 0n || (permissions & need) !== need) {
          throw new StandInError(`${label} needs default_member_permissions ${need}; the user has ${permissions}`);
        }
      }
    }
    const data: Dict = { id: cmd?.id ?? snowflake(), name: input.name, type: 1 };
    if (cmd?.guild_id) data.guild_id = cmd.guild_id;
    if (input.options?.length) {
      data.options = clone(input.options);
      const resolved = this.resolveOptions(guild, input.options);
      if (resolved) data.resolved = resolved;
    }
    return this.dispatchInteraction(2, data, { guild, channel, member, permissions, locale: input.locale, label });
  }

  /** A user clicks a button on a message the bot sent. */
  clickButton(input: ComponentInput): Promise<StandInInteraction> {
    return this.component(input, null);
  }

  /** A user picks values in a select menu on a message the bot sent. */
  selectMenu(input: SelectInput): Promise<StandInInteraction> {
    return this.component(input, input.values);
  }

  /** Send any dispatch event to every identified session (escape hatch). */
  dispatch(t: string, d: unknown): void {
    for (const s of this.sessions.values()) if (s.identified && s.ws) this.sendDispatch(s, t, d);
  }

  /** Close everything: sockets, server, timers; pending waits reject. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const err = new StandInError('stand-in closed');
    for (const w of this.readyWaiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(err);
    }
    for (const s of this.interactions.values()) {
      if (s.expiry) clearTimeout(s.expiry);
      for (const w of s.ackWaiters.splice(0)) w.reject(err);
      for (const w of s.answerWaiters.splice(0)) {
        clearTimeout(w.timer);
        w.reject(err);
      }
    }
    for (const s of this.sessions.values()) s.deflate?.close();
    for (const ws of this.sockets) ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ───────────────────────────── users, guild ─────────────────────────────

  private makeUser(input: UserInput, bot = false): Dict {
    const id = input.id ?? snowflake();
    const existing = this.users.get(id);
    if (existing) {
      if (input.username) existing.username = input.username;
      if (input.globalName !== undefined) existing.global_name = input.globalName;
      return existing;
    }
    const user: Dict = {
      id,
      username: input.username ?? `user${id.slice(-4)}`,
      discriminator: '0',
      global_name: input.globalName ?? null,
      avatar: null,
      avatar_decoration_data: null,
      public_flags: 0,
      flags: 0,
      banner: null,
      accent_color: null,
      primary_guild: null,
      collectibles: null,
      clan: null,
    };
    if (bot) Object.assign(user, { bot: true, verified: true, mfa_enabled: false, email: null, locale: 'en-US' });
    this.users.set(id, user);
    return user;
  }

  private makeRole(id: string, name: string, permissions: bigint, position: number, extra: Dict = {}): Dict {
    return {
      id,
      name,
      color: 0,
      colors: { primary_color: 0, secondary_color: null, tertiary_color: null },
      hoist: false,
      icon: null,
      unicode_emoji: null,
      position,
      permissions: permissions.toString(),
      managed: false,
      mentionable: false,
      flags: 0,
      ...extra,
    };
  }

  private makeMember(user: Dict, roles: string[], joinedAt: number): Dict {
    return {
      user,
      nick: null,
      avatar: null,
      banner: null,
      roles,
      joined_at: iso(joinedAt),
      premium_since: null,
      deaf: false,
      mute: false,
      flags: 0,
      pending: false,
      communication_disabled_until: null,
      unusual_dm_activity_until: null,
    };
  }

  private requireGuild(id: string): Guild {
    const g = this.guilds.get(id);
    if (!g) throw new StandInError(`no guild ${id}`);
    return g;
  }

  private requireChannel(guild: Guild, id: string): Dict {
    const c = guild.channels.get(id);
    if (!c) throw new StandInError(`no channel ${id} in guild ${guild.id}`);
    return c;
  }

  private memberFor(
    guild: Guild,
    input: { user?: UserInput; roles?: string[]; permissions?: string | bigint | number },
  ): { member: Dict; permissions: bigint } {
    const user = input.user ? this.makeUser(input.user) : this.defaultUser;
    let member = guild.members.get(user.id);
    if (!member) {
      member = this.makeMember(user, [], Date.now());
      guild.members.set(user.id, member);
    }
    if (input.roles) {
      for (const r of input.roles) if (!guild.roles.has(r)) throw new StandInError(`no role ${r} in the guild`);
      member.roles = [...input.roles];
    }
    let computed = guild.roles.get(guild.id) ? BigInt(guild.roles.get(guild.id)!.permissions) : 0n;
    for (const r of member.roles as string[]) computed |= BigInt(guild.roles.get(r)?.permissions ?? '0');
    if (guild.ownerId === user.id || computed & ADMINISTRATOR) computed = ALL_PERMISSIONS;
    const permissions = input.permissions === undefined ? computed : parsePermissions(input.permissions, computed);
    return { member, permissions };
  }

  private resolveOptions(guild: Guild, options: CommandOptionInput[]): Dict | null {
    const resolved: Dict = {};
    const walk = (opts: CommandOptionInput[]): void => {
      for (const o of opts) {
        if (o.options) walk(o.options);
        const v = String(o.value);
        if (o.type === 6 || (o.type === 9 && !guild.roles.has(v))) {
          const user = this.users.get(v) ?? this.makeUser({ id: v });
          (resolved.users ??= {})[v] = user;
          const m = guild.members.get(v);
          if (m) {
            const { user: _u, ...rest } = m;
            (resolved.members ??= {})[v] = { ...rest, permissions: ALL_PERMISSIONS.toString() };
          }
        } else if (o.type === 7) {
          const c = guild.channels.get(v);
          if (!c) throw new StandInError(`option ${o.name}: no channel ${v}`);
          (resolved.channels ??= {})[v] = { id: c.id, name: c.name, type: c.type, permissions: ALL_PERMISSIONS.toString() };
        } else if (o.type === 8 || o.type === 9) {
          const r = guild.roles.get(v);
          if (!r) throw new StandInError(`option ${o.name}: no role ${v}`);
          (resolved.roles ??= {})[v] = r;
        } else if (o.type === 11) {
          throw new StandInError(`option ${o.name}: attachment options are not supported by the stand-in`);
        }
      }
    };
    walk(options);
    return Object.keys(resolved).length ? resolved : null;
  }

  private channelPartial(channel: Dict, permissions: bigint): Dict {
    return { ...clone(channel), permissions: permissions.toString() };
  }

  // ───────────────────────────── interactions ─────────────────────────────

  private async component(input: ComponentInput, values: string[] | null): Promise<StandInInteraction> {
    await this.waitForReady({ timeoutMs: 10_000 });
    const id = typeof input.message === 'string' ? input.message : 'messageId' in input.message ? input.message.messageId : input.message.id;
    const msg = this.messagesById.get(id);
    if (!msg || msg.deleted) throw new StandInError(`no message ${id} to interact with`);
    const guild = this.requireGuild(msg.guildId ?? this.guildId);
    const channel = this.requireChannel(guild, msg.channelId);
    const { member, permissions } = this.memberFor(guild, input);
    if (msg.visibleTo && msg.visibleTo !== member.user.id) {
      throw new StandInError(`message ${id} is ephemeral and only visible to user ${msg.visibleTo}`);
    }
    const comp = findComponent(msg.components, input.customId);
    const kind = values ? 'select menu' : 'button';
    if (!comp) {
      const ids = collectCustomIds(msg.components);
      throw new StandInError(`message ${id} has no component "${input.customId}" (has: ${ids.join(', ') || 'none'})`);
    }
    if (this.strict) {
      if (comp.disabled) throw new StandInError(`${kind} "${input.customId}" is disabled — a user could not use it`);
      if (values ? !SELECT_TYPES.has(comp.type) : comp.type !== 2) {
        throw new StandInError(`component "${input.customId}" is type ${comp.type}, not a ${kind}`);
      }
      if (values) {
        const min = comp.min_values ?? 1;
        const max = comp.max_values ?? 1;
        if (values.length < min || values.length > max) {
          throw new StandInError(`select "${input.customId}" takes ${min}..${max} values, got ${values.length}`);
        }
        if (comp.type === 3) {
          const allowed = new Set((comp.options ?? []).map((o: Dict) => o.value));
          const bad = values.filter((v) => !allowed.has(v));
          if (bad.length) throw new StandInError(`select "${input.customId}" has no option(s) ${bad.join(', ')}`);
        }
      }
    }
    const data: Dict = { custom_id: input.customId, component_type: comp.type };
    if (values) data.values = [...values];
    const interaction = await this.dispatchInteraction(3, data, {
      guild,
      channel,
      member,
      permissions,
      locale: input.locale,
      label: `${kind} "${input.customId}"`,
      message: msg,
    });
    return interaction;
  }

  private dispatchInteraction(
    type: number,
    data: Dict,
    ctx: {
      guild: Guild;
      channel: Dict;
      member: Dict;
      permissions: bigint;
      locale: string | undefined;
      label: string;
      message?: MessageState;
    },
  ): StandInInteraction {
    const sessions = [...this.sessions.values()].filter(
      (s) => s.identified && s.ws?.readyState === WebSocket.OPEN && Number((BigInt(ctx.guild.id) >> 22n) % BigInt(s.shard[1])) === s.shard[0],
    );
    const session = sessions[0];
    if (!session) throw new StandInError('no bot is connected to the gateway (did client.login finish?)');
    const id = snowflake();
    const token = Buffer.from(`interaction:${id}:${rand(48)}`).toString('base64url');
    const appPermissions = this.botPermissions | BigInt(ctx.guild.roles.get(ctx.guild.id)?.permissions ?? '0');
    const payload: Dict = {
      app_permissions: appPermissions.toString(),
      application_id: this.applicationId,
      attachment_size_limit: MAX_FILE_SIZE,
      authorizing_integration_owners: { '0': ctx.guild.id },
      channel: this.channelPartial(ctx.channel, ctx.permissions),
      channel_id: ctx.channel.id,
      context: 0,
      data,
      entitlement_sku_ids: [],
      entitlements: [],
      guild: { id: ctx.guild.id, locale: ctx.guild.locale, features: [] },
      guild_id: ctx.guild.id,
      guild_locale: ctx.guild.locale,
      id,
      locale: ctx.locale ?? 'en-US',
      member: { ...clone(ctx.member), permissions: ctx.permissions.toString() },
      token,
      type,
      version: 1,
    };
    if (ctx.message) payload.message = this.apiMessage(ctx.message);
    const state: InteractionState = {
      id,
      token,
      type,
      label: ctx.label,
      payload,
      userId: ctx.member.user.id,
      dispatchedAt: 0,
      callbacks: [],
      refusals: [],
      ack: null,
      originalMessageId: null,
      sourceMessageId: ctx.message?.id ?? null,
      followUpIds: [],
      loadingPending: false,
      answer: null,
      failure: null,
      ackWaiters: [],
      answerWaiters: [],
      expiry: null,
    };
    this.interactions.set(id, state);
    this.interactionsByToken.set(token, state);
    state.dispatchedAt = this.now();
    this.sendDispatch(session, 'INTERACTION_CREATE', payload);
    state.expiry = setTimeout(() => this.checkExpiry(state), ACK_WINDOW_MS + 5);
    state.expiry.unref();
    this.log(`dispatched ${ctx.label} as interaction ${id}`);
    return new StandInInteraction(state, this);
  }

  private checkExpiry(s: InteractionState): void {
    if (s.ack || s.failure || this.now() - s.dispatchedAt <= ACK_WINDOW_MS) return;
    s.failure = new StandInError(`interaction ${s.label} was not acknowledged within 3 s — the user sees "The application did not respond"`);
    for (const w of s.ackWaiters.splice(0)) w.reject(s.failure);
    for (const w of s.answerWaiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(s.failure);
    }
  }

  private answered(s: InteractionState, messageId: string): void {
    if (s.answer || !s.ack) return;
    const m = this.messagesById.get(messageId)!;
    const v = this.view(m);
    const { id: _id, channelId: _c, guildId: _g, authorId: _a, interactionId: _i, webhookId: _w, ...snap } = v;
    const { createdAt: _ca, editedAt: _ea, deleted: _d, history: _h, ...rest } = snap;
    s.answer = {
      ...rest,
      messageId,
      latencyMs: s.ack.atMs,
      answeredMs: this.now() - s.dispatchedAt,
      callbackType: s.ack.type,
      deferred: s.ack.type === 5 || s.ack.type === 6,
      message: v,
    };
    if (s.expiry) clearTimeout(s.expiry);
    for (const w of s.answerWaiters.splice(0)) {
      clearTimeout(w.timer);
      w.resolve(s.answer);
    }
  }

  // ───────────────────────────── messages ─────────────────────────────

  private snapshot(m: MessageState): MessageSnapshot {
    return {
      content: m.content,
      embeds: clone(m.embeds),
      components: clone(m.components),
      flags: m.flags,
      ephemeral: Boolean(m.flags & FLAG_EPHEMERAL),
      loading: Boolean(m.flags & FLAG_LOADING),
      allowedMentions: m.allowedMentions ? clone(m.allowedMentions) : undefined,
      attachments: m.attachments.map((a) => ({ ...a })),
      at: Date.now(),
    };
  }

  private view(m: MessageState): SeenMessage {
    return {
      ...this.snapshot(m),
      at: m.history[m.history.length - 1]?.at ?? m.createdAt,
      id: m.id,
      channelId: m.channelId,
      guildId: m.guildId,
      authorId: m.authorId,
      interactionId: m.interactionId,
      webhookId: m.webhookId,
      createdAt: m.createdAt,
      editedAt: m.editedAt,
      deleted: m.deleted,
      history: m.history.map((h) => ({ ...h })),
    };
  }

  private apiMessage(m: MessageState): Dict {
    const msg: Dict = {
      id: m.id,
      type: m.type,
      channel_id: m.channelId,
      author: clone(this.users.get(m.authorId) ?? this.botUser),
      content: m.content,
      timestamp: iso(m.createdAt),
      edited_timestamp: m.editedAt === null ? null : iso(m.editedAt),
      tts: m.tts,
      mention_everyone: false,
      mentions: [],
      mention_roles: [],
      attachments: m.attachments.map((a) => ({
        id: a.id,
        filename: a.filename,
        size: a.size,
        url: a.url,
        proxy_url: a.url,
        ...(a.contentType ? { content_type: a.contentType } : {}),
        ...(a.description ? { description: a.description } : {}),
        ...(a.width !== null ? { width: a.width, height: a.height } : {}),
      })),
      embeds: clone(m.embeds),
      components: clone(m.components),
      pinned: false,
      flags: m.flags,
    };
    if (m.webhookId) {
      msg.webhook_id = m.webhookId;
      msg.application_id = this.applicationId;
    }
    if (m.interactionMeta) {
      msg.interaction_metadata = clone(m.interactionMeta);
      msg.interaction = {
        id: m.interactionMeta.id,
        type: m.interactionMeta.type,
        name: m.interactionMeta.name ?? '',
        user: clone(m.interactionMeta.user),
      };
    }
    if (m.messageReference) msg.message_reference = clone(m.messageReference);
    return msg;
  }

  private gatewayMessage(m: MessageState): Dict {
    const msg = this.apiMessage(m);
    if (m.guildId) {
      msg.guild_id = m.guildId;
      const member = this.guilds.get(m.guildId)?.members.get(m.authorId);
      if (member) {
        const { user: _u, ...rest } = member;
        msg.member = clone(rest);
      }
    }
    return msg;
  }

  private newMessage(init: {
    channelId: string;
    guildId: string | null;
    type: number;
    webhookId?: string | null;
    interaction?: InteractionState | null;
    visibleTo?: string | null;
  }): MessageState {
    const s = init.interaction ?? null;
    const id = snowflake();
    const m: MessageState = {
      id,
      channelId: init.channelId,
      guildId: init.guildId,
      authorId: this.botUser.id,
      type: init.type,
      content: '',
      embeds: [],
      components: [],
      flags: 0,
      allowedMentions: undefined,
      attachments: [],
      tts: false,
      createdAt: Date.now(),
      editedAt: null,
      deleted: false,
      webhookId: init.webhookId ?? null,
      interactionId: s?.id ?? null,
      interactionMeta: s
        ? {
            id: s.id,
            type: s.type,
            user: clone(this.users.get(s.userId)),
            authorizing_integration_owners: { '0': this.guildId },
            ...(s.type === 2 ? { name: s.payload.data.name, command_type: 1 } : {}),
            ...(s.type === 3 && s.sourceMessageId ? { interacted_message_id: s.sourceMessageId } : {}),
          }
        : null,
      messageReference: null,
      visibleTo: init.visibleTo ?? null,
      history: [],
    };
    return m;
  }

  /**
   * Apply a message body (create or PATCH semantics) to `m`, validating like Discord.
   * `errors` carries the path prefix (e.g. `data` for callbacks).
   */
  private applyBody(m: MessageState, body: Dict, uploads: Upload[], mode: 'create' | 'edit', errors: FormErrors, opts: { ephemeralAllowed: boolean }): void {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      refuse(400, 50109, 'The request body contains invalid JSON.');
    }
    const next = {
      content: m.content,
      embeds: m.embeds,
      components: m.components,
      flags: m.flags,
      allowedMentions: m.allowedMentions,
      attachments: m.attachments,
      tts: m.tts,
    };
    const has = (k: string): boolean => k in body && body[k] !== undefined;
    if (has('content')) {
      if (body.content !== null && typeof body.content !== 'string') errors.add(['content'], 'BASE_TYPE_STRING', 'Must be a string.');
      else next.content = body.content ?? '';
    }
    if (has('embeds')) {
      if (body.embeds !== null && !Array.isArray(body.embeds)) errors.add(['embeds'], 'BASE_TYPE_LIST', 'Must be a list.');
      else next.embeds = clone(body.embeds ?? []);
    }
    if (has('components')) {
      if (body.components !== null && !Array.isArray(body.components)) errors.add(['components'], 'BASE_TYPE_LIST', 'Must be a list.');
      else next.components = clone(body.components ?? []);
    }
    if (has('tts') && mode === 'create') next.tts = Boolean(body.tts);
    if (has('allowed_mentions')) next.allowedMentions = body.allowed_mentions === null ? undefined : clone(body.allowed_mentions);
    if (has('flags') && body.flags !== null) {
      const f = Number(body.flags);
      if (!Number.isInteger(f)) errors.add(['flags'], 'NUMBER_TYPE_COERCE', `Value "${body.flags}" is not int.`);
      else if (mode === 'create') next.flags = f & (SETTABLE_FLAGS | (opts.ephemeralAllowed ? FLAG_EPHEMERAL : 0));
      else {
        // on edit only SUPPRESS_EMBEDS can be toggled; ephemeral/v2 stay as they were (v2 can be added, not removed)
        next.flags = (m.flags & ~FLAG_SUPPRESS_EMBEDS) | (f & FLAG_SUPPRESS_EMBEDS) | (f & FLAG_COMPONENTS_V2);
      }
    }
    // attachments
    const uploaded = uploads.map((u) => this.toAttachment(m, u, body));
    for (const u of uploads) {
      if (u.size > MAX_FILE_SIZE) refuse(413, 40005, 'Request entity too large');
    }
    if (Array.isArray(body.attachments)) {
      const keepIds = new Set(body.attachments.map((a: Dict) => String(a?.id)));
      const uploadIdx = new Set(uploads.map((u) => u.index));
      body.attachments.forEach((a: Dict, i: number) => {
        const aid = String(a?.id);
        if (!uploadIdx.has(aid) && !m.attachments.some((x) => x.id === aid)) {
          errors.add(['attachments', i, 'id'], 'ATTACHMENT_NOT_FOUND', `Unknown attachment id ${aid}`);
        }
      });
      const kept = mode === 'edit' ? m.attachments.filter((a) => keepIds.has(a.id)) : [];
      next.attachments = [...kept, ...uploaded];
    } else if (uploaded.length) {
      next.attachments = mode === 'edit' ? [...m.attachments, ...uploaded] : uploaded;
    }
    validateMessage(next, errors);
    errors.throwIfAny();
    const empty =
      !next.content && next.embeds.length === 0 && next.components.length === 0 && next.attachments.length === 0 && !has('poll') && !has('sticker_ids');
    if (empty) refuse(400, 50006, 'Cannot send an empty message');
    Object.assign(m, next);
    if (mode === 'edit') m.editedAt = Date.now();
    m.history.push(this.snapshot(m));
  }

  private toAttachment(m: MessageState, u: Upload, body: Dict): SeenAttachment {
    const meta: Dict | undefined = Array.isArray(body.attachments) ? body.attachments.find((a: Dict) => String(a?.id) === u.index) : undefined;
    const id = snowflake();
    const filename = String(meta?.filename ?? u.name).replace(/[^\w.\-\u0080-\uffff]/g, '_');
    const dims = pngSize(u.data);
    return {
      id,
      filename,
      size: u.size,
      contentType: u.type || null,
      description: meta?.description ?? null,
      width: dims?.width ?? null,
      height: dims?.height ?? null,
      url: `${this.httpUrl}/attachments/${m.channelId}/${id}/${encodeURIComponent(filename)}`,
      data: u.data,
    };
  }

  private storeAndAnnounce(m: MessageState): void {
    this.messagesById.set(m.id, m);
    if (m.flags & FLAG_EPHEMERAL) return;
    const guild = m.guildId ? this.guilds.get(m.guildId) : undefined;
    const ch = guild?.channels.get(m.channelId);
    if (ch) ch.last_message_id = m.id;
    this.dispatchToIntent(INTENT_GUILD_MESSAGES, 'MESSAGE_CREATE', this.gatewayMessage(m));
  }

  private announceEdit(m: MessageState): void {
    if (m.flags & FLAG_EPHEMERAL) return;
    this.dispatchToIntent(INTENT_GUILD_MESSAGES, 'MESSAGE_UPDATE', this.gatewayMessage(m));
  }

  private deleteMessage(m: MessageState): void {
    m.deleted = true;
    if (m.flags & FLAG_EPHEMERAL) return;
    this.dispatchToIntent(INTENT_GUILD_MESSAGES, 'MESSAGE_DELETE', {
      id: m.id,
      channel_id: m.channelId,
      ...(m.guildId ? { guild_id: m.guildId } : {}),
    });
  }

  // ───────────────────────────── gateway ─────────────────────────────

  private onConnection(ws: WebSocket, req: IncomingMessage): void {
    this.sockets.add(ws);
    const url = new URL(req.url ?? '/', this.httpUrl);
    const session: Session = {
      id: rand(16),
      ws,
      seq: 0,
      identified: false,
      intents: 0,
      shard: [0, 1],
      compress: url.searchParams.get('compress') === 'zlib-stream' ? 'zlib-stream' : 'none',
      deflate: null,
      chain: Promise.resolve(),
      buffer: [],
    };
    if (session.compress === 'zlib-stream') session.deflate = zlib.createDeflate();
    let bound: Session = session;
    ws.on('close', (code) => {
      this.sockets.delete(ws);
      if (bound.ws === ws) {
        bound.ws = null;
        // a normal close invalidates the session; anything else may resume
        if (code === 1000 || code === 1001) this.sessions.delete(bound.id);
      }
      this.log(`gateway socket closed ${code}`);
    });
    ws.on('error', (e) => this.log(`gateway socket error ${String(e)}`));
    const version = url.searchParams.get('v');
    const encoding = url.searchParams.get('encoding') ?? 'json';
    this.send(session, { op: 10, d: { heartbeat_interval: 41_250, _trace: ['["standin",{}]'] } });
    if (encoding !== 'json') {
      ws.close(4002, 'Error while decoding payload.');
      return;
    }
    if (version !== null && version !== '10') {
      ws.close(4012, 'Invalid API version');
      return;
    }
    ws.on('message', (raw: RawData, isBinary: boolean) => {
      let payload: Dict;
      try {
        const buf = Array.isArray(raw) ? Buffer.concat(raw) : Buffer.from(raw as Buffer);
        payload = JSON.parse((isBinary ? zlib.inflateSync(buf) : buf).toString('utf8'));
      } catch {
        ws.close(4002, 'Error while decoding payload.');
        return;
      }
      this.gatewayReceived.push(payload);
      bound = this.onGatewayPayload(bound, ws, payload) ?? bound;
    });
  }

  /** returns the session the socket is now bound to (after RESUME) */
  private onGatewayPayload(session: Session, ws: WebSocket, payload: Dict): Session | undefined {
    switch (payload.op) {
      case 1:
        this.send(session, { op: 11 });
        return;
      case 2: {
        if (session.identified) return void ws.close(4005, 'Already authenticated.');
        const d = payload.d ?? {};
        if (d.token !== this.token) return void ws.close(4004, 'Authentication failed.');
        if (typeof d.intents !== 'number' || d.intents < 0) return void ws.close(4013, 'Invalid intent(s).');
        if (d.intents & PRIVILEGED_INTENTS & ~this.privilegedIntents) return void ws.close(4014, 'Disallowed intent(s).');
        const shard: [number, number] = Array.isArray(d.shard) ? [d.shard[0], d.shard[1]] : [0, 1];
        if (!(shard[1] >= 1 && shard[0] >= 0 && shard[0] < shard[1])) return void ws.close(4010, 'Invalid shard.');
        session.identified = true;
        session.intents = d.intents;
        session.shard = shard;
        if (d.compress === true && session.compress === 'none') session.compress = 'identify';
        this.sessions.set(session.id, session);
        const guilds = [...this.guilds.values()].filter((g) => Number((BigInt(g.id) >> 22n) % BigInt(shard[1])) === shard[0]);
        this.sendDispatch(session, 'READY', {
          v: 10,
          user: clone(this.botUser),
          user_settings: {},
          guilds: guilds.map((g) => ({ id: g.id, unavailable: true })),
          session_id: session.id,
          session_type: 'normal',
          resume_gateway_url: this.gatewayUrl,
          shard,
          application: { id: this.applicationId, flags: this.applicationFlags() },
          private_channels: [],
          relationships: [],
          presences: [],
          guild_join_requests: [],
          geo_ordered_rtc_regions: ['standin'],
          auth: {},
          _trace: ['["standin-gateway",{}]'],
        });
        if (session.intents & INTENT_GUILDS) for (const g of guilds) this.sendDispatch(session, 'GUILD_CREATE', this.guildCreate(g));
        this.log(`identified session ${session.id} intents=${session.intents}`);
        for (const w of this.readyWaiters.splice(0)) {
          clearTimeout(w.timer);
          w.resolve();
        }
        return;
      }
      case 6: {
        const d = payload.d ?? {};
        const old = this.sessions.get(String(d.session_id));
        if (!old || d.token !== this.token) {
          this.send(session, { op: 9, d: false });
          return;
        }
        if (old.ws && old.ws !== ws) old.ws.terminate();
        old.ws = ws;
        old.compress = session.compress;
        old.deflate = session.deflate;
        old.chain = session.chain;
        for (const p of old.buffer) if (p.s > Number(d.seq ?? 0)) this.send(old, p);
        this.sendDispatch(old, 'RESUMED', { _trace: ['["standin-gateway",{}]'] });
        return old;
      }
      case 3:
      case 4:
        if (!session.identified) return void ws.close(4003, 'Not authenticated.');
        return;
      case 8: {
        if (!session.identified) return void ws.close(4003, 'Not authenticated.');
        const g = this.guilds.get(String(payload.d?.guild_id));
        if (g) {
          this.sendDispatch(session, 'GUILD_MEMBERS_CHUNK', {
            guild_id: g.id,
            members: clone([...g.members.values()]),
            chunk_index: 0,
            chunk_count: 1,
            not_found: [],
            ...(payload.d?.nonce ? { nonce: payload.d.nonce } : {}),
          });
        }
        return;
      }
      default:
        if (!session.identified) return void ws.close(4003, 'Not authenticated.');
        ws.close(4001, 'Unknown opcode.');
    }
  }

  private applicationFlags(): number {
    let flags = 0;
    if (this.privilegedIntents & (1 << 8)) flags |= 1 << 13;
    if (this.privilegedIntents & (1 << 1)) flags |= 1 << 15;
    if (this.privilegedIntents & (1 << 15)) flags |= 1 << 19;
    return flags;
  }

  private guildCreate(g: Guild): Dict {
    const channels = [...g.channels.values()].map((c) => {
      const { guild_id: _g, ...rest } = c;
      return clone(rest);
    });
    return {
      id: g.id,
      name: g.name,
      icon: null,
      icon_hash: null,
      splash: null,
      discovery_splash: null,
      owner_id: g.ownerId,
      afk_channel_id: null,
      afk_timeout: 300,
      widget_enabled: false,
      verification_level: 0,
      default_message_notifications: 0,
      explicit_content_filter: 0,
      roles: clone([...g.roles.values()]),
      emojis: [],
      features: [],
      mfa_level: 0,
      application_id: null,
      system_channel_id: this.channelId,
      system_channel_flags: 0,
      rules_channel_id: null,
      max_members: 500000,
      max_video_channel_users: 25,
      vanity_url_code: null,
      description: null,
      banner: null,
      premium_tier: 0,
      premium_subscription_count: 0,
      preferred_locale: g.locale,
      public_updates_channel_id: null,
      nsfw_level: 0,
      nsfw: false,
      stickers: [],
      premium_progress_bar_enabled: false,
      safety_alerts_channel_id: null,
      incidents_data: null,
      joined_at: iso(g.joinedAt),
      large: false,
      unavailable: false,
      member_count: g.members.size,
      voice_states: [],
      // without the GuildMembers intent Discord only sends the bot's own member
      members: clone([...g.members.values()].filter((m) => m.user.id === this.botUser.id)),
      channels,
      threads: [],
      presences: [],
      stage_instances: [],
      guild_scheduled_events: [],
      soundboard_sounds: [],
      lazy: true,
    };
  }

  private dispatchToIntent(intent: number, t: string, d: unknown): void {
    for (const s of this.sessions.values()) if (s.identified && s.ws && s.intents & intent) this.sendDispatch(s, t, d);
  }

  private sendDispatch(session: Session, t: string, d: unknown): void {
    session.seq += 1;
    const payload = { op: 0, t, s: session.seq, d };
    session.buffer.push(payload);
    if (session.buffer.length > 500) session.buffer.shift();
    this.send(session, payload);
  }

  private send(session: Session, payload: Dict): void {
    const ws = session.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    const text = JSON.stringify(payload);
    if (session.compress === 'zlib-stream' && session.deflate) {
      const deflate = session.deflate;
      session.chain = session.chain.then(
        () =>
          new Promise<void>((resolve) => {
            const chunks: Buffer[] = [];
            const onData = (c: Buffer): void => void chunks.push(c);
            deflate.on('data', onData);
            deflate.write(text);
            deflate.flush(zlib.constants.Z_SYNC_FLUSH, () => {
              deflate.off('data', onData);
              if (ws.readyState === WebSocket.OPEN) ws.send(Buffer.concat(chunks));
              resolve();
            });
          }),
      );
    } else if (session.compress === 'identify' && payload.op === 0) {
      ws.send(zlib.deflateSync(text));
    } else {
      ws.send(text);
    }
  }

  // ───────────────────────────── REST plumbing ─────────────────────────────

  private route(method: string, pattern: string, auth: boolean, handler: Route['handler']): void {
    const keys: string[] = [];
    const re = new RegExp(
      `^${pattern.replace(/:(\w+)/g, (_m, k: string) => {
        keys.push(k);
        return '([^/]+)';
      })}$`,
    );
    this.routes.push({ method, re, keys, auth, handler });
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const arrived = this.now();
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', this.httpUrl);
    const call: RestCall = {
      method,
      path: url.pathname,
      query: url.search,
      status: 0,
      body: undefined,
      files: [],
      at: Date.now(),
    };
    this.requests.push(call);
    const reply = (status: number, json?: unknown): void => {
      call.status = status;
      if (res.headersSent) return;
      if (json === undefined) {
        res.writeHead(status).end();
      } else {
        const text = JSON.stringify(json);
        res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
      }
    };
    try {
      const raw = await readBody(req);
      if (url.pathname.startsWith('/attachments/')) {
        const a = [...this.messagesById.values()].flatMap((m) => m.attachments).find((x) => url.pathname.includes(`/${x.id}/`));
        if (!a) return reply(404, { message: '404: Not Found', code: 0 });
        call.status = 200;
        res.writeHead(200, { 'content-type': a.contentType ?? 'application/octet-stream' }).end(a.data);
        return;
      }
      const m = /^\/api\/v(\d+)(\/.*)$/.exec(url.pathname);
      if (!m) refuse(404, 0, '404: Not Found');
      if (m[1] !== '10' && m[1] !== '9') refuse(400, 50041, 'Invalid API version provided.');
      const path = decodeURIComponent(m[2]!).replace(/\/+$/, '');
      call.path = path;
      const { body, uploads } = await parseBody(req, raw);
      call.body = body;
      call.files = uploads.map((u) => ({ name: u.name, size: u.size }));
      let methodMismatch = false;
      for (const r of this.routes) {
        const match = r.re.exec(path);
        if (!match) continue;
        if (r.method !== method) {
          methodMismatch = true;
          continue;
        }
        if (r.auth && req.headers.authorization !== `Bot ${this.token}`) refuse(401, 0, '401: Unauthorized');
        const params: Record<string, string> = {};
        r.keys.forEach((k, i) => (params[k] = match[i + 1]!));
        const result = await r.handler({ params, query: url.searchParams, body, uploads, arrived, method, path, call });
        return reply(result.status, result.json);
      }
      this.unhandled.push(call);
      this.log(`unhandled ${method} ${path}`);
      if (methodMismatch) refuse(405, 0, '405: Method Not Allowed');
      refuse(404, 0, '404: Not Found');
    } catch (e) {
      if (e instanceof HttpRefusal) {
        const refusal: Refusal = {
          method,
          path: call.path,
          status: e.status,
          code: e.body.code,
          message: e.body.message,
          ...(e.body.errors !== undefined ? { errors: e.body.errors } : {}),
          ...(call.interactionId ? { interactionId: call.interactionId } : {}),
          at: Date.now(),
        };
        this.refusals.push(refusal);
        if (call.interactionId) this.interactions.get(call.interactionId)?.refusals.push(refusal);
        this.log(`refused ${method} ${call.path}: ${e.status} ${e.body.code} ${e.body.message}`);
        return reply(e.status, e.body);
      }
      const err = e instanceof Error ? e : new Error(String(e));
      this.errors.push(err);
      this.log(`stand-in error on ${method} ${call.path}: ${err.stack ?? err.message}`);
      return reply(500, { message: '500: Internal Server Error', code: 0 });
    }
  }

  // ───────────────────────────── REST routes ─────────────────────────────

  private defineRoutes(): void {
    const ok = (json: unknown): RouteResult => ({ status: 200, json });
    const noContent: RouteResult = { status: 204 };

    // gateway
    const gateway = { url: this.gatewayUrl };
    this.route('GET', '/gateway', false, () => ok(gateway));
    this.route('GET', '/gateway/bot', true, () =>
      ok({
        url: this.gatewayUrl,
        shards: 1,
        session_start_limit: { total: 1000, remaining: 999, reset_after: 14_400_000, max_concurrency: 1 },
      }),
    );

    // users / application
    this.route('GET', '/users/@me', true, () => ok(clone(this.botUser)));
    this.route('GET', '/users/:id', true, ({ params }) => {
      const u = this.users.get(params.id!);
      if (!u) refuse(404, 10013, 'Unknown User');
      return ok(clone(u));
    });
    const application = (): Dict => ({
      id: this.applicationId,
      name: this.botUser.username,
      icon: null,
      description: '',
      summary: '',
      type: null,
      bot_public: true,
      bot_require_code_grant: false,
      verify_key: 'standin',
      flags: this.applicationFlags(),
      owner: clone(this.users.get(this.requireGuild(this.guildId).ownerId)),
      team: null,
      hook: true,
      approximate_guild_count: this.guilds.size,
      bot: clone(this.botUser),
      tags: [],
      integration_types_config: { '0': {} },
      redirect_uris: [],
      interactions_endpoint_url: null,
    });
    this.route('GET', '/applications/@me', true, () => ok(application()));
    this.route('GET', '/oauth2/applications/@me', true, () => ok(application()));

    // application commands
    const scope = (params: Record<string, string>): { map: Map<string, RegisteredCommand>; guildId?: string } => {
      if (params.app !== this.applicationId) refuse(403, 50001, 'Missing Access');
      if (params.guild === undefined) return { map: this.globalCommands };
      const g = this.guilds.get(params.guild);
      if (!g) refuse(403, 50001, 'Missing Access');
      return { map: g.commands, guildId: g.id };
    };
    for (const prefix of ['/applications/:app/commands', '/applications/:app/guilds/:guild/commands']) {
      this.route('GET', prefix, true, ({ params }) => ok([...scope(params).map.values()].map(clone)));
      this.route('PUT', prefix, true, ({ params, body }) => {
        const { map, guildId } = scope(params);
        if (!Array.isArray(body)) refuse(400, 50035, 'Invalid Form Body', { _errors: [{ code: 'BASE_TYPE_LIST', message: 'Must be a list.' }] });
        const errors = new FormErrors();
        body.forEach((c: Dict, i: number) => validateCommand(c, errors, [i]));
        for (const type of [1, 2, 3]) {
          const seen = new Set<string>();
          body.forEach((c: Dict, i: number) => {
            if ((c?.type ?? 1) !== type) return;
            if (seen.has(c.name)) errors.add([i, 'name'], 'APPLICATION_COMMANDS_DUPLICATE_NAME', `Application command names must be unique`);
            seen.add(c.name);
          });
        }
        errors.throwIfAny();
        const counts = [1, 2, 3].map((t) => body.filter((c: Dict) => (c.type ?? 1) === t).length);
        if (counts[0]! > 100 || counts[1]! > 15 || counts[2]! > 15) refuse(400, 30032, 'Maximum number of application commands reached');
        const previous = [...map.values()];
        map.clear();
        for (const c of body) {
          const prev = previous.find((p) => p.name === c.name && p.type === (c.type ?? 1));
          const cmd = this.makeCommand(c, guildId, prev?.id);
          map.set(cmd.id, cmd);
        }
        return ok([...map.values()].map(clone));
      });
      this.route('POST', prefix, true, ({ params, body }) => {
        const { map, guildId } = scope(params);
        const errors = new FormErrors();
        validateCommand(body, errors, []);
        errors.throwIfAny();
        const prev = [...map.values()].find((p) => p.name === body.name && p.type === (body.type ?? 1));
        const cmd = this.makeCommand(body, guildId, prev?.id);
        map.set(cmd.id, cmd);
        return { status: prev ? 200 : 201, json: clone(cmd) };
      });
      this.route('GET', `${prefix}/:cmd`, true, ({ params }) => {
        const c = scope(params).map.get(params.cmd!);
        if (!c) refuse(404, 10063, 'Unknown application command');
        return ok(clone(c));
      });
      this.route('PATCH', `${prefix}/:cmd`, true, ({ params, body }) => {
        const { map, guildId } = scope(params);
        const c = map.get(params.cmd!);
        if (!c) refuse(404, 10063, 'Unknown application command');
        const merged = { ...c, ...body };
        const errors = new FormErrors();
        validateCommand(merged, errors, []);
        errors.throwIfAny();
        const cmd = this.makeCommand(merged, guildId, c.id);
        map.set(cmd.id, cmd);
        return ok(clone(cmd));
      });
      this.route('DELETE', `${prefix}/:cmd`, true, ({ params }) => {
        if (!scope(params).map.delete(params.cmd!)) refuse(404, 10063, 'Unknown application command');
        return noContent;
      });
    }

    // guilds / channels
    this.route('GET', '/guilds/:guild', true, ({ params }) => {
      const g = this.guilds.get(params.guild!);
      if (!g) refuse(403, 50001, 'Missing Access');
      const {
        joined_at: _j,
        large: _l,
        unavailable: _u,
        member_count: _m,
        voice_states: _v,
        members: _ms,
        channels: _c,
        threads: _t,
        presences: _p,
        stage_instances: _s,
        guild_scheduled_events: _e,
        soundboard_sounds: _sb,
        lazy: _z,
        ...rest
      } = this.guildCreate(g);
      return ok(rest);
    });
    this.route('GET', '/guilds/:guild/channels', true, ({ params }) => {
      const g = this.guilds.get(params.guild!);
      if (!g) refuse(403, 50001, 'Missing Access');
      return ok(clone([...g.channels.values()]));
    });
    this.route('GET', '/guilds/:guild/roles', true, ({ params }) => {
      const g = this.guilds.get(params.guild!);
      if (!g) refuse(403, 50001, 'Missing Access');
      return ok(clone([...g.roles.values()]));
    });
    this.route('GET', '/guilds/:guild/members/:user', true, ({ params }) => {
      const g = this.guilds.get(params.guild!);
      if (!g) refuse(403, 50001, 'Missing Access');
      const m = g.members.get(params.user === '@me' ? this.botUser.id : params.user!);
      if (!m) refuse(404, 10007, 'Unknown Member');
      return ok(clone(m));
    });
    const channelOf = (id: string): { guild: Guild; channel: Dict } => {
      for (const guild of this.guilds.values()) {
        const channel = guild.channels.get(id);
        if (channel) return { guild, channel };
      }
      refuse(404, 10003, 'Unknown Channel');
    };
    this.route('GET', '/channels/:channel', true, ({ params }) => ok(clone(channelOf(params.channel!).channel)));
    this.route('POST', '/channels/:channel/typing', true, ({ params }) => {
      channelOf(params.channel!);
      return noContent;
    });
    this.route('POST', '/channels/:channel/messages', true, ({ params, body, uploads }) => {
      const { guild, channel } = channelOf(params.channel!);
      const ref = body?.message_reference;
      const m = this.newMessage({ channelId: channel.id, guildId: guild.id, type: ref ? 19 : 0 });
      if (ref) {
        const target = this.messagesById.get(String(ref.message_id));
        if ((!target || target.deleted) && ref.fail_if_not_exists !== false) {
          refuse(400, 50035, 'Invalid Form Body', {
            message_reference: { _errors: [{ code: 'MESSAGE_REFERENCE_UNKNOWN_MESSAGE', message: 'Unknown message' }] },
          });
        }
        m.messageReference = { type: 0, message_id: String(ref.message_id), channel_id: channel.id, guild_id: guild.id };
      }
      this.applyBody(m, body ?? {}, uploads, 'create', new FormErrors(), { ephemeralAllowed: false });
      this.storeAndAnnounce(m);
      return ok(this.apiMessage(m));
    });
    this.route('GET', '/channels/:channel/messages', true, ({ params, query }) => {
      channelOf(params.channel!);
      const limit = Math.min(Number(query.get('limit') ?? 50), 100);
      const list = [...this.messagesById.values()]
        .filter((m) => m.channelId === params.channel && !m.deleted && !(m.flags & FLAG_EPHEMERAL))
        .reverse()
        .slice(0, limit);
      return ok(list.map((m) => this.apiMessage(m)));
    });
    const channelMessage = (params: Record<string, string>): MessageState => {
      channelOf(params.channel!);
      const m = this.messagesById.get(params.message!);
      if (!m || m.deleted || m.channelId !== params.channel || m.flags & FLAG_EPHEMERAL) refuse(404, 10008, 'Unknown Message');
      return m;
    };
    this.route('GET', '/channels/:channel/messages/:message', true, ({ params }) => ok(this.apiMessage(channelMessage(params))));
    this.route('PATCH', '/channels/:channel/messages/:message', true, ({ params, body, uploads }) => {
      const m = channelMessage(params);
      if (m.authorId !== this.botUser.id) refuse(403, 50005, 'Cannot edit a message authored by another user');
      this.applyBody(m, body ?? {}, uploads, 'edit', new FormErrors(), { ephemeralAllowed: false });
      this.announceEdit(m);
      return ok(this.apiMessage(m));
    });
    this.route('DELETE', '/channels/:channel/messages/:message', true, ({ params }) => {
      this.deleteMessage(channelMessage(params));
      return noContent;
    });

    // interaction callback
    this.route('POST', '/interactions/:id/:token/callback', false, (ctx) => this.onCallback(ctx));

    // interaction webhooks
    const webhookState = (ctx: RouteContext): InteractionState => {
      const s = this.interactionsByToken.get(ctx.params.token!);
      if (s) ctx.call.interactionId = s.id;
      if (ctx.params.app !== this.applicationId || !s) refuse(404, 10015, 'Unknown Webhook');
      if (this.now() - s.dispatchedAt > TOKEN_LIFETIME_MS) refuse(401, 50027, 'Invalid Webhook Token');
      if (!s.ack) refuse(404, 10015, 'Unknown Webhook');
      return s;
    };
    const webhookMessage = (s: InteractionState, id: string): MessageState => {
      const mid = id === '@original' ? s.originalMessageId : id;
      const m = mid ? this.messagesById.get(mid) : undefined;
      const ours = m && (m.id === s.originalMessageId || s.followUpIds.includes(m.id));
      if (!m || !ours || m.deleted) refuse(404, 10008, 'Unknown Message');
      return m;
    };
    this.route('GET', '/webhooks/:app/:token/messages/:message', false, (ctx) => {
      const s = webhookState(ctx);
      return ok(this.apiMessage(webhookMessage(s, ctx.params.message!)));
    });
    this.route('PATCH', '/webhooks/:app/:token/messages/:message', false, (ctx) => {
      const s = webhookState(ctx);
      const m = webhookMessage(s, ctx.params.message!);
      const wasLoading = Boolean(m.flags & FLAG_LOADING);
      const body = { ...(ctx.body ?? {}) };
      this.applyBody(m, body, ctx.uploads, 'edit', new FormErrors(), { ephemeralAllowed: false });
      if (wasLoading) {
        m.flags &= ~FLAG_LOADING;
        m.history[m.history.length - 1] = this.snapshot(m);
        s.loadingPending = false;
      }
      this.announceEdit(m);
      if (m.id === s.originalMessageId) this.answered(s, m.id);
      return ok(this.apiMessage(m));
    });
    this.route('DELETE', '/webhooks/:app/:token/messages/:message', false, (ctx) => {
      const s = webhookState(ctx);
      this.deleteMessage(webhookMessage(s, ctx.params.message!));
      return noContent;
    });
    this.route('POST', '/webhooks/:app/:token', false, (ctx) => {
      const s = webhookState(ctx);
      const body = ctx.body ?? {};
      const guildId = String(s.payload.guild_id);
      const channelId = String(s.payload.channel_id);
      let m: MessageState;
      if (s.loadingPending && s.originalMessageId) {
        // the first follow-up after a deferred reply replaces the "thinking" message, keeping its ephemerality
        m = this.messagesById.get(s.originalMessageId)!;
        const { flags: _f, ...rest } = body;
        this.applyBody(m, rest, ctx.uploads, 'edit', new FormErrors(), { ephemeralAllowed: false });
        m.flags &= ~FLAG_LOADING;
        m.editedAt = null;
        m.history[m.history.length - 1] = this.snapshot(m);
        s.loadingPending = false;
        this.announceEdit(m);
      } else {
        m = this.newMessage({ channelId, guildId, type: 0, webhookId: this.applicationId, interaction: s });
        this.applyBody(m, body, ctx.uploads, 'create', new FormErrors(), { ephemeralAllowed: true });
        if (m.flags & FLAG_EPHEMERAL) m.visibleTo = s.userId;
        s.followUpIds.push(m.id);
        this.storeAndAnnounce(m);
      }
      this.answered(s, m.id);
      return ctx.query.get('wait') === 'true' ? ok(this.apiMessage(m)) : noContent;
    });
  }

  private makeCommand(c: Dict, guildId: string | undefined, id: string | undefined): RegisteredCommand {
    const type = c.type ?? 1;
    const cmd: RegisteredCommand = {
      id: id ?? snowflake(),
      application_id: this.applicationId,
      version: snowflake(),
      default_member_permissions:
        c.default_member_permissions === undefined || c.default_member_permissions === null ? null : String(c.default_member_permissions),
      type,
      name: c.name,
      name_localizations: c.name_localizations ?? null,
      description: type === 1 ? c.description : '',
      description_localizations: c.description_localizations ?? null,
      nsfw: c.nsfw ?? false,
      integration_types: c.integration_types ?? [0],
      contexts: c.contexts ?? null,
      ...(guildId ? { guild_id: guildId } : { dm_permission: c.dm_permission ?? true }),
    };
    if (Array.isArray(c.options) && c.options.length) cmd.options = clone(c.options);
    return cmd;
  }

  private onCallback(ctx: RouteContext): RouteResult {
    const s = this.interactions.get(ctx.params.id!);
    if (s) ctx.call.interactionId = s.id;
    const body: Dict = ctx.body ?? {};
    const type = Number(body.type);
    const atMs = ctx.arrived - (s?.dispatchedAt ?? ctx.arrived);
    const record = (accepted: boolean, status: number, code?: number): void => {
      s?.callbacks.push({ type, atMs, accepted, status, ...(code !== undefined ? { code } : {}), body: clone(body) });
    };
    try {
      if (!s || s.token !== ctx.params.token) refuse(404, 10062, 'Unknown interaction');
      if (s.ack) refuse(400, 40060, 'Interaction has already been acknowledged.');
      if (ctx.arrived - s.dispatchedAt > ACK_WINDOW_MS) {
        this.checkExpiry(s);
        refuse(404, 10062, 'Unknown interaction');
      }
      const isCommand = s.type === 2;
      const isComponent = s.type === 3;
      const valid: Record<number, boolean> = { 4: true, 5: true, 6: isComponent, 7: isComponent, 9: isCommand || isComponent };
      if (!valid[type]) {
        refuse(400, 50035, 'Invalid Form Body', {
          type: {
            _errors: [{ code: 'INTERACTION_RESPONSE_TYPE_INVALID', message: `Interaction response type ${body.type} is not valid for this interaction` }],
          },
        });
      }
      const data: Dict = body.data ?? {};
      const errors = new FormErrors(['data']);
      const guildId = String(s.payload.guild_id);
      const channelId = String(s.payload.channel_id);
      let message: MessageState | null = null;
      if (type === 4 || type === 5) {
        message = this.newMessage({
          channelId,
          guildId,
          type: isCommand ? 20 : 0,
          webhookId: this.applicationId,
          interaction: s,
        });
        if (type === 4) {
          this.applyBody(message, data, ctx.uploads, 'create', errors, { ephemeralAllowed: true });
        } else {
          const flags = Number(data.flags ?? 0);
          message.flags = FLAG_LOADING | (flags & FLAG_EPHEMERAL);
          message.history.push(this.snapshot(message));
        }
        if (message.flags & FLAG_EPHEMERAL) message.visibleTo = s.userId;
      } else if (type === 7) {
        message = this.messagesById.get(s.sourceMessageId ?? '') ?? null;
        if (!message || message.deleted) refuse(404, 10008, 'Unknown Message');
        const { flags: _f, ...rest } = data;
        this.applyBody(message, rest, ctx.uploads, 'edit', errors, { ephemeralAllowed: false });
      } else if (type === 9) {
        if (typeof data.custom_id !== 'string' || typeof data.title !== 'string' || !Array.isArray(data.components)) {
          refuse(400, 50035, 'Invalid Form Body', {
            data: { _errors: [{ code: 'BASE_TYPE_REQUIRED', message: 'custom_id, title and components are required' }] },
          });
        }
      }
      // accepted
      record(true, ctx.query.get('with_response') === 'true' ? 200 : 204);
      s.ack = s.callbacks[s.callbacks.length - 1]!;
      if (s.expiry) clearTimeout(s.expiry);
      if (type === 4 || type === 5) {
        this.messagesById.set(message!.id, message!);
        s.originalMessageId = message!.id;
        this.storeAndAnnounce(message!);
        if (type === 5) s.loadingPending = true;
      } else if (type === 6 || type === 7) {
        s.originalMessageId = s.sourceMessageId;
        if (type === 7) this.announceEdit(message!);
      }
      for (const w of s.ackWaiters.splice(0)) w.resolve(s.ack);
      if (type === 4 || type === 7) this.answered(s, message!.id);
      if (type === 9) {
        const err = new StandInError(`interaction ${s.label} was answered with a modal (see i.callbacks)`);
        s.failure = err;
        for (const w of s.answerWaiters.splice(0)) {
          clearTimeout(w.timer);
          w.reject(err);
        }
      }
      if (ctx.query.get('with_response') !== 'true') return { status: 204 };
      const interaction: Dict = { id: s.id, type: s.type };
      const resource: Dict = { type };
      if (message && type !== 6) {
        interaction.response_message_id = message.id;
        interaction.response_message_loading = Boolean(message.flags & FLAG_LOADING);
        interaction.response_message_ephemeral = Boolean(message.flags & FLAG_EPHEMERAL);
        resource.message = this.apiMessage(message);
      }
      return { status: 200, json: { interaction, resource } };
    } catch (e) {
      if (e instanceof HttpRefusal) record(false, e.status, e.body.code);
      throw e;
    }
  }
}

// ───────────────────────────── body parsing ─────────────────────────────

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new HttpRefusal(413, { code: 40005, message: 'Request entity too large' }));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

async function parseBody(req: IncomingMessage, raw: Buffer): Promise<{ body: any; uploads: Upload[] }> {
  if (raw.length === 0) return { body: undefined, uploads: [] };
  const ct = req.headers['content-type'] ?? '';
  if (ct.startsWith('multipart/form-data')) {
    let form: FormData;
    try {
      form = await new Response(new Uint8Array(raw), { headers: { 'content-type': ct } }).formData();
    } catch {
      refuse(400, 50109, 'The request body contains invalid JSON.');
    }
    let body: any = {};
    const uploads: Upload[] = [];
    let order = 0;
    for (const [field, value] of form.entries()) {
      if (typeof value === 'string') {
        if (field === 'payload_json') {
          try {
            body = { ...body, ...JSON.parse(value) };
          } catch {
            refuse(400, 50109, 'The request body contains invalid JSON.');
          }
        } else {
          body[field] = value;
        }
      } else {
        const idx = /^files\[(\d+)\]$/.exec(field)?.[1] ?? /^file(\d*)$/.exec(field)?.[1] ?? String(order);
        order++;
        const data = Buffer.from(await value.arrayBuffer());
        uploads.push({ field, index: idx === '' ? '0' : idx, name: value.name, size: data.length, type: value.type, data });
      }
    }
    return { body, uploads };
  }
  try {
    return { body: JSON.parse(raw.toString('utf8')), uploads: [] };
  } catch {
    refuse(400, 50109, 'The request body contains invalid JSON.');
  }
}

// ───────────────────────────── validation ─────────────────────────────

function validateMessage(
  m: {
    content: string;
    embeds: APIEmbed[];
    components: APIMessageTopLevelComponent[];
    flags: number;
    allowedMentions: APIAllowedMentions | undefined;
    attachments: SeenAttachment[];
  },
  errors: FormErrors,
): void {
  const v2 = Boolean(m.flags & FLAG_COMPONENTS_V2);
  if (chars(m.content) > 2000) errors.add(['content'], 'BASE_TYPE_MAX_LENGTH', 'Must be 2000 or fewer in length.');
  if (v2 && m.content)
    errors.add(
      ['content'],
      'MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2',
      "The 'content' field cannot be used when using MessageFlags.IS_COMPONENTS_V2",
    );
  if (v2 && m.embeds.length)
    errors.add(['embeds'], 'MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2', "The 'embeds' field cannot be used when using MessageFlags.IS_COMPONENTS_V2");
  if (m.embeds.length > 10) errors.add(['embeds'], 'BASE_TYPE_MAX_LENGTH', 'Must be 10 or fewer in length.');
  let total = 0;
  m.embeds.forEach((e: Dict, i) => {
    const len = (path: (string | number)[], v: unknown, max: number): void => {
      if (v === undefined || v === null) return;
      if (typeof v !== 'string') return errors.add(['embeds', i, ...path], 'BASE_TYPE_STRING', 'Must be a string.');
      total += chars(v);
      if (chars(v) > max) errors.add(['embeds', i, ...path], 'BASE_TYPE_MAX_LENGTH', `Must be ${max} or fewer in length.`);
    };
    if (!e || typeof e !== 'object') return errors.add(['embeds', i], 'MODEL_TYPE_CONVERT', 'Must be an object.');
    len(['title'], e.title, 256);
    len(['description'], e.description, 4096);
    len(['footer', 'text'], e.footer?.text, 2048);
    len(['author', 'name'], e.author?.name, 256);
    if (e.color !== undefined && e.color !== null && !(Number.isInteger(e.color) && e.color >= 0 && e.color <= 0xffffff)) {
      errors.add(['embeds', i, 'color'], 'NUMBER_TYPE_MAX', 'int value should be less than or equal to 16777215.');
    }
    if (e.fields !== undefined) {
      if (!Array.isArray(e.fields)) return errors.add(['embeds', i, 'fields'], 'BASE_TYPE_LIST', 'Must be a list.');
      if (e.fields.length > 25) errors.add(['embeds', i, 'fields'], 'BASE_TYPE_MAX_LENGTH', 'Must be 25 or fewer in length.');
      e.fields.forEach((f: Dict, j: number) => {
        for (const [k, max] of [
          ['name', 256],
          ['value', 1024],
        ] as const) {
          if (typeof f?.[k] !== 'string' || f[k].length === 0) errors.add(['embeds', i, 'fields', j, k], 'BASE_TYPE_REQUIRED', 'This field is required');
          else len(['fields', j, k], f[k], max);
        }
      });
    }
  });
  if (total > 6000) errors.add(['embeds'], 'MESSAGE_EMBEDS_TOO_LONG', 'Embed size exceeds maximum size of 6000');
  validateComponents(m.components, v2, errors);
  if (m.attachments.length > 10) errors.add(['attachments'], 'BASE_TYPE_MAX_LENGTH', 'Must be 10 or fewer in length.');
  const am = m.allowedMentions as Dict | undefined;
  if (am) {
    const parse: unknown[] = Array.isArray(am.parse) ? am.parse : [];
    for (const p of parse) {
      if (!['users', 'roles', 'everyone'].includes(String(p)))
        errors.add(['allowed_mentions', 'parse'], 'BASE_TYPE_CHOICES', `Value must be one of {'users', 'roles', 'everyone'}.`);
    }
    if (parse.includes('users') && Array.isArray(am.users) && am.users.length) {
      errors.add(['allowed_mentions'], 'MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE', 'parse:["users"] and users: [ids] are mutually exclusive.');
    }
    if (parse.includes('roles') && Array.isArray(am.roles) && am.roles.length) {
      errors.add(['allowed_mentions'], 'MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE', 'parse:["roles"] and roles: [ids] are mutually exclusive.');
    }
    if (Array.isArray(am.users) && am.users.length > 100) errors.add(['allowed_mentions', 'users'], 'BASE_TYPE_MAX_LENGTH', 'Must be 100 or fewer in length.');
  }
}

function validateComponents(components: unknown, v2: boolean, errors: FormErrors): void {
  if (!Array.isArray(components)) return errors.add(['components'], 'BASE_TYPE_LIST', 'Must be a list.');
  const ids = new Set<string>();
  const interactive = (c: Dict, path: (string | number)[]): void => {
    if (c.type === 2) {
      const style = c.style;
      if (![1, 2, 3, 4, 5, 6].includes(style)) return errors.add([...path, 'style'], 'BASE_TYPE_CHOICES', 'Value must be one of {1, 2, 3, 4, 5, 6}.');
      if (style === 5) {
        if (typeof c.url !== 'string') errors.add([...path, 'url'], 'BUTTON_COMPONENT_URL_REQUIRED', 'A url is required');
        if (c.custom_id !== undefined) errors.add([...path, 'custom_id'], 'BUTTON_COMPONENT_CUSTOM_ID_NOT_ALLOWED', 'A custom id cannot be specified');
      } else if (style === 6) {
        if (typeof c.sku_id !== 'string') errors.add([...path, 'sku_id'], 'BASE_TYPE_REQUIRED', 'This field is required');
      } else {
        if (typeof c.custom_id !== 'string') errors.add([...path, 'custom_id'], 'BUTTON_COMPONENT_CUSTOM_ID_REQUIRED', 'A custom id required');
        if (c.url !== undefined) errors.add([...path, 'url'], 'BUTTON_COMPONENT_URL_NOT_ALLOWED', 'A url cannot be specified');
      }
      if (style !== 6 && !c.label && !c.emoji) errors.add([...path], 'BUTTON_COMPONENT_LABEL_OR_EMOJI_REQUIRED', 'A label or emoji is required');
      if (typeof c.label === 'string' && chars(c.label) > 80) errors.add([...path, 'label'], 'BASE_TYPE_MAX_LENGTH', 'Must be 80 or fewer in length.');
    } else if (SELECT_TYPES.has(c.type)) {
      if (typeof c.custom_id !== 'string') errors.add([...path, 'custom_id'], 'BASE_TYPE_REQUIRED', 'This field is required');
      if (c.type === 3) {
        const opts = c.options;
        if (!Array.isArray(opts) || opts.length < 1 || opts.length > 25)
          errors.add([...path, 'options'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 25 in length.');
        else
          opts.forEach((o: Dict, i: number) => {
            if (typeof o?.label !== 'string' || chars(o.label) > 100 || !o.label)
              errors.add([...path, 'options', i, 'label'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 100 in length.');
            if (typeof o?.value !== 'string' || chars(o.value) > 100 || !o.value)
              errors.add([...path, 'options', i, 'value'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 100 in length.');
          });
      }
      for (const k of ['min_values', 'max_values']) {
        if (c[k] !== undefined && !(Number.isInteger(c[k]) && c[k] >= 0 && c[k] <= 25))
          errors.add([...path, k], 'NUMBER_TYPE_MAX', 'int value should be between 0 and 25.');
      }
    } else if (c.type === 4) {
      errors.add([...path, 'type'], 'COMPONENT_TYPE_INVALID', 'Text inputs are only allowed in modals');
    }
    if (typeof c.custom_id === 'string') {
      if (c.custom_id.length < 1 || chars(c.custom_id) > 100)
        errors.add([...path, 'custom_id'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 100 in length.');
      if (ids.has(c.custom_id)) errors.add([...path, 'custom_id'], 'COMPONENT_CUSTOM_ID_DUPLICATED', 'Component custom id cannot be duplicated');
      ids.add(c.custom_id);
    }
  };
  if (!v2) {
    if (components.length > 5) errors.add(['components'], 'BASE_TYPE_MAX_LENGTH', 'Must be 5 or fewer in length.');
    components.forEach((row: Dict, r) => {
      if (row?.type !== 1) return errors.add(['components', r, 'type'], 'UNION_TYPE_CHOICES', 'Value of field "type" must be one of (1,).');
      const children = row.components;
      if (!Array.isArray(children) || children.length < 1 || children.length > 5) {
        return errors.add(['components', r, 'components'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 5 in length.');
      }
      if (children.some((c: Dict) => SELECT_TYPES.has(c?.type)) && children.length > 1) {
        errors.add(['components', r, 'components'], 'COMPONENT_LAYOUT_WIDTH_EXCEEDED', 'The specified component exceeds the maximum width');
      }
      children.forEach((c: Dict, i: number) => {
        if (c?.type === 1) errors.add(['components', r, 'components', i, 'type'], 'COMPONENT_TYPE_INVALID', 'Action rows cannot be nested');
        else interactive(c ?? {}, ['components', r, 'components', i]);
      });
    });
  } else {
    let count = 0;
    const walk = (list: unknown[], path: (string | number)[]): void =>
      list.forEach((c: any, i) => {
        count++;
        interactive(c ?? {}, [...path, i]);
        if (Array.isArray(c?.components)) walk(c.components, [...path, i, 'components']);
        if (c?.accessory) {
          count++;
          interactive(c.accessory, [...path, i, 'accessory']);
        }
      });
    walk(components, ['components']);
    if (count > 40) errors.add(['components'], 'MESSAGE_TOTAL_COMPONENTS_EXCEEDED', 'Total number of components exceeds 40');
  }
}

function findComponent(components: unknown[], customId: string): Dict | null {
  for (const c of components as Dict[]) {
    if (!c) continue;
    if (c.custom_id === customId) return c;
    if (c.accessory?.custom_id === customId) return c.accessory;
    if (Array.isArray(c.components)) {
      const found = findComponent(c.components, customId);
      if (found) return found;
    }
  }
  return null;
}

function collectCustomIds(components: unknown[]): string[] {
  const out: string[] = [];
  const walk = (list: unknown[]): void => {
    for (const c of list as Dict[]) {
      if (typeof c?.custom_id === 'string') out.push(c.custom_id);
      if (typeof c?.accessory?.custom_id === 'string') out.push(c.accessory.custom_id);
      if (Array.isArray(c?.components)) walk(c.components);
    }
  };
  walk(components);
  return out;
}

function validateCommand(c: Dict, errors: FormErrors, path: (string | number)[]): void {
  if (!c || typeof c !== 'object') return errors.add(path, 'MODEL_TYPE_CONVERT', 'Must be an object.');
  const type = c.type ?? 1;
  if (![1, 2, 3, 4].includes(type)) errors.add([...path, 'type'], 'BASE_TYPE_CHOICES', 'Value must be one of {1, 2, 3, 4}.');
  if (typeof c.name !== 'string') return errors.add([...path, 'name'], 'BASE_TYPE_REQUIRED', 'This field is required');
  if (type === 1) {
    if (!NAME_RE.test(c.name) || c.name !== c.name.toLowerCase()) {
      errors.add([...path, 'name'], 'APPLICATION_COMMAND_INVALID_NAME', 'Command name is invalid');
    }
    if (typeof c.description !== 'string' || chars(c.description) < 1 || chars(c.description) > 100) {
      errors.add([...path, 'description'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 100 in length.');
    }
    validateCommandOptions(c.options, errors, [...path, 'options'], 0);
  } else {
    if (chars(c.name) < 1 || chars(c.name) > 32) errors.add([...path, 'name'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 32 in length.');
    if (c.description) errors.add([...path, 'description'], 'APPLICATION_COMMAND_CONTEXT_MENU_DESCRIPTION', 'Context menu commands cannot have description');
    if (c.options?.length) errors.add([...path, 'options'], 'APPLICATION_COMMAND_OPTIONS_NOT_ALLOWED', 'Context menu commands cannot have options');
  }
  if (c.default_member_permissions !== undefined && c.default_member_permissions !== null) {
    if (!/^\d+$/.test(String(c.default_member_permissions))) {
      errors.add([...path, 'default_member_permissions'], 'PERMISSIONS_INVALID', 'Invalid permissions');
    }
  }
}

function validateCommandOptions(options: unknown, errors: FormErrors, path: (string | number)[], depth: number): void {
  if (options === undefined || options === null) return;
  if (!Array.isArray(options)) return errors.add(path, 'BASE_TYPE_LIST', 'Must be a list.');
  if (options.length > 25) errors.add(path, 'BASE_TYPE_MAX_LENGTH', 'Must be 25 or fewer in length.');
  const names = new Set<string>();
  let sawOptional = false;
  const subs = options.filter((o: Dict) => o?.type === 1 || o?.type === 2).length;
  if (subs && subs !== options.length)
    errors.add(path, 'APPLICATION_COMMAND_OPTIONS_TYPE_INVALID', 'Sub-command and sub-command group option types are mutually exclusive to all other types');
  options.forEach((o: Dict, i: number) => {
    const p = [...path, i];
    if (!o || typeof o !== 'object') return errors.add(p, 'MODEL_TYPE_CONVERT', 'Must be an object.');
    if (!(Number.isInteger(o.type) && o.type >= 1 && o.type <= 11)) errors.add([...p, 'type'], 'BASE_TYPE_CHOICES', 'Value must be one of {1..11}.');
    if (typeof o.name !== 'string' || !NAME_RE.test(o.name) || o.name !== o.name.toLowerCase()) {
      errors.add([...p, 'name'], 'APPLICATION_COMMAND_INVALID_NAME', 'Command name is invalid');
    } else if (names.has(o.name)) {
      errors.add([...p, 'name'], 'APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS', 'Option names must be unique');
    }
    names.add(o.name);
    if (typeof o.description !== 'string' || chars(o.description) < 1 || chars(o.description) > 100) {
      errors.add([...p, 'description'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 100 in length.');
    }
    if (o.type === 1 || o.type === 2) {
      if (o.type === 2 && depth > 0) errors.add([...p, 'type'], 'APPLICATION_COMMAND_OPTIONS_TYPE_INVALID', 'Sub-command groups cannot be nested');
      if (o.type === 1 && depth > 1) errors.add([...p, 'type'], 'APPLICATION_COMMAND_OPTIONS_TYPE_INVALID', 'Sub-commands cannot be nested this deep');
      validateCommandOptions(o.options, errors, [...p, 'options'], depth + 1);
      return;
    }
    if (o.required) {
      if (sawOptional)
        errors.add([...p, 'required'], 'APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID', 'Required options must be placed before non-required options');
    } else sawOptional = true;
    if (o.choices !== undefined) {
      if (!Array.isArray(o.choices) || o.choices.length > 25) errors.add([...p, 'choices'], 'BASE_TYPE_MAX_LENGTH', 'Must be 25 or fewer in length.');
      else if (o.autocomplete)
        errors.add([...p, 'autocomplete'], 'APPLICATION_COMMAND_OPTION_CHOICES_AND_AUTOCOMPLETE', 'Autocomplete cannot be used with choices');
      else
        o.choices.forEach((ch: Dict, j: number) => {
          if (typeof ch?.name !== 'string' || chars(ch.name) < 1 || chars(ch.name) > 100)
            errors.add([...p, 'choices', j, 'name'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 100 in length.');
          const want = o.type === 3 ? 'string' : 'number';
          if (typeof ch?.value !== want) errors.add([...p, 'choices', j, 'value'], `BASE_TYPE_${want.toUpperCase()}`, `Must be a ${want}.`);
        });
    }
  });
}

/** Does the user input fit the registered option schema? Returns a problem description or null. */
function checkOptions(defs: Dict[] | undefined, given: CommandOptionInput[], prefix: string): string | null {
  const list = defs ?? [];
  const hasSubs = list.some((d) => d.type === 1 || d.type === 2);
  if (hasSubs) {
    const sub = given[0];
    if (given.length !== 1 || !sub) return `expected exactly one subcommand of ${list.map((d) => prefix + d.name).join(', ')}`;
    const def = list.find((d) => d.name === sub.name);
    if (!def) return `unknown subcommand "${prefix}${sub.name}"`;
    if (def.type !== sub.type) return `"${prefix}${sub.name}" is type ${def.type}, not ${sub.type}`;
    return checkOptions(def.options, sub.options ?? [], `${prefix}${sub.name} `);
  }
  for (const g of given) {
    const def = list.find((d) => d.name === g.name);
    if (!def) return `unknown option "${prefix}${g.name}" (registered: ${list.map((d) => d.name).join(', ') || 'none'})`;
    if (def.type !== g.type) return `option "${prefix}${g.name}" is type ${def.type}, not ${g.type}`;
    const v = g.value;
    const name = `option "${prefix}${g.name}"`;
    switch (g.type) {
      case 3:
        if (typeof v !== 'string') return `${name} needs a string`;
        if (def.min_length !== undefined && chars(v) < def.min_length) return `${name} is shorter than min_length ${def.min_length}`;
        if (def.max_length !== undefined && chars(v) > def.max_length) return `${name} is longer than max_length ${def.max_length}`;
        break;
      case 4:
      case 10:
        if (typeof v !== 'number' || (g.type === 4 && !Number.isInteger(v))) return `${name} needs ${g.type === 4 ? 'an integer' : 'a number'}`;
        if (def.min_value !== undefined && v < def.min_value) return `${name} is below min_value ${def.min_value}`;
        if (def.max_value !== undefined && v > def.max_value) return `${name} is above max_value ${def.max_value}`;
        break;
      case 5:
        if (typeof v !== 'boolean') return `${name} needs a boolean`;
        break;
      default:
        if (typeof v !== 'string' || !/^\d{17,20}$/.test(v)) return `${name} needs a snowflake id`;
    }
    if (Array.isArray(def.choices) && def.choices.length && !def.choices.some((c: Dict) => c.value === v)) {
      return `${name} must be one of ${def.choices.map((c: Dict) => JSON.stringify(c.value)).join(', ')}`;
    }
  }
  for (const d of list) {
    if (d.required && !given.some((g) => g.name === d.name)) return `required option "${prefix}${d.name}" is missing`;
  }
  return null;
}
