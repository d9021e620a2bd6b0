// mdp cockpit: renders GET /cockpit/snapshot, then follows GET /events (server-sent events).
// Control buttons go through POST /control with the admin token, which is typed once and kept in
// sessionStorage (gone when the browser session ends).
(function () {
  'use strict';

  var TOKEN_KEY = 'mdp.cockpit.token';
  var WINDOW_S = 5 * 60;
  var LEVEL_NAMES = ['ok', 'soft', 'hard'];
  var state = { snapshot: null, chart: null, chartFor: null };

  var $ = function (id) {
    return document.getElementById(id);
  };

  function esc(v) {
    return String(v == null ? '' : v).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }
  function fmtInt(n) {
    return n == null ? '–' : Number(n).toLocaleString('en-US');
  }
  function ago(ts) {
    if (!ts) return '–';
    var s = Math.max(0, Date.now() / 1000 - ts);
    if (s < 1.5) return 'now';
    if (s < 90) return Math.round(s) + ' s ago';
    if (s < 5400) return Math.round(s / 60) + ' min ago';
    return Math.round(s / 3600) + ' h ago';
  }
  function clock(ts) {
    return new Date(ts * 1000).toLocaleTimeString('en-GB', { hour12: false });
  }
  function duration(s) {
    if (s == null) return '–';
    if (s < 90) return Math.round(s) + ' s';
    if (s < 5400) return Math.round(s / 60) + ' min';
    if (s < 172800) return (s / 3600).toFixed(1) + ' h';
    return Math.round(s / 86400) + ' d';
  }
  function badge(text, cls) {
    return '<span class="badge ' + esc(cls || text) + '">' + esc(text) + '</span>';
  }

  // ---- token -------------------------------------------------------------------------------------
  function token() {
    return sessionStorage.getItem(TOKEN_KEY) || '';
  }
  function renderToken() {
    var has = token() !== '';
    $('token-form').classList.toggle('unlocked', has);
    $('token-save').hidden = has;
    $('token-clear').hidden = !has;
    $('token').value = '';
  }
  $('token-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var v = $('token').value.trim();
    if (v) sessionStorage.setItem(TOKEN_KEY, v);
    renderToken();
  });
  $('token-clear').addEventListener('click', function () {
    sessionStorage.removeItem(TOKEN_KEY);
    renderToken();
  });

  // ---- control -----------------------------------------------------------------------------------
  function toast(kind, title, detail) {
    var el = document.createElement('div');
    el.className = 'toast ' + kind;
    el.innerHTML = '<b>' + esc(title) + '</b><div class="detail">' + esc(detail || '') + '</div>';
    $('toasts').appendChild(el);
    setTimeout(function () {
      el.remove();
    }, 7000);
  }

  function control(body) {
    var t = token();
    if (!t) {
      t = (
        window.prompt('Admin token (ORCH_ADMIN_TOKEN), kept for this browser session') || ''
      ).trim();
      if (!t) return Promise.resolve();
      sessionStorage.setItem(TOKEN_KEY, t);
      renderToken();
    }
    var label =
      body.action +
      ' → ' +
      (body.target || (body.provider ? 'provider:' + body.provider : 'stream:' + body.stream));
    return fetch('/control', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + t },
      body: JSON.stringify(body),
    })
      .then(function (res) {
        return res
          .json()
          .catch(function () {
            return {};
          })
          .then(function (r) {
            if (res.status === 401) {
              sessionStorage.removeItem(TOKEN_KEY);
              renderToken();
              toast('error', label + ': token refused', r.detail);
              return;
            }
            if (res.status === 403) {
              toast('error', label + ': control disabled', r.detail);
              return;
            }
            if (res.status === 400) {
              toast(
                'error',
                label + ': invalid',
                (r.issues || [])
                  .map(function (i) {
                    return i.path + ' ' + i.message;
                  })
                  .join('; '),
              );
              return;
            }
            if (res.status === 202) {
              toast('pending', label + ': sent, no answer yet', r.detail);
              return;
            }
            toast(
              r.status === 'ok' ? 'ok' : 'error',
              label + ': ' + (r.outcome || r.status),
              (r.answered_by ? r.answered_by + ': ' : '') + (r.detail || ''),
            );
          });
      })
      .catch(function (err) {
        toast('error', label + ': request failed', String(err));
      });
  }

  document.addEventListener('click', function (e) {
    var b = e.target.closest('button[data-action]');
    if (!b) return;
    var body = { action: b.dataset.action };
    if (b.dataset.target) body.target = b.dataset.target;
    if (b.dataset.provider) body.provider = b.dataset.provider;
    if (b.dataset.stream) body.stream = b.dataset.stream;
    if (body.action === 'set_scale')
      body.scale =
        Number(document.querySelector('input[data-scale-for="' + b.dataset.provider + '"]').value) /
        100;
    if (
      body.action === 'replay_dlq' &&
      !window.confirm('Replay every dead letter of ' + body.stream + ' onto the stream?')
    )
      return;
    b.disabled = true;
    control(body).finally(function () {
      b.disabled = false;
    });
  });
  document.addEventListener('input', function (e) {
    var r = e.target.closest('input[data-scale-for]');
    if (r) r.parentElement.querySelector('.pct').textContent = r.value + ' %';
  });

  // ---- rendering ---------------------------------------------------------------------------------
  function renderCluster(s) {
    $('namespace').textContent = s.namespace;
    $('cluster').dataset.state = s.cluster.state;
    $('cluster-state').textContent = 'cluster ' + s.cluster.state;
    $('cluster-reason').textContent =
      s.cluster.reason ||
      s.nodes.length + ' service' + (s.nodes.length === 1 ? '' : 's') + ' reporting';
  }

  function renderServices(s) {
    if (!s.nodes.length) {
      $('services').innerHTML = '<p class="empty">no heartbeat yet</p>';
      return;
    }
    $('services').innerHTML =
      '<table><tr><th>service</th><th>version</th><th>state</th><th class="num">up</th><th class="num">seen</th></tr>' +
      s.nodes
        .map(function (n) {
          return (
            '<tr title="' +
            esc(n.node_id + (n.reason ? ' — ' + n.reason : '')) +
            '"><td><b>' +
            esc(n.service) +
            '</b><div class="dim mono" style="font-size:11px">' +
            esc(n.node_id) +
            '</div></td>' +
            '<td class="mono">' +
            esc(n.version) +
            '</td><td>' +
            badge(n.silent ? 'silent' : n.health, n.health) +
            (n.reason
              ? '<div class="dim" style="font-size:11px">' + esc(n.reason) + '</div>'
              : '') +
            '</td>' +
            '<td class="num dim">' +
            duration(n.uptime_s) +
            '</td><td class="num dim">' +
            ago(n.last_seen_ts) +
            '</td></tr>'
          );
        })
        .join('') +
      '</table>';
  }

  function renderCoordinators(s) {
    if (!s.coordinators.length) {
      $('coordinators').innerHTML = '<p class="empty">no feedback from the store yet</p>';
      return;
    }
    $('coordinators').innerHTML = s.coordinators
      .map(function (c) {
        var pct = c.capacity ? Math.min(100, (100 * c.queue_size) / c.capacity) : 0;
        return (
          '<div class="coord"><div class="head"><span class="id">' +
          esc(c.id) +
          '</span>' +
          badge(c.level) +
          '</div>' +
          '<div class="depth"><span id="depth-' +
          esc(c.id) +
          '" class="queue-depth">' +
          fmtInt(c.queue_size) +
          '</span> <span class="of">/ ' +
          fmtInt(c.capacity) +
          ' · ' +
          pct.toFixed(0) +
          ' %</span></div>' +
          '<div class="bar" data-level="' +
          esc(c.level) +
          '"><span style="width:' +
          pct.toFixed(1) +
          '%"></span></div>' +
          '<div class="dim" style="font-size:12px;margin-top:4px">updated ' +
          ago(c.ts) +
          '</div></div>'
        );
      })
      .join('');
  }

  function renderProviders(s) {
    if (!s.providers.length) {
      $('providers').innerHTML = '<p class="empty">no rate adjustment seen yet</p>';
      return;
    }
    var focused =
      document.activeElement &&
      document.activeElement.dataset &&
      document.activeElement.dataset.scaleFor;
    if (focused) return; // do not yank the slider from under the operator's hand
    $('providers').innerHTML = s.providers
      .map(function (p) {
        var pct = Math.round(p.scale * 100);
        var cls = p.scale >= 0.999 ? '' : p.scale > 0 ? 'warn' : 'bad';
        return (
          '<div class="provider"><span class="pname">' +
          esc(p.provider) +
          ' ' +
          badge(p.reason) +
          '</span><span class="scale ' +
          cls +
          '" id="scale-' +
          esc(p.provider) +
          '">' +
          pct +
          ' %</span>' +
          '<div class="controls"><button class="small" data-action="pause" data-target="provider:' +
          esc(p.provider) +
          '">pause</button>' +
          '<button class="small" data-action="resume" data-target="provider:' +
          esc(p.provider) +
          '">resume</button>' +
          '<input type="range" min="0" max="100" step="5" value="' +
          pct +
          '" data-scale-for="' +
          esc(p.provider) +
          '"><span class="pct mono dim">' +
          pct +
          ' %</span>' +
          '<button class="small" data-action="set_scale" data-provider="' +
          esc(p.provider) +
          '">set scale</button></div></div>'
        );
      })
      .join('');
  }

  function renderStreams(s) {
    var rows = [];
    s.streams.forEach(function (st) {
      var groups = st.groups.length ? st.groups : [null];
      groups.forEach(function (g, i) {
        var idle =
          g && g.consumer_list.length
            ? Math.min.apply(
                null,
                g.consumer_list.map(function (c) {
                  return c.idle_ms == null ? Infinity : c.idle_ms;
                }),
              )
            : null;
        var dlq = st.dlq_length || 0;
        rows.push(
          '<tr>' +
            (i === 0
              ? '<td class="mono" rowspan="' +
                groups.length +
                '">' +
                esc(st.name) +
                '</td><td class="num dim" rowspan="' +
                groups.length +
                '">' +
                (s.backend === 'inmem' ? '–' : fmtInt(st.length)) +
                '</td>'
              : '') +
            '<td class="mono">' +
            (g ? esc(g.name) : '<span class="dim">no group</span>') +
            '</td>' +
            '<td class="num">' +
            (g ? (s.backend === 'inmem' ? '–' : g.consumers) : '') +
            '</td>' +
            '<td class="num ' +
            (g && g.pending > 0 ? 'warn' : '') +
            '">' +
            (g ? fmtInt(g.pending) : '') +
            '</td>' +
            '<td class="num ' +
            (g && g.lag > 1000 ? 'warn' : '') +
            '">' +
            (g ? (g.lag == null ? '?' : fmtInt(g.lag)) : '') +
            '</td>' +
            '<td class="num dim">' +
            (idle == null || idle === Infinity ? '–' : duration(idle / 1000)) +
            '</td>' +
            (i === 0
              ? '<td class="num ' +
                (dlq ? 'bad' : 'dim') +
                '" rowspan="' +
                groups.length +
                '">' +
                fmtInt(dlq) +
                (dlq
                  ? ' <button class="small danger" data-action="replay_dlq" data-stream="' +
                    esc(st.name) +
                    '">replay</button>'
                  : '') +
                '</td>'
              : '') +
            '</tr>',
        );
      });
    });
    $('streams').innerHTML = rows.length
      ? '<table><tr><th>stream</th><th class="num">length</th><th>group</th><th class="num">consumers</th><th class="num">pending</th><th class="num">lag</th><th class="num">idle</th><th class="num">dead letters</th></tr>' +
        rows.join('') +
        '</table>'
      : '<p class="empty">no streams yet</p>';
  }

  function renderDeadLetters(s) {
    if (!s.dead_letters.length) {
      $('dead-letters').innerHTML = '<p class="empty ok">no dead letters</p>';
      return;
    }
    $('dead-letters').innerHTML = s.dead_letters
      .map(function (d) {
        return (
          '<div class="dlq"><div class="head"><span class="mono">' +
          esc(d.stream) +
          '.dlq</span><span class="bad mono">' +
          fmtInt(d.dlq_length) +
          '</span></div>' +
          (d.latest.length
            ? '<ul>' +
              d.latest
                .map(function (l) {
                  return (
                    '<li>' +
                    esc(l.reason) +
                    ' <span class="dim">· ' +
                    esc(l.group) +
                    ' · ' +
                    ago(l.failed_at) +
                    '</span></li>'
                  );
                })
                .join('') +
              '</ul>'
            : '') +
          '</div>'
        );
      })
      .join('');
  }

  var seenAudit = {};
  function renderAudit(rows) {
    if (!rows.length) {
      $('audit').innerHTML = '<p class="empty">nothing audited yet</p>';
      return;
    }
    $('audit').innerHTML =
      '<table><tr><th>time</th><th>kind</th><th>action</th><th>target</th><th>by</th><th>result</th><th>detail</th></tr>' +
      rows
        .map(function (r) {
          var fresh = state.snapshot && !seenAudit[r.source_id];
          seenAudit[r.source_id] = true;
          var result = r.outcome || r.status;
          return (
            '<tr class="' +
            (fresh ? 'fresh' : '') +
            '"><td class="mono dim">' +
            clock(r.ts) +
            '</td><td>' +
            badge(r.kind.replace('_', ' '), 'kind') +
            '</td>' +
            '<td class="mono">' +
            esc(r.action) +
            '</td><td class="mono">' +
            esc(r.target || '') +
            '</td><td class="mono dim">' +
            esc(r.actor) +
            '</td>' +
            '<td>' +
            badge(result, r.status === 'ok' ? (result === 'accepted' ? 'muted' : 'ok') : 'error') +
            '</td><td class="detail" title="' +
            esc(r.detail) +
            '">' +
            esc(r.detail) +
            '</td></tr>'
          );
        })
        .join('') +
      '</table>';
  }

  // ---- chart: queue depth against capacity, backpressure level as coloured bands -----------------
  function chartData(c) {
    var now = Date.now() / 1000;
    var h = (c ? c.history : []).filter(function (p) {
      return p[0] >= now - WINDOW_S;
    });
    if (c && (!h.length || h[h.length - 1][0] < now)) {
      // Hold the last known state up to now, so the line reaches the present.
      var last = h.length
        ? h[h.length - 1]
        : [now - WINDOW_S, c.queue_size, c.capacity, LEVEL_NAMES.indexOf(c.level)];
      if (!h.length) h.push([now - WINDOW_S, last[1], last[2], last[3]]);
      h.push([now, last[1], last[2], last[3]]);
    }
    return [
      h.map(function (p) {
        return p[0];
      }),
      h.map(function (p) {
        return p[1];
      }),
      h.map(function (p) {
        return p[2];
      }),
      h.map(function (p) {
        return p[3];
      }),
    ];
  }

  function levelBands(u) {
    var ctx = u.ctx,
      xs = u.data[0],
      lv = u.data[3];
    var top = u.bbox.top,
      height = u.bbox.height;
    ctx.save();
    for (var i = 0; i < xs.length - 1; i++) {
      if (!lv[i]) continue;
      var x0 = u.valToPos(xs[i], 'x', true),
        x1 = u.valToPos(xs[i + 1], 'x', true);
      ctx.fillStyle = lv[i] === 2 ? 'rgba(248, 81, 73, 0.16)' : 'rgba(210, 153, 34, 0.14)';
      ctx.fillRect(x0, top, Math.max(1, x1 - x0), height);
    }
    ctx.restore();
  }

  function renderChart(s) {
    var c = s.coordinators[0];
    var el = $('chart');
    var data = chartData(c);
    var width = el.clientWidth || 800;
    if (!state.chart || state.chartFor !== (c && c.id)) {
      if (state.chart) state.chart.destroy();
      state.chartFor = c && c.id;
      var axis = {
        stroke: '#8593a3',
        grid: { stroke: '#1f2833', width: 1 },
        ticks: { stroke: '#263040' },
      };
      state.chart = new uPlot(
        {
          width: width,
          height: 220,
          legend: { show: false },
          cursor: { points: { size: 6 } },
          scales: {
            x: { time: true },
            y: {
              range: function (u, min, max) {
                return [0, Math.max(10, max * 1.1)];
              },
            },
          },
          axes: [axis, Object.assign({}, axis, { size: 56 })],
          series: [
            {},
            {
              label: 'queue depth',
              stroke: '#58a6ff',
              width: 2,
              fill: 'rgba(88, 166, 255, 0.12)',
              paths: uPlot.paths.stepped({ align: 1 }),
            },
            { label: 'capacity', stroke: '#6e7681', width: 1, dash: [6, 4] },
            { label: 'level', show: false },
          ],
          hooks: { drawClear: [levelBands] },
        },
        data,
        el,
      );
    } else {
      state.chart.setData(data);
      if (Math.abs(state.chart.width - width) > 4)
        state.chart.setSize({ width: width, height: 220 });
    }
  }

  function render(s) {
    renderCluster(s);
    renderServices(s);
    renderCoordinators(s);
    renderProviders(s);
    renderStreams(s);
    renderDeadLetters(s);
    renderAudit(s.audit);
    renderChart(s);
    document.querySelectorAll('button[data-action]').forEach(function (b) {
      b.title = s.control_enabled ? '' : 'control is disabled (ORCH_ADMIN_TOKEN is not set)';
      if (!s.control_enabled) b.disabled = true;
    });
    state.snapshot = s;
  }

  // ---- live --------------------------------------------------------------------------------------
  function connect() {
    var es = new EventSource('/events');
    es.addEventListener('open', function () {
      $('live').dataset.on = 'true';
      $('live-text').textContent = 'live';
    });
    es.addEventListener('error', function () {
      $('live').dataset.on = 'false';
      $('live-text').textContent = 'reconnecting';
    });
    es.addEventListener('snapshot', function (e) {
      render(JSON.parse(e.data));
    });
  }

  renderToken();
  fetch('/cockpit/snapshot')
    .then(function (r) {
      return r.json();
    })
    .then(render)
    .catch(function () {})
    .finally(connect);
  // The chart's time axis keeps moving between events.
  setInterval(function () {
    if (state.snapshot) renderChart(state.snapshot);
  }, 2000);
  window.addEventListener('resize', function () {
    if (state.snapshot) renderChart(state.snapshot);
  });
})();
