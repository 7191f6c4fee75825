/**
 * The loss curve of a run as a PNG for the report: Chart.js drawing on @napi-rs/canvas (Skia, prebuilt for
 * each platform as an npm package, so it installs offline and needs no system libraries).
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
