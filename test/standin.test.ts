/**
 * End-to-end check of the Discord stand-in against a real discord.js Client.
 * One stand-in + one logged-in client for the whole file; each test arms a one-shot
 * interaction handler (`next(...)`), makes the stand-in dispatch an interaction, and
 * checks what the "user" sees and what the stand-in recorded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ActionRowBuilder,
  ApplicationCommandOptionType,
  ButtonBuilder,
  ButtonStyle,
  Client,
  DiscordAPIError,
  DiscordjsErrorCodes,
  EmbedBuilder,
  GatewayIntentBits,
  MessageFlags,
  PermissionFlagsBits,
  Routes,
  type Interaction,
  type TextChannel,
} from 'discord.js';
import { WebSocket } from 'ws';
import { startDiscordStandIn, StandInError, type DiscordStandIn } from './support/discord/index.js';

// 1×1 PNG
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');
const LI_BAI = { id: '123456789012345678', username: 'li_bai', globalName: '李白' };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let discord: DiscordStandIn;
let client: Client;
let handler: ((i: Interaction) => void) | null = null;

/** Arm a one-shot interactionCreate handler; resolves/rejects with what `fn` returns/throws. */
function next<T>(fn: (i: Interaction) => Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    handler = (i) => void fn(i).then(resolve, reject);
  });
}

beforeAll(async () => {
  discord = await startDiscordStandIn();
  client = new Client({ intents: [GatewayIntentBits.Guilds], rest: { api: discord.apiUrl } });
  client.on('interactionCreate', (i) => {
    const h = handler;
    handler = null;
    h?.(i);
  });
  const ready = new Promise<void>((resolve) => client.once('clientReady', () => resolve()));
  await client.login(discord.token);
  await discord.waitForReady();
  await ready;
});

afterAll(async () => {
  await client?.destroy();
  await discord?.close();
});

describe('discord stand-in with a real discord.js client', () => {
  it('logs in: READY + GUILD_CREATE give the client its user, application, guild and channel', () => {
    expect(client.user?.id).toBe(discord.applicationId);
    expect(client.application?.id).toBe(discord.applicationId);
    const guild = client.guilds.cache.get(discord.guildId);
    expect(guild?.available).toBe(true);
    expect(guild?.channels.cache.get(discord.channelId)?.isTextBased()).toBe(true);
    expect(guild?.members.me?.id).toBe(discord.applicationId);
    expect(client.ws.ping).toBeGreaterThanOrEqual(-1);
  });

  it('registers guild commands and refuses invalid ones', async () => {
    const registered = await client.application!.commands.set(
      [
        {
          name: 'poem',
          description: 'Write a Tang poem',
          options: [{ name: 'start', description: 'first character', type: ApplicationCommandOptionType.String, required: true }],
        },
        { name: 'slow', description: 'Answers too late' },
        { name: 'twice', description: 'Answers twice' },
        { name: 'menu', description: 'Shows buttons' },
        {
          name: 'bot',
          description: 'Bot admin',
          defaultMemberPermissions: PermissionFlagsBits.Administrator,
          options: [{ type: ApplicationCommandOptionType.Subcommand, name: 'status', description: 'Show status' }],
        },
      ],
      discord.guildId,
    );
    expect(discord.commands().map((c) => c.name)).toEqual(['poem', 'slow', 'twice', 'menu', 'bot']);
    expect(discord.commands(discord.guildId)[0]).toMatchObject({ guild_id: discord.guildId, type: 1 });
    expect(discord.commands('global')).toEqual([]);
    // discord.js built ApplicationCommand objects from the stand-in's answer
    expect(registered.map((c) => [c.name, c.guildId, c.applicationId])).toContainEqual(['poem', discord.guildId, discord.applicationId]);
    expect(registered.find((c) => c.name === 'bot')?.options[0]?.type).toBe(ApplicationCommandOptionType.Subcommand);

    const bad = await client.application!.commands.set([{ name: 'Poem', description: '' }], discord.guildId).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(DiscordAPIError);
    expect((bad as DiscordAPIError).code).toBe(50035);
    expect(discord.commands().length).toBe(5); // unchanged
  });

  it('answers a slash command with reply: content, allowed_mentions, latency, interaction shape', async () => {
    const handled = next(async (i) => {
      if (!i.isChatInputCommand()) throw new Error(`unexpected ${i.type}`);
      const start = i.options.getString('start', true);
      await i.reply({ content: `${start}落烏啼霜滿天 <@${i.user.id}>`, allowedMentions: { users: [] } });
      return {
        start,
        locale: i.locale,
        guildLocale: i.guildLocale,
        inGuild: i.inCachedGuild(),
        channelId: i.channelId,
        user: i.user.username,
        admin: i.memberPermissions?.has(PermissionFlagsBits.Administrator),
        appCanSend: i.appPermissions.has(PermissionFlagsBits.SendMessages),
      };
    });
    const cmd = await discord.slashCommand({
      name: 'poem',
      options: [{ name: 'start', type: 3, value: '月' }],
      user: LI_BAI,
      locale: 'zh-CN',
      permissions: '0',
    });
    const answer = await cmd.response();
    expect(await handled).toEqual({
      start: '月',
      locale: 'zh-CN',
      guildLocale: 'en-US',
      inGuild: true,
      channelId: discord.channelId,
      user: 'li_bai',
      admin: false,
      appCanSend: true,
    });
    expect(answer.content).toBe(`月落烏啼霜滿天 <@${LI_BAI.id}>`);
    expect(answer.ephemeral).toBe(false);
    expect(answer.allowedMentions).toEqual({ users: [] });
    expect(answer.callbackType).toBe(4);
    expect(answer.latencyMs).toBeGreaterThanOrEqual(0);
    expect(answer.latencyMs).toBeLessThan(3000);
    expect(discord.message(answer.messageId)).toMatchObject({ interactionId: cmd.id, webhookId: discord.applicationId });
    expect(cmd.payload).toMatchObject({ type: 2, version: 1, entitlements: [], context: 0, guild_id: discord.guildId });
  });

  it('runs subcommands and enforces default_member_permissions like the Discord client', async () => {
    await expect(discord.slashCommand({ name: 'bot', options: [{ type: 1, name: 'status', options: [] }] })).rejects.toThrow(/default_member_permissions/);
    await expect(discord.slashCommand({ name: 'poem' })).rejects.toThrow(/required option "start"/);
    await expect(discord.slashCommand({ name: 'nope' })).rejects.toBeInstanceOf(StandInError);

    const handled = next(async (i) => {
      if (!i.isChatInputCommand()) throw new Error('not a command');
      await i.reply({
        embeds: [new EmbedBuilder().setTitle('Status').setDescription(`sub: ${i.options.getSubcommand()}`)],
        flags: MessageFlags.Ephemeral,
      });
    });
    const cmd = await discord.slashCommand({
      name: 'bot',
      options: [{ type: 1, name: 'status', options: [] }],
      permissions: PermissionFlagsBits.Administrator,
    });
    const answer = await cmd.response();
    await handled;
    expect(answer.ephemeral).toBe(true);
    expect(answer.content).toBe('');
    expect(answer.embeds).toEqual([{ title: 'Status', description: 'sub: status' }]);
  });

  it('deferReply + editReply (with a PNG attachment) resolves with the edited message', async () => {
    const handled = next(async (i) => {
      if (!i.isChatInputCommand()) throw new Error('not a command');
      const deferred = await i.deferReply({ withResponse: true }); // ?with_response=true → 200 with the loading message
      await sleep(150);
      await i.editReply({ content: '床前明月光', files: [{ attachment: PNG, name: 'poem.png' }] });
      return {
        loading: deferred.interaction.responseMessageLoading,
        messageId: deferred.resource?.message?.id,
        flags: deferred.resource?.message?.flags.bitfield,
      };
    });
    const cmd = await discord.slashCommand({ name: 'poem', options: [{ name: 'start', type: 3, value: '床' }] });
    const answer = await cmd.response();
    expect(await handled).toEqual({ loading: true, messageId: answer.messageId, flags: MessageFlags.Loading });
    expect(answer.callbackType).toBe(5);
    expect(answer.deferred).toBe(true);
    expect(answer.loading).toBe(false);
    expect(answer.content).toBe('床前明月光');
    expect(answer.answeredMs).toBeGreaterThanOrEqual(answer.latencyMs + 100);
    expect(answer.attachments).toEqual([expect.objectContaining({ filename: 'poem.png', size: PNG.length, contentType: 'image/png', width: 1, height: 1 })]);
    expect(answer.attachments[0]!.data.equals(PNG)).toBe(true);
    const history = discord.message(answer.messageId).history;
    expect(history.map((h) => [h.loading, h.content])).toEqual([
      [true, ''],
      [false, '床前明月光'],
    ]);
  });

  it('the first followUp after an ephemeral deferReply replaces the "thinking" message; later ones are new', async () => {
    const handled = next(async (i) => {
      if (!i.isChatInputCommand()) throw new Error('not a command');
      await i.deferReply({ flags: MessageFlags.Ephemeral });
      const first = await i.followUp('春眠不覺曉');
      const second = await i.followUp({ content: '處處聞啼鳥', flags: MessageFlags.Ephemeral });
      return [first.id, second.id];
    });
    const cmd = await discord.slashCommand({ name: 'poem', options: [{ name: 'start', type: 3, value: '春' }] });
    const answer = await cmd.response();
    const [firstId, secondId] = await handled;
    expect(answer).toMatchObject({ messageId: firstId, content: '春眠不覺曉', ephemeral: true, loading: false });
    expect(cmd.followUps().map((m) => [m.id, m.content, m.ephemeral])).toEqual([[secondId, '處處聞啼鳥', true]]);
  });

  it('refuses invalid bodies with 50035 and leaves the interaction unacknowledged', async () => {
    const handled = next(async (i) => {
      if (!i.isChatInputCommand()) throw new Error('not a command');
      const err = await i.reply('字'.repeat(2001)).catch((e: unknown) => e);
      await i.reply('短');
      return err;
    });
    const cmd = await discord.slashCommand({ name: 'poem', options: [{ name: 'start', type: 3, value: '字' }] });
    const answer = await cmd.response();
    const err = await handled;
    expect(err).toBeInstanceOf(DiscordAPIError);
    expect((err as DiscordAPIError).code).toBe(50035);
    expect((err as DiscordAPIError).rawError).toMatchObject({
      errors: { data: { content: { _errors: [{ code: 'BASE_TYPE_MAX_LENGTH' }] } } },
    });
    expect(answer.content).toBe('短');
    expect(cmd.callbacks.map((c) => [c.accepted, c.status])).toEqual([
      [false, 400],
      [true, 204],
    ]);
  });

  it('a reply more than 3 s after dispatch fails with 10062 Unknown interaction', async () => {
    const handled = next(async (i) => {
      if (!i.isChatInputCommand()) throw new Error('not a command');
      await sleep(3200);
      return i.reply('too late').catch((e: unknown) => e);
    });
    const cmd = await discord.slashCommand({ name: 'slow' });
    const err = await handled;
    expect(err).toBeInstanceOf(DiscordAPIError);
    expect((err as DiscordAPIError).code).toBe(10062);
    expect((err as DiscordAPIError).status).toBe(404);
    await expect(cmd.response()).rejects.toThrow(/not acknowledged within 3 s/);
    expect(cmd.callbacks).toHaveLength(1);
    expect(cmd.callbacks[0]).toMatchObject({ accepted: false, status: 404, code: 10062 });
    expect(cmd.callbacks[0]!.atMs).toBeGreaterThanOrEqual(3000);
    expect(discord.refusals.at(-1)).toMatchObject({ code: 10062, interactionId: cmd.id });
  });

  it('a second reply: discord.js refuses locally; a raw second callback gets 40060', async () => {
    const handled = next(async (i) => {
      if (!i.isChatInputCommand()) throw new Error('not a command');
      await i.reply('first');
      const local = await i.reply('second').catch((e: unknown) => e);
      const raw = await client.rest
        .post(Routes.interactionCallback(i.id, i.token), { body: { type: 4, data: { content: 'second' } }, auth: false })
        .catch((e: unknown) => e);
      return { local, raw };
    });
    const cmd = await discord.slashCommand({ name: 'twice' });
    const { local, raw } = await handled;
    expect((local as { code?: unknown }).code).toBe(DiscordjsErrorCodes.InteractionAlreadyReplied);
    expect(raw).toBeInstanceOf(DiscordAPIError);
    expect((raw as DiscordAPIError).code).toBe(40060);
    expect((raw as DiscordAPIError).status).toBe(400);
    expect((await cmd.response()).content).toBe('first');
    expect(cmd.callbacks.map((c) => c.code ?? c.status)).toEqual([204, 40060]);
    expect(cmd.refusals).toEqual([expect.objectContaining({ code: 40060, message: 'Interaction has already been acknowledged.' })]);
  });

  it('a button click answered with update changes the message', async () => {
    const shown = next(async (i) => {
      if (!i.isChatInputCommand()) throw new Error('not a command');
      const row = new ActionRowBuilder<ButtonBuilder>().addComponents(
        new ButtonBuilder().setCustomId('next').setLabel('Next').setStyle(ButtonStyle.Primary),
        new ButtonBuilder().setCustomId('off').setLabel('Off').setStyle(ButtonStyle.Secondary).setDisabled(true),
        new ButtonBuilder().setURL('https://example.com').setLabel('Site').setStyle(ButtonStyle.Link),
      );
      await i.reply({ content: 'page 1', components: [row] });
    });
    const cmd = await discord.slashCommand({ name: 'menu', user: LI_BAI });
    const menu = await cmd.response();
    await shown;
    expect(menu.components).toHaveLength(1);

    await expect(discord.clickButton({ message: menu, customId: 'off', user: LI_BAI })).rejects.toThrow(/disabled/);

    const clicked = next(async (i) => {
      if (!i.isButton()) throw new Error('not a button');
      const seen = { customId: i.customId, messageId: i.message.id, user: i.user.id, content: i.message.content };
      await i.update({ content: 'page 2', components: [] });
      return seen;
    });
    const click = await discord.clickButton({ message: menu, customId: 'next', user: LI_BAI });
    const updated = await click.response();
    expect(await clicked).toEqual({ customId: 'next', messageId: menu.messageId, user: LI_BAI.id, content: 'page 1' });
    expect(updated).toMatchObject({ callbackType: 7, messageId: menu.messageId, content: 'page 2', components: [] });
    const now = discord.message(menu.messageId);
    expect(now.content).toBe('page 2');
    expect(now.history.map((h) => h.content)).toEqual(['page 1', 'page 2']);
    await expect(discord.clickButton({ message: menu, customId: 'next' })).rejects.toThrow(/no component "next"/);
  });

  it('records allowed_mentions on channel messages too', async () => {
    const channel = (await client.channels.fetch(discord.channelId)) as TextChannel;
    const sent = await channel.send({ content: 'hello @everyone', allowedMentions: { parse: [] } });
    expect(discord.message(sent.id)).toMatchObject({ content: 'hello @everyone', allowedMentions: { parse: [] }, ephemeral: false });
    const edited = await sent.edit({ content: 'hello again', allowedMentions: { parse: ['users'] } });
    expect(edited.content).toBe('hello again');
    expect(discord.message(sent.id).allowedMentions).toEqual({ parse: ['users'] });
  });

  it('refuses unknown webhook tokens, expired tokens and bad Authorization', async () => {
    const unknown = await client.rest
      .patch(Routes.webhookMessage(discord.applicationId, 'bogus-token', '@original'), { body: { content: 'x' }, auth: false })
      .catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(DiscordAPIError);
    expect((unknown as DiscordAPIError).status).toBe(404);
    expect((unknown as DiscordAPIError).code).toBe(10015);

    const bad = await fetch(`${discord.apiUrl}/v10/users/@me`, { headers: { Authorization: 'Bot wrong' } });
    expect(bad.status).toBe(401);
    const good = await fetch(`${discord.apiUrl}/v10/users/@me`, { headers: { Authorization: `Bot ${discord.token}` } });
    expect(((await good.json()) as { id: string }).id).toBe(discord.applicationId);

    // an interaction token is good for 15 minutes
    const handled = next(async (i) => {
      if (!i.isChatInputCommand()) throw new Error('not a command');
      await i.reply('v1');
      return { id: i.id, token: i.token };
    });
    const cmd = await discord.slashCommand({ name: 'poem', options: [{ name: 'start', type: 3, value: '春' }] });
    await cmd.response();
    const { token } = await handled;
    const edit = (content: string): Promise<unknown> =>
      client.rest.patch(Routes.webhookMessage(discord.applicationId, token, '@original'), { body: { content }, auth: false });
    await edit('v2');
    expect(cmd.message()?.content).toBe('v2');
    discord.advanceTime(15 * 60_000 + 1_000);
    const expired = await edit('v3').catch((e: unknown) => e);
    expect(expired).toBeInstanceOf(DiscordAPIError);
    expect((expired as DiscordAPIError).status).toBe(401);
    expect(cmd.message()?.content).toBe('v2');
    expect(discord.unhandled).toEqual([]);
    expect(discord.errors).toEqual([]);
  });
});

describe('sharding', () => {
  it('gives each shard its own guilds and routes every guild’s interactions to the shard that holds it', async () => {
    const sharded = await startDiscordStandIn({ shards: 2, moreGuilds: 5, strictCommands: false });
    const clients: Client[] = [];
    try {
      const gateway = (await (await fetch(`${sharded.apiUrl}/v10/gateway/bot`, { headers: { Authorization: `Bot ${sharded.token}` } })).json()) as {
        shards: number;
      };
      expect(gateway.shards).toBe(2);
      // one guild at least on each shard (the ids step a millisecond apart)
      const byShard = [0, 1].map((k) => sharded.guildIds.filter((g) => sharded.shardOf(g) === k));
      expect(byShard.map((g) => g.length > 0)).toEqual([true, true]);

      const seen: string[][] = [[], []];
      for (const shard of [0, 1]) {
        const c = new Client({ intents: [GatewayIntentBits.Guilds], rest: { api: sharded.apiUrl }, shards: [shard], shardCount: 2 });
        c.on('interactionCreate', (i) => {
          seen[shard]!.push(i.guildId!);
          if (i.isChatInputCommand()) void i.reply(`shard ${shard}`);
        });
        const ready = new Promise<void>((resolve) => c.once('clientReady', () => resolve()));
        clients.push(c);
        await c.login(sharded.token);
        await ready;
        // a shard that holds no guild yet: the other guilds' interactions have nowhere to go
        if (shard === 0) {
          await expect(sharded.slashCommand({ name: 'poem', guildId: byShard[1]![0]!, options: [] })).rejects.toThrow(/no bot session holds the shard/);
        }
      }
      await sharded.waitForShards();
      expect(sharded.connectedShards).toEqual([0, 1]);
      expect(clients.map((c) => [...c.guilds.cache.keys()].sort())).toEqual(byShard.map((g) => [...g].sort()));

      for (const guildId of sharded.guildIds) {
        const i = await sharded.slashCommand({ name: 'poem', guildId, options: [] });
        expect((await i.response()).content).toBe(`shard ${sharded.shardOf(guildId)}`);
      }
      expect(seen.map((g) => [...g].sort())).toEqual(byShard.map((g) => [...g].sort()));

      // a shard id the count does not have is refused as Discord does (close 4010)
      const ws = new WebSocket(`${sharded.gatewayUrl}/?v=10&encoding=json`);
      const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
      ws.on('open', () => ws.send(JSON.stringify({ op: 2, d: { token: sharded.token, intents: 1, properties: {}, shard: [2, 2] } })));
      expect(await closed).toBe(4010);
    } finally {
      await Promise.all(clients.map((c) => c.destroy()));
      await sharded.close();
    }
  });
});
