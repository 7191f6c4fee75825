/** The stand-in's internal state, limits and small helpers, shared by its parts. */
import { randomBytes } from 'node:crypto';
import type { APIAllowedMentions, APIEmbed, APIMessageTopLevelComponent } from 'discord.js';
import type { CallbackRecord, InteractionAnswer, MessageSnapshot, Refusal, RegisteredCommand, SeenAttachment } from './types.js';

/** Discord's JSON, as received and sent */
export type Dict = Record<string, any>;

const P = (bit: number): bigint => 1n << BigInt(bit);
export const ADMINISTRATOR = P(3);
export const ALL_PERMISSIONS = (1n << 51n) - 1n;
export const DEFAULT_EVERYONE = P(0) | P(6) | P(10) | P(11) | P(14) | P(15) | P(16) | P(18) | P(20) | P(21) | P(25) | P(26) | P(31) | P(35) | P(38);
export const DEFAULT_BOT = P(6) | P(10) | P(11) | P(14) | P(15) | P(16) | P(18) | P(31) | P(38);

export const FLAG_SUPPRESS_EMBEDS = 1 << 2;
export const FLAG_EPHEMERAL = 1 << 6;
export const FLAG_LOADING = 1 << 7;
export const FLAG_SUPPRESS_NOTIFICATIONS = 1 << 12;
/** the flags a bot may set on a message it sends (ephemeral only on interaction responses) */
export const SETTABLE_FLAGS = FLAG_SUPPRESS_EMBEDS | FLAG_SUPPRESS_NOTIFICATIONS;

export const ACK_WINDOW_MS = 3_000;
export const TOKEN_LIFETIME_MS = 15 * 60_000;
export const MAX_FILE_SIZE = 10 * 1024 * 1024;
export const MAX_BODY = 26 * 1024 * 1024;

const DISCORD_EPOCH = 1420070400000n;
let increment = 0n;
export function snowflake(at = Date.now()): string {
  increment = (increment + 1n) & 0xfffn;
  return (((BigInt(at) - DISCORD_EPOCH) << 22n) | (1n << 17n) | increment).toString();
}
export const rand = (bytes: number): string => randomBytes(bytes).toString('base64url');
export const chars = (s: string): number => [...s].length;
export const clone = <T>(v: T): T => structuredClone(v);
export const iso = (ms: number): string => new Date(ms).toISOString();

/** A refusal as Discord sends it: thrown by route handlers, answered by the HTTP server. */
export class HttpRefusal {
  constructor(
    readonly status: number,
    readonly body: { code: number; message: string; errors?: unknown },
  ) {}
}
export function refuse(status: number, code: number, message: string, errors?: unknown): never {
  throw new HttpRefusal(status, errors === undefined ? { code, message } : { code, message, errors });
}

/** Collects Discord-style nested form errors: `{ data: { content: { _errors: [...] } } }`. */
export class FormErrors {
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

export function parsePermissions(p: string | bigint | number | undefined, fallback: bigint): bigint {
  if (p === undefined) return fallback;
  const v = BigInt(p);
  return v & ADMINISTRATOR ? ALL_PERMISSIONS : v;
}

export interface Upload {
  field: string;
  index: string;
  name: string;
  size: number;
  type: string;
  data: Buffer;
}

export interface MessageState {
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
  /** ephemeral messages are visible to this user only */
  visibleTo: string | null;
  history: MessageSnapshot[];
}

export interface Waiter<T> {
  resolve: (v: T) => void;
  reject: (e: Error) => void;
  timer?: NodeJS.Timeout;
}

export interface InteractionState {
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

export interface Guild {
  id: string;
  name: string;
  ownerId: string;
  locale: string;
  channels: Map<string, Dict>;
  roles: Map<string, Dict>;
  members: Map<string, Dict>;
  commands: Map<string, RegisteredCommand>;
  joinedAt: number;
  /** the text channel interactions come from by default */
  systemChannelId: string;
}
