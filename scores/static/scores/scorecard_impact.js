// A scorecard proposal's impact: the score histograms, current and proposed side by
// side, drawn with the vendored Chart.js from the JSON the page carries (no inline code).
"use strict";

(() => {
  const source = document.getElementById("impact-chart-data");
  if (!source || typeof Chart === "undefined") {
    return;
  }
  const data = JSON.parse(source.textContent);
  const locale = document.documentElement.lang || "pt-BR";
  document.querySelectorAll("canvas[data-population]").forEach((canvas) => {
    const series = data.populations[canvas.dataset.population];
    new Chart(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: [
          { label: data.current, data: series.current, backgroundColor: "#90a4ae" },
          { label: data.proposed, data: series.proposed, backgroundColor: "#1565c0" },
        ],
      },
      options: {
        locale,
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        plugins: { legend: { position: "bottom" } },
        scales: {
          x: { ticks: { autoSkip: true, maxRotation: 0 } },
          y: { beginAtZero: true, title: { display: true, text: data.axis } },
        },
      },
    });
    canvas.dataset.drawn = "true";
  });
})();
