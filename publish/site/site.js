// The leaderboard's behaviour, served as a file so that the pages' CSP can
// be script-src 'self' with nothing inline: sorting, filters, the copy
// buttons, and the charts (uPlot, from uPlot.iife.min.js beside this file,
// fed by the page's <script type="application/json" id="chart-data">).
(function () {
  'use strict';
  var doc = document;
  var palette = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];

  // Sorting: a click on a header sorts by that column, a second reverses.
  doc.querySelectorAll('table.sortable').forEach(function (t) {
    t.querySelectorAll('th').forEach(function (th, i) {
      var asc = false;
      th.classList.add('sort');
      th.addEventListener('click', function () {
        asc = !asc;
        var rows = Array.prototype.slice.call(t.tBodies[0].rows);
        var num = th.hasAttribute('data-num');
        rows.sort(function (a, b) {
          var x = a.cells[i].textContent.trim(), y = b.cells[i].textContent.trim();
          var c = num ? (parseFloat(x) - parseFloat(y)) : x.localeCompare(y);
          return asc ? c : -c;
        });
        rows.forEach(function (r) { t.tBodies[0].appendChild(r); });
      });
    });
  });

  // Filters: every select names a data-* attribute of the rows.
  var form = doc.getElementById('filters');
  if (form) {
    form.hidden = false;
    var apply = function () {
      var want = {};
      form.querySelectorAll('select').forEach(function (s) { if (s.value) want[s.dataset.filter] = s.value; });
      var shown = 0, total = 0;
      doc.querySelectorAll('section.group').forEach(function (sec) {
        var any = false;
        sec.querySelectorAll('tr.result-row').forEach(function (r) {
          var ok = Object.keys(want).every(function (k) { return r.dataset[k] === want[k]; });
          r.hidden = !ok;
          total++;
          if (ok) { shown++; any = true; }
        });
        sec.hidden = !any;
      });
      doc.getElementById('shown').textContent = shown + ' of ' + total + ' results';
    };
    form.addEventListener('change', apply);
    apply();
  }

  // Copy buttons beside every verify command.
  doc.querySelectorAll('.verify').forEach(function (v) {
    var b = v.querySelector('button.copy'), code = v.querySelector('code');
    if (!b || !code) return;
    b.hidden = false;
    b.addEventListener('click', function () {
      var text = code.textContent;
      var done = function () { b.textContent = 'Copied'; setTimeout(function () { b.textContent = 'Copy'; }, 1500); };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(text).then(done, function () { selectText(code); });
      } else {
        selectText(code);
      }
    });
  });
  function selectText(el) {
    var r = doc.createRange();
    r.selectNodeContents(el);
    var s = window.getSelection();
    s.removeAllRanges();
    s.addRange(r);
  }

  // Charts.
  var dataEl = doc.getElementById('chart-data');
  if (!dataEl || typeof uPlot === 'undefined') return;
  var charts = JSON.parse(dataEl.textContent);
  var made = [];
  function fmt(v) {
    if (v == null) return '–';
    if (Number.isInteger(v)) return String(v);
    var a = Math.abs(v);
    return a >= 100 ? v.toFixed(0) : a >= 1 ? v.toFixed(2) : v.toPrecision(3);
  }
  function width(el) {
    var w = el.getBoundingClientRect().width || doc.querySelector('main').clientWidth;
    return Math.max(260, Math.min(Math.floor(w), 1100));
  }
  // tooltip shows the hovered point's x and every series' value.
  function tooltip(xText, seriesText) {
    return {
      hooks: {
        init: [function (u) {
          var tip = doc.createElement('div');
          tip.className = 'u-tooltip';
          tip.hidden = true;
          u.over.appendChild(tip);
          u._tip = tip;
        }],
        setCursor: [function (u) {
          var i = u.cursor.idx, tip = u._tip;
          if (i == null) { tip.hidden = true; return; }
          var lines = [xText(u, i)];
          for (var s = 1; s < u.series.length; s++) {
            var t = seriesText(u, s, i);
            if (t) lines.push(t);
          }
          tip.textContent = lines.join('\n');
          tip.hidden = false;
          var left = u.cursor.left, top = u.cursor.top;
          tip.style.left = Math.min(left + 12, u.over.clientWidth - 160) + 'px';
          tip.style.top = Math.max(top - 10, 0) + 'px';
        }]
      }
    };
  }
  function mount(el, title, opts, data) {
    if (!el.hasAttribute('data-untitled')) {
      var h = doc.createElement('h3');
      h.textContent = title;
      el.appendChild(h);
    }
    opts.width = width(el);
    opts.height = opts.height || 300;
    var u = new uPlot(opts, data, el);
    // The axes as uPlot draws them (on its canvas), for people with a
    // screen reader and for the tests.
    var axes = u.axes.map(function (a) { return a.label || ''; });
    el.setAttribute('role', 'img');
    el.setAttribute('aria-label', title + ' — x axis: ' + axes[0] + '; y axis: ' + axes[1]);
    el.dataset.axes = JSON.stringify(axes);
    made.push({ u: u, el: el });
  }
  function byID(list, id) { for (var i = 0; i < list.length; i++) if (list[i].id === id) return list[i]; return null; }

  doc.querySelectorAll('.chart[data-chart="bar"]').forEach(function (el) {
    var c = byID(charts.bars, el.dataset.id);
    if (!c) return;
    var xs = c.labels.map(function (_, i) { return i; });
    var bars = uPlot.paths.bars({ size: [0.6, 80] });
    var narrow = width(el) < 600 && xs.length > 1; // slant the system names
    mount(el, c.title, {
      height: 260,
      scales: { x: { time: false, range: [-0.5, xs.length - 0.5] }, y: { range: function (u, min, max) { return [0, max > 0 ? max * 1.1 : 1]; } } },
      axes: [
        { label: c.x_label, splits: function () { return xs; }, values: function (u, splits) { return splits.map(function (i) { return c.labels[i] || ''; }); }, gap: 6,
          rotate: narrow ? -35 : 0, size: narrow ? 110 : 50 },
        { label: c.y_label, size: 70, values: function (u, s) { return s.map(fmt); } }
      ],
      series: [
        { label: c.x_label, value: function (u, i) { return i == null ? '' : c.labels[i]; } },
        { label: 'Agents/MW', fill: '#2563ebcc', stroke: '#2563eb', paths: bars, points: { show: false }, value: function (u, v) { return fmt(v); } }
      ],
      plugins: [tooltip(function (u, i) { return c.labels[i] + (c.simulated[i] ? ' (simulated)' : ''); },
        function (u, s, i) { return fmt(u.data[s][i]) + ' Agents/MW'; })]
    }, [xs, c.values]);
  });

  // The runs charts' markers: hollow red for a regression, green for an
  // improvement, grey for a retracted run.
  var markerStyle = {
    regression: { color: '#dc2626', fill: '#fff' },
    improvement: { color: '#16a34a', fill: '#fff' },
    retracted: { color: '#6b7280', fill: '#e5e7eb' }
  };
  // errorBars draws each spread's min–max at its points, in its series'
  // colour, while the series is shown.
  function errorBars(u, spreads) {
    var ctx = u.ctx, w = 5 * uPlot.pxRatio;
    ctx.save();
    ctx.lineWidth = 2 * uPlot.pxRatio;
    spreads.forEach(function (b) {
      if (!u.series[b.si].show) return;
      ctx.strokeStyle = b.color;
      ctx.beginPath();
      for (var i = 0; i < b.low.length; i++) {
        if (b.low[i] == null || b.high[i] == null) continue;
        var x = u.valToPos(u.data[0][i], 'x', true), lo = u.valToPos(b.low[i], 'y', true), hi = u.valToPos(b.high[i], 'y', true);
        ctx.moveTo(x, lo); ctx.lineTo(x, hi);
        ctx.moveTo(x - w, lo); ctx.lineTo(x + w, lo);
        ctx.moveTo(x - w, hi); ctx.lineTo(x + w, hi);
      }
      ctx.stroke();
    });
    ctx.restore();
  }
  function lines(el, c) {
    var series = [{ label: c.x_label, value: c.x_time ? '{YYYY}-{MM}-{DD} {HH}:{mm}' : function (u, v) { return v == null ? '' : fmt(v); } }];
    var markers = {}, spreads = [];
    c.series.forEach(function (s, k) {
      var value = function (u, v, si, i) { return v == null ? '–' : fmt(v) + (i != null && s.notes && s.notes[i] ? ' (' + s.notes[i] + ')' : ''); };
      if (s.marker) { // points only, over the line's point: a regression, an improvement, a retracted run
        var m = markerStyle[s.marker] || markerStyle.retracted;
        markers[s.marker] = s.values.filter(function (v) { return v != null; }).length;
        series.push({
          label: s.name, stroke: m.color, width: 2, paths: function () { return null; },
          points: { show: true, size: 13, stroke: m.color, fill: m.fill, width: 3 }, value: value
        });
        return;
      }
      series.push({ label: s.name, stroke: palette[k % palette.length], width: 2, spanGaps: true, points: { size: 7 }, value: value });
      if (s.low && s.high) spreads.push({ si: k + 1, color: palette[k % palette.length], low: s.low, high: s.high });
    });
    el.dataset.markers = JSON.stringify(markers);
    // A point that is the median of repeated windows gets an error bar
    // from their least to their most.
    var top = 0, nbars = 0;
    spreads.forEach(function (b) {
      b.high.forEach(function (v, i) {
        if (v != null && b.low[i] != null) { nbars++; top = Math.max(top, v); }
      });
    });
    el.dataset.spreads = String(nbars);
    var data = [c.x].concat(c.series.map(function (s) { return s.values; }));
    var xscale = { time: !!c.x_time };
    if (c.x.length === 1) { // one point: a day (or 5 tok/s) either side
      var pad = c.x_time ? 86400 : 5;
      xscale.range = [c.x[0] - pad, c.x[0] + pad];
    } else if (Object.keys(markers).length) { // room for the markers at either end
      var span = c.x[c.x.length - 1] - c.x[0];
      xscale.range = [c.x[0] - span / 20, c.x[c.x.length - 1] + span / 20];
    }
    mount(el, c.title, {
      height: 300,
      scales: { x: xscale, y: { range: function (u, min, max) { max = Math.max(max, top); return [0, max > 0 ? max * 1.15 : 1]; } } },
      axes: [{ label: c.x_label }, { label: c.y_label, size: 70, values: function (u, s) { return s.map(fmt); } }],
      series: series,
      hooks: { draw: [function (u) { errorBars(u, spreads); }] },
      plugins: [tooltip(function (u, i) {
        var x = u.data[0][i];
        return c.x_time ? new Date(x * 1000).toISOString().slice(0, 16).replace('T', ' ') + ' UTC' : c.x_label + ': ' + fmt(x);
      }, function (u, s, i) {
        var v = u.data[s][i];
        if (v == null) return '';
        var n = c.series[s - 1].notes;
        return u.series[s].label + ': ' + fmt(v) + (n && n[i] ? ' (' + n[i] + ')' : '');
      })]
    }, data);
  }
  doc.querySelectorAll('.chart[data-chart="curve"]').forEach(function (el) { if (charts.curve) lines(el, charts.curve); });
  doc.querySelectorAll('.chart[data-chart="history"]').forEach(function (el) {
    var c = byID(charts.history, el.dataset.id);
    if (c) lines(el, c);
  });
  doc.querySelectorAll('.chart[data-chart="runs"]').forEach(function (el) {
    var c = byID(charts.runs || [], el.dataset.id);
    if (c) lines(el, c);
  });
  doc.querySelectorAll('.chart[data-chart="pareto"]').forEach(function (el) { if (charts.pareto) lines(el, charts.pareto); });
  doc.querySelectorAll('.chart[data-chart="probes"]').forEach(function (el) { if (charts.probes) lines(el, charts.probes); });
  doc.querySelectorAll('.chart[data-chart="power"]').forEach(function (el) { if (charts.power) lines(el, charts.power); });
  var pending = null;
  window.addEventListener('resize', function () {
    clearTimeout(pending);
    pending = setTimeout(function () {
      made.forEach(function (m) { m.u.setSize({ width: width(m.el), height: m.u.height }); });
    }, 100);
  });
})();
