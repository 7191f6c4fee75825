/** /top [period] [kind]: the best-rated poems or couplets (average, then number of ratings). */
import { EmbedBuilder, SlashCommandBuilder, type ChatInputCommandInteraction } from 'discord.js';
import type { BotContext } from '../context.js';
import { topPoems } from '../db.js';
import { promptLabel } from '../poem-message.js';

const PERIODS = { day: 'today', week: 'this week', all: 'of all time' } as const;

export const data = new SlashCommandBuilder()
  .setName('top')
  .setDescription('The best-rated poems')
  .addStringOption((o) =>
    o
      .setName('period')
      .setDescription('Which poems to rank (default: this week)')
      .addChoices({ name: 'today', value: 'day' }, { name: 'this week', value: 'week' }, { name: 'all time', value: 'all' }),
  )
  .addStringOption((o) =>
    o.setName('kind').setDescription('Poems (default) or couplets').addChoices({ name: 'poems', value: 'poem' }, { name: 'couplets 对联', value: 'couplet' }),
  );

export async function execute(interaction: ChatInputCommandInteraction, ctx: BotContext): Promise<void> {
  const period = (interaction.options.getString('period') ?? 'week') as keyof typeof PERIODS;
  const kind = (interaction.options.getString('kind') ?? 'poem') as 'poem' | 'couplet';
  const poems = await topPoems(ctx.db, { period, kind, guildId: interaction.guildId ?? undefined, limit: 10 });
  const embed = new EmbedBuilder().setTitle(`Best-rated ${kind === 'couplet' ? 'couplets' : 'poems'} ${PERIODS[period]}`).setColor(0x8b1e1e);
  if (poems.length === 0) {
    embed.setDescription(
      kind === 'couplet'
        ? 'No rated couplets yet. Try `/couplet 白日依山尽` and rate the answer.'
        : 'No rated poems yet. Ask for one with `/poem 月` and rate it with the stars under it.',
    );
  } else {
    embed.setDescription(
      poems
        .map((p, k) => {
          const prompt = p.kind === 'couplet' ? '对联' : promptLabel(p.promptKind, p.promptText) || 'free';
          return `**${k + 1}.** ⭐ ${p.average.toFixed(1)} (${p.count}) · ${prompt} · by <@${p.userId}>\n${p.text}`;
        })
        .join('\n\n'),
    );
  }
  await interaction.reply({ embeds: [embed], allowedMentions: { parse: [] } });
}
