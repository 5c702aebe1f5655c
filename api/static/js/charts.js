// Line charts on Chart.js (vendored UMD build, global `Chart`): live per-site latency and the
// scenario series. Points are {x, y}; x is seconds (wall clock or simulated time).

const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22"];
const MAX_POINTS = 240;

function wallClockTick(value) {
  return new Date(value * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
}

function simTimeTick(value) {
  if (value >= 3600) return `${(value / 3600).toFixed(1)} h`;
  if (value >= 60) return `${Math.round(value / 60)} min`;
  return `${Math.round(value)} s`;
}

export function lineChart(canvas, { yTitle, xKind = "wall", yMax = undefined, pointRadius = 2 }) {
  return new window.Chart(canvas, {
    type: "line",
    data: { datasets: [] },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      parsing: false,
      normalized: true,
      interaction: { mode: "nearest", intersect: false },
      elements: { point: { radius: pointRadius }, line: { borderWidth: 2, tension: 0.2 } },
      scales: {
        x: {
          type: "linear",
          ticks: { callback: xKind === "wall" ? wallClockTick : simTimeTick, maxTicksLimit: 6 },
        },
        y: { beginAtZero: true, max: yMax, title: { display: true, text: yTitle } },
      },
      plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
    },
  });
}

// Appends a point to the named series (created on first use) and redraws once per frame.
export function addPoint(chart, series, x, y, maxPoints = MAX_POINTS) {
  let dataset = chart.data.datasets.find((d) => d.label === series);
  if (!dataset) {
    const color = PALETTE[chart.data.datasets.length % PALETTE.length];
    dataset = { label: series, data: [], borderColor: color, backgroundColor: color, spanGaps: true };
    chart.data.datasets.push(dataset);
    chart.data.datasets.sort((a, b) => a.label.localeCompare(b.label));
    // Which series are drawn, for people using assistive tech and for the browser tests.
    chart.canvas.dataset.series = chart.data.datasets.map((d) => d.label).join(",");
  }
  dataset.data.push({ x, y });
  if (dataset.data.length > maxPoints) dataset.data.shift();
  if (!chart.$pending) {
    chart.$pending = true;
    requestAnimationFrame(() => {
      chart.$pending = false;
      chart.update("none");
    });
  }
}

export function clearChart(chart) {
  chart.data.datasets = [];
  chart.update("none");
}
