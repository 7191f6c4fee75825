/** How the learning loop shows itself in Discord: a run's progress line and its final report. */
import { AttachmentBuilder, EmbedBuilder } from 'discord.js';
import type { RunReport, RunState } from '../jobs/finetune-runner.js';
import { renderLossCurve } from '../jobs/loss-plot.js';

const BAR = 20;

function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

/** "by <@id>" (mentions are never parsed in our messages: it shows the name, pings nobody) or "by the schedule" */
export function startedBy(run: { trigger: string; requestedBy: string | null }): string {
  return run.trigger === 'admin' && run.requestedBy ? `by <@${run.requestedBy}>` : 'by the nightly schedule';
}

/** e.g. `▓▓▓▓░░░░ 42% · loss 4.08 · 1,210 tok/s · ETA 3m 10s` */
export function progressLine(state: RunState): string {
  const p = state.progress;
  if (state.phase === 'preparing' || !p) return 'Preparing: reading rated poems and the corpus…';
  const percent = Math.floor(p.fraction * 100);
  const filled = Math.round(p.fraction * BAR);
  const bar = `${'▓'.repeat(filled)}${'░'.repeat(BAR - filled)}`;
  const training = `\`${bar}\` ${percent}% · step ${p.step} · loss ${p.loss.toFixed(3)} · ${Math.round(p.tokensPerSecond).toLocaleString('en')} tok/s · ETA ${p.etaSeconds === null ? '…' : duration(p.etaSeconds)}`;
  if (state.phase === 'evaluating') return `${training}\nTraining done. Measuring dev perplexity of the candidate and of the active model…`;
  if (state.phase === 'promoting') return `${training}\nThe candidate is better: loading it beside the active model…`;
  return training;
}

export function progressMessage(state: RunState): string {
  const since = `<t:${Math.floor(state.startedAt.getTime() / 1000)}:R>`;
  return `**Fine-tune #${state.id}** started ${startedBy(state)} ${since} from \`${state.baseVersion}\`, with ${state.ratedPoems} well-rated poems.\n${progressLine(state)}`;
}

const COLOR = { promoted: 0x2e7d32, rejected: 0xb8860b, failed: 0xb00020 } as const;
const TITLE = { promoted: 'promoted', rejected: 'not promoted', failed: 'failed' } as const;

/** The end-of-run report: an embed with the figures and, when training happened, the loss curve as a PNG. */
export function reportMessage(report: RunReport): { content: string; embeds: EmbedBuilder[]; files: AttachmentBuilder[] } {
  const ppl = (x: number | null) => (x === null ? 'not measured' : x.toFixed(2));
  const embed = new EmbedBuilder()
    .setTitle(`Fine-tune #${report.id}: ${TITLE[report.status]}`)
    .setColor(COLOR[report.status])
    .addFields(
      { name: 'Dev perplexity', value: `${ppl(report.pplBefore)} → ${ppl(report.pplAfter)}`, inline: true },
      { name: 'Active model', value: `\`${report.status === 'promoted' ? report.candidateVersion : report.baseVersion}\``, inline: true },
      { name: 'Started', value: startedBy(report), inline: true },
      { name: 'Tokens trained', value: report.tokens.toLocaleString('en'), inline: true },
      { name: 'Steps', value: String(report.steps), inline: true },
      { name: 'Rated poems used', value: String(report.ratedPoems), inline: true },
      { name: 'Time taken', value: duration(report.seconds), inline: true },
    )
    .setDescription(report.status === 'failed' ? `**Failed:** ${report.error}\nThe active model \`${report.baseVersion}\` keeps answering.` : report.decision);
  const files: AttachmentBuilder[] = [];
  if (report.lossCurve.length > 0) {
    const png = renderLossCurve({ points: report.lossCurve, title: `Fine-tune #${report.id}: training loss` });
    files.push(new AttachmentBuilder(png, { name: `loss-run-${report.id}.png`, description: 'Training loss by step' }));
    embed.setImage(`attachment://loss-run-${report.id}.png`);
  }
  return { content: '', embeds: [embed], files };
}
