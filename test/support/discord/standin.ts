/**
 * The stand-in itself: one HTTP server for REST (`/api/v10/...`) and the gateway WebSocket on one random
 * 127.0.0.1 port; the guild, its users and channels; interactions and their 3-second and 15-minute
 * windows; messages and their history; the routes the bot calls.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { WebSocketServer } from 'ws';
import { Gateway } from './gateway.js';
import { parseBody, pngSize, readBody } from './http.js';
import { StandInInteraction } from './interaction.js';
import { applicationFlags, guildCreatePayload, makeMember, makeRole } from './payloads.js';
import {
  ACK_WINDOW_MS,
  ADMINISTRATOR,
  ALL_PERMISSIONS,
  clone,
  DEFAULT_BOT,
  DEFAULT_EVERYONE,
  type Dict,
  FLAG_EPHEMERAL,
  FLAG_LOADING,
  FLAG_SUPPRESS_EMBEDS,
  FormErrors,
  type Guild,
  HttpRefusal,
  type InteractionState,
  iso,
  MAX_FILE_SIZE,
  type MessageState,
  parsePermissions,
  rand,
  refuse,
  SETTABLE_FLAGS,
  snowflake,
  TOKEN_LIFETIME_MS,
  type Upload,
} from './state.js';
import {
  type ComponentInput,
  type MessageSnapshot,
  type Refusal,
  type RegisteredCommand,
  type RestCall,
  type SeenAttachment,
  type SeenMessage,
  type SlashCommandInput,
  StandInError,
  type StandInOptions,
  type UserInput,
} from './types.js';
import { checkOptions, collectCustomIds, findComponent, validateCommand, validateMessage } from './validation.js';

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

  private readonly strict: boolean;
  readonly privilegedIntents: number;
  readonly log: (line: string) => void;
  private readonly botUser: Dict;
  private readonly defaultUser: Dict;
  private readonly owner: Dict;
  private readonly guildLocale: string;
  /** GET /gateway/bot's shard count (StandInOptions.shards) */
  readonly shardCount: number;
  private readonly users = new Map<string, Dict>();
  private readonly guilds = new Map<string, Guild>();
  private readonly globalCommands = new Map<string, RegisteredCommand>();
  private readonly messagesById = new Map<string, MessageState>();
  private readonly interactions = new Map<string, InteractionState>();
  private readonly interactionsByToken = new Map<string, InteractionState>();
  private readonly routes: Route[] = [];
  private readonly server: Server;
  private readonly wss: WebSocketServer;
  private readonly gateway: Gateway;
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
    this.defaultUser = this.makeUser({ username: 'tester', globalName: 'Tester' });
    this.owner = this.makeUser({ username: 'guild-owner' });
    this.guildLocale = opts.guildLocale ?? 'en-US';

    this.addGuild({ id: this.guildId, channelId: this.channelId, name: opts.guildName, channelName: opts.channelName, extraChannels: opts.extraChannels });
    // more guilds, one a millisecond apart: the ids' timestamps step by one, so they fall on shard after shard
    for (let k = 1; k <= (opts.moreGuilds ?? 0); k++) this.addGuild({ id: snowflake(Date.now() + k), channelId: snowflake(), name: `Stand-in Guild ${k}` });
    this.shardCount = opts.shards ?? 1;

    this.gateway = new Gateway({
      token: this.token,
      applicationId: this.applicationId,
      privilegedIntents: this.privilegedIntents,
      get gatewayUrl() {
        return standIn.gatewayUrl;
      },
      botUser: () => this.botUser,
      guildCreates: () => [...this.guilds.values()].map((g) => guildCreatePayload(g, this.botUser.id, g.systemChannelId)),
      shardOf: (guildId, count) => this.shardOf(guildId, count),
      applicationFlags: () => applicationFlags(this.privilegedIntents),
      log: this.log,
    });
    const standIn = this;
    this.server = createServer((req, res) => void this.onRequest(req, res));
    this.wss = new WebSocketServer({ noServer: true });
    this.server.on('upgrade', (req, socket, head) => {
      this.wss.handleUpgrade(req, socket, head, (ws) => this.gateway.accept(ws, req));
    });
    this.defineRoutes();
  }

  /** A guild the bot is in, with a text channel (and `extraChannels`), its owner, the bot and the default user as members. */
  private addGuild(g: { id: string; channelId: string; name?: string; channelName?: string; extraChannels?: string[] }): void {
    const now = Date.now();
    const guild: Guild = {
      id: g.id,
      name: g.name ?? 'Stand-in Guild',
      ownerId: this.owner.id,
      locale: this.guildLocale,
      channels: new Map(),
      roles: new Map(),
      members: new Map(),
      commands: new Map(),
      joinedAt: now,
      systemChannelId: g.channelId,
    };
    guild.roles.set(guild.id, makeRole(guild.id, '@everyone', this.everyonePermissions, 0));
    const botRole = makeRole(snowflake(), this.botUser.username, this.botPermissions, 1, {
      managed: true,
      tags: { bot_id: this.botUser.id },
    });
    guild.roles.set(botRole.id, botRole);
    guild.channels.set(g.channelId, {
      id: g.channelId,
      type: 0,
      guild_id: guild.id,
      name: g.channelName ?? 'general',
      position: 0,
      permission_overwrites: [],
      topic: null,
      nsfw: false,
      last_message_id: null,
      rate_limit_per_user: 0,
      parent_id: null,
      flags: 0,
    });
    for (const [i, name] of (g.extraChannels ?? []).entries()) {
      const id = snowflake();
      guild.channels.set(id, { ...guild.channels.get(g.channelId)!, id, name, position: i + 1 });
      this.channelIds.set(name, id);
    }
    guild.members.set(this.botUser.id, makeMember(this.botUser, [botRole.id], now));
    guild.members.set(this.owner.id, makeMember(this.owner, [], now));
    guild.members.set(this.defaultUser.id, makeMember(this.defaultUser, [], now));
    this.guilds.set(guild.id, guild);
  }

  /** every guild the bot is in, the first (`guildId`) first */
  get guildIds(): string[] {
    return [...this.guilds.keys()];
  }
  /** the text channel interactions in `guildId` come from by default */
  channelOf(guildId: string): string {
    return this.requireGuild(guildId).systemChannelId;
  }
  /** the shard that receives `guildId`'s events, as Discord computes it */
  shardOf(guildId: string, shardCount = this.shardCount): number {
    return Number((BigInt(guildId) >> 22n) % BigInt(shardCount));
  }
  /** Resolves once every shard of `shardCount` has an identified session (each got its READY and GUILD_CREATEs). */
  waitForShards(opts: { timeoutMs?: number } = {}): Promise<void> {
    return this.gateway.waitForShards(this.shardCount, opts.timeoutMs);
  }
  /** the shards with an identified, open session now */
  get connectedShards(): number[] {
    return this.gateway.connectedShards();
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
    return this.gateway.connected;
  }
  /** gateway payloads received from clients */
  get gatewayReceived(): readonly Dict[] {
    return this.gateway.received;
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
    return this.gateway.waitForReady(opts.timeoutMs);
  }

  /** A user runs a slash command; resolves once INTERACTION_CREATE was sent. */
  async slashCommand(input: SlashCommandInput): Promise<StandInInteraction> {
    await this.waitForReady({ timeoutMs: 10_000 });
    const guild = this.requireGuild(input.guildId ?? this.guildId);
    const channel = this.requireChannel(guild, input.channelId ?? guild.systemChannelId);
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
    if (input.options?.length) data.options = clone(input.options);
    return this.dispatchInteraction(2, data, { guild, channel, member, permissions, locale: input.locale, label });
  }

  /** Send any dispatch event to every identified session (escape hatch). */
  dispatch(t: string, d: unknown): void {
    this.gateway.dispatchToAll(t, d);
  }

  /** Close everything: sockets, server, timers; pending waits reject. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const err = new StandInError('stand-in closed');
    this.gateway.close(err);
    for (const s of this.interactions.values()) {
      if (s.expiry) clearTimeout(s.expiry);
      for (const w of s.ackWaiters.splice(0)) w.reject(err);
      for (const w of s.answerWaiters.splice(0)) {
        clearTimeout(w.timer);
        w.reject(err);
      }
    }
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
      member = makeMember(user, [], Date.now());
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

  private channelPartial(channel: Dict, permissions: bigint): Dict {
    return { ...clone(channel), permissions: permissions.toString() };
  }

  // ───────────────────────────── interactions ─────────────────────────────

  /** A user clicks a button on a message the bot sent. */
  async clickButton(input: ComponentInput): Promise<StandInInteraction> {
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
    const button = findComponent(msg.components, input.customId);
    if (!button) {
      const ids = collectCustomIds(msg.components);
      throw new StandInError(`message ${id} has no component "${input.customId}" (has: ${ids.join(', ') || 'none'})`);
    }
    if (this.strict && button.disabled) throw new StandInError(`button "${input.customId}" is disabled — a user could not use it`);
    return this.dispatchInteraction(
      3,
      { custom_id: input.customId, component_type: button.type },
      {
        guild,
        channel,
        member,
        permissions,
        locale: input.locale,
        label: `button "${input.customId}"`,
        message: msg,
      },
    );
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
    if (!this.gateway.connected) throw new StandInError('no bot is connected to the gateway (did client.login finish?)');
    const shard = this.gateway.sessionFor(ctx.guild.id);
    if (!shard) throw new StandInError(`no bot session holds the shard of guild ${ctx.guild.id} (shard ${this.shardOf(ctx.guild.id)} of ${this.shardCount})`);
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
    this.gateway.dispatchTo(shard, 'INTERACTION_CREATE', payload);
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
            authorizing_integration_owners: { '0': init.guildId ?? this.guildId },
            ...(s.type === 2 ? { name: s.payload.data.name, command_type: 1 } : {}),
            ...(s.type === 3 && s.sourceMessageId ? { interacted_message_id: s.sourceMessageId } : {}),
          }
        : null,
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
        // on edit only SUPPRESS_EMBEDS can be toggled; ephemeral stays as it was
        next.flags = (m.flags & ~FLAG_SUPPRESS_EMBEDS) | (f & FLAG_SUPPRESS_EMBEDS);
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
  }

  private deleteMessage(m: MessageState): void {
    m.deleted = true;
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
        shards: this.shardCount,
        // a large bot's concurrency: shards identify together (one process's shards would wait 5 s each at 1)
        session_start_limit: { total: 1000, remaining: 999, reset_after: 14_400_000, max_concurrency: this.shardCount > 1 ? 16 : 1 },
      }),
    );

    // users / application
    this.route('GET', '/users/@me', true, () => ok(clone(this.botUser)));
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
      flags: applicationFlags(this.privilegedIntents),
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
    }

    // channels
    const channelOf = (id: string): { guild: Guild; channel: Dict } => {
      for (const guild of this.guilds.values()) {
        const channel = guild.channels.get(id);
        if (channel) return { guild, channel };
      }
      refuse(404, 10003, 'Unknown Channel');
    };
    this.route('GET', '/channels/:channel', true, ({ params }) => ok(clone(channelOf(params.channel!).channel)));
    this.route('POST', '/channels/:channel/messages', true, ({ params, body, uploads }) => {
      const { guild, channel } = channelOf(params.channel!);
      const m = this.newMessage({ channelId: channel.id, guildId: guild.id, type: 0 });
      this.applyBody(m, body ?? {}, uploads, 'create', new FormErrors(), { ephemeralAllowed: false });
      this.storeAndAnnounce(m);
      return ok(this.apiMessage(m));
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
      return ok(this.apiMessage(m));
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
      // 4 reply, 5 deferred reply, 6 deferred update, 7 update (modals, type 9: the bot sends none)
      const valid: Record<number, boolean> = { 4: true, 5: true, 6: isComponent, 7: isComponent };
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
      }
      for (const w of s.ackWaiters.splice(0)) w.resolve(s.ack);
      if (type === 4 || type === 7) this.answered(s, message!.id);
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
