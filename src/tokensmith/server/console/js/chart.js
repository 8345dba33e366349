// A small line chart on a <canvas>: a few series over time, a y axis that fits the data, and
// the latest values in the canvas's accessible name.

export class LineChart {
  /** `series`: [{label, color}] (color: a CSS custom property name, e.g. "--chart-a"). */
  constructor(canvas, series, { points = 60, unit = "/s" } = {}) {
    this.canvas = canvas;
    this.series = series.map((s) => ({ ...s, values: [] }));
    this.points = points;
    this.unit = unit;
    this.canvas.setAttribute("role", "img");
    this.draw();
  }

  /** Add one value per series (same order as the series), dropping the oldest past `points`. */
  push(values) {
    this.series.forEach((s, i) => {
      s.values.push(values[i]);
      if (s.values.length > this.points) s.values.shift();
    });
    this.draw();
  }

  draw() {
    const canvas = this.canvas;
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth || 600;
    const height = canvas.clientHeight || 260;
    if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const style = getComputedStyle(canvas);
    const text = style.getPropertyValue("--text").trim() || "#1b1f24";
    const line = style.getPropertyValue("--line").trim() || "#d5d9e0";
    const left = 48, right = 12, top = 12, bottom = 24;
    const plotW = width - left - right, plotH = height - top - bottom;
    const max = niceMax(Math.max(1, ...this.series.flatMap((s) => s.values)));
    ctx.font = "12px system-ui, sans-serif";
    ctx.fillStyle = text;
    ctx.strokeStyle = line;
    ctx.lineWidth = 1;
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (let i = 0; i <= 4; i++) {
      const y = top + plotH - (plotH * i) / 4;
      ctx.beginPath();
      ctx.moveTo(left, Math.round(y) + 0.5);
      ctx.lineTo(left + plotW, Math.round(y) + 0.5);
      ctx.stroke();
      ctx.fillText(String(Number(((max * i) / 4).toFixed(2))), left - 6, y);
    }
    ctx.textAlign = "left";
    ctx.textBaseline = "alphabetic";
    ctx.fillText(`last ${this.points * 2} s`, left, height - 6);
    ctx.textAlign = "right";
    ctx.fillText("now", left + plotW, height - 6);
    const step = plotW / Math.max(1, this.points - 1);
    for (const s of this.series) {
      if (!s.values.length) continue;
      ctx.strokeStyle = style.getPropertyValue(s.color).trim() || "#1d4ed8";
      ctx.lineWidth = 2;
      ctx.beginPath();
      const offset = this.points - s.values.length;
      s.values.forEach((v, i) => {
        const x = left + (offset + i) * step;
        const y = top + plotH - (plotH * v) / max;
        if (i === 0) ctx.moveTo(x, y);
        else ctx.lineTo(x, y);
      });
      ctx.stroke();
      const x = left + (this.points - 1) * step;
      const y = top + plotH - (plotH * s.values.at(-1)) / max;
      ctx.fillStyle = ctx.strokeStyle;
      ctx.beginPath();
      ctx.arc(x, y, 3.5, 0, 2 * Math.PI); // the latest value, visible from the first sample
      ctx.fill();
    }
    const latest = this.series
      .map((s) => `${s.label}: ${s.values.length ? formatNumber(s.values.at(-1)) : "no data yet"}${this.unit}`)
      .join("; ");
    canvas.setAttribute("aria-label", `Chart of the last ${this.points * 2} seconds. Now: ${latest}.`);
  }
}

function niceMax(value) {
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (value <= step * power) return step * power;
  }
  return 10 * power;
}

/** A rate for people: one decimal under 10, whole numbers above. */
export function formatNumber(value) {
  if (!Number.isFinite(value)) return "0";
  return value < 10 && value % 1 !== 0 ? value.toFixed(1) : Math.round(value).toLocaleString();
}
