"""Histograms in the HTML report: the distributions rows carry (a kernel histogram's buckets, counted
over one test's window), one bar chart per test and histogram, drawn as SVG."""

from __future__ import annotations

from html import escape

WIDTH, HEIGHT = 560, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 14, 58


def figures(rows: list[dict]) -> str:
    """A figure per row with a histogram (the last repeat's, when a test repeated): one per test,
    histogram and where it was taken (a cluster's role and node)."""
    latest: dict[tuple, dict] = {}
    for row in rows:
        if row.get("histogram"):
            latest[(row["test"], row["metric"], tuple(sorted(row.get("labels", {}).items())))] = row
    return "".join(
        f"<figure><figcaption>{escape(_name(row['metric']))} of {escape(row['test'].rsplit('::', 1)[-1])}"
        f"{escape(_where(row.get('labels', {})))} ({_count(row['value'])} events)</figcaption>{chart(row['histogram'])}</figure>"
        for row in latest.values()
    )


def _where(labels: dict) -> str:
    """`` on server, node aks-server-0``: where a cluster's histogram was taken; nothing on the local target."""
    parts = [labels["role"]] if "role" in labels else []
    parts += [f"node {labels['node']}"] if "node" in labels else []
    return f" on {', '.join(parts)}" if parts else ""


def chart(histogram: dict) -> str:
    """Bars of counts over buckets (powers of two): one bar per bucket, its range below it."""
    buckets, unit = histogram["buckets"], histogram["unit"]
    if not buckets:
        return '<p class="empty">no events in the window</p>'
    highest = max(count for _, _, count in buckets) or 1
    band = (WIDTH - LEFT - RIGHT) / len(buckets)
    bottom = HEIGHT - BOTTOM
    parts = [
        f'<line class="axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{bottom}" y2="{bottom}"/>',
        f'<text class="tick" x="{LEFT - 6}" y="{TOP + 4}" text-anchor="end">{_count(highest)}</text>',
        f'<text class="tick" x="{LEFT - 6}" y="{bottom + 4}" text-anchor="end">0</text>',
    ]
    for index, (low, high, count) in enumerate(buckets):
        height = (bottom - TOP) * count / highest
        x = LEFT + band * index
        title = f"{_bound(low)}–{_bound(high)} {unit}: {count}"
        parts.append(
            f'<rect class="bar" x="{x + 1:.1f}" y="{bottom - height:.1f}" width="{max(band - 2, 1):.1f}"'
            f' height="{height:.1f}"><title>{escape(title)}</title></rect>'
        )
        center = x + band / 2
        parts.append(
            f'<text class="category" transform="translate({center:.1f},{bottom + 12}) rotate(-40)"'
            f' text-anchor="end">{escape(_bound(low))}</text>'
        )
    parts.append(
        f'<text class="unit" x="{(LEFT + WIDTH - RIGHT) / 2:.1f}" y="{HEIGHT - 4}" text-anchor="middle">'
        f"{escape(unit)} (bucket's lower bound)</text>"
    )
    return f'<svg class="histogram" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" xmlns="http://www.w3.org/2000/svg">{"".join(parts)}</svg>'


def _name(metric: str) -> str:
    return metric.removesuffix("_count").replace("_", " ")


def _bound(value: float) -> str:
    for size, suffix in ((2**30, "G"), (2**20, "M"), (2**10, "K")):
        if value >= size:
            return f"{value / size:g}{suffix}"
    return f"{value:g}"


def _count(value: float) -> str:
    return f"{value:,.0f}"
