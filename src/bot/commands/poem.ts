/** /poem [start] [acrostic] [form] [temperature] [script] [tones] [rhyme]: a poem with rating buttons under it. */
import { InteractionCallbackResponse, MessageFlags, SlashCommandBuilder, type ChatInputCommandInteraction } from 'discord.js';
import { FORMS, FORM_SHAPE } from '../../model/verse/corpus.js';
import { PoemInputError, type GeneratedPoem } from '../../model/poem/decode/poem-request.js';
import type { Script } from '../../model/verse/script.js';
import type { BotContext } from '../context.js';
import { inputProblemText, messagesFor, zhLocalizations } from '../messages.js';
import { scriptOption, temperatureOption } from '../command-options.js';
import { POEM_SAMPLING } from '../../shared/verse.js';
import { recordPoem, setPoemMessage } from '../../db/db.js';
import { poemButtons, poemEmbed, promptLabel } from '../poem-message.js';

/** A poem not ready this long after its interaction gets an acknowledgement first (Discord allows 3 s). */
export const ACK_AFTER_MS = 1000;

export const data = new SlashCommandBuilder()
  .setName('poem')
  .setDescription('Write a Tang-style poem')
  .setDescriptionLocalizations(zhLocalizations('写一首唐诗'))
  .addStringOption((o) =>
    o
      .setName('start')
      .setDescription('The poem begins with this (1–7 characters), e.g. 月')
      .setDescriptionLocalizations(zhLocalizations('诗的开头（1–7 个字），例如 月'))
      .setMaxLength(7),
  )
  .addStringOption((o) =>
    o
      .setName('acrostic')
      .setDescription('藏头诗: one character per line (4 or 8)')
      .setDescriptionLocalizations(zhLocalizations('藏头诗：每句开头一个字（4 或 8 个字）'))
      .setMaxLength(8),
  )
  .addStringOption((o) =>
    o
      .setName('form')
      .setDescription('Form of the poem')
      .setDescriptionLocalizations(zhLocalizations('诗体'))
      .addChoices(...FORMS.map((f) => ({ name: FORM_SHAPE[f].name, value: f }))),
  )
  .addNumberOption(temperatureOption(POEM_SAMPLING.temperature))
  .addStringOption(scriptOption('poem'))
  .addBooleanOption((o) =>
    o
      .setName('tones')
      .setDescription('Keep the tone rules of regulated verse (平仄); default on')
      .setDescriptionLocalizations(zhLocalizations('守近体诗的平仄，默认守')),
  )
  .addIntegerOption((o) =>
    o
      .setName('seed')
      .setDescription('The same seed gives the same poem (for the same model)')
      .setDescriptionLocalizations(zhLocalizations('同一个种子写出同一首诗（同一个模型）'))
      .setMinValue(0)
      .setMaxValue(2 ** 31 - 1),
  )
  .addStringOption((o) =>
    o
      .setName('rhyme')
      .setDescription("Rhyme by the Tang poets' groups (default) or by modern Mandarin (十三辙)")
      .setDescriptionLocalizations(zhLocalizations('押韵：唐人的韵部（默认）或今音十三辙'))
      .addChoices(
        { name: "classical (the Tang poets' groups)", name_localizations: zhLocalizations('古韵（唐人韵部）'), value: 'classical' },
        { name: 'modern (十三辙)', name_localizations: zhLocalizations('今韵（十三辙）'), value: 'modern' },
      ),
  );

/** what a served poem's row keeps of how it was written: its seed, its request's options, its candidates */
export function servedAs(poem: GeneratedPoem, options: Record<string, unknown>) {
  return { seed: poem.seed ?? null, options: JSON.stringify(options), candidates: poem.candidates ?? 1, tasteVersion: poem.taste?.version ?? null };
}

/** zh-CN → simplified; zh-TW and zh-HK → traditional; anything else → traditional (the corpus's own script). */
export function scriptForLocale(locale: string): Script {
  return locale === 'zh-CN' ? 'simplified' : 'traditional';
}

export async function execute(interaction: ChatInputCommandInteraction, ctx: BotContext): Promise<void> {
  const now = Date.now();
  const readyAt = ctx.cooldowns.get(interaction.user.id) ?? 0;
  if (readyAt > now) {
    await interaction.reply({
      content: messagesFor(interaction.locale).cooldown({ when: `<t:${Math.ceil(readyAt / 1000)}:R>`, seconds: ctx.config.POEM_COOLDOWN_SECONDS }),
      flags: MessageFlags.Ephemeral,
    });
    return;
  }
  ctx.cooldowns.set(interaction.user.id, now + ctx.config.POEM_COOLDOWN_SECONDS * 1000);

  const start = interaction.options.getString('start') ?? undefined;
  const acrostic = interaction.options.getString('acrostic') ?? undefined;
  const script = (interaction.options.getString('script') as Script | null) ?? scriptForLocale(interaction.locale);
  const model = ctx.model; // the reference is read once: a hot swap mid-request does not affect this poem
  ctx.poemsInFlight++;
  // Acknowledge (defer) only if the poem is not ready ACK_AFTER_MS after the interaction was made (or
  // received, whichever is earlier by our clock): a lone poem takes milliseconds and gets one reply, not
  // two calls. A poem that finds every writer's batch full (a burst) waits for a place: it is acknowledged at
  // once, since the acknowledgements must not pile up against the 3-second rule all at the same moment. One
  // that joins a batch is ready in about a batch's time, well inside the rule (bench/bot-latency.ts prints how
  // many of a burst were acknowledged first).
  let deferral: Promise<unknown> | undefined;
  const ackAt = ctx.poemsInFlight > model.batchCapacity ? 0 : Math.min(now, interaction.createdTimestamp) + ACK_AFTER_MS;
  const acknowledge = () => (deferral = ctx.acknowledgements.track(interaction.deferReply({ withResponse: true })).catch((e: unknown) => e));
  // (at once means now, not on a timer: under a burst, timers run only after every waiting I/O event)
  let ackTimer: NodeJS.Timeout | undefined;
  if (ackAt <= Date.now()) acknowledge();
  else ackTimer = setTimeout(acknowledge, ackAt - Date.now());
  const acknowledged = async () => {
    clearTimeout(ackTimer);
    const failed = await deferral;
    if (failed instanceof Error) throw failed;
    return deferral !== undefined;
  };
  try {
    const promptKind = start ? 'start' : acrostic ? 'acrostic' : 'none';
    let written: { poem: GeneratedPoem; stored: Awaited<ReturnType<typeof recordPoem>> };
    // the request's options besides its prompt and script: stored with the poem, so 🔄 can ask again
    const options = {
      form: (interaction.options.getString('form') as (typeof FORMS)[number] | null) ?? undefined,
      temperature: interaction.options.getNumber('temperature') ?? undefined,
      tones: interaction.options.getBoolean('tones') ?? undefined,
      rhyme: (interaction.options.getString('rhyme') as 'classical' | 'modern' | null) ?? undefined,
    };
    try {
      const poem = await model.generate({ start, acrostic, script, seed: interaction.options.getInteger('seed') ?? undefined, ...options });
      await ctx.acknowledgements.clear(); // storing and showing the poem can wait; acknowledgements cannot
      // acknowledged already (a burst): the message that will show the poem exists, and the row gets its id
      // now, not in a second write after the edit
      const loading = await deferral;
      const stored = await recordPoem(ctx.db, {
        guildId: interaction.guildId ?? 'dm',
        channelId: interaction.channelId,
        userId: interaction.user.id,
        promptKind,
        promptText: start ?? acrostic ?? '',
        form: poem.form,
        script: poem.script,
        text: poem.text,
        checkpointVersion: poem.version,
        messageId: loading instanceof InteractionCallbackResponse ? loading.interaction.responseMessageId : null,
        ...servedAs(poem, options),
      });
      written = { poem, stored };
    } catch (e) {
      const deferred = await acknowledged();
      if (!(e instanceof PoemInputError)) throw e;
      ctx.cooldowns.delete(interaction.user.id); // bad input does not cost the user a turn
      const message = { content: `${inputProblemText(interaction.locale, e)} ${messagesFor(interaction.locale).poemExample}` };
      if (deferred) {
        await interaction.deleteReply();
        await interaction.followUp({ ...message, flags: MessageFlags.Ephemeral });
      } else await interaction.reply({ ...message, flags: MessageFlags.Ephemeral });
      return;
    }
    const deferred = await acknowledged();
    const { poem, stored } = written;
    const reply = {
      embeds: [poemEmbed({ lines: poem.lines, form: poem.form, version: poem.version, prompt: promptLabel(promptKind, start ?? acrostic ?? '') })],
      components: poemButtons(stored.id),
    };
    const message = deferred ? await interaction.editReply(reply) : (await interaction.reply({ ...reply, withResponse: true })).resource?.message;
    if (message && message.id !== stored.messageId) {
      // the poem is shown and stored (its buttons carry its id): a link lost to a database hiccup is logged,
      // not turned into a "try again" under a poem the user already has
      await setPoemMessage(ctx.db, stored.id, message.id).catch((e) => ctx.log.warn({ err: e, poemId: stored.id }, 'could not link the poem to its message'));
    }
    ctx.log.info({ poemId: stored.id, form: poem.form, user: interaction.user.id, ms: Date.now() - now }, 'poem served');
  } finally {
    clearTimeout(ackTimer);
    ctx.poemsInFlight--;
  }
}
