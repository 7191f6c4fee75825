/**
 * The one place interactions come in: slash commands by name, rating buttons by custom id. Errors reach the
 * user as a short ephemeral message; the log gets the details. While shutting down, new interactions are
 * turned away politely and the ones in flight are awaited.
 */
import { MessageFlags, type Interaction, type RepliableInteraction } from 'discord.js';
import { handleAgain } from './buttons/again.js';
import { handleRating } from './buttons/rate.js';
import * as couplet from './commands/couplet.js';
import * as model from './commands/model.js';
import * as poem from './commands/poem.js';
import * as top from './commands/top.js';
import type { BotContext } from './context.js';
import { messagesFor } from './messages.js';

export const commands = [poem, couplet, top, model];
const byName = new Map(commands.map((c) => [c.data.name, c]));

export class Router {
  private inFlight = new Set<Promise<void>>();
  private closing = false;

  constructor(private ctx: BotContext) {}

  /** Handles one interaction; never throws. */
  handle(interaction: Interaction): Promise<void> {
    const task = this.dispatch(interaction).catch((e) => this.fail(interaction, e));
    this.inFlight.add(task);
    void task.finally(() => this.inFlight.delete(task));
    return task;
  }

  /** Stops taking new interactions and waits for those in flight. */
  async drain(): Promise<void> {
    this.closing = true;
    await Promise.allSettled([...this.inFlight]);
  }

  private async dispatch(interaction: Interaction): Promise<void> {
    if (!interaction.isRepliable()) return;
    if (this.closing) {
      await interaction.reply({ content: messagesFor(interaction.locale).restarting, flags: MessageFlags.Ephemeral });
      return;
    }
    if (interaction.isChatInputCommand()) {
      const command = byName.get(interaction.commandName);
      if (!command) throw new Error(`unknown command /${interaction.commandName}`);
      await command.execute(interaction, this.ctx);
    } else if (interaction.isButton() && interaction.customId.startsWith('rate:')) {
      await handleRating(interaction, this.ctx);
    } else if (interaction.isButton() && interaction.customId.startsWith('again:')) {
      await handleAgain(interaction, this.ctx);
    } else {
      await interaction.reply({ content: messagesFor(interaction.locale).unknownAction, flags: MessageFlags.Ephemeral });
    }
  }

  private async fail(interaction: Interaction, error: unknown) {
    this.ctx.log.error({ err: error, interaction: interaction.id, user: interaction.user.id }, 'interaction failed');
    if (!interaction.isRepliable()) return;
    const message = { content: messagesFor(interaction.locale).internalError };
    const r = interaction as RepliableInteraction;
    try {
      if (r.deferred || r.replied) await r.followUp({ ...message, flags: MessageFlags.Ephemeral });
      else await r.reply({ ...message, flags: MessageFlags.Ephemeral });
    } catch (e) {
      this.ctx.log.warn({ err: e }, 'could not tell the user about the failure');
    }
  }
}
