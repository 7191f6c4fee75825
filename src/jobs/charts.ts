/**
 * Charts as PNGs for Discord: a run's loss curve (its report) and the recent runs' gate figures (/model
 * status). Chart.js drawing on @napi-rs/canvas (Skia, prebuilt for each platform as an npm package, so it
 * installs offline and needs no system libraries). Their words stay English: the renderer has no CJK font
 * everywhere.
 */
import { createCanvas } from '@napi-rs/canvas';
import { Chart, LinearScale, LineController, LineElement, PointElement, Title, Legend } from 'chart.js';

Chart.register(LineController, LineElement, PointElement, LinearScale, Title, Legend);

export type LossPlot = { points: [step: number, loss: number][]; title: string; width?: number; height?: number };

export function renderLossCurve({ points, title, width = 800, height = 400 }: LossPlot): Buffer {
  const canvas = createCanvas(width, height);
  const context = canvas.getContext('2d');
  context.fillStyle = '#ffffff'; // Discord's dark theme would show a transparent chart black on grey
  context.fillRect(0, 0, width, height);
  const chart = new Chart(context as unknown as CanvasRenderingContext2D, {
    type: 'line',
    data: {
      datasets: [
        {
          label: 'training loss (nats per token, moving average)',
          data: points.map(([x, y]) => ({ x, y })),
          borderColor: '#8b1e1e',
          borderWidth: 2,
          pointRadius: points.length > 1 ? 0 : 3,
        },
      ],
    },
    options: {
      responsive: false,
      animation: false,
      devicePixelRatio: 1,
      plugins: { title: { display: true, text: title }, legend: { display: true } },
      scales: {
        x: { type: 'linear', title: { display: true, text: 'step' } },
        y: { type: 'linear', title: { display: true, text: 'loss' } },
      },
    },
  });
  const png = canvas.toBuffer('image/png');
  chart.destroy();
  return png;
}

/** one finished run's gate figures: the judge's mean score of each model's poems, and each model's dev perplexity */
export type RunPoint = {
  id: number;
  promoted: boolean;
  judgeActive: number | null;
  judgeCandidate: number | null;
  pplBefore: number | null;
  pplAfter: number | null;
};

/**
 * The recent runs, oldest first: the judge's score of the candidate's poems (filled when promoted) beside the
 * active model's, on the left axis; dev perplexity of both on the right.
 */
export function renderRunsChart(runs: RunPoint[], { width = 800, height = 400 } = {}): Buffer {
  const canvas = createCanvas(width, height);
  const context = canvas.getContext('2d');
  context.fillStyle = '#ffffff';
  context.fillRect(0, 0, width, height);
  const point = (y: (r: RunPoint) => number | null) => runs.flatMap((r) => (y(r) === null ? [] : [{ x: r.id, y: y(r)! }]));
  const chart = new Chart(context as unknown as CanvasRenderingContext2D, {
    type: 'line',
    data: {
      datasets: [
        {
          label: "judge's score: candidate (filled: promoted)",
          data: point((r) => r.judgeCandidate),
          yAxisID: 'taste',
          borderColor: '#2e7d32',
          pointBackgroundColor: runs.filter((r) => r.judgeCandidate !== null).map((r) => (r.promoted ? '#2e7d32' : '#ffffff')),
          pointRadius: 5,
          showLine: false,
        },
        { label: "judge's score: active", data: point((r) => r.judgeActive), yAxisID: 'taste', borderColor: '#9e9e9e', pointRadius: 3, showLine: false },
        { label: 'dev perplexity: candidate', data: point((r) => r.pplAfter), yAxisID: 'ppl', borderColor: '#8b1e1e', borderWidth: 2, pointRadius: 2 },
        { label: 'dev perplexity: active', data: point((r) => r.pplBefore), yAxisID: 'ppl', borderColor: '#e0a0a0', borderWidth: 1, pointRadius: 0 },
      ],
    },
    options: {
      responsive: false,
      animation: false,
      devicePixelRatio: 1,
      plugins: { title: { display: true, text: "Recent runs: taste (the gate's judge) and dev perplexity" }, legend: { display: true } },
      scales: {
        x: { type: 'linear', title: { display: true, text: 'run' }, ticks: { stepSize: 1 } },
        taste: { type: 'linear', position: 'left', title: { display: true, text: "judge's mean score" } },
        ppl: { type: 'linear', position: 'right', title: { display: true, text: 'dev perplexity' }, grid: { drawOnChartArea: false } },
      },
    },
  });
  const png = canvas.toBuffer('image/png');
  chart.destroy();
  return png;
}
