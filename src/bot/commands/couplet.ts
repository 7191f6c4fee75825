/** /couplet <上联>: the bot answers an upper line with its lower line (对对子), with rating buttons under it. */
import { MessageFlags, SlashCommandBuilder, type ChatInputCommandInteraction } from 'discord.js';
import type { CoupletAnswer } from '../../couplet/decode.js';
import { PoemInputError } from '../../model/poem-request.js';
import type { Script } from '../../model/script.js';
import type { BotContext } from '../context.js';
import { inputProblemText, messagesFor } from '../messages.js';
import { recordPoem, setPoemMessage } from '../../db/db.js';
import { poemEmbed, ratingButtons } from '../poem-message.js';
import { scriptForLocale } from './poem.js';

export const data = new SlashCommandBuilder()
  .setName('couplet')
  .setDescription('对对子: give an upper line, get its matching lower line')
  .setDescriptionLocalizations({ 'zh-CN': '对对子：出上联，对下联', 'zh-TW': '對對子：出上聯，對下聯' })
  .addStringOption((o) =>
    o
      .setName('upper')
      .setDescription('The upper line (上联), 5 or 7 characters, e.g. 白日依山尽')
      .setDescriptionLocalizations({ 'zh-CN': '上联，5 或 7 个字，例如 白日依山尽', 'zh-TW': '上聯，5 或 7 個字，例如 白日依山盡' })
      .setRequired(true)
      .setMaxLength(16),
  )
  .addNumberOption((o) =>
    o
      .setName('temperature')
      .setDescription('Boldness, 0.1 (safe) to 2 (wild); default 0.6')
      .setDescriptionLocalizations({ 'zh-CN': '大胆程度，0.1（稳）到 2（野），默认 0.6', 'zh-TW': '大膽程度，0.1（穩）到 2（野），預設 0.6' })
      .setMinValue(0.1)
      .setMaxValue(2),
  )
  .addStringOption((o) =>
    o
      .setName('script')
      .setDescription('Script of the answer')
      .setDescriptionLocalizations({ 'zh-CN': '字体：简体或繁体', 'zh-TW': '字體：簡體或繁體' })
      .addChoices({ name: '简体', value: 'simplified' }, { name: '繁體', value: 'traditional' }),
  );

export async function execute(interaction: ChatInputCommandInteraction, ctx: BotContext): Promise<void> {
  const model = ctx.model; // read once, as /poem does
  if (!model.coupletVersion) {
    await interaction.reply({ content: messagesFor(interaction.locale).coupletMissing, flags: MessageFlags.Ephemeral });
    return;
  }
  const upper = interaction.options.getString('upper', true);
  const script = (interaction.options.getString('script') as Script | null) ?? scriptForLocale(interaction.locale);
  let answer: CoupletAnswer;
  try {
    answer = await model.couplet({ upper, temperature: interaction.options.getNumber('temperature') ?? undefined, script });
  } catch (e) {
    if (!(e instanceof PoemInputError)) throw e;
    await interaction.reply({
      content: `${inputProblemText(interaction.locale, e)} ${messagesFor(interaction.locale).coupletExample}`,
      flags: MessageFlags.Ephemeral,
    });
    return;
  }
  const form = [...answer.upper].length === 5 ? 'couplet5' : 'couplet7';
  const stored = await recordPoem(ctx.db, {
    kind: 'couplet',
    guildId: interaction.guildId ?? 'dm',
    channelId: interaction.channelId,
    userId: interaction.user.id,
    promptKind: 'start',
    promptText: answer.upper,
    form,
    script: answer.script,
    text: answer.text,
    checkpointVersion: answer.checkpoint,
  });
  const reply = {
    embeds: [
      poemEmbed({
        lines: [answer.upper, answer.lower],
        form,
        checkpoint: answer.checkpoint,
        prompt: messagesFor(interaction.guildLocale ?? interaction.locale).upperGiven,
      }),
    ],
    components: [ratingButtons(stored.id)],
  };
  const message = (await interaction.reply({ ...reply, withResponse: true })).resource?.message;
  if (message) await setPoemMessage(ctx.db, stored.id, message.id);
  ctx.log.info({ poemId: stored.id, kind: 'couplet', user: interaction.user.id }, 'couplet served');
}
