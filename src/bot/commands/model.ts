/** /model status (admins): which checkpoint answers, how good it is, what the bot has done. */
import { EmbedBuilder, MessageFlags, PermissionFlagsBits, SlashCommandBuilder, type ChatInputCommandInteraction } from 'discord.js';
import type { BotContext } from '../context.js';
import { counts } from '../db.js';

export const data = new SlashCommandBuilder()
  .setName('model')
  .setDescription('The poem model (admins)')
  .setDefaultMemberPermissions(PermissionFlagsBits.ManageGuild)
  .addSubcommand((s) => s.setName('status').setDescription('Active model version, its perplexity, backend and usage'));

/** The server-side check decides (default permissions only hide the command): Manage Server, or ADMIN_USER_IDS. */
export function isAdmin(interaction: ChatInputCommandInteraction, ctx: BotContext): boolean {
  return Boolean(interaction.memberPermissions?.has(PermissionFlagsBits.ManageGuild)) || ctx.config.ADMIN_USER_IDS.includes(interaction.user.id);
}

function uptime(ms: number): string {
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h ${Math.floor((s % 3600) / 60)}m ${s % 60}s`;
}

export async function execute(interaction: ChatInputCommandInteraction, ctx: BotContext): Promise<void> {
  if (!isAdmin(interaction, ctx)) {
    await interaction.reply({
      content: 'Only server admins (Manage Server) can use /model.',
      flags: MessageFlags.Ephemeral,
      allowedMentions: { parse: [] },
    });
    return;
  }
  const { poems, ratings } = await counts(ctx.db);
  const m = ctx.model.manifest;
  const embed = new EmbedBuilder()
    .setTitle('Model status')
    .setColor(0x8b1e1e)
    .addFields(
      { name: 'Active version', value: m.version, inline: true },
      { name: 'Dev perplexity', value: m.metrics.devPerplexity?.toFixed(2) ?? 'not measured', inline: true },
      { name: 'Backend', value: ctx.model.backend, inline: true },
      { name: 'Poems served', value: String(poems), inline: true },
      { name: 'Ratings stored', value: String(ratings), inline: true },
      { name: 'Uptime', value: uptime(Date.now() - ctx.startedAt.getTime()), inline: true },
    );
  await interaction.reply({ embeds: [embed], flags: MessageFlags.Ephemeral, allowedMentions: { parse: [] } });
}
