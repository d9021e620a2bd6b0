// vega-lite ships its types for `exports`-aware resolution only (node16 / bundler), which this
// repository's `node` module resolution does not read: declare the one function the chart uses.
declare module 'vega-lite' {
  export function compile(spec: object): { spec: import('vega').Spec };
}
