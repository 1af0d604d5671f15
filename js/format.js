// Numbers as the widget shows them: counts always with thousands separators (3,840 nodes, 313,600
// nodes), whatever the page's locale, so the status bar reads the same as Python's summaries.

const counts = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

/**
 * A count with thousands separators: 313600 -> "313,600".
 * @param {number} n
 * @returns {string}
 */
export function formatCount(n) {
  return counts.format(n);
}

/**
 * The status bar's selection summary.
 * @param {{nNodes: number, selected: number, negative?: number, highlighted: number | null, threshold: number}} s
 *   highlighted is null without a selection; negative counts the negative nodes
 * @returns {string}
 */
export function summaryText({ nNodes, selected, negative = 0, highlighted, threshold }) {
  if (highlighted === null || !selected) return `${formatCount(nNodes)} nodes · click a point or a patch`;
  const neg = negative ? ` · ${formatCount(negative)} negative` : "";
  return `${formatCount(selected)} selected${neg} · ${formatCount(highlighted)} of ${formatCount(nNodes)} nodes ≥ ${threshold.toFixed(2)}`;
}
