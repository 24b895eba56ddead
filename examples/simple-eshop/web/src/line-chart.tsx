/** A line chart with a time axis and a value axis, drawn as SVG (no chart library, no requests). */
export interface ChartSeries {
  label: string;
  /** [time in ms since the epoch, value]; a null value leaves a gap. */
  points: Array<[number, number | null]>;
  color: string;
}

const width = 240;
const height = 140;
const margin = { left: 44, right: 8, top: 8, bottom: 28 };
const clock = (ms: number) =>
  new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });

export function LineChart({
  title,
  series,
  unit,
  from,
  to,
  max,
  format = (value) => `${Number.isInteger(value) ? value : value.toFixed(2)}`,
}: {
  title: string;
  series: ChartSeries[];
  unit: string;
  from: number;
  to: number;
  /** The top of the value axis; the highest value when absent. */
  max?: number;
  format?: (value: number) => string;
}) {
  const values = series.flatMap((line) => line.points.map(([, value]) => value ?? 0));
  const top = max ?? Math.max(...values, 1e-9) * 1.1;
  const plotWidth = width - margin.left - margin.right;
  const plotHeight = height - margin.top - margin.bottom;
  const x = (at: number) => margin.left + ((at - from) / Math.max(1, to - from)) * plotWidth;
  const y = (value: number) => margin.top + plotHeight - (value / top) * plotHeight;
  const yTicks = [0, top / 2, top];
  const xTicks = [from, (from + to) / 2, to];
  const count = series.reduce((sum, line) => sum + line.points.filter(([, value]) => value !== null).length, 0);
  return (
    <figure className="line-chart" data-points={count}>
      <svg viewBox={`0 0 ${width} ${height}`} width={width} height={height} role="img" aria-label={title}>
        <line x1={margin.left} x2={margin.left} y1={margin.top} y2={margin.top + plotHeight} className="axis" />
        <line
          x1={margin.left}
          x2={margin.left + plotWidth}
          y1={margin.top + plotHeight}
          y2={margin.top + plotHeight}
          className="axis"
        />
        {yTicks.map((tick) => (
          <g key={`y${tick}`}>
            <line x1={margin.left - 3} x2={margin.left + plotWidth} y1={y(tick)} y2={y(tick)} className="grid" />
            <text x={margin.left - 5} y={y(tick) + 3} textAnchor="end" className="tick">
              {format(tick)}
            </text>
          </g>
        ))}
        {xTicks.map((tick, index) => (
          <text
            key={`x${tick}`}
            x={x(tick)}
            y={height - 14}
            textAnchor={index === 0 ? 'start' : index === 2 ? 'end' : 'middle'}
            className="tick"
          >
            {clock(tick)}
          </text>
        ))}
        <text x={margin.left + plotWidth} y={height - 2} textAnchor="end" className="tick">
          time
        </text>
        <text x={4} y={margin.top + 6} className="tick">
          {unit}
        </text>
        {series.map((line) => (
          <g key={line.label} stroke={line.color} fill={line.color}>
            <polyline
              fill="none"
              strokeWidth="1.5"
              points={line.points
                .filter(([, value]) => value !== null)
                .map(([at, value]) => `${x(at)},${y(value ?? 0)}`)
                .join(' ')}
            />
            {line.points.map(([at, value]) =>
              value === null ? null : <circle key={at} cx={x(at)} cy={y(value)} r="1.8" />,
            )}
          </g>
        ))}
      </svg>
      <figcaption>
        {title}
        {series.length > 1
          ? series.map((line) => (
              <span key={line.label} style={{ color: line.color }}>
                {' '}
                ● {line.label}
              </span>
            ))
          : null}
      </figcaption>
    </figure>
  );
}
