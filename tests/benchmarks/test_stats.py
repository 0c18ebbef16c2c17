"""The one noise rule (benchmarks/stats.py), on hand-computed rows."""

import math
import os

import pytest



from benchmarks import stats


def test_paired_rows_are_judged_by_a_paired_t_test_at_95_percent():
    # differences 0.19, 0.2, 0.21: mean 0.2, std 0.01, se 0.00577 -> t = 34.6 > 4.30 (2 df)
    ahead = stats.compare_seeds({1: 0.69, 2: 0.7, 3: 0.71}, {1: 0.5, 2: 0.5, 3: 0.5})
    assert ahead.paired and ahead.verdict == "ahead" and (ahead.seeds, ahead.higher, ahead.df) == (3, 3, 2)
    assert ahead.difference == pytest.approx(0.2) and ahead.spread == pytest.approx(0.01)
    assert ahead.standard_error == pytest.approx(0.01 / math.sqrt(3))
    assert ahead.t == pytest.approx(0.2 / (0.01 / math.sqrt(3))) and ahead.critical == pytest.approx(4.3027, abs=1e-4)
    # differences 0.1, 0.2, 0.3: t = 3.46, beyond two standard errors but not beyond 4.30: level
    level = stats.compare_seeds({1: 0.6, 2: 0.7, 3: 0.8}, {1: 0.5, 2: 0.5, 3: 0.5})
    assert level.verdict == "level" and level.t == pytest.approx(2 * math.sqrt(3))


@pytest.mark.parametrize("seeds,critical", [(2, 12.706), (3, 4.303), (4, 3.182), (5, 2.776), (10, 2.262)])
def test_the_critical_value_is_students_t_with_n_minus_1_degrees_of_freedom(seeds, critical):
    differences = [0.01 * (i + 1) for i in range(seeds)]
    assert stats.paired(differences).critical == pytest.approx(critical, abs=1e-3)


def test_the_rule_is_symmetric():
    a, b = {1: 0.69, 2: 0.7, 3: 0.71}, {1: 0.5, 2: 0.5, 3: 0.5}
    forward, backward = stats.compare_seeds(a, b), stats.compare_seeds(b, a)
    assert (forward.verdict, backward.verdict) == ("ahead", "behind")
    assert backward.difference == pytest.approx(-forward.difference)
    assert backward.standard_error == pytest.approx(forward.standard_error)


def test_a_deficit_on_every_seed_with_a_small_spread_is_behind_not_level():
    # issue 39: multi-target MIND against tuned SASRec, -.0385 ± .0059 over 3 seeds (0/3 higher): t = -11.3
    differences = [-0.0385 - 0.0059, -0.0385, -0.0385 + 0.0059]
    comparison = stats.paired(differences)
    assert comparison.spread == pytest.approx(0.0059) and comparison.higher == 0
    assert comparison.verdict == "behind"


def test_exactly_the_critical_value_is_still_level():
    assert stats.verdict(4.3, 4.3) == "level" and stats.verdict(-4.3, 4.3) == "level"
    assert stats.verdict(4.3001, 4.3) == "ahead" and stats.verdict(-4.3001, 4.3) == "behind"


def test_rows_without_two_shared_seeds_are_compared_by_welchs_t():
    # means 0.4 and 0.15; variances 0.02 and 0.005; se sqrt(0.02/2 + 0.005/2) = 0.1118, t = 2.24
    # Welch df = 0.0125^2 / (0.01^2 + 0.0025^2) = 1.47: critical about 7.3, so level
    a, b = {1: 0.3, 2: 0.5}, {3: 0.1, 4: 0.2}
    level = stats.compare_seeds(a, b)
    assert not level.paired and level.spread is None and level.higher is None
    assert level.difference == pytest.approx(0.25) and level.standard_error == pytest.approx(math.sqrt(0.0125))
    assert level.df == pytest.approx(0.0125 ** 2 / (0.01 ** 2 + 0.0025 ** 2)) and level.verdict == "level"
    # five seeds each, tight: ahead, and behind the other way round
    many_a, many_b = {s: 0.5 + 0.01 * s for s in range(5)}, {s + 10: 0.3 + 0.01 * s for s in range(5)}
    assert stats.compare_seeds(many_a, many_b).verdict == "ahead"
    assert stats.compare_seeds(many_b, many_a).verdict == "behind"
    assert stats.compare_seeds(many_a, many_b).df == pytest.approx(8)
    # one shared seed is not a pairing: the rows are compared whole
    assert not stats.compare_seeds(a, {2: 0.1, 3: 0.2}).paired


def test_zero_spread_calls_any_difference_and_equal_rows_level():
    # binary-exact values: every per-seed difference is exactly 0.25
    same_gain = stats.compare_seeds({1: 0.75, 2: 0.5}, {1: 0.5, 2: 0.25})
    assert same_gain.spread == 0.0 and same_gain.verdict == "ahead"
    assert stats.compare_seeds({1: 0.5, 2: 0.25}, {1: 0.5, 2: 0.25}).verdict == "level"


def test_one_seed_gives_no_verdict():
    with pytest.raises(ValueError, match="2 shared seeds, or 2 seeds in each row"):
        stats.compare_seeds({2020: 0.3}, {2020: 0.2, 2021: 0.3})
    assert not stats.has_verdict({2020: 0.3}, {2020: 0.2, 2021: 0.3})
    assert stats.has_verdict({1: 0.3, 2: 0.4}, {1: 0.2, 2: 0.3})


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_a_value_that_is_not_finite_is_refused_by_seed(bad):
    with pytest.raises(ValueError, match=r"row a, seed 2021: the value is (nan|inf)"):
        stats.compare_seeds({2020: 0.3, 2021: bad}, {2020: 0.2, 2021: 0.3})


def test_describe_shows_the_numbers_the_verdict_came_from():
    paired = stats.compare_seeds({1: 0.69, 2: 0.7, 3: 0.71}, {1: 0.5, 2: 0.5, 3: 0.5})
    assert stats.describe(paired) == "+0.2000 ± 0.0100 (3/3 seeds higher): ahead"
    unpaired = stats.compare_seeds({1: 0.3, 2: 0.5}, {3: 0.1, 4: 0.2})
    assert stats.describe(unpaired) == "+0.2500, se 0.1118, unpaired: level"


def test_a_quality_target_is_met_only_ahead_and_at_its_goal():
    ahead = stats.compare_seeds({1: 0.69, 2: 0.7, 3: 0.71}, {1: 0.5, 2: 0.5, 3: 0.5})
    level = stats.compare_seeds({1: 0.6, 2: 0.4, 3: 0.8}, {1: 0.5, 2: 0.5, 3: 0.5})
    behind = stats.compare_seeds({1: 0.5, 2: 0.5, 3: 0.5}, {1: 0.69, 2: 0.7, 3: 0.71})
    assert stats.target_verdict(ahead, 1.4, 1.0) == "met"
    assert stats.target_verdict(ahead, 1.4, 1.5) == "NOT met"  # ahead, but short of the goal
    assert stats.target_verdict(level, 1.2, 1.0) == "level"
    assert stats.target_verdict(behind, 0.7, 1.0) == "NOT met"


def write_log(path, records):
    import json

    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return str(path)


def trial(dataset, label, seed, score):
    return {"dataset": dataset, "label": label, "seed": seed, "valid": {"ndcg@10": score, "recall@50": score}}


def test_paired_table_gives_the_rules_verdict_and_shows_one_seed_rows_on_request(tmp_path):
    from benchmarks.validation_grid import paired_table

    log = write_log(tmp_path / "log.jsonl", [
        trial("d", "a", 1, 0.3), trial("d", "a", 2, 0.5), trial("d", "a", 3, 0.4),
        trial("d", "b", 1, 0.2), trial("d", "b", 2, 0.39), trial("d", "b", 3, 0.29),
        trial("d", "screen", 1, 0.25),
    ])
    # differences 0.1, 0.11, 0.11: mean 0.1067, std 0.0058, se 0.0033 -> t = 32 > 4.30
    rows = paired_table([log], [("a", "b"), ("screen", "b")]).splitlines()[2:]
    cell = "+0.1067 ± 0.0058 (3/3 seeds higher): ahead"
    assert rows == [f"| d | a - b | {cell} | {cell} |"]  # the one-seed screen is left out
    rows = paired_table([log], [("screen", "b")], one_seed_rows=True).splitlines()[2:]
    assert rows == ["| d | screen - b | +0.0500 (seed 1 only): no verdict | +0.0500 (seed 1 only): no verdict |"]
