"""benchmarks/diagnostics/: one-off diagnostics, each end to end on a small slice (slow: not in CI).

Their records (docs/anomaly_mode.json, docs/eval_determinism.md, docs/interest_share.json) stay
where the docs quote them; how the report reads anomaly_mode.json is tested in test_benchmarks.py.
"""

import json
import math
import subprocess
import sys

import pytest

from conftest import benchmark_command, benchmark_env, scratch_env


@pytest.mark.slow
def test_eval_determinism_benchmark_shows_the_fixed_draw_is_repeatable(tmp_path):
    out = tmp_path / "determinism.md"
    done = subprocess.run(
        benchmark_command("diagnostics.eval_determinism", "--quick", "--out", str(out)),
        cwd=tmp_path, capture_output=True, text=True, timeout=900, env=benchmark_env(),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "[determinism] fresh evaluation 2/2" in done.stdout  # progress is shown
    cells = [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in out.read_text().splitlines()
        if line.startswith(("| fixed |", "| fresh |"))
    ]
    metric_rows = [row for row in cells if len(row) == 5]  # mode, split, 3 metrics
    assert len(metric_rows) == 4
    for mode, split, *values in metric_rows:
        means = [float(value.split("±")[0]) for value in values]
        assert all(math.isfinite(mean) and 0 <= mean <= 1 for mean in means), (mode, split)
        if mode == "fixed":  # the same model, evaluated twice: identical numbers
            assert all(value.endswith("± 0.0000") for value in values), (split, values)
    changed = {row[0]: float(row[1].rstrip("%")) for row in cells if len(row) == 3}
    assert changed["fixed"] == 0.0
    assert changed["fresh"] > 0.0


@pytest.mark.slow
def test_anomaly_cost_times_both_modes_from_the_same_weights(tmp_path):
    out = tmp_path / "anomaly_mode.json"
    subprocess.run(benchmark_command("diagnostics.anomaly_cost", "--models", "GRU4Rec", "--batches", "2",
                                     "--out", str(out)), check=True, cwd=tmp_path, timeout=600, env=benchmark_env())
    record = json.loads(out.read_text())
    (row,) = record["models"]
    assert row["model"] == "GRU4Rec" and row["batches"] == 2
    assert row["seconds_off"] > 0 and row["seconds_on"] > 0 and math.isfinite(row["ratio"])
    # anomaly mode records stacks but must not change the arithmetic
    assert row["losses_identical"]
    assert record["environment"]["torch"] and "--batches 2" in record["command"]


@pytest.mark.slow
def test_interest_share_accounts_for_every_top_slot_on_validation(tmp_path):
    """benchmarks/diagnostics/interest_share.py: its serving-rule recall is the trainer's best
    validation recall, the slot shares are fractions, and the short-term figures exist only for a row with
    a short-term interest."""
    out = tmp_path / "share.json"
    subprocess.run([sys.executable, "-m", "recbole_mind.data.synthetic", str(tmp_path / "data"), "--name", "tiny",
                    "--users", "60", "--items", "100", "--interactions", "1500"], check=True, cwd=tmp_path, timeout=300)
    script = benchmark_command("diagnostics.interest_share")
    printed = subprocess.run([*script, "--rows", "MIND preset L=5", "MIND", "--dataset", "tiny",
                              "--data_path", "data", "--epochs", "1", "--out", str(out)],
                             check=True, cwd=tmp_path, timeout=900, env=scratch_env(tmp_path),
                             capture_output=True, text=True).stdout
    records = {record["row"]: record for record in json.loads(out.read_text())}
    table = [line for line in printed.splitlines() if line.startswith("| MIND")]
    assert len(table) == 2 and table[1].startswith("| MIND | tiny | 2020 | 50 |")
    assert table[1].count("| - ") == 4  # the paper's MIND has no short-term interest: its four columns are empty
    assert set(records) == {"MIND preset L=5", "MIND"}
    for record in records.values():
        assert record["validation_users"] == 60 and record["mismatched_targets"] == 0
        assert record["recall"] == pytest.approx(record["best_valid"]["recall@50"], abs=1e-4)
        assert 0 <= record["top_in_window"] <= record["top_in_history"] <= 1
    preset = records["MIND preset L=5"]
    assert 0 <= preset["top_won_by_short_term"] <= 1 and 0 <= preset["hits_won_by_short_term"] <= 1
    assert 0 <= preset["recall_short_term_alone"] <= 1 and 0 <= preset["recall_routed_alone"] <= 1
    assert "top_won_by_short_term" not in records["MIND"]
    assert not list((tmp_path / "scratch").glob("interest_share_*"))  # the checkpoint folder is removed
    result = subprocess.run([*script, "--rows", "SASRec"], capture_output=True, text=True,
                            cwd=tmp_path, timeout=300, env=benchmark_env())
    assert result.returncode == 2 and "not MIND rows: ['SASRec']" in result.stderr
