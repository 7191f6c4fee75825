/** /top [period] [kind]: the best-rated poems or couplets (average, then number of ratings). */
import { EmbedBuilder, SlashCommandBuilder, type ChatInputCommandInteraction } from 'discord.js';
import type { BotContext } from '../context.js';
import { messagesFor, zhLocalizations } from '../messages.js';
import { topPoems } from '../../db/db.js';
import { promptLabel } from '../poem-message.js';

export const data = new SlashCommandBuilder()
  .setName('top')
  .setDescription('The best-rated poems')
  .setDescriptionLocalizations(zhLocalizations('评分最高的诗'))
  .addStringOption((o) =>
    o
      .setName('period')
      .setDescription('Which poems to rank (default: this week)')
      .setDescriptionLocalizations(zhLocalizations('时间范围（默认本周）'))
      .addChoices(
        { name: 'today', name_localizations: zhLocalizations('今日'), value: 'day' },
        { name: 'this week', name_localizations: zhLocalizations('本周'), value: 'week' },
        { name: 'all time', name_localizations: zhLocalizations('历来'), value: 'all' },
      ),
  )
  .addStringOption((o) =>
    o
      .setName('kind')
      .setDescription('Poems (default) or couplets')
      .setDescriptionLocalizations(zhLocalizations('诗（默认）或对联'))
      .addChoices(
        { name: 'poems', name_localizations: zhLocalizations('诗'), value: 'poem' },
        { name: 'couplets', name_localizations: zhLocalizations('对联'), value: 'couplet' },
      ),
  );

export async function execute(interaction: ChatInputCommandInteraction, ctx: BotContext): Promise<void> {
  const period = (interaction.options.getString('period') ?? 'week') as 'day' | 'week' | 'all';
  const kind = (interaction.options.getString('kind') ?? 'poem') as 'poem' | 'couplet';
  const poems = await topPoems(ctx.db, { period, kind, guildId: interaction.guildId ?? undefined, limit: 10 });
  const say = messagesFor(interaction.guildLocale ?? interaction.locale); // a public message: the server's language
  const embed = new EmbedBuilder().setTitle(say.topTitle({ kind, period })).setColor(0x8b1e1e);
  if (poems.length === 0) embed.setDescription(say.topEmpty(kind));
  else {
    embed.setDescription(
      poems
        .map((p, k) => {
          const prompt = p.kind === 'couplet' ? '对联' : promptLabel(p.promptKind, p.promptText) || say.free;
          return `**${k + 1}.** ⭐ ${p.average.toFixed(1)} (${p.count}) · ${prompt} · ${say.by} <@${p.userId}>\n${p.text}`;
        })
        .join('\n\n'),
    );
  }
  await interaction.reply({ embeds: [embed] });
}
