/**
 * End to end: the real bot (discord.js, Prisma on a SQLite file, the shipped model) against the local
 * Discord stand-in, playing users. Tests that only ask share one bot; every test that counts, lists or
 * changes what the bot has stored starts its own (startTestBot), so any test passes alone or in any order.
 */
import { join } from 'node:path';
import { PermissionFlagsBits } from 'discord.js';
import { startBot } from '../src/bot/bot.js';
import { readConfig } from '../src/bot/config.js';
import { startDiscordStandIn } from './support/discord/index.js';
import { tempDir } from './helpers.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toTraditional } from '../src/model/verse/script.js';
import { keyPositions } from '../src/model/couplet/decode.js';
import { checkTones } from '../src/model/verse/poetics.js';
import { clearTone } from '../src/model/verse/tones.js';
import { poemRhymes } from '../src/model/verse/modern-rhyme.js';
import { allButtonIds, BOOLEAN, buttonIds, type Option, poemLines, STRING, SUBCOMMAND, startTestBot, type TestBot, users } from './support/test-bot.js';
import { describeKernels } from '../src/model/kernels/native-kernels.js';

const du = { id: '100000000000000001', username: 'du_fu' };
const li = { id: '100000000000000002', username: 'li_bai' };
const wang = { id: '100000000000000003', username: 'wang_wei' };
const ADMIN = PermissionFlagsBits.ManageGuild;

/** the bot for tests that only ask: none of them depends on what another stored */
let shared: TestBot;
beforeAll(async () => {
  shared = await startTestBot();
});
afterAll(async () => {
  await shared?.stop();
});

const poem = (options: Option[], user = du, locale = 'en-US') => shared.poem(options, user, locale);
const modelStatus = (t: TestBot, user: { id: string; username: string }, permissions: bigint | string, permissionOverride = false) =>
  t.discord
    .slashCommand({ name: 'model', options: [{ name: 'status', type: SUBCOMMAND, options: [] } as never], user, permissions, permissionOverride })
    .then((i) => i.response());

describe('the bot against a local Discord', () => {
  it('registers /poem, /top and /model in the guild, /model for Manage Server only', () => {
    const names = shared.discord
      .commands(shared.discord.guildId)
      .map((c) => c.name)
      .sort();
    expect(names).toEqual(['couplet', 'model', 'poem', 'top']);
    const model = shared.discord.commands(shared.discord.guildId).find((c) => c.name === 'model')!;
    expect(BigInt(model.default_member_permissions!)).toBe(ADMIN);
  });

  it('answers /poem 月 with a poem embed that starts with 月, five rating buttons and 🔄, within 3 s', async () => {
    const answer = await poem([{ name: 'start', type: STRING, value: '月' }]);
    expect(answer.ephemeral).toBe(false);
    expect(answer.latencyMs).toBeLessThan(3000);
    const lines = poemLines(answer);
    expect([4, 8]).toContain(lines.length);
    expect(lines[0]!.startsWith('月')).toBe(true);
    expect(new Set(lines.map((l) => [...l].length)).size).toBe(1); // every line the same length
    expect(answer.embeds[0]!.footer?.text).toContain(shared.bot.ctx.model.version);
    expect(buttonIds(answer).map((id) => id.split(':')[2])).toEqual(['1', '2', '3', '4', '5']);
    const poemId = buttonIds(answer)[0]!.split(':')[1];
    expect(allButtonIds(answer)).toEqual([...buttonIds(answer), `again:${poemId}`]);
    expect(answer.allowedMentions).toMatchObject({ parse: [] }); // the client's default: no one is pinged
  });

  it('gives the same poem for the same seed', async () => {
    const options: Option[] = [
      { name: 'start', type: STRING, value: '江' },
      { name: 'seed', type: 4, value: 42 },
    ];
    const [a, b] = [await poem(options, du), await poem(options, li)];
    expect(poemLines(a)).toEqual(poemLines(b));
  });

  it('stores ratings from two users, shows the average, and lets a user change theirs', async () => {
    const answer = await poem([{ name: 'start', type: STRING, value: '山' }]);
    const id = (stars: number) => buttonIds(answer)[stars - 1]!;
    await (await shared.discord.clickButton({ message: answer.messageId, customId: id(4), user: du })).response();
    const second = await (await shared.discord.clickButton({ message: answer.messageId, customId: id(5), user: li })).response();
    expect(JSON.stringify(second.embeds[0]!.fields)).toContain('4.5 (2 ratings)');
    // (by the poem's id, which the buttons carry: its message id is stored just after the reply is visible)
    const poemRow = await shared.bot.ctx.db.prisma.poem.findUnique({ where: { id: Number(id(4).split(':')[1]) }, include: { ratings: true } });
    expect(poemRow!.ratings.map((r) => [r.userId, r.stars]).sort()).toEqual([
      [du.id, 4],
      [li.id, 5],
    ]);
    await (await shared.discord.clickButton({ message: answer.messageId, customId: id(2), user: du })).response();
    expect(JSON.stringify(shared.discord.message(answer.messageId).embeds[0]!.fields)).toContain('3.5 (2 ratings)');
    expect(await shared.bot.ctx.db.prisma.rating.count({ where: { poemId: poemRow!.id } })).toBe(2);
  });

  it('loses no rating when many users click at once', async () => {
    const answer = await poem([{ name: 'start', type: STRING, value: '海' }]);
    const customId = buttonIds(answer)[3]!;
    const clicks = await Promise.all(users(20, 200000000000000000n).map((user) => shared.discord.clickButton({ message: answer.messageId, customId, user })));
    await Promise.all(clicks.map((c) => c.response()));
    const row = await shared.bot.ctx.db.prisma.poem.findUnique({ where: { id: Number(customId.split(':')[1]) }, include: { ratings: true } });
    expect(row!.ratings).toHaveLength(20);
  });

  it('lists the best-rated poems in /top, best first, with prompt, rating and author', async () => {
    const t = await startTestBot();
    const sea = await t.poem([{ name: 'start', type: STRING, value: '海' }], du);
    const hill = await t.poem([{ name: 'start', type: STRING, value: '山' }], li);
    await t.poem([{ name: 'start', type: STRING, value: '夜' }], li); // not rated: not listed
    for (const [k, user] of users(3, 200000000000000000n).entries()) await t.rate(sea, 4 + (k % 2), user); // 4, 5, 4
    await t.rate(hill, 3, du);
    await t.rate(hill, 4, wang);
    const answer = await (await t.discord.slashCommand({ name: 'top', options: [{ name: 'period', type: STRING, value: 'all' }], user: wang })).response();
    const rows = answer.embeds[0]!.description!.split('\n').filter((line) => line.startsWith('**'));
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatch(/^\*\*1\.\*\* ⭐ 4\.3 \(3\) · 海 · by <@100000000000000001>/);
    expect(rows[1]).toMatch(/^\*\*2\.\*\* ⭐ 3\.5 \(2\) · 山 · by <@100000000000000002>/);
    expect(answer.allowedMentions).toMatchObject({ parse: [] }); // the client's default: no one is pinged
  });

  it('refuses /model status to a non-admin, even one whose client could send it', async () => {
    const answer = await modelStatus(shared, li, '0', true);
    expect(answer.ephemeral).toBe(true);
    expect(answer.content).toMatch(/Only server admins/);
    expect(answer.embeds).toHaveLength(0);
  });

  it('shows /model status to an admin: version, backend, and what it has served and stored', async () => {
    const t = await startTestBot();
    const first = await t.poem([{ name: 'start', type: STRING, value: '月' }], du);
    await t.poem([{ name: 'start', type: STRING, value: '日' }], li);
    await t.rate(first, 5, li);
    await t.rate(first, 3, wang);
    const answer = await modelStatus(t, wang, ADMIN);
    expect(answer.ephemeral).toBe(true);
    const fields = Object.fromEntries(answer.embeds[0]!.fields!.map((f) => [f.name, f.value]));
    expect(fields['Active version']).toBe(t.bot.ctx.model.version);
    expect(fields.Backend).toBe(`wasm, poem kernels on ${describeKernels()}`); // (the poem threads load the same kernel as this one)
    expect(fields['Poems served']).toBe('2');
    expect(fields['Ratings stored']).toBe('2');
  });

  it.each([
    [[{ name: 'start', type: STRING, value: 'abc' }], /「a」 「b」 「c」/],
    [[{ name: 'start', type: STRING, value: '@here' }], /only Chinese characters/],
    [[{ name: 'acrostic', type: STRING, value: '春夏秋' }], /4 characters .* or 8/],
    [
      [
        { name: 'start', type: STRING, value: '月' },
        { name: 'acrostic', type: STRING, value: '春夏秋冬' },
      ],
      /not both/,
    ],
    [
      [
        { name: 'start', type: STRING, value: '春夏秋冬春夏' },
        { name: 'form', type: STRING, value: 'wujue' },
      ],
      /holds 5 characters/,
    ],
  ])('answers bad input %j with a short ephemeral message that says what to type', async (options, message) => {
    const answer = await poem(options);
    expect(answer.ephemeral).toBe(true);
    expect(answer.content).toMatch(message);
    expect(answer.content).toMatch(/\/poem 月/);
    expect(answer.allowedMentions).toMatchObject({ parse: [] }); // the client's default: no one is pinged
  });

  it('writes simplified characters for a zh-CN user and accepts simplified input', async () => {
    const answer = await poem([{ name: 'start', type: STRING, value: '红' }], du, 'zh-CN');
    expect(poemLines(answer)[0]!.startsWith('红')).toBe(true);
    const traditional = await poem([{ name: 'start', type: STRING, value: '红' }], du, 'zh-TW');
    expect(poemLines(traditional)[0]!.startsWith('紅')).toBe(true);
  });

  it('tells a user who clicks a rating on a deleted poem that it is gone', async () => {
    const answer = await poem([{ name: 'start', type: STRING, value: '夜' }]);
    const customId = buttonIds(answer)[0]!;
    await shared.bot.ctx.db.prisma.poem.delete({ where: { id: Number(customId.split(':')[1]) } });
    const click = await (await shared.discord.clickButton({ message: answer.messageId, customId, user: li })).response();
    expect(click.ephemeral).toBe(true);
    expect(click.content).toMatch(/no longer in our records/);
  });

  it('answers 30 concurrent /poem requests inside the 3-second rule', async () => {
    const answers = await Promise.all(users(30, 300000000000000000n).map((user) => poem([{ name: 'start', type: STRING, value: '湖' }], user)));
    for (const a of answers) {
      expect(a.latencyMs).toBeLessThan(3000);
      expect(poemLines(a)[0]!.startsWith('湖')).toBe(true);
    }
    expect(shared.discord.refusals).toEqual([]);
  });
});

describe('the rules of verse in /poem', () => {
  it('keeps the tone rules by default, and writes free tones and modern rhyme when asked', async () => {
    const kept = await poem([
      { name: 'start', type: STRING, value: '春' },
      { name: 'form', type: STRING, value: 'wulv' },
    ]);
    expect(checkTones(poemLines(kept), clearTone).kept).toBe(true);
    // with the rules off, some of 8 seeds' poems break them (the model alone keeps them in far fewer than all)
    const free = await Promise.all(
      Array.from({ length: 8 }, (_, k) =>
        poem(
          [
            { name: 'form', type: STRING, value: 'wulv' },
            { name: 'tones', type: BOOLEAN, value: false as never },
            { name: 'rhyme', type: STRING, value: 'modern' },
          ],
          { id: String(700000000000000000n + BigInt(k)), username: `free${k}` },
        ),
      ),
    );
    for (const answer of free) expect(poemLines(answer)).toHaveLength(8);
    expect(free.some((answer) => !checkTones(poemLines(answer), clearTone).kept)).toBe(true);
    expect(free.every((answer) => poemRhymes(poemLines(answer)))).toBe(true); // 十三辙, as asked
  });
});

describe('/couplet', () => {
  const couplet = (options: { name: string; type: number; value: string | number }[], user = du, locale = 'en-US') =>
    shared.discord.slashCommand({ name: 'couplet', options, user, locale }).then((i) => i.response());

  it('answers an upper line with a lower line of its length, opposed tones, no reused character, and rating buttons', async () => {
    const answer = await couplet([{ name: 'upper', type: STRING, value: '白日依山尽' }]);
    expect(answer.ephemeral).toBe(false);
    const [upper, lower] = poemLines(answer);
    expect(upper).toBe('白日依山盡'); // typed simplified, shown in the corpus's script for an en-US user
    expect([...lower!]).toHaveLength(5);
    for (const k of keyPositions(5)) {
      const [a, b] = [clearTone([...upper!][k]!), clearTone([...lower!][k]!)];
      if (a) expect(b).not.toBe(a);
    }
    expect([...lower!].some((ch) => upper!.includes(ch))).toBe(false);
    expect(answer.embeds[0]!.title).toBe('对联 · 五言');
    expect(buttonIds(answer)).toHaveLength(5);
    expect(answer.allowedMentions).toMatchObject({ parse: [] });

    // rated, it is listed by /top kind:couplet, and not among the poems
    const rated = await (await shared.discord.clickButton({ message: answer.messageId, customId: buttonIds(answer)[4]!, user: li })).response();
    expect(JSON.stringify(rated.embeds[0]!.fields)).toContain('5.0 (1 rating)');
    expect(rated.embeds[0]!.title).toBe('对联 · 五言');
    const row = await shared.bot.ctx.db.prisma.poem.findUnique({ where: { id: Number(buttonIds(answer)[4]!.split(':')[1]) } });
    expect(row).toMatchObject({ kind: 'couplet', form: 'couplet5', promptText: '白日依山盡' });
    const top = await shared.discord
      .slashCommand({ name: 'top', options: [{ name: 'kind', type: STRING, value: 'couplet' }], user: wang })
      .then((i) => i.response());
    expect(top.embeds[0]!.title).toMatch(/couplets/);
    expect(top.embeds[0]!.description).toContain(`${upper}，${lower}。`);
    const poems = await shared.discord
      .slashCommand({ name: 'top', options: [{ name: 'period', type: STRING, value: 'all' }], user: wang })
      .then((i) => i.response());
    expect(poems.embeds[0]!.description ?? '').not.toContain(`${upper}，${lower}。`);
  });

  it('answers a zh-CN user in simplified characters', async () => {
    const answer = await couplet([{ name: 'upper', type: STRING, value: '两岸猿声啼不住' }], li, 'zh-CN');
    const [upper, lower] = poemLines(answer);
    expect(upper).toBe('两岸猿声啼不住');
    expect([...lower!]).toHaveLength(7);
  });

  for (const [value, message] of [
    ['白日依山', /5 or 7 characters.*has 4/],
    ['abcde', /only Chinese characters/],
    ['@everyone', /only Chinese characters/],
  ] as const) {
    it(`refuses ${value} with a private message that says what to type`, async () => {
      const answer = await couplet([{ name: 'upper', type: STRING, value }]);
      expect(answer.ephemeral).toBe(true);
      expect(answer.content).toMatch(message);
      expect(answer.content).toMatch(/\/couplet 白日依山尽/);
      expect(answer.allowedMentions).toMatchObject({ parse: [] });
    });
  }
});

describe("replies in the user's language", () => {
  it('tells a zh-CN, a zh-TW and an en-US user what was wrong, each in their own language', async () => {
    const bad = [{ name: 'start', type: STRING, value: 'abc' }];
    const [cn, tw, en] = await Promise.all([poem(bad, du, 'zh-CN'), poem(bad, li, 'zh-TW'), poem(bad, wang, 'en-US')]);
    expect(cn.ephemeral && tw.ephemeral && en.ephemeral).toBe(true);
    expect(cn.content).toMatch(/开头只能是汉字，这些不是：「a」 「b」 「c」。 例如：`\/poem 月`/);
    expect(tw.content).toMatch(/開頭只能是漢字，這些不是：「a」 「b」 「c」。 例如：`\/poem 月`/);
    expect(en.content).toMatch(/The start text may hold only Chinese characters; these are not: 「a」 「b」 「c」\. For example/);
    const couplet = await shared.discord
      .slashCommand({ name: 'couplet', options: [{ name: 'upper', type: STRING, value: '白日依山' }], user: du, locale: 'zh-CN' })
      .then((i) => i.response());
    expect(couplet.content).toMatch(/上联是 5 个或 7 个字（五言或七言的一句）；这句有 4 个字。 例如：`\/couplet 白日依山尽`/);
  });

  it("writes public messages in the server's language, whoever asks", async () => {
    const top = await shared.discord.slashCommand({ name: 'top', options: [], user: du, locale: 'zh-CN' }).then((i) => i.response());
    expect(top.embeds[0]!.title).toMatch(/^Best-rated poems this week/); // the stand-in's server speaks en-US
  });

  it('registers the commands with their descriptions in zh-CN and zh-TW, options and choices too', () => {
    const registered = shared.discord.commands(shared.discord.guildId);
    const poemCommand = registered.find((c) => c.name === 'poem')!;
    expect(poemCommand.description_localizations).toEqual({ 'zh-CN': '写一首唐诗', 'zh-TW': '寫一首唐詩' });
    const options = poemCommand.options as unknown as {
      name: string;
      description_localizations?: Record<string, string>;
      choices?: { name_localizations?: Record<string, string> }[];
    }[];
    for (const option of options) expect(Object.keys(option.description_localizations ?? {}).sort(), option.name).toEqual(['zh-CN', 'zh-TW']);
    expect(options.find((o) => o.name === 'rhyme')!.choices![0]!.name_localizations).toEqual({ 'zh-CN': '古韵（唐人韵部）', 'zh-TW': '古韻（唐人韻部）' });
    const coupletCommand = registered.find((c) => c.name === 'couplet')!;
    expect((coupletCommand.description_localizations as Record<string, string>)['zh-TW']).toBe('對對子：出上聯，對下聯');
  });
});

describe('acknowledging in time', () => {
  it('answers a lone poem with one reply, and a burst with every poem inside the 3-second rule', async () => {
    const lone = await poem([{ name: 'start', type: STRING, value: '山' }]);
    expect(lone.deferred).toBe(false); // written in milliseconds: no acknowledgement first
    const burst = await Promise.all(
      // more than the writers' batches hold: the later ones are acknowledged first
      users(shared.bot.ctx.model.batchCapacity + 20, 600000000000000000n).map((user, k) =>
        poem([{ name: 'start', type: STRING, value: '日紅山夜湖海月'[k % 7]! }], user),
      ),
    );
    for (const [k, answer] of burst.entries()) {
      expect(answer.latencyMs, `poem ${k}: first response`).toBeLessThan(3000);
      expect(answer.ephemeral).toBe(false);
      expect(poemLines(answer)[0]!.startsWith(toTraditional('日红山夜湖海月'[k % 7]!))).toBe(true);
      expect(buttonIds(answer)).toHaveLength(5);
    }
    // the acknowledged ones too: each row names the message that shows it (stored with the row, or after the reply)
    expect(burst.some((a) => a.deferred)).toBe(true);
    // a reply is visible before the bot has stored its message id (that write follows it): wait until it is done
    while (shared.bot.ctx.poemsInFlight > 0) await new Promise((r) => setTimeout(r, 5));
    const rows = await shared.bot.ctx.db.prisma.poem.findMany({ where: { messageId: { in: burst.map((a) => a.messageId) } } });
    expect(rows).toHaveLength(burst.length);
  });
});

describe('the per-user cooldown', () => {
  it('tells a user who asks again too soon when to try again, and lets others ask', async () => {
    const t = await startTestBot({ env: { POEM_COOLDOWN_SECONDS: '30' } });
    const first = await t.poem([{ name: 'start', type: STRING, value: '日' }], wang);
    expect(first.ephemeral).toBe(false);
    const again = await t.poem([{ name: 'start', type: STRING, value: '日' }], wang);
    expect(again.ephemeral).toBe(true);
    expect(again.content).toMatch(/next poem <t:\d+:R>/);
    const other = await t.poem([{ name: 'start', type: STRING, value: '日' }], du);
    expect(other.ephemeral).toBe(false);
  });
});

describe('🔄 another poem', () => {
  it('gives its asker a fresh poem for the same request in the same message, stores the pair, and refuses anyone else', async () => {
    const t = await startTestBot();
    const first = await t.poem(
      [
        { name: 'start', type: STRING, value: '雪' },
        { name: 'form', type: STRING, value: 'qijue' },
      ],
      du,
      'zh-CN',
    );
    const oldId = Number(buttonIds(first)[0]!.split(':')[1]);
    const again = allButtonIds(first).find((id) => id.startsWith('again:'))!;
    const stranger = await (await t.discord.clickButton({ message: first.messageId, customId: again, user: li })).response();
    expect(stranger.ephemeral).toBe(true);
    expect(stranger.content).toMatch(/Only the reader who asked for this poem/);

    const replaced = await (await t.discord.clickButton({ message: first.messageId, customId: again, user: du, locale: 'zh-CN' })).response();
    const lines = poemLines(replaced);
    expect(lines).toHaveLength(4);
    expect([...lines[0]!]).toHaveLength(7); // the same form
    expect(lines[0]!.startsWith('雪')).toBe(true); // the same start, in the same script
    const newId = Number(buttonIds(replaced)[0]!.split(':')[1]);
    expect(newId).not.toBe(oldId);
    const [oldRow, newRow] = await Promise.all([oldId, newId].map((id) => t.bot.ctx.db.prisma.poem.findUnique({ where: { id } })));
    expect(newRow!.replacesPoemId).toBe(oldId);
    expect(newRow!.messageId).toBe(first.messageId); // the message shows the new poem now
    expect(oldRow!.messageId).toBeNull();
    expect(JSON.parse(newRow!.options)).toEqual({ form: 'qijue' });
    // the new poem is rated by its own buttons
    const rated = await t.rate(replaced, 5, li);
    expect(JSON.stringify(rated.embeds[0]!.fields)).toContain('5.0');
    expect(await t.bot.ctx.db.prisma.rating.count({ where: { poemId: newId } })).toBe(1);
  });

  it('keeps the cooldown', async () => {
    const t = await startTestBot({ env: { POEM_COOLDOWN_SECONDS: '30' } });
    const first = await t.poem([{ name: 'start', type: STRING, value: '雨' }], wang);
    const again = allButtonIds(first).find((id) => id.startsWith('again:'))!;
    const refused = await (await t.discord.clickButton({ message: first.messageId, customId: again, user: wang })).response();
    expect(refused.ephemeral).toBe(true);
    expect(refused.content).toMatch(/next poem <t:\d+:R>/);
  });
});

describe('shutting down', () => {
  it('finishes the interaction in flight, then logs out', async () => {
    const { discord, bot } = await startTestBot();
    const inFlight = await discord.slashCommand({
      name: 'poem',
      options: [{ name: 'start', type: STRING, value: '月' }],
      user: { id: '500000000000000001', username: 'late' },
    });
    while (bot.ctx.poemsInFlight === 0) await new Promise((r) => setTimeout(r, 1)); // the bot is writing it
    const stopping = bot.stop();
    const answer = await inFlight.response();
    expect(poemLines(answer)[0]!.startsWith('月')).toBe(true);
    await stopping;
    expect(bot.client.isReady()).toBe(false);
  });
});

describe('starting', () => {
  it('refuses a wrong token with a clear error, and leaves nothing running', async () => {
    const discord = await startDiscordStandIn();
    const dir = tempDir('tangshi-e2e-');
    try {
      const config = readConfig({
        DISCORD_TOKEN: `${discord.token}x`,
        DISCORD_API_URL: discord.apiUrl,
        DATABASE_URL: `file:${join(dir, 'bot.db')}`,
        MODEL_DIR: join(dir, 'models'),
        TRAIN_CRON: '0 3 * * *',
        LOG_LEVEL: 'silent',
      });
      const threadsBefore = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles().length;
      await expect(startBot(config)).rejects.toThrow(/token/i);
      // the poem threads, the database and the cron job are gone again (a failed start would otherwise keep the process alive)
      await new Promise((r) => setTimeout(r, 200));
      expect((process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles().length).toBeLessThanOrEqual(threadsBefore);
    } finally {
      await discord.close();
    }
  });
});
