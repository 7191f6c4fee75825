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
 * - GET /gateway/bot; plain JSON (discord.js asks for zlib-stream only when `zlib-sync` is installed)
 * - sharding (`shards: N`, `moreGuilds: M`): GET /gateway/bot recommends N shards; IDENTIFY's `[id, count]` is
 *   honoured (4010 for an impossible one); READY and GUILD_CREATE list only the shard's guilds; a guild's
 *   interactions go to the session holding shard `(guild_id >> 22) % count` (`shardOf`), and to none while
 *   no session holds it (slashCommand throws). `waitForShards()`, `connectedShards`, `guildIds`, `channelOf`.
 *
 * ## Time
 * `discord.advanceTime(ms)` moves the stand-in's clock (3 s / 15 min windows) without sleeping.
 *
 * ## Trimmed to what the bot uses
 * Buttons in action rows (no select menus, modals or components v2: they are refused as unsupported),
 * string / number / boolean options and subcommands, plain-JSON gateway without resume, and
 * the REST routes the bot calls. Files: `standin.ts` (state, interactions, messages, routes), `gateway.ts`,
 * `validation.ts` (what Discord refuses), `http.ts` (bodies), `payloads.ts`, `interaction.ts` (a test's
 * handle), `types.ts`.
 */
export { DiscordStandIn, startDiscordStandIn } from './standin.js';
export { StandInInteraction } from './interaction.js';
export * from './types.js';
