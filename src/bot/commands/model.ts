/**
 * /model (admins): status, retrain (a fine-tune with live progress and a final report), stop, rollback.
 * Who may use it is decided here, on the server, whatever Discord's command permissions or options say.
 */
import { EmbedBuilder, MessageFlags, PermissionFlagsBits, SlashCommandBuilder, type ChatInputCommandInteraction, type Message } from 'discord.js';
import { z } from 'zod';
import type { RunState, StartResult } from '../../jobs/finetune-runner.js';
import { previousVersion, recentVersions, serveVersion } from '../../jobs/versions.js';
import type { BotContext } from '../context.js';
import { counts, lastEndedRun, versionById } from '../../db/db.js';
import { progressLine, progressMessage, reportMessage, startedBy } from '../training-report.js';

export const data = new SlashCommandBuilder()
  .setName('model')
  .setDescription('The poem model (admins)')
  .setDefaultMemberPermissions(PermissionFlagsBits.ManageGuild)
  .addSubcommand((s) => s.setName('status').setDescription('Active version, perplexity, runs, schedule and recent versions'))
  .addSubcommand((s) => s.setName('retrain').setDescription('Fine-tune now on the corpus and well-rated poems; shows progress'))
  .addSubcommand((s) => s.setName('stop').setDescription('Stop the fine-tune in progress'))
  .addSubcommand((s) =>
    s
      .setName('rollback')
      .setDescription('Answer with an earlier version (default: the one active before)')
      .addStringOption((o) => o.setName('version').setDescription('Version id, as /model status lists them').setMaxLength(64)),
  );

// (mentions are off by the client's default: nothing in these messages can ping anyone)
const ephemeral = { flags: MessageFlags.Ephemeral } as const;
const VersionId = z.string().regex(/^[\w.-]{1,64}$/, 'is not a version id (letters, digits, . _ -)');

/** The server-side check decides (default permissions only hide the command): Manage Server, or ADMIN_USER_IDS. */
export function isAdmin(interaction: ChatInputCommandInteraction, ctx: BotContext): boolean {
  return Boolean(interaction.memberPermissions?.has(PermissionFlagsBits.ManageGuild)) || ctx.config.ADMIN_USER_IDS.includes(interaction.user.id);
}

export async function execute(interaction: ChatInputCommandInteraction, ctx: BotContext): Promise<void> {
  if (!isAdmin(interaction, ctx)) {
    await interaction.reply({ content: 'Only server admins (Manage Server) can use /model.', ...ephemeral });
    return;
  }
  const sub = interaction.options.getSubcommand();
  if (sub === 'retrain') return retrain(interaction, ctx);
  if (sub === 'stop') return stop(interaction, ctx);
  if (sub === 'rollback') return rollback(interaction, ctx);
  return status(interaction, ctx);
}

function uptime(ms: number): string {
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h ${Math.floor((s % 3600) / 60)}m ${s % 60}s`;
}

const when = (d: Date, style = 'R') => `<t:${Math.floor(d.getTime() / 1000)}:${style}>`;

function busyText(run: RunState): string {
  return `Fine-tune #${run.id} is already running (started ${startedBy(run)} ${when(run.startedAt)}).\n${progressLine(run)}\nUse \`/model stop\` to end it.`;
}

async function status(interaction: ChatInputCommandInteraction, ctx: BotContext) {
  const [{ poems, ratings }, lastRun, versions] = await Promise.all([counts(ctx.db), lastEndedRun(ctx.db), recentVersions(ctx.db, 5)]);
  const m = ctx.model.manifest;
  const running = ctx.finetunes.current;
  const next = ctx.schedule.nextRun();
  const last = lastRun
    ? `#${lastRun.id} ${lastRun.status} ${when(lastRun.endedAt ?? lastRun.startedAt)}` +
      (lastRun.pplBefore !== null && lastRun.pplAfter !== null ? `: ${lastRun.pplBefore.toFixed(2)} → ${lastRun.pplAfter.toFixed(2)}` : '') +
      (lastRun.error ? `: ${lastRun.error.slice(0, 200)}` : '')
    : 'none yet';
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
      { name: 'Fine-tune now', value: running ? `#${running.id} ${startedBy(running)}\n${progressLine(running)}` : 'none' },
      { name: 'Last run', value: last },
      { name: 'Next scheduled run', value: next ? `${when(next, 'f')} (${when(next)}), ${ctx.config.TRAIN_TZ}` : 'none (TRAIN_CRON=off)' },
      {
        name: 'Recent versions',
        value:
          versions
            .map((v) => `${v.active ? '▶' : '·'} \`${v.version}\` ppl ${v.devPerplexity?.toFixed(2) ?? '?'}${v.runId ? ` (run #${v.runId})` : ''}`)
            .join('\n') || 'none',
      },
    );
  await interaction.reply({ embeds: [embed], ...ephemeral });
}

async function retrain(interaction: ChatInputCommandInteraction, ctx: BotContext) {
  const running = ctx.finetunes.current;
  if (running) {
    await interaction.reply({ content: busyText(running), ...ephemeral });
    return;
  }
  await interaction.deferReply(); // public: the report is for everyone who looks after the bot
  const started = await ctx.finetunes.start('admin', interaction.user.id);
  if (!started.started) {
    await interaction.editReply({ content: busyText(started.running) });
    return;
  }
  const message = await interaction.editReply({ content: progressMessage(started.run) });
  // Progress edits go through the channel (bot token), not the interaction token, which expires after 15 minutes.
  const watcher = watchRun(message, started, ctx).catch((e) => ctx.log.warn({ err: e }, 'could not show the fine-tune progress'));
  ctx.background.add(watcher);
  void watcher.finally(() => ctx.background.delete(watcher));
}

/** Edits `message` with the run's progress every PROGRESS_EDIT_SECONDS, then with the final report. */
async function watchRun(message: Message, started: Extract<StartResult, { started: true }>, ctx: BotContext) {
  let changed = false;
  const onProgress = (state: RunState) => {
    if (state === started.run) changed = true;
  };
  ctx.finetunes.on('progress', onProgress);
  let editing: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    if (!changed) return;
    changed = false;
    editing = editing.then(() => message.edit({ content: progressMessage(started.run) })).catch((e) => ctx.log.warn({ err: e }, 'progress edit failed'));
  }, ctx.config.PROGRESS_EDIT_SECONDS * 1000);
  try {
    const report = await started.done;
    clearInterval(timer); // no progress edit after the report
    await editing;
    await message.edit({ ...reportMessage(report) });
  } finally {
    clearInterval(timer);
    ctx.finetunes.off('progress', onProgress);
  }
}

async function stop(interaction: ChatInputCommandInteraction, ctx: BotContext) {
  const running = ctx.finetunes.current;
  if (!running || !ctx.finetunes.stop(`<@${interaction.user.id}>`)) {
    await interaction.reply({ content: 'No fine-tune is running.', ...ephemeral });
    return;
  }
  await interaction.reply({
    content: `Stopping fine-tune #${running.id}. Its report will say when it has stopped; the active model is not changed.`,
    ...ephemeral,
  });
}

async function rollback(interaction: ChatInputCommandInteraction, ctx: BotContext) {
  const asked = interaction.options.getString('version');
  if (asked !== null) {
    const parsed = VersionId.safeParse(asked);
    if (!parsed.success) {
      await interaction.reply({
        content: `\`${asked.replace(/`/g, "'")}\` ${parsed.error.issues[0]!.message}. \`/model status\` lists the versions.`,
        ...ephemeral,
      });
      return;
    }
  }
  await interaction.deferReply({ flags: MessageFlags.Ephemeral }); // loading a version takes about a second
  const target = asked !== null ? await versionById(ctx.db, asked) : await previousVersion(ctx.db);
  if (!target) {
    await interaction.editReply({
      content:
        asked !== null ? `There is no version \`${asked}\`. \`/model status\` lists the recent ones.` : 'There is no earlier active version to roll back to.',
    });
    return;
  }
  const current = ctx.model;
  if (target.version === current.version) {
    await interaction.editReply({ content: `\`${target.version}\` is already answering.` });
    return;
  }
  try {
    await serveVersion(ctx.db, ctx.swapModel, target, current);
  } catch (e) {
    ctx.log.warn({ err: e, version: target.version }, 'rollback failed');
    await interaction.editReply({
      content: `Could not switch to \`${target.version}\`: ${(e as Error).message}\nStill answering with \`${ctx.model.version}\`.`,
    });
    return;
  }
  ctx.log.info({ from: current.version, to: target.version, by: interaction.user.id }, 'rolled back');
  await interaction.editReply({
    content: `Now answering with \`${target.version}\` (dev perplexity ${target.devPerplexity?.toFixed(2) ?? '?'}), was \`${current.version}\` (${current.manifest.metrics.devPerplexity?.toFixed(2) ?? '?'}).`,
  });
}
