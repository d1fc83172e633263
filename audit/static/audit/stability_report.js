// The stability report's charts: PSI per week, and CSI per week for each characteristic,
// with the watch and act thresholds, drawn with the vendored Chart.js from the JSON the
// page carries (no inline code).
"use strict";

(() => {
  if (typeof Chart === "undefined") {
    return;
  }
  const read = (id) => {
    const source = document.getElementById(id);
    return source ? JSON.parse(source.textContent) : null;
  };
  const PALETTE = ["#1565c0", "#2e7d32", "#6a1b9a", "#00838f", "#ad1457", "#4e342e", "#283593", "#9e9d24", "#5d4037", "#37474f"];
  const draw = (canvas, data, series) => {
    const flat = (value) => data.labels.map(() => value);
    new Chart(canvas, {
      type: "line",
      data: {
        labels: data.labels,
        datasets: [
          ...series,
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
        scales: { y: { beginAtZero: true } },
      },
    });
    canvas.dataset.drawn = "true";
  };
  const psiCanvas = document.getElementById("chart-psi");
  const psi = read("stability-chart-data");
  if (psiCanvas && psi) {
    draw(psiCanvas, psi, [{ label: psi.label, data: psi.psi, borderColor: PALETTE[0], backgroundColor: PALETTE[0], spanGaps: true }]);
  }
  const csiCanvas = document.getElementById("chart-csi");
  const csi = read("stability-csi-chart-data");
  if (csiCanvas && csi) {
    draw(
      csiCanvas,
      csi,
      csi.series.map((item, index) => ({
        label: item.label,
        data: item.csi,
        borderColor: PALETTE[index % PALETTE.length],
        backgroundColor: PALETTE[index % PALETTE.length],
        spanGaps: true,
      })),
    );
  }
})();
