/**
 * Line charts of training curves, rendered to standalone SVG at report build time (vega-lite
 * compiled to vega, rendered headless), so the report page needs no script and no network.
 */
import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export interface CurvePoint {
  step: number;
  value: number;
}

/** An SVG line chart of `points` (non-finite values are left out). */
export async function lineChartSvg(title: string, points: CurvePoint[]): Promise<string> {
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: 320,
    height: 180,
    data: { values: points.filter((p) => Number.isFinite(p.value)) },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'step', type: 'quantitative', title: 'step' },
      y: { field: 'value', type: 'quantitative', title, scale: { zero: false } },
    },
  };
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
