/**
 * The history page's charts, drawn by Chart.js with only the pieces they use registered (bar,
 * line and doughnut charts on category and linear scales), so the bundle carries no more.
 * Each chart is drawn without animation and leaves what it drew on its canvas as
 * `data-chart` (labels and each dataset's label and values, read back from the chart), for a
 * person inspecting the page and for the browser test.
 */
import {
  ArcElement,
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  DoughnutController,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
  type ChartConfiguration,
} from 'chart.js';

Chart.register(ArcElement, BarController, BarElement, CategoryScale, DoughnutController, Legend, LinearScale, LineController, LineElement, PointElement, Tooltip);

export const COLORS = ['#0b5cad', '#137a3a', '#b3261e', '#8a5a00', '#6b3fa0', '#00838f', '#5a6778', '#c2185b'];

export type Series = { label: string; data: (number | null)[]; kind?: 'bar' | 'line'; dashed?: boolean; color?: string };

/** Draws (or redraws) the chart of a canvas. */
export function draw(canvas: HTMLCanvasElement, config: ChartConfiguration): Chart {
  Chart.getChart(canvas)?.destroy();
  const chart = new Chart(canvas, {
    ...config,
    options: { responsive: true, maintainAspectRatio: false, animation: false, ...config.options },
  });
  canvas.dataset['chart'] = JSON.stringify({
    type: (chart.config as { type?: string }).type,
    labels: chart.data.labels,
    datasets: chart.data.datasets.map((d) => ({ label: d.label, data: d.data })),
  });
  return chart;
}

/** Bars and lines over categories (periods, campaigns, agents); `percent` puts a % on the axis. */
export function seriesChart(canvas: HTMLCanvasElement, labels: string[], series: Series[], opts: { percent?: boolean; horizontal?: boolean } = {}): Chart {
  return draw(canvas, {
    type: 'bar',
    data: {
      labels,
      datasets: series.map((s, i) => {
        const color = s.color ?? COLORS[i % COLORS.length]!;
        return s.kind === 'line'
          ? { type: 'line' as const, label: s.label, data: s.data, borderColor: color, backgroundColor: color, borderDash: s.dashed ? [6, 4] : [], pointRadius: 2, spanGaps: true }
          : { type: 'bar' as const, label: s.label, data: s.data, backgroundColor: color };
      }),
    } as ChartConfiguration['data'],
    options: {
      indexAxis: opts.horizontal ? 'y' : 'x',
      scales: {
        [opts.horizontal ? 'x' : 'y']: { beginAtZero: true, ticks: opts.percent ? { callback: (v: string | number) => `${v}%` } : {} },
      },
      plugins: { legend: { position: 'bottom' } },
    },
  });
}

/** A doughnut of shares (the AMD mix). */
export function doughnut(canvas: HTMLCanvasElement, labels: string[], data: number[]): Chart {
  return draw(canvas, {
    type: 'doughnut',
    data: { labels, datasets: [{ label: 'Quantidade', data, backgroundColor: labels.map((_, i) => COLORS[i % COLORS.length]!) }] },
    options: { plugins: { legend: { position: 'right' } } },
  });
}
