"""The frontier's verdicts on hand-made records (benchmarks/frontier.py)."""

import pytest

from benchmarks import frontier


def record(row, seed, points):
    """``points``: [(lambda, recall, diversity, coverage), ...]; validation = test here."""
    def metrics(recall, diversity, coverage):
        return {"recall@50": recall, "ndcg@50": recall / 2, "diversity@50": diversity,
                "categorycoverage@50": coverage}

    return {"row": row, "dataset": "ml-100k", "seed": seed, "n": 50, "epochs": 1, "category_field": "class",
            "points": [{"lambda": lam, "valid": metrics(r, d, c), "test": metrics(r, d, c),
                        "valid_interest_share": None, "test_interest_share": None}
                       for lam, r, d, c in points]}


def test_a_frontier_is_read_between_its_points_and_not_below_its_lowest_recall():
    points = [{"recall": 0.4, "diversity": 0.8}, {"recall": 0.2, "diversity": 0.9}]
    assert frontier.value_at_recall(points, 0.3, "diversity") == pytest.approx(0.85)
    assert frontier.value_at_recall(points, 0.5, "diversity") == pytest.approx(0.8)  # beyond: its best recall
    assert frontier.value_at_recall(points, 0.1, "diversity") is None


def rows(shift_diversity, shift_coverage, noise=(0.0, 0.001, -0.001)):
    records = []
    for seed, wobble in zip((1, 2, 3), noise):
        records.append(record("MIND preset K=1", seed, [(0.0, 0.40, 0.80, 0.90), (1.0, 0.20, 0.90, 0.95)]))
        records.append(record("MIND preset", seed, [
            (0.0, 0.40, 0.80, 0.90),
            (1.0, 0.30, 0.85 + shift_diversity + wobble, 0.925 + shift_coverage + wobble),
        ]))
    return records


def test_a_row_is_above_another_only_when_ahead_on_diversity_and_coverage_at_the_same_recall():
    # K=1's frontier at recall .30: diversity .85, coverage .925
    above = frontier.dominates(rows(0.02, 0.02), "MIND preset", "MIND preset K=1", "test", 1.0)
    assert above["above"] and above["diversity"].verdict == above["coverage"].verdict == "ahead"
    only_diversity = frontier.dominates(rows(0.02, 0.0), "MIND preset", "MIND preset K=1", "test", 1.0)
    assert not only_diversity["above"] and only_diversity["coverage"].verdict == "level"
    assert not frontier.dominates(rows(0.0, 0.0), "MIND preset", "MIND preset K=1", "test", 1.0)["above"]


def test_lambda_is_chosen_on_validation_and_none_when_no_point_is_above():
    assert frontier.choose_lambda(rows(0.02, 0.02), "MIND preset", "MIND preset K=1") == 1.0
    assert frontier.choose_lambda(rows(-0.02, 0.02), "MIND preset", "MIND preset K=1") is None


def test_the_report_states_each_verdict_and_writes_its_plot(tmp_path):
    import json

    log = tmp_path / "runs.jsonl"
    log.write_text("".join(json.dumps(entry) + "\n" for entry in rows(-0.02, 0.02)))
    text = frontier.report(str(log), str(tmp_path / "frontier.md"))
    assert "- MIND preset against MIND preset K=1: on validation no lambda > 0" in text and "target NOT met" in text
    assert (tmp_path / "frontier_ml-100k.png").stat().st_size > 0
    page = (tmp_path / "frontier.md").read_text()
    (tmp_path / "frontier.md").write_text(page.replace("# Recall", "Prose kept.\n\n# Recall"))
    assert frontier.report(str(log), str(tmp_path / "frontier.md")).startswith("Prose kept.")  # only the block is rewritten
    assert "| MIND preset | 1 | 3 | 0.3000 ± 0.0000 |" in text
