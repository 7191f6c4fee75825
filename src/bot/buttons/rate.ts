/** A click on 1–5 ⭐ under a poem: store (or change) that user's rating and show the new average. */
import { MessageFlags, type ButtonInteraction } from 'discord.js';
import type { BotContext } from '../context.js';
import { messagesFor } from '../messages.js';
import { poemById, ratePoem } from '../../db/db.js';
import { RatingButtonId, poemEmbed, promptLabel, type ShownForm } from '../poem-message.js';

export async function handleRating(interaction: ButtonInteraction, ctx: BotContext): Promise<void> {
  const parsed = RatingButtonId.safeParse(interaction.customId);
  if (!parsed.success) {
    await interaction.reply({ content: messagesFor(interaction.locale).notOurButton, flags: MessageFlags.Ephemeral });
    return;
  }
  const { poemId, stars } = parsed.data;
  const summary = await ratePoem(ctx.db, { poemId, userId: interaction.user.id, stars });
  const poem = summary && (await poemById(ctx.db, poemId));
  if (!summary || !poem) {
    await interaction.reply({
      content: messagesFor(interaction.locale).poemGone,
      flags: MessageFlags.Ephemeral,
    });
    return;
  }
  const publicLocale = interaction.guildLocale ?? interaction.locale; // the message is the server's, not the rater's
  await interaction.update({
    embeds: [
      poemEmbed({
        lines: poem.text.split(/[，。]/).filter(Boolean),
        form: poem.form as ShownForm,
        version: poem.checkpointVersion,
        prompt: poem.kind === 'couplet' ? messagesFor(publicLocale).upperGiven : promptLabel(poem.promptKind, poem.promptText),
        rating: summary,
        locale: publicLocale,
      }),
    ],
  });
}
