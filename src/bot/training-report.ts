/** How the learning loop shows itself in Discord: a run's progress line and its final report, in the reader's language. */
import { AttachmentBuilder, EmbedBuilder } from 'discord.js';
import type { RunReport, RunState } from '../jobs/runner.js';
import { renderLossCurve } from '../jobs/charts.js';
import type { AdminCatalog } from './messages-admin.js';

const BAR = 20;

const since = (d: Date) => `<t:${Math.floor(d.getTime() / 1000)}:R>`;

/** e.g. `▓▓▓▓░░░░ 42% · step 120 · loss 4.08 · 1,210 tok/s · ETA 3m 10s`, and what the run does after training */
export function progressLine(state: RunState, say: AdminCatalog): string {
  const p = state.progress;
  if (state.phase === 'preparing' || !p) return say.preparing;
  const filled = Math.round(p.fraction * BAR);
  const training = say.progress({
    bar: `${'▓'.repeat(filled)}${'░'.repeat(BAR - filled)}`,
    percent: Math.floor(p.fraction * 100),
    step: p.step,
    loss: p.loss.toFixed(3),
    tokensPerSecond: Math.round(p.tokensPerSecond).toLocaleString('en'),
    eta: p.etaSeconds === null ? '…' : say.duration(p.etaSeconds),
  });
  if (state.phase === 'evaluating') return `${training}\n${say.evaluating}`;
  if (state.phase === 'promoting') return `${training}\n${say.promoting}`;
  return training;
}

export function progressMessage(state: RunState, say: AdminCatalog): string {
  const header = say.header({ id: state.id, by: say.startedBy(state), since: since(state.startedAt), base: state.baseVersion, rated: state.ratedPoems });
  return `${header}\n${progressLine(state, say)}`;
}

/** "Fine-tune #3 is already running …" */
export function busyMessage(state: RunState, say: AdminCatalog): string {
  return say.busy({ id: state.id, by: say.startedBy(state), since: since(state.startedAt), progress: progressLine(state, say) });
}

const COLOR = { promoted: 0x2e7d32, rejected: 0xb8860b, failed: 0xb00020 } as const;

/** The end-of-run report: an embed with the figures and, when training happened, the loss curve as a PNG. */
export function reportMessage(report: RunReport, say: AdminCatalog): { content: string; embeds: EmbedBuilder[]; files: AttachmentBuilder[] } {
  const ppl = (x: number | null) => (x === null ? say.status.notMeasured : x.toFixed(2));
  const r = say.report;
  const embed = new EmbedBuilder()
    .setTitle(r.title(report.id, report.status))
    .setColor(COLOR[report.status])
    .addFields(
      { name: r.devPerplexity, value: `${ppl(report.pplBefore)} → ${ppl(report.pplAfter)}`, inline: true },
      { name: r.activeModel, value: `\`${report.status === 'promoted' ? report.candidateVersion : report.baseVersion}\``, inline: true },
      { name: r.started, value: say.startedBy(report), inline: true },
      { name: r.tokensTrained, value: report.tokens.toLocaleString('en'), inline: true },
      { name: r.steps, value: String(report.steps), inline: true },
      { name: r.ratedPoemsUsed, value: String(report.ratedPoems), inline: true },
      { name: r.timeTaken, value: say.duration(report.seconds), inline: true },
      { name: r.taste, value: r.tasteLine(report).slice(0, 1024) },
    )
    .setDescription(
      report.status === 'failed'
        ? r.failed({ error: report.error ?? '', base: report.baseVersion })
        : report.verdict
          ? r.decision(report.verdict).slice(0, 4000)
          : report.decision,
    );
  const files: AttachmentBuilder[] = [];
  if (report.lossCurve.length > 0) {
    // the chart's own words stay English: the renderer has no CJK font everywhere
    const png = renderLossCurve({ points: report.lossCurve, title: `Fine-tune #${report.id}: training loss` });
    files.push(new AttachmentBuilder(png, { name: `loss-run-${report.id}.png`, description: 'Training loss by step' }));
    embed.setImage(`attachment://loss-run-${report.id}.png`);
  }
  return { content: '', embeds: [embed], files };
}
