// kscen report page: draws each run's charts with uPlot from the JSON embedded in the page.
// Phases are shaded bands, events are vertical lines; nothing is fetched from the network.
(function () {
  "use strict";
  const runs = JSON.parse(document.getElementById("kscen-data").textContent);
  const BANDS = ["rgba(66,133,244,0.10)", "rgba(251,188,5,0.13)", "rgba(52,168,83,0.11)", "rgba(171,71,188,0.10)"];
  const COLORS = ["#1a73e8", "#d93025", "#188038", "#f29900", "#9334e6", "#12b5cb"];

  function chartWidth() {
    return Math.max(600, Math.min(1300, document.body.clientWidth - 60));
  }

  // Phase bands and their names, drawn under the series.
  function shadePhases(phases) {
    return function (u) {
      const ctx = u.ctx;
      const top = u.bbox.top, height = u.bbox.height;
      ctx.save();
      ctx.font = Math.round(11 * devicePixelRatio) + "px sans-serif";
      ctx.textAlign = "left";
      ctx.textBaseline = "top";
      phases.forEach(function (phase, i) {
        const x0 = u.valToPos(phase.start, "x", true);
        const x1 = u.valToPos(phase.end, "x", true);
        if (!isFinite(x0) || !isFinite(x1) || x1 <= x0) return;
        ctx.fillStyle = BANDS[i % BANDS.length];
        ctx.fillRect(x0, top, x1 - x0, height);
        ctx.fillStyle = "#444";
        ctx.fillText(phase.name, x0 + 4 * devicePixelRatio, top + 3 * devicePixelRatio);
      });
      ctx.restore();
    };
  }

  // Events (faults, stops, the plugin's own) as labelled dashed lines over the series.
  function markEvents(events) {
    return function (u) {
      const ctx = u.ctx;
      const top = u.bbox.top, bottom = u.bbox.top + u.bbox.height;
      ctx.save();
      ctx.strokeStyle = "#c5221f";
      ctx.fillStyle = "#c5221f";
      ctx.setLineDash([5 * devicePixelRatio, 4 * devicePixelRatio]);
      ctx.lineWidth = devicePixelRatio;
      ctx.font = Math.round(10 * devicePixelRatio) + "px sans-serif";
      ctx.textAlign = "left";
      ctx.textBaseline = "top";
      events.forEach(function (event, i) {
        const x = u.valToPos(event.t, "x", true);
        if (!isFinite(x)) return;
        ctx.beginPath();
        ctx.moveTo(x, top);
        ctx.lineTo(x, bottom);
        ctx.stroke();
        const text = event.label.length > 48 ? event.label.slice(0, 47) + "…" : event.label;
        ctx.fillText(text, x + 3 * devicePixelRatio, top + (18 + 12 * (i % 4)) * devicePixelRatio);
      });
      ctx.restore();
    };
  }

  // A y range over two decades or more reads better on a log scale (zeros are then not drawn).
  function wideRange(series) {
    let lo = Infinity, hi = 0;
    series.forEach(function (s) {
      s.values.forEach(function (v) {
        if (v > 0) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
      });
    });
    return hi > 0 && hi / lo >= 100;
  }

  function chart(target, title, xLabel, yLabel, x, series, phases, events, xRange) {
    const log = wideRange(series);
    if (log) {
      series = series.map(function (s) {
        return { label: s.label, dash: s.dash, values: s.values.map(function (v) { return v > 0 ? v : null; }) };
      });
      title += " (log scale)";
    }
    const box = document.createElement("div");
    box.className = "chart";
    target.appendChild(box);
    const opts = {
      title: title,
      width: chartWidth(),
      height: 300,
      scales: { x: { time: false, range: xRange }, y: log ? { distr: 3 } : {} },
      axes: [{ label: xLabel }, { label: yLabel, size: 70 }],
      series: [{ label: xLabel }].concat(series.map(function (s, i) {
        return { label: s.label, stroke: COLORS[i % COLORS.length], width: 2, dash: s.dash, spanGaps: false };
      })),
      hooks: { drawClear: [shadePhases(phases)], draw: [markEvents(events)] },
    };
    return new uPlot(opts, [x].concat(series.map(function (s) { return s.values; })), box);
  }

  runs.forEach(function (run, index) {
    const target = document.getElementById("charts-" + index);
    if (!target) return;
    if (run.timeline) {
      const t = run.timeline;
      const ends = run.phases.map(function (p) { return p.end; }).concat(t.t);
      const span = [0, Math.max.apply(null, ends)];
      chart(target, "Throughput", "t (s)", "msg/s", t.t, [
        { label: "acknowledged msg/s", values: t.acked_per_s },
        { label: "target msg/s", values: t.target, dash: [8, 4] },
      ], run.phases, run.events, span);
      chart(target, "Latency", "t (s)", "ms", t.t, [
        { label: "corrected p99 (ms)", values: t.corrected_p99_ms },
        { label: "service avg (ms)", values: t.service_avg_ms },
        { label: "service max (ms)", values: t.service_max_ms },
      ], run.phases, run.events, span);
      if (t.replication_lag_ms) {
        chart(target, "Replication lag", "t (s)", "ms / records", t.t, [
          { label: "replication lag (ms)", values: t.replication_lag_ms },
          { label: "replication lag (records)", values: t.replication_lag_records },
        ], run.phases, run.events, span);
      } else {
        chart(target, "Backlog (no replication tracked: records due and not acknowledged)", "t (s)", "records", t.t, [
          { label: "backlog (records)", values: t.backlog },
        ], run.phases, run.events, span);
      }
    }
    (run.imported || []).forEach(function (imp) {
      chart(target, imp.name + ": perf-test periodic lines", "perf-test report #", "msg/s", imp.index, [
        { label: "records/sec", values: imp.records_per_s },
      ], [], imp.elisions);
      chart(target, imp.name + ": perf-test latency (service)", "perf-test report #", "ms", imp.index, [
        { label: "avg latency (ms)", values: imp.avg_ms },
        { label: "max latency (ms)", values: imp.max_ms },
      ], [], imp.elisions);
    });
  });
  document.body.setAttribute("data-charts-ready", "true");
})();
