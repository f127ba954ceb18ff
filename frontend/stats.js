// Live figures: rates over a sliding window, latency percentiles, and a small latency chart.

export function percentile(values, q) {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (q / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
}

export class Stats {
  constructor({ windowMs = 3000, chartMs = 60000 } = {}) {
    this.windowMs = windowMs;
    this.chartMs = chartMs;
    this.sentTimes = [];
    this.shownTimes = [];
    this.samples = [];  // {t, rtt, server, faces, up, down}
  }

  _trim(list, now, span) {
    while (list.length && now - (list[0].t ?? list[0]) > span) list.shift();
  }

  frameSent(now) { this.sentTimes.push(now); this._trim(this.sentTimes, now, this.windowMs); }

  frameShown(now, sample) {
    this.shownTimes.push(now);
    this._trim(this.shownTimes, now, this.windowMs);
    this.samples.push({ t: now, ...sample });
    this._trim(this.samples, now, this.chartMs);
  }

  // Events per second over the window: intervals between the first and last event, so a steady
  // stream spaced at 1/cap never reads above the cap.
  rate(list, now) {
    this._trim(list, now, this.windowMs);
    if (list.length < 2) return 0;
    const first = list[0].t ?? list[0];
    const last = list[list.length - 1].t ?? list[list.length - 1];
    return last > first ? ((list.length - 1) * 1000) / (last - first) : 0;
  }

  summary(now) {
    const recent = this.samples.filter((s) => now - s.t <= 10000);
    const rtts = recent.map((s) => s.rtt);
    const last = this.samples[this.samples.length - 1];
    return {
      sentFps: this.rate(this.sentTimes, now),
      shownFps: this.rate(this.shownTimes, now),
      rttMedian: percentile(rtts, 50),
      rttP95: percentile(rtts, 95),
      serverMs: percentile(recent.map((s) => s.server).filter((v) => !Number.isNaN(v)), 50),
      faces: last ? last.faces : NaN,
      // body bytes per frame (median over the last 10 s) and the data rate they make over the window
      bytesUp: percentile(recent.map((s) => s.up), 50),
      bytesDown: percentile(recent.map((s) => s.down), 50),
      kbitUp: this.kbitPerSecond(recent, 'up', now),
      kbitDown: this.kbitPerSecond(recent, 'down', now),
    };
  }

  // Bytes of the frames shown in the last 10 s as kbit/s (over the span they cover, as `rate` does).
  kbitPerSecond(recent, key, now) {
    if (recent.length < 2) return NaN;
    const span = now - recent[0].t;
    const total = recent.slice(1).reduce((sum, s) => sum + s[key], 0);
    return span > 0 ? (total * 8) / span : NaN;  // bytes per ms x 8 = kbit/s
  }

  drawChart(canvas, now) {
    const ctx = canvas.getContext('2d');
    const { width, height } = canvas;
    ctx.clearRect(0, 0, width, height);
    const points = this.samples.filter((s) => now - s.t <= this.chartMs);
    const top = Math.max(100, ...points.map((s) => s.rtt)) * 1.1;
    ctx.strokeStyle = '#8888';
    ctx.fillStyle = '#888';
    ctx.font = '10px system-ui, sans-serif';
    for (const ms of [50, 100, 200, 500, 1000]) {
      if (ms > top) break;
      const y = height - (ms / top) * height;
      ctx.beginPath(); ctx.moveTo(0, y); ctx.lineTo(width, y); ctx.stroke();
      ctx.fillText(`${ms} ms`, 2, y - 2);
    }
    ctx.strokeStyle = '#b0303f';
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    points.forEach((s, i) => {
      const x = width - ((now - s.t) / this.chartMs) * width;
      const y = height - (s.rtt / top) * height;
      if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
    });
    ctx.stroke();
  }
}
