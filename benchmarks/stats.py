"""The one noise rule behind every verdict of the benchmark and the tuning grids.

Two rows ``a`` and ``b`` (a configuration or model each) hold one value of a metric per seed.

**Paired** when they share at least two seeds (a seed fixes the data split, and under the
multi-target protocol the held-out users, for both rows): over the n shared seeds, take the
per-seed differences ``a - b``; their mean is the difference, and its standard error is the
differences' sample standard deviation divided by sqrt(n). Seeds only one row ran are left out.

**Unpaired** otherwise, when each row has at least two seeds: the difference is the difference
of the two means, and its standard error sqrt(var_a / n_a + var_b / n_b) (Welch's; sample
variances).

``a`` is **ahead** of ``b`` when the difference exceeds K = 2 standard errors, **behind** when
it is below -2 standard errors, and **level** otherwise. Swapping ``a`` and ``b`` swaps ahead
and behind. A row with a single seed has no spread to judge by, so no verdict is given
(``ValueError``); neither is one for NaN or infinite values.

Why K = 2 standard errors of the mean difference: it is the usual two-standard-error band
(about 95% under a normal approximation), and it judges the mean difference by how much that
mean varies, not by how much one seed varies, so a deficit seen on every seed with a small
spread (-.0385 ± .0059 over 3 seeds: 11 standard errors) is **behind**, never level. With 3
seeds the t distribution's heavier tails make the band about an 82% one: the rule says which way
the seeds point beyond their spread, it does not certify significance, and a "level" is an
absence of evidence, not evidence of equality.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Literal, Mapping, Sequence

K = 2.0  # standard errors a difference must exceed to be ahead or behind
MIN_SEEDS = 2  # fewer seeds give no spread to judge a difference by

Verdict = Literal["ahead", "level", "behind"]


@dataclass(frozen=True)
class Comparison:
    """``a - b`` under the noise rule. ``spread`` is the standard deviation of the per-seed
    differences (paired) or of neither (unpaired: None); ``higher`` how many shared seeds had
    ``a`` above ``b`` (paired only)."""

    difference: float
    standard_error: float
    seeds: int  # paired: shared seeds; unpaired: the smaller of the two rows' counts
    paired: bool
    verdict: Verdict
    spread: float | None = None
    higher: int | None = None


def verdict(difference: float, standard_error: float, k: float = K) -> Verdict:
    """ahead / level / behind of a difference against ``k`` of its standard errors."""
    if difference > k * standard_error:
        return "ahead"
    if difference < -k * standard_error:
        return "behind"
    return "level"


def _checked(values: Mapping[int, float], name: str) -> dict[int, float]:
    for seed, value in values.items():
        if not math.isfinite(value):
            raise ValueError(f"row {name}, seed {seed}: the value is {value}; the noise rule needs a finite "
                             "metric for every seed (drop the seed or rerun it)")
    return dict(values)


def paired(differences: Sequence[float], k: float = K) -> Comparison:
    """The paired rule on per-seed differences ``a - b`` (at least two)."""
    n = len(differences)
    mean, spread = statistics.mean(differences), statistics.stdev(differences)
    standard_error = spread / math.sqrt(n)
    higher = sum(difference > 0 for difference in differences)
    return Comparison(mean, standard_error, n, True, verdict(mean, standard_error, k), spread, higher)


def unpaired(a: Sequence[float], b: Sequence[float], k: float = K) -> Comparison:
    """The unpaired (Welch) rule on two rows' values (at least two each)."""
    difference = statistics.mean(a) - statistics.mean(b)
    standard_error = math.sqrt(statistics.variance(a) / len(a) + statistics.variance(b) / len(b))
    return Comparison(difference, standard_error, min(len(a), len(b)), False, verdict(difference, standard_error, k))


def has_verdict(a: Mapping[int, object], b: Mapping[int, object]) -> bool:
    """Whether the rule can judge two rows of ``{seed: value}``: at least two shared seeds
    (paired), or at least two seeds in each (unpaired)."""
    return len(set(a) & set(b)) >= MIN_SEEDS or min(len(a), len(b)) >= MIN_SEEDS


def compare_seeds(a: Mapping[int, float], b: Mapping[int, float], k: float = K) -> Comparison:
    """``a - b`` of two rows given as ``{seed: value}``: paired on their shared seeds when they
    share at least two, unpaired otherwise. ``ValueError`` when a value is not finite or the
    rows have too few seeds for a verdict (:func:`has_verdict`)."""
    a, b = _checked(a, "a"), _checked(b, "b")
    shared = sorted(set(a) & set(b))
    if len(shared) >= MIN_SEEDS:
        return paired([a[seed] - b[seed] for seed in shared], k)
    if not has_verdict(a, b):
        raise ValueError(f"rows of {len(a)} and {len(b)} seeds ({len(shared)} shared): the noise rule needs "
                         f"{MIN_SEEDS} shared seeds, or {MIN_SEEDS} seeds in each row (run more seeds for a verdict)")
    return unpaired(list(a.values()), list(b.values()), k)


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
