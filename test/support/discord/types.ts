/** What tests give the stand-in and what it gives back. */
import type { APIAllowedMentions, APIEmbed, APIMessageTopLevelComponent } from 'discord.js';

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
  /** More guilds the bot is in (ids in `guildIds`, spread over the shards), each with a text channel. */
  moreGuilds?: number;
  /** The shard count GET /gateway/bot recommends (default 1); each guild's events go to shard (id >> 22) % count. */
  shards?: number;
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
  /** the guild it is run in (default: the first guild) */
  guildId?: string;
  /** default: the guild's text channel */
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
