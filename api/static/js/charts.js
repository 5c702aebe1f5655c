// Line charts on Chart.js (vendored UMD build, global `Chart`): live per-site latency and the
// scenario series. Points are {x, y}; x is seconds (epoch seconds on the twin's clock, or
// simulated seconds since a scenario's start).

const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22"];
const MAX_POINTS = 240;

function wallClockTick(value) {
  return new Date(value * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
}

// Chart.js picks evenly spaced ticks, which can fall within one second of each other while
// a series is young: a tick repeating its neighbour's label is left blank.
function distinct(format) {
  return function (value, index, ticks) {
    const label = format(value);
    return index > 0 && format(ticks[index - 1].value) === label ? "" : label;
  };
}

// A time span in seconds on a log axis: only the round values a person reads at a glance.
const LOG_TICKS = [
  [0.001, "1 ms"], [0.01, "10 ms"], [0.1, "100 ms"], [1, "1 s"], [10, "10 s"], [60, "1 min"],
  [600, "10 min"], [3600, "1 h"], [6 * 3600, "6 h"], [86_400, "1 d"], [7 * 86_400, "7 d"],
];

function secondsTick(value) {
  const hit = LOG_TICKS.find(([at]) => Math.abs(value - at) / at < 1e-6);
  return hit ? hit[1] : "";
}

function simTimeTick(value) {
  if (value >= 3600) return `${(value / 3600).toFixed(1)} h`;
  if (value >= 60) return `${Math.round(value / 60)} min`;
  return `${Math.round(value)} s`;
}

// yKind "seconds-log": y values are seconds, on a log axis labelled 1 ms … 7 d, so that a
// 200 ms API feed and a two-hour 3PL feed both read on one chart. xTitle names the clock.
export function lineChart(canvas, { yTitle, xKind = "wall", xTitle = undefined, yKind = "linear", yMax = undefined, pointRadius = 2 }) {
  // A new sign-in in the same tab builds its charts on the same canvases: free them first.
  window.Chart.getChart(canvas)?.destroy();
  const y =
    yKind === "seconds-log"
      ? {
          type: "logarithmic",
          // at least 100 ms … 10 s, so that a young series still shows round ticks
          suggestedMin: 0.1,
          suggestedMax: 10,
          // from a round tick below the lowest point to one above the highest, so that
          // every point sits between two labelled values
          afterDataLimits: (axis) => {
            const below = LOG_TICKS.filter(([at]) => at <= axis.min).pop();
            const above = LOG_TICKS.find(([at]) => at >= axis.max);
            if (below) axis.min = below[0];
            if (above) axis.max = above[0];
          },
          afterBuildTicks: (axis) => {
            axis.ticks = LOG_TICKS.filter(([at]) => at >= axis.min && at <= axis.max).map(([value]) => ({ value }));
          },
          ticks: { callback: secondsTick, autoSkip: false },
          title: { display: true, text: yTitle },
        }
      : { beginAtZero: true, max: yMax, title: { display: true, text: yTitle } };
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
          ticks: { callback: distinct(xKind === "wall" ? wallClockTick : simTimeTick), maxTicksLimit: 6 },
          title: { display: Boolean(xTitle), text: xTitle ?? "" },
        },
        y,
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
