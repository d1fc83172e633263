// The stability report's chart: PSI per week with the watch and act thresholds, drawn with
// the vendored Chart.js from the JSON the page carries (no inline code).
"use strict";

(() => {
  const source = document.getElementById("stability-chart-data");
  const canvas = document.getElementById("chart-psi");
  if (!source || !canvas || typeof Chart === "undefined") {
    return;
  }
  const data = JSON.parse(source.textContent);
  const flat = (value) => data.labels.map(() => value);
  new Chart(canvas, {
    type: "line",
    data: {
      labels: data.labels,
      datasets: [
        { label: data.label, data: data.psi, borderColor: "#1565c0", backgroundColor: "#1565c0", spanGaps: true },
        { label: data.watch_label, data: flat(data.watch), borderColor: "#ef6c00", borderDash: [6, 4], pointRadius: 0 },
        { label: data.act_label, data: flat(data.act), borderColor: "#c62828", borderDash: [6, 4], pointRadius: 0 },
      ],
    },
    options: {
      locale: document.documentElement.lang || "pt-BR",
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      plugins: { legend: { position: "bottom" } },
      scales: { y: { beginAtZero: true, title: { display: true, text: "PSI" } } },
    },
  });
  canvas.dataset.drawn = "true";
})();
