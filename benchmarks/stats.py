"""The one noise rule behind every verdict of the benchmark and the tuning grids.

Two rows ``a`` and ``b`` hold one value of a metric per seed. **Paired** when they share at least
two seeds: a t-test on the per-seed differences ``a - b`` (n - 1 degrees of freedom); seeds
only one row ran are left out. **Unpaired** otherwise, when each row has two seeds: Welch's
t-test. ``a`` is **ahead** when t exceeds the two-sided 95% critical value of Student's t (12.71
at 2 seeds, 4.30 at 3, 2.78 at 5), **behind** below minus it, **level** otherwise; a single seed,
NaN or infinite values get no verdict (``ValueError``), and identical differences are judged by
their sign. A t-test keeps the rate of false "ahead"/"behind" at 5% whatever the seeds (two
standard errors, the rule before, let one in five through at 3 seeds); "level" is an absence of
evidence, not evidence of equality.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Literal, Mapping, Sequence

from scipy.stats import t as student_t

CONFIDENCE = 0.95  # two-sided
MIN_SEEDS = 2  # fewer seeds give no spread to judge a difference by

Verdict = Literal["ahead", "level", "behind"]


@dataclass(frozen=True)
class Comparison:
    """``a - b`` under the noise rule. ``spread`` is the standard deviation of the per-seed
    differences (paired) or of neither (unpaired: None); ``higher`` how many shared seeds had
    ``a`` above ``b`` (paired only); ``t`` the statistic, ``critical`` the value it was judged
    against, ``df`` its degrees of freedom."""

    difference: float
    standard_error: float
    seeds: int  # paired: shared seeds; unpaired: the smaller of the two rows' counts
    paired: bool
    verdict: Verdict
    spread: float | None = None
    higher: int | None = None
    t: float = 0.0
    critical: float = 0.0
    df: float = 0.0


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for one value, NaN for none)."""
    if not values:
        return math.nan, math.nan
    return statistics.mean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def critical_value(df: float) -> float:
    """The two-sided ``CONFIDENCE`` critical value of Student's t with ``df`` degrees of freedom."""
    return float(student_t.ppf(1 - (1 - CONFIDENCE) / 2, df))


def t_statistic(difference: float, standard_error: float) -> float:
    if standard_error > 0:
        return difference / standard_error
    return math.copysign(math.inf, difference) if difference else 0.0


def verdict(t: float, critical: float) -> Verdict:
    """ahead / level / behind of a t statistic against its critical value."""
    if t > critical:
        return "ahead"
    if t < -critical:
        return "behind"
    return "level"


def _checked(values: Mapping[int, float], name: str) -> dict[int, float]:
    for seed, value in values.items():
        if not math.isfinite(value):
            raise ValueError(f"row {name}, seed {seed}: the value is {value}; the noise rule needs a finite "
                             "metric for every seed (drop the seed or rerun it)")
    return dict(values)


def paired(differences: Sequence[float]) -> Comparison:
    """The paired t rule on per-seed differences ``a - b`` (at least two)."""
    n = len(differences)
    mean, spread = statistics.mean(differences), statistics.stdev(differences)
    standard_error = spread / math.sqrt(n)
    higher = sum(difference > 0 for difference in differences)
    t, df = t_statistic(mean, standard_error), n - 1
    critical = critical_value(df)
    return Comparison(mean, standard_error, n, True, verdict(t, critical), spread, higher, t, critical, df)


def welch_df(a: Sequence[float], b: Sequence[float]) -> float:
    """Welch-Satterthwaite degrees of freedom (the smaller row's n - 1 when both spreads are 0)."""
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    if va + vb == 0:
        return float(min(len(a), len(b)) - 1)
    return (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))


def unpaired(a: Sequence[float], b: Sequence[float]) -> Comparison:
    """The unpaired (Welch's t) rule on two rows' values (at least two each)."""
    difference = statistics.mean(a) - statistics.mean(b)
    standard_error = math.sqrt(statistics.variance(a) / len(a) + statistics.variance(b) / len(b))
    t, df = t_statistic(difference, standard_error), welch_df(a, b)
    critical = critical_value(df)
    return Comparison(difference, standard_error, min(len(a), len(b)), False, verdict(t, critical),
                      t=t, critical=critical, df=df)


def has_verdict(a: Mapping[int, object], b: Mapping[int, object]) -> bool:
    """Whether the rule can judge two rows of ``{seed: value}``: at least two shared seeds
    (paired), or at least two seeds in each (unpaired)."""
    return len(set(a) & set(b)) >= MIN_SEEDS or min(len(a), len(b)) >= MIN_SEEDS


def compare_seeds(a: Mapping[int, float], b: Mapping[int, float]) -> Comparison:
    """``a - b`` of two rows given as ``{seed: value}``: paired on their shared seeds when they
    share at least two, unpaired otherwise. ``ValueError`` when a value is not finite or the
    rows have too few seeds for a verdict (:func:`has_verdict`)."""
    a, b = _checked(a, "a"), _checked(b, "b")
    shared = sorted(set(a) & set(b))
    if len(shared) >= MIN_SEEDS:
        return paired([a[seed] - b[seed] for seed in shared])
    if not has_verdict(a, b):
        raise ValueError(f"rows of {len(a)} and {len(b)} seeds ({len(shared)} shared): the noise rule needs "
                         f"{MIN_SEEDS} shared seeds, or {MIN_SEEDS} seeds in each row (run more seeds for a verdict)")
    return unpaired(list(a.values()), list(b.values()))


def describe(comparison: Comparison) -> str:
    """``+0.0141 ± 0.0053 (3/3 seeds higher): ahead`` (paired: mean ± std of the per-seed
    differences) or ``+0.0141, se 0.0040, unpaired: ahead``."""
    if comparison.paired:
        return (f"{comparison.difference:+.4f} ± {comparison.spread:.4f} "
                f"({comparison.higher}/{comparison.seeds} seeds higher): {comparison.verdict}")
    return f"{comparison.difference:+.4f}, se {comparison.standard_error:.4f}, unpaired: {comparison.verdict}"


def target_verdict(comparison: Comparison, ratio: float, goal: float) -> str:
    """A quality target "row >= goal x baseline": **met** when the row is ahead under the noise
    rule and its ratio of means reaches the goal, **level** when the rule calls the rows level,
    **NOT met** otherwise (behind, or ahead by less than the goal asks)."""
    if comparison.verdict == "level":
        return "level"
    return "met" if comparison.verdict == "ahead" and ratio >= goal else "NOT met"
