"""The tuning pages' verdicts are generated from the trial records (benchmarks/tuning_verdicts.py)."""

import json

import pytest

from benchmarks import tuning_verdicts
from benchmarks.tuning_verdicts import Part, RemovedLever


def committed_tuning() -> str:
    """docs/tuning.md and docs/tuning_archive.md, joined: a block may live in either."""
    return "".join(open(page, encoding="utf-8").read() for page in tuning_verdicts.PAGES)


def test_committed_tuning_pages_hold_every_verdict_block_as_its_records_give_it():
    text, bodies = committed_tuning(), tuning_verdicts.generated()
    assert tuning_verdicts.missing_blocks(text, bodies) == []
    assert tuning_verdicts.regenerate(text, bodies) == text, "run: python -m benchmarks.tuning_verdicts --write"
    assert "<!-- verdicts: removed-levers -->" in open(tuning_verdicts.PAGES[0], encoding="utf-8").read()


def test_the_check_fails_on_a_stale_block_and_write_puts_it_back(tmp_path, monkeypatch, capsys):
    committed = committed_tuning()
    start = committed.index("<!-- verdicts: grid-26 -->")
    page = tmp_path / "tuning.md"
    page.write_text(committed[:start] + committed[start:].replace("seeds higher): behind", "seeds higher): level", 1),
                    encoding="utf-8")
    monkeypatch.setattr(tuning_verdicts, "PAGES", [str(page)])
    assert tuning_verdicts.main([]) == 1 and "out of date" in capsys.readouterr().out
    assert tuning_verdicts.main(["--write"]) == 0 and page.read_text(encoding="utf-8") == committed
    assert tuning_verdicts.main([]) == 0


def test_a_hand_edited_verdict_is_put_back():
    text, bodies = committed_tuning(), tuning_verdicts.generated()
    start = text.index("<!-- verdicts: grid-26 -->")
    edited = text[:start] + text[start:].replace("(0/3 seeds higher): behind", "(0/3 seeds higher): level", 1)
    assert edited != text
    assert tuning_verdicts.regenerate(edited, bodies) == text


def test_an_unknown_block_is_refused_by_name():
    with pytest.raises(KeyError, match="grid-99"):
        tuning_verdicts.regenerate("<!-- verdicts: grid-99 -->\n<!-- /verdicts: grid-99 -->", {"grid-1": ""})


def write_trials(folder, name, trials):
    folder.mkdir(exist_ok=True)
    lines = [json.dumps({"dataset": dataset, "label": label, "seed": seed, "valid": {"ndcg@10": n, "recall@50": r}})
             for dataset, label, seed, n, r in trials]
    (folder / name).write_text("\n".join(lines) + "\n")


def test_a_removed_levers_verdict_counts_what_the_rule_judges_and_skips_one_seed_screens(tmp_path):
    runs = tmp_path / "tuning_runs"
    write_trials(runs, "levers_d.jsonl", [
        # "lever" - "base" per seed: ndcg -0.02, -0.021, -0.02 (behind: t = -60); recall +0.1, -0.1, +0.3 (level)
        *[("d", "base", seed, 0.5, 0.5) for seed in (1, 2, 3)],
        ("d", "lever", 1, 0.48, 0.6), ("d", "lever", 2, 0.479, 0.4), ("d", "lever", 3, 0.48, 0.8),
        ("d", "screen", 1, 0.9, 0.9),  # one seed: no verdict, not counted
    ])
    parts = (Part("levers_*.jsonl", (("lever", "base"), ("screen", "base"))),)
    assert tuning_verdicts.summary(tuning_verdicts.judged(parts, str(runs))) == "behind on d ndcg@10; level on 1 of 2"
    screens = (Part("levers_*.jsonl", (("screen", "base"),)),)
    assert tuning_verdicts.summary(tuning_verdicts.judged(screens, str(runs))) == "one seed only: no verdict"


def test_every_removed_lever_names_its_commit_and_only_judges_points_the_records_hold():
    for lever in tuning_verdicts.REMOVED_LEVERS:
        assert isinstance(lever, RemovedLever) and len(lever.added) == 7, lever.key
        for part in lever.deciding:
            logs = tuning_verdicts.part_logs(part)
            assert logs, (lever.key, part.logs)
            labels = {label for _, label in tuning_verdicts.validation_grid.trials_by_point(logs)}
            assert {label for pair in part.pairs for label in pair} <= labels, lever.key  # no typo'd point


@pytest.mark.parametrize("name", [name for name, block in tuning_verdicts.GRIDS.items() if not isinstance(block, str)])
def test_every_pair_of_a_grid_block_is_found_in_the_records(name):
    for part in tuning_verdicts.GRIDS[name]:
        table = tuning_verdicts.validation_grid.paired_table(
            tuning_verdicts.part_logs(part), list(part.pairs), part.metrics, one_seed_rows=True, datasets=part.datasets)
        for a, b in part.pairs:
            assert f"| {a} - {b} |" in table, (name, a, b)  # a label the logs do not hold gives no row
