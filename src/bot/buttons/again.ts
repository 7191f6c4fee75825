/**
 * 🔄 under a poem: its asker gets a fresh poem for the same request (its prompt, form, options and script; a
 * new seed) in the same message, with its own rating buttons. The cooldown applies as to /poem. The new poem
 * is stored as replacing the old one: a preference (this one over that one) the night learns from.
 */
import { MessageFlags, type ButtonInteraction } from 'discord.js';
import { requestOf } from '../../jobs/night-data.js';
import { moveMessage, poemById, recordPoem } from '../../db/db.js';
import type { BotContext } from '../context.js';
import { messagesFor } from '../messages.js';
import { AgainButtonId, poemButtons, poemEmbed, promptLabel } from '../poem-message.js';
import { ACK_AFTER_MS, servedAs } from '../commands/poem.js';

export async function handleAgain(interaction: ButtonInteraction, ctx: BotContext): Promise<void> {
  const say = messagesFor(interaction.locale);
  const parsed = AgainButtonId.safeParse(interaction.customId);
  if (!parsed.success) {
    await interaction.reply({ content: say.notOurButton, flags: MessageFlags.Ephemeral });
    return;
  }
  const old = await poemById(ctx.db, parsed.data.poemId);
  if (old?.kind !== 'poem') {
    await interaction.reply({ content: say.againGone, flags: MessageFlags.Ephemeral });
    return;
  }
  if (old.userId !== interaction.user.id) {
    await interaction.reply({ content: say.onlyAsker, flags: MessageFlags.Ephemeral });
    return;
  }
  const now = Date.now();
  const readyAt = ctx.cooldowns.get(interaction.user.id) ?? 0;
  if (readyAt > now) {
    await interaction.reply({
      content: say.cooldown({ when: `<t:${Math.ceil(readyAt / 1000)}:R>`, seconds: ctx.config.POEM_COOLDOWN_SECONDS }),
      flags: MessageFlags.Ephemeral,
    });
    return;
  }
  ctx.cooldowns.set(interaction.user.id, now + ctx.config.POEM_COOLDOWN_SECONDS * 1000);
  // a poem takes milliseconds; behind a long queue the button is acknowledged first (Discord allows 3 s)
  let deferral: Promise<unknown> | undefined;
  const ack = setTimeout(() => (deferral = interaction.deferUpdate().catch((e: unknown) => e)), ACK_AFTER_MS);
  try {
    const { start: _start, acrostic: _acrostic, ...options } = requestOf(old);
    const script = old.script === 'simplified' ? 'simplified' : 'traditional';
    const poem = await ctx.model.generate({ ...requestOf(old), script });
    const stored = await recordPoem(ctx.db, {
      guildId: old.guildId,
      channelId: old.channelId,
      userId: old.userId,
      promptKind: old.promptKind,
      promptText: old.promptText,
      form: poem.form,
      script: poem.script,
      text: poem.text,
      checkpointVersion: poem.version,
      replacesPoemId: old.id,
      ...servedAs(poem, options),
    });
    // the message shows the new poem from now on: its row says so before the message does
    await moveMessage(ctx.db, old.id, stored.id, interaction.message.id);
    clearTimeout(ack);
    const failed = await deferral;
    if (failed instanceof Error) throw failed;
    const view = {
      embeds: [poemEmbed({ lines: poem.lines, form: poem.form, version: poem.version, prompt: promptLabel(old.promptKind, old.promptText) })],
      components: poemButtons(stored.id),
    };
    if (deferral) await interaction.editReply(view);
    else await interaction.update(view);
    ctx.log.info({ poemId: stored.id, replaces: old.id, user: interaction.user.id }, 'poem replaced');
  } finally {
    clearTimeout(ack);
  }
}
