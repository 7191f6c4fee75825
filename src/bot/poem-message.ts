/** How a poem looks in Discord: an embed (one line per verse, easy to copy) and five rating buttons. */
import { ActionRowBuilder, ButtonBuilder, ButtonStyle, EmbedBuilder } from 'discord.js';
import { z } from 'zod';
import { FORM_SHAPE, type Form } from '../model/verse/corpus.js';
import { messagesFor } from './messages.js';

export const RatingButtonId = z
  .string()
  .regex(/^rate:\d{1,12}:[1-5]$/)
  .transform((id) => {
    const [, poemId, stars] = id.split(':');
    return { poemId: Number(poemId), stars: Number(stars) };
  });

export const AgainButtonId = z
  .string()
  .regex(/^again:\d{1,12}$/)
  .transform((id) => ({ poemId: Number(id.split(':')[1]) }));

export function ratingButtons(poemId: number) {
  return new ActionRowBuilder<ButtonBuilder>().addComponents(
    [1, 2, 3, 4, 5].map((stars) => new ButtonBuilder().setCustomId(`rate:${poemId}:${stars}`).setLabel(`${stars} ⭐`).setStyle(ButtonStyle.Secondary)),
  );
}

/** under a poem: its rating buttons, and 🔄 (its asker gets another poem for the same request) */
export function poemButtons(poemId: number) {
  const again = new ButtonBuilder().setCustomId(`again:${poemId}`).setEmoji('🔄').setStyle(ButtonStyle.Secondary);
  return [ratingButtons(poemId), new ActionRowBuilder<ButtonBuilder>().addComponents(again)];
}

/** How a poem's prompt is shown: the start text, 藏头 + the acrostic, or nothing for a free poem. */
export function promptLabel(kind: string, text: string): string {
  return kind === 'acrostic' ? `藏头 ${text}` : text;
}

/** What a stored poem's form is called: a poem's form, or a couplet (上联 given, 下联 written) of 5 or 7 characters. */
export type ShownForm = Form | 'couplet5' | 'couplet7';
const COUPLET_TITLES = { couplet5: '对联 · 五言', couplet7: '对联 · 七言' } as const;

export type PoemView = { lines: string[]; form: ShownForm; version: string; prompt: string; rating?: { average: number; count: number }; locale?: string };

export function poemEmbed(view: PoemView) {
  const embed = new EmbedBuilder()
    .setTitle(view.form === 'couplet5' || view.form === 'couplet7' ? COUPLET_TITLES[view.form] : FORM_SHAPE[view.form].name)
    .setDescription(view.lines.join('\n'))
    .setFooter({ text: `model ${view.version}${view.prompt ? ` · ${view.prompt}` : ''}` })
    .setColor(0x8b1e1e);
  if (view.rating && view.rating.count > 0) {
    const say = messagesFor(view.locale ?? 'en');
    embed.addFields({
      name: say.rating,
      value: `${'⭐'.repeat(Math.round(view.rating.average))} ${view.rating.average.toFixed(1)} (${say.ratings(view.rating.count)})`,
    });
  }
  return embed;
}
