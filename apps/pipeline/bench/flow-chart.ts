/**
 * The `flow` benchmark's chart: per policy, the rates (allowed, offered, sink) and the store's queue
 * fill over time, with the slow-sink and store-killed phases shaded. Vega-Lite compiles the spec,
 * Vega renders it to SVG without a browser, resvg turns the SVG into a PNG.
 */
import { Resvg } from '@resvg/resvg-js';

export interface ChartSample {
  policy: string;
  t_s: number;
  allowed_per_s: number;
  offered_per_s: number;
  sink_rows_per_s: number;
  queue_fill: number;
}

export interface ChartPhase {
  policy: string;
  phase: string;
  from_s: number;
  to_s: number;
}

/** Centered moving average over `window` samples (100 ms each): per-100 ms counts come in batches. */
function smooth(values: number[], window: number): number[] {
  const half = Math.floor(window / 2);
  return values.map((_, i) => {
    const part = values.slice(Math.max(0, i - half), i + half + 1);
    return part.reduce((s, v) => s + v, 0) / part.length;
  });
}

export async function renderFlowChart(
  samples: ChartSample[],
  phases: ChartPhase[],
  title: string,
): Promise<Buffer> {
  const rows: Record<string, unknown>[] = [];
  const policies = [...new Set(samples.map((s) => s.policy))];
  for (const policy of policies) {
    const mine = samples.filter((s) => s.policy === policy);
    const offered = smooth(
      mine.map((s) => s.offered_per_s),
      5,
    );
    const sink = smooth(
      mine.map((s) => s.sink_rows_per_s),
      5,
    );
    mine.forEach((s, i) => {
      rows.push({
        kind: 'rate',
        policy,
        t: s.t_s,
        series: 'allowed (scale × budget)',
        value: s.allowed_per_s,
      });
      rows.push({
        kind: 'rate',
        policy,
        t: s.t_s,
        series: 'offered (published/s)',
        value: offered[i],
      });
      rows.push({
        kind: 'rate',
        policy,
        t: s.t_s,
        series: 'sink (rows written/s)',
        value: sink[i],
      });
      rows.push({ kind: 'fill', policy, t: s.t_s, fill: Math.round(s.queue_fill * 1000) / 10 });
    });
  }
  for (const p of phases)
    rows.push({ kind: 'phase', policy: p.policy, phase: p.phase, from: p.from_s, to: p.to_s });

  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title, fontSize: 15 },
    data: { values: rows },
    vconcat: policies.map((policy) => ({
      title: { text: `policy: ${policy}`, anchor: 'start', fontSize: 13 },
      transform: [{ filter: { field: 'policy', equal: policy } }],
      width: 900,
      height: 230,
      layer: [
        {
          // Phases and the queue fill share the right-hand axis (0-100 %).
          layer: [
            {
              transform: [{ filter: "datum.kind === 'phase'" }],
              mark: { type: 'rect', opacity: 0.14 },
              encoding: {
                x: { field: 'from', type: 'quantitative' },
                x2: { field: 'to' },
                y: { datum: 0, type: 'quantitative' },
                y2: { datum: 100 },
                color: {
                  field: 'phase',
                  type: 'nominal',
                  title: 'phase',
                  scale: {
                    domain: ['sink 10x slower', 'store killed'],
                    range: ['#e45756', '#9d755d'],
                  },
                },
              },
            },
            {
              transform: [{ filter: "datum.kind === 'fill'" }],
              mark: { type: 'area', opacity: 0.3, color: '#54a24b', interpolate: 'step-after' },
              encoding: {
                x: { field: 't', type: 'quantitative', title: 'seconds' },
                y: {
                  field: 'fill',
                  type: 'quantitative',
                  title: 'store queue fill % (green area)',
                  scale: { domain: [0, 100] },
                  axis: { orient: 'right', titleColor: '#54a24b' },
                },
              },
            },
          ],
        },
        {
          transform: [{ filter: "datum.kind === 'rate'" }],
          mark: { type: 'line', strokeWidth: 1.6, interpolate: 'linear' },
          encoding: {
            x: { field: 't', type: 'quantitative', title: 'seconds' },
            y: { field: 'value', type: 'quantitative', title: 'records / s' },
            strokeDash: {
              field: 'series',
              type: 'nominal',
              title: null,
              scale: {
                range: [
                  [4, 2],
                  [1, 0],
                  [1, 0],
                ],
              },
            },
            stroke: {
              field: 'series',
              type: 'nominal',
              title: 'rate',
              scale: { range: ['#4c78a8', '#f58518', '#222222'] },
            },
          },
        },
      ],
      resolve: { scale: { y: 'independent' } },
    })),
    resolve: { scale: { x: 'shared' } },
    config: { font: 'DejaVu Sans', legend: { orient: 'bottom', columns: 3, labelLimit: 400 } },
  };
  // ES modules with top-level await (vega-canvas): loaded with import(), not require.
  const vega = await import('vega');
  const vl = await import('vega-lite');
  const compiled = vl.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return new Resvg(svg, {
    background: 'white',
    fitTo: { mode: 'zoom', value: 1.5 },
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' },
  })
    .render()
    .asPng();
}
