/** A small line chart of recent values, drawn as SVG (no chart library, no external requests). */
export function Sparkline({
  values,
  max,
  label,
  unit = '',
  format,
}: {
  values: number[];
  max?: number;
  label: string;
  unit?: string;
  format?: (value: number) => string;
}) {
  const width = 240;
  const height = 48;
  const top = Math.max(max ?? 0, ...values, 1e-9);
  const points = values
    .map(
      (value, index) =>
        `${(index / Math.max(1, values.length - 1)) * width},${height - (value / top) * (height - 4) - 2}`,
    )
    .join(' ');
  const last = values.at(-1) ?? 0;
  const shown = format ? format(last) : `${Number.isInteger(last) ? last : last.toFixed(2)}${unit}`;
  return (
    <figure className="sparkline">
      <svg
        viewBox={`0 0 ${width} ${height}`}
        width={width}
        height={height}
        role="img"
        aria-label={`${label}: now ${shown}`}
      >
        <polyline points={points} fill="none" stroke="currentColor" strokeWidth="2" />
      </svg>
      <figcaption>
        {label}: <strong>{shown}</strong>
      </figcaption>
    </figure>
  );
}
