/**
 * /model (admins): status, retrain (a fine-tune with live progress and a final report), stop, rollback.
 * Who may use it is decided here, on the server, whatever Discord's command permissions or options say.
 */
import {
  AttachmentBuilder,
  EmbedBuilder,
  MessageFlags,
  PermissionFlagsBits,
  SlashCommandBuilder,
  type ChatInputCommandInteraction,
  type Message,
} from 'discord.js';
import { z } from 'zod';
import type { RunState, StartResult } from '../../jobs/runner.js';
import { previousVersion, recentVersions, serveVersion } from '../../jobs/model-versions.js';
import type { BotContext } from '../context.js';
import { activeTaste, counts, lastEndedRun, recentRuns, versionById } from '../../db/db.js';
import { renderRunsChart, type RunPoint } from '../../jobs/charts.js';
import type { GatePoems } from '../../jobs/run-worker.js';
import { adminMessagesFor, zhLocalizations } from '../messages.js';
import type { AdminCatalog } from '../messages-admin.js';
import { busyMessage, progressLine, progressMessage, reportMessage } from '../training-report.js';

export const data = new SlashCommandBuilder()
  .setName('model')
  .setDescription('The poem model (admins)')
  .setDescriptionLocalizations(zhLocalizations('写诗的模型（管理员）'))
  .setDefaultMemberPermissions(PermissionFlagsBits.ManageGuild)
  .addSubcommand((s) =>
    s
      .setName('status')
      .setDescription('Active version, taste model, runs, schedule and recent versions, with a chart')
      .setDescriptionLocalizations(zhLocalizations('当前版本、口味模型、微调、定时和最近的版本，附图')),
  )
  .addSubcommand((s) =>
    s
      .setName('retrain')
      .setDescription("Learn from the readers' ratings now; shows progress, then the gate's figures")
      .setDescriptionLocalizations(zhLocalizations('现在向读者的评分学习，并显示进度和把关的数据')),
  )
  .addSubcommand((s) => s.setName('stop').setDescription('Stop the fine-tune in progress').setDescriptionLocalizations(zhLocalizations('停止正在进行的微调')))
  .addSubcommand((s) =>
    s
      .setName('rollback')
      .setDescription('Answer with an earlier version (default: the one active before)')
      .setDescriptionLocalizations(zhLocalizations('换回更早的版本（默认：之前用的那个）'))
      .addStringOption((o) =>
        o
          .setName('version')
          .setDescription('Version id, as /model status lists them')
          .setDescriptionLocalizations(zhLocalizations('版本号，见 /model status'))
          .setMaxLength(64),
      ),
  );

// (mentions are off by the client's default: nothing in these messages can ping anyone)
const ephemeral = { flags: MessageFlags.Ephemeral } as const;
const VersionId = z.string().regex(/^[\w.-]{1,64}$/);

/** The server-side check decides (default permissions only hide the command): Manage Server, or ADMIN_USER_IDS. */
export function isAdmin(interaction: ChatInputCommandInteraction, ctx: BotContext): boolean {
  return Boolean(interaction.memberPermissions?.has(PermissionFlagsBits.ManageGuild)) || ctx.config.ADMIN_USER_IDS.includes(interaction.user.id);
}

export async function execute(interaction: ChatInputCommandInteraction, ctx: BotContext): Promise<void> {
  // private answers in the admin's language; the public progress and report in the server's
  const say = adminMessagesFor(interaction.locale);
  if (!isAdmin(interaction, ctx)) {
    await interaction.reply({ content: say.onlyAdmins, ...ephemeral });
    return;
  }
  const sub = interaction.options.getSubcommand();
  if (sub === 'retrain') return retrain(interaction, ctx, say);
  if (sub === 'stop') return stop(interaction, ctx, say);
  if (sub === 'rollback') return rollback(interaction, ctx, say);
  return status(interaction, ctx, say);
}

const when = (d: Date, style = 'R') => `<t:${Math.floor(d.getTime() / 1000)}:${style}>`;

/** a finished run's gate figures, as TrainingRun.gate keeps them (runner.ts, gateRecord) */
function gateOf(json: string): { active: GatePoems | null; candidate: GatePoems | null } {
  try {
    const g = JSON.parse(json) as { active?: GatePoems | null; candidate?: GatePoems | null };
    return { active: g.active ?? null, candidate: g.candidate ?? null };
  } catch {
    return { active: null, candidate: null };
  }
}

async function status(interaction: ChatInputCommandInteraction, ctx: BotContext, say: AdminCatalog) {
  const [{ poems, ratings }, lastRun, versions, taste, runs] = await Promise.all([
    counts(ctx.db),
    lastEndedRun(ctx.db),
    recentVersions(ctx.db, 5),
    activeTaste(ctx.db),
    recentRuns(ctx.db, 12),
  ]);
  const m = ctx.model.manifest;
  const running = ctx.finetunes.current;
  const next = ctx.schedule.nextRun();
  const t = say.status;
  const pct = (x: number) => `${Math.round(100 * x)}%`;
  const lastGate = lastRun ? gateOf(lastRun.gate) : null;
  const last = lastRun
    ? `#${lastRun.id} ${t.runStatus[lastRun.status as keyof typeof t.runStatus] ?? lastRun.status} ${when(lastRun.endedAt ?? lastRun.startedAt)}` +
      (lastRun.pplBefore !== null && lastRun.pplAfter !== null ? `: ppl ${lastRun.pplBefore.toFixed(2)} → ${lastRun.pplAfter.toFixed(2)}` : '') +
      (lastGate?.active?.judgeLiked != null && lastGate.candidate?.judgeLiked != null
        ? `; ${t.likedShare} ${pct(lastGate.active.judgeLiked)} → ${pct(lastGate.candidate.judgeLiked)}`
        : '') +
      (lastRun.error ? `: ${lastRun.error.slice(0, 200)}` : '')
    : t.noneYet;
  const serving = ctx.model.tasteModel;
  const tasteLine = serving
    ? t.tasteModel({ version: serving.version, auc: taste?.heldOutAuc?.toFixed(3) ?? '?', poems: taste?.heldOutPoems ?? 0, n: ctx.model.bestOf })
    : ctx.model.tasteProblem
      ? t.tasteBroken(ctx.model.tasteProblem.slice(0, 300))
      : t.noTaste;
  const embed = new EmbedBuilder()
    .setTitle(t.title)
    .setColor(0x8b1e1e)
    .addFields(
      { name: t.activeVersion, value: m.version, inline: true },
      { name: t.devPerplexity, value: m.metrics.devPerplexity?.toFixed(2) ?? t.notMeasured, inline: true },
      { name: t.backend, value: ctx.model.backend, inline: true },
      { name: t.poemsServed, value: String(poems), inline: true },
      { name: t.ratingsStored, value: String(ratings), inline: true },
      { name: t.uptime, value: say.duration((Date.now() - ctx.startedAt.getTime()) / 1000), inline: true },
      { name: t.taste, value: tasteLine },
      { name: t.finetuneNow, value: running ? `#${running.id} ${say.startedBy(running)}\n${progressLine(running, say)}` : t.none },
      { name: t.lastRun, value: last },
      { name: t.nextRun, value: next ? `${when(next, 'f')} (${when(next)}), ${ctx.config.TRAIN_TZ}` : t.cronOff },
      {
        name: t.recentVersions,
        value:
          versions
            .map((v) => `${v.active ? '▶' : '·'} \`${v.version}\` ppl ${v.devPerplexity?.toFixed(2) ?? '?'}${v.runId ? t.byRun(v.runId) : ''}`)
            .join('\n') || t.none,
      },
    );
  const files: AttachmentBuilder[] = [];
  if (runs.length > 0) {
    const points: RunPoint[] = runs.reverse().map((r) => {
      const g = gateOf(r.gate);
      return {
        id: r.id,
        promoted: r.status === 'promoted',
        judgeActive: g.active?.judgeMean ?? null,
        judgeCandidate: g.candidate?.judgeMean ?? null,
        pplBefore: r.pplBefore,
        pplAfter: r.pplAfter,
      };
    });
    files.push(new AttachmentBuilder(renderRunsChart(points), { name: 'runs.png', description: "Recent runs: the gate's taste score and dev perplexity" }));
    embed.setImage('attachment://runs.png');
  }
  await interaction.reply({ embeds: [embed], files, ...ephemeral });
}

async function retrain(interaction: ChatInputCommandInteraction, ctx: BotContext, say: AdminCatalog) {
  const running = ctx.finetunes.current;
  if (running) {
    await interaction.reply({ content: busyMessage(running, say), ...ephemeral });
    return;
  }
  await interaction.deferReply(); // public: the report is for everyone who looks after the bot
  const everyone = adminMessagesFor(interaction.guildLocale ?? interaction.locale);
  let started: StartResult;
  try {
    started = await ctx.finetunes.start('admin', interaction.user.id);
  } catch (e) {
    // (the trainer's queue: none took it in time, or one refused it)
    await interaction.editReply({ content: everyone.notStarted((e as Error).message) });
    return;
  }
  if (!started.started) {
    await interaction.editReply({ content: busyMessage(started.running, everyone) });
    return;
  }
  const message = await interaction.editReply({ content: progressMessage(started.run, everyone) });
  // Progress edits go through the channel (bot token), not the interaction token, which expires after 15 minutes.
  const watcher = watchRun(message, started, ctx, everyone).catch((e) => ctx.log.warn({ err: e }, 'could not show the fine-tune progress'));
  ctx.background.add(watcher);
  void watcher.finally(() => ctx.background.delete(watcher));
}

/** Edits `message` with the run's progress every PROGRESS_EDIT_SECONDS, then with the final report. */
async function watchRun(message: Message, started: Extract<StartResult, { started: true }>, ctx: BotContext, say: AdminCatalog) {
  let changed = false;
  const onProgress = (state: RunState) => {
    if (state === started.run) changed = true;
  };
  ctx.finetunes.on('progress', onProgress);
  let editing: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    if (!changed) return;
    changed = false;
    editing = editing.then(() => message.edit({ content: progressMessage(started.run, say) })).catch((e) => ctx.log.warn({ err: e }, 'progress edit failed'));
  }, ctx.config.PROGRESS_EDIT_SECONDS * 1000);
  try {
    const report = await started.done;
    clearInterval(timer); // no progress edit after the report
    await editing;
    await message.edit({ ...reportMessage(report, say) });
  } finally {
    clearInterval(timer);
    ctx.finetunes.off('progress', onProgress);
  }
}

async function stop(interaction: ChatInputCommandInteraction, ctx: BotContext, say: AdminCatalog) {
  const running = ctx.finetunes.current;
  if (!running || !ctx.finetunes.stop(`<@${interaction.user.id}>`)) {
    await interaction.reply({ content: say.noRun, ...ephemeral });
    return;
  }
  await interaction.reply({ content: say.stopping(running.id), ...ephemeral });
}

async function rollback(interaction: ChatInputCommandInteraction, ctx: BotContext, say: AdminCatalog) {
  const asked = interaction.options.getString('version');
  if (asked !== null && !VersionId.safeParse(asked).success) {
    await interaction.reply({ content: say.notVersionId(asked.replace(/`/g, "'")), ...ephemeral });
    return;
  }
  await interaction.deferReply({ flags: MessageFlags.Ephemeral }); // loading a version takes about a second
  const target = asked !== null ? await versionById(ctx.db, asked) : await previousVersion(ctx.db);
  if (!target) {
    await interaction.editReply({ content: asked !== null ? say.noSuchVersion(asked) : say.noEarlierVersion });
    return;
  }
  const current = ctx.model;
  if (target.version === current.version) {
    await interaction.editReply({ content: say.alreadyAnswering(target.version) });
    return;
  }
  try {
    await ctx.versions.exclusive(() => serveVersion(ctx.db, ctx.swapModel, target, current));
  } catch (e) {
    ctx.log.warn({ err: e, version: target.version }, 'rollback failed');
    await interaction.editReply({ content: say.couldNotSwitch({ version: target.version, error: (e as Error).message, current: ctx.model.version }) });
    return;
  }
  ctx.log.info({ from: current.version, to: target.version, by: interaction.user.id }, 'rolled back');
  await interaction.editReply({
    content: say.nowAnswering({
      version: target.version,
      ppl: target.devPerplexity?.toFixed(2) ?? '?',
      was: current.version,
      wasPpl: current.manifest.metrics.devPerplexity?.toFixed(2) ?? '?',
    }),
  });
}
