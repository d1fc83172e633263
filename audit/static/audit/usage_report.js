// The usage report's charts, drawn with the vendored Chart.js from the JSON the page
// carries (json_script): no inline script, so a strict CSP can forbid inline code.
"use strict";

(() => {
  const source = document.getElementById("usage-chart-data");
  if (!source || typeof Chart === "undefined") {
    return;
  }
  const data = JSON.parse(source.textContent);
  const locale = document.documentElement.lang || "pt-BR";
  const grey = "#757575";

  const common = (yTitle) => ({
    locale,
    animation: false,
    responsive: true,
    maintainAspectRatio: false,
    interaction: { mode: "index", intersect: false },
    plugins: { legend: { position: "bottom" } },
    scales: {
      x: { stacked: true, ticks: { autoSkip: true, maxRotation: 0 } },
      y: { stacked: true, beginAtZero: true, title: { display: true, text: yTitle } },
    },
  });

  const draw = (id, config) => {
    const canvas = document.getElementById(id);
    if (canvas) {
      new Chart(canvas, config);
      canvas.dataset.drawn = "true";
    }
  };

  draw("chart-outcomes", {
    type: "bar",
    data: {
      labels: data.labels,
      datasets: data.outcomes.map((series) => ({
        label: series.label,
        data: series.data,
        backgroundColor: series.color,
      })),
    },
    options: common(data.axes.consultations),
  });

  const latency = common(data.axes.milliseconds);
  latency.scales.x.stacked = false;
  latency.scales.y.stacked = false;
  latency.scales.percent = {
    position: "right",
    min: 0,
    max: 100,
    grid: { drawOnChartArea: false },
    title: { display: true, text: data.axes.percent },
  };
  draw("chart-latency", {
    type: "line",
    data: {
      labels: data.labels,
      datasets: [
        { label: data.latency.p50.label, data: data.latency.p50.data, borderColor: "#1565c0", backgroundColor: "#1565c0", spanGaps: true },
        { label: data.latency.p95.label, data: data.latency.p95.data, borderColor: "#c62828", backgroundColor: "#c62828", spanGaps: true },
        { label: data.latency.cache.label, data: data.latency.cache.data, borderColor: grey, backgroundColor: grey, borderDash: [6, 4], yAxisID: "percent", spanGaps: true },
      ],
    },
    options: latency,
  });

  const scores = common(data.axes.scores_served);
  scores.scales.score = {
    position: "right",
    min: 0,
    max: 1000,
    grid: { drawOnChartArea: false },
    title: { display: true, text: data.axes.score },
  };
  draw("chart-scores", {
    type: "bar",
    data: {
      labels: data.labels,
      datasets: [
        ...data.bands.map((series) => ({
          label: series.label,
          data: series.data,
          backgroundColor: series.color,
          stack: "bands",
        })),
        {
          type: "line",
          label: data.mean_score.label,
          data: data.mean_score.data,
          borderColor: "#212121",
          backgroundColor: "#212121",
          yAxisID: "score",
          spanGaps: true,
        },
      ],
    },
    options: scores,
  });
})();
