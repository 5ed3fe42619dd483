"""A window of the programs: the difference of two printouts of their cumulative maps, as samples."""

from __future__ import annotations

from pytest_telescope.measure.kernel.programs import PROGRAMS, STATS
from pytest_telescope.samples import Sample


def window(names: tuple[str, ...], before: dict, after: dict, labels: dict[str, str]) -> list[Sample]:
    """The samples of what happened between two snapshots: per histogram its percentiles, max and
    count (its buckets ride on the count sample), per count the count."""
    samples = []
    for name in names:
        program = PROGRAMS[name]
        if not program.histogram:
            samples.append(Sample(name, float(after.get(name, 0) - before.get(name, 0)), program.unit, dict(labels)))
            continue
        buckets = difference(before.get(name, []), after.get(name, []))
        total = sum(count for _, _, count in buckets)
        if total:
            for stat in STATS:
                samples.append(Sample(f"{name}_{stat}", statistic(buckets, stat), program.unit, dict(labels)))
        histogram = {"unit": program.unit, "buckets": [list(bucket) for bucket in buckets]}
        samples.append(Sample(f"{name}_count", float(total), "count", dict(labels), histogram=histogram))
    return samples


def difference(before: list[dict], after: list[dict]) -> list[tuple[int, int, int]]:
    """Buckets (low, high, count) of ``after`` minus ``before``, ends without counts trimmed."""
    earlier = {(b["min"], b.get("max", b["min"])): b["count"] for b in before}
    buckets = [
        (b["min"], b.get("max", b["min"]), b["count"] - earlier.get((b["min"], b.get("max", b["min"])), 0))
        for b in after
    ]
    counted = [i for i, (_, _, count) in enumerate(buckets) if count]
    return buckets[counted[0] : counted[-1] + 1] if counted else []


def statistic(buckets: list[tuple[int, int, int]], stat: str) -> float:
    """A percentile, interpolated linearly inside its bucket, or the max: the top of the highest
    bucket with a count. Either is exact to the bucket: powers of two wide."""
    if stat == "max":
        return float(buckets[-1][1] + 1)
    wanted = float(stat.removeprefix("p")) / 100 * sum(count for _, _, count in buckets)
    seen = 0
    for low, high, count in buckets:
        if count and seen + count >= wanted:
            return low + (high + 1 - low) * (wanted - seen) / count
        seen += count
    return float(buckets[-1][1] + 1)
