/** /couplet <上联>: the bot answers an upper line with its lower line (对对子), with rating buttons under it. */
import { MessageFlags, SlashCommandBuilder, type ChatInputCommandInteraction } from 'discord.js';
import type { CoupletAnswer } from '../../model/couplet/decode.js';
import { PoemInputError } from '../../model/poem/decode/poem-request.js';
import type { Script } from '../../model/verse/script.js';
import type { BotContext } from '../context.js';
import { inputProblemText, messagesFor, zhLocalizations } from '../messages.js';
import { scriptOption, temperatureOption } from '../command-options.js';
import { COUPLET_SAMPLING } from '../../shared/verse.js';
import { recordPoem, setPoemMessage } from '../../db/db.js';
import { poemEmbed, ratingButtons } from '../poem-message.js';
import { scriptForLocale } from './poem.js';

export const data = new SlashCommandBuilder()
  .setName('couplet')
  .setDescription('对对子: give an upper line, get its matching lower line')
  .setDescriptionLocalizations(zhLocalizations('对对子：出上联，对下联'))
  .addStringOption((o) =>
    o
      .setName('upper')
      .setDescription('The upper line (上联), 5 or 7 characters, e.g. 白日依山尽')
      .setDescriptionLocalizations(zhLocalizations('上联，5 或 7 个字，例如 白日依山尽'))
      .setRequired(true)
      .setMaxLength(16),
  )
  .addNumberOption(temperatureOption(COUPLET_SAMPLING.temperature))
  .addStringOption(scriptOption('answer'));

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
    checkpointVersion: answer.version,
  });
  const reply = {
    embeds: [
      poemEmbed({
        lines: [answer.upper, answer.lower],
        form,
        version: answer.version,
        prompt: messagesFor(interaction.guildLocale ?? interaction.locale).upperGiven,
      }),
    ],
    components: [ratingButtons(stored.id)],
  };
  const message = (await interaction.reply({ ...reply, withResponse: true })).resource?.message;
  if (message) await setPoemMessage(ctx.db, stored.id, message.id);
  ctx.log.info({ poemId: stored.id, kind: 'couplet', user: interaction.user.id }, 'couplet served');
}
