/** Options /poem and /couplet share: how bold the sampling is, and the script of the answer. */
import type { SlashCommandNumberOption, SlashCommandStringOption } from 'discord.js';
import { SCRIPTS, type Script } from '../shared/verse.js';
import { zhLocalizations } from './messages.js';

/** a script by its own name: each reader finds theirs */
const SCRIPT_NAMES: Record<Script, string> = { simplified: '简体', traditional: '繁體' };

export const temperatureOption = (defaultTemperature: number) => (o: SlashCommandNumberOption) =>
  o
    .setName('temperature')
    .setDescription(`Boldness, 0.1 (safe) to 2 (wild); default ${defaultTemperature}`)
    .setDescriptionLocalizations(zhLocalizations(`大胆程度，0.1（稳）到 2（野），默认 ${defaultTemperature}`))
    .setMinValue(0.1)
    .setMaxValue(2);

export const scriptOption = (what: 'poem' | 'answer') => (o: SlashCommandStringOption) =>
  o
    .setName('script')
    .setDescription(`Script of the ${what}: simplified or traditional`)
    .setDescriptionLocalizations(zhLocalizations('简体或繁体'))
    .addChoices(...SCRIPTS.map((value) => ({ name: SCRIPT_NAMES[value], value })));
