// PromQL keywords that look like identifiers but never name a metric.
const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan']);

/** The metric names a PromQL expression selects (a small reading: enough for dashboards, not a full parser). */
export function metricNamesIn(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // strings
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\[[^\]]*\]/g, ' ') // ranges
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ') // label lists
    .replace(/\$\w+/g, ' '); // dashboard variables
  const names = new Set<string>();
  for (const match of bare.matchAll(/[a-zA-Z_:][\w:]*/g)) {
    const rest = bare.slice(match.index! + match[0].length);
    if (/^\s*\(/.test(rest) || KEYWORDS.has(match[0].toLowerCase())) continue; // a function call or a keyword
    const before = bare[match.index! - 1];
    if (before !== undefined && /[\d.]/.test(before)) continue; // the exponent or unit of a number
    names.add(match[0]);
  }
  return [...names];
}

/** The metric a Grafana `label_values(metric{...}, label)` variable query reads, if it names one. */
export function metricOfVariableQuery(query: string): string | undefined {
  return /label_values\(\s*([a-zA-Z_:][\w:]*)/.exec(query)?.[1];
}

/** Every series name a Prometheus text exposition can produce, from its `# TYPE` lines (histograms: _bucket, _sum, _count). */
export function exposedSeries(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const [, name, type] of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name);
    if (type === 'histogram' || type === 'summary') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${name}${suffix}`);
  }
  return names;
}
