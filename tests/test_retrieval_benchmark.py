"""benchmarks/retrieval.py: interleaved rounds, per-round ratios, the target verdict, the load
report, and a tiny end-to-end run (2,000 items, 20 users, 2 rounds)."""

import re
import subprocess
import sys

import numpy as np
import pytest

from benchmarks import retrieval
from benchmarks import retrieval_timing as timing
from conftest import benchmark_command, benchmark_env

IDLE, BUSY = (0.1, 0.2, 0.3), (1.4, 1.0, 0.8)


def test_rotation_puts_every_setting_first_once_over_as_many_rounds():
    settings = ["exact", "ivf", "hnsw"]
    orders = [timing.rotated(settings, r) for r in range(3)]
    assert orders == [["exact", "ivf", "hnsw"], ["ivf", "hnsw", "exact"], ["hnsw", "exact", "ivf"]]
    assert timing.rotated(settings, 4) == orders[1] and timing.rotated([], 2) == []


def test_each_round_times_every_setting_once_per_thread_count_in_rotated_order():
    first, second = (timing.round_schedule(["exact", "ivf"], [1, 2], r) for r in range(2))
    assert first == [(1, "exact"), (1, "ivf"), (2, "exact"), (2, "ivf")]
    assert second == [(2, "ivf"), (2, "exact"), (1, "ivf"), (1, "exact")]


def test_speedup_is_the_median_of_per_round_ratios_not_a_ratio_of_medians():
    seconds = {"exact": [1.0, 2.0, 1.5], "ivf": [0.1, 0.05, 0.5]}  # ratios 10, 40, 3
    ratios = timing.median_ratios(seconds, "exact")
    assert ratios == {"exact": 1.0, "ivf": pytest.approx(10.0)}
    assert np.median(seconds["exact"]) / np.median(seconds["ivf"]) == pytest.approx(15.0)  # what it is not
    with pytest.raises(ValueError):
        timing.median_ratios({"exact": [1.0, 2.0], "ivf": [0.1]}, "exact")
    assert timing.median_qps([2.0, 1.0, 4.0], 100) == 50.0


@pytest.mark.parametrize("measured, expected", [
    (timing.Measured(1.0, 31.0, 30.0, 9.9), "met"),
    (timing.Measured(0.989, 40.0, 40.0, 1.0), "NOT met"),  # recall
    (timing.Measured(1.0, 29.9, 40.0, 1.0), "NOT met"),  # 1 thread
    (timing.Measured(1.0, 40.0, 25.0, 1.0), "NOT met"),  # 2 threads
    (timing.Measured(1.0, 40.0, 40.0, 10.5), "NOT met"),  # p99
    (timing.Measured(1.0, float("nan"), 40.0, 1.0), "NOT met"),  # a thread count not measured
])
def test_target_verdict_from_the_numbers(measured, expected):
    assert timing.verdict(measured, IDLE) == expected


def test_target_verdict_is_not_valid_on_a_busy_machine_whatever_the_numbers():
    word = timing.verdict(timing.Measured(1.0, 50.0, 50.0, 1.0), BUSY)
    assert word.startswith("not valid") and "1.40 > 0.5" in word and word.endswith("as measured: met)")
    assert timing.verdict(timing.Measured(0.5, 50.0, 50.0, 1.0), (0.5, 0, 0)) == "NOT met"  # 0.5 is still idle


def test_load_line_and_load_section():
    assert timing.load_line("at start", (0.25, 0.5, 1.0), 2) == \
        "[retrieval] load at start: 0.25 0.50 1.00 (1/5/15 min), 2 CPUs"
    quiet = "\n".join(timing.load_lines(IDLE, [(0.3, 0, 0), (0.2, 0, 0), (0.6, 0, 0)], 2))
    assert "at start: 0.10 / 0.20 / 0.30 on 2 CPUs" in quiet and "min 0.20, max 0.60 over 3 rounds" in quiet
    assert "WARNING" not in quiet
    busy = "\n".join(timing.load_lines(BUSY, [(1.0, 0, 0)], 2))
    assert "**WARNING: machine not idle** (1-min load 1.40 > 0.5 at start)" in busy


def test_target_table_judges_each_default_and_the_sweep_lists_who_meets_it():
    def rows(label, kind, recall, x1, x2, p99):
        return [{"index": label, "kind": kind, "threads": t, "recall": recall, "x_exact": x,
                 "p99_ms": p99 if t == 1 else 99.0} for t, x in ((1, x1), (2, x2))]
    table = (rows("exact", "flat", 1.0, 1.0, 1.0, 50.0) + rows("IVF9 nprobe=2 (default)", "ivf", 1.0, 35.0, 31.0, 2.0)
             + rows("HNSW M=8 efSearch=16", "hnsw", 0.999, 40.0, 29.0, 1.0))
    defaults = "\n".join(timing.target_lines(1000, table, IDLE, sweep=False))
    assert "| 1,000 | IVF9 nprobe=2 (default) | 1.0000 | 35.0 | 31.0 | 2.00 | met |" in defaults
    assert "HNSW M=8" not in defaults and "| exact |" not in defaults
    swept = "\n".join(timing.target_lines(1000, table, IDLE, sweep=True))
    assert "| HNSW M=8 efSearch=16 | 0.9990 | 40.0 | 29.0 | 1.00 | NOT met |" in swept
    assert "at 1,000 items: IVF9 nprobe=2 (default)" in swept
    busy = "\n".join(timing.target_lines(1000, table, BUSY, sweep=True))
    assert "(not valid: the machine was not idle)" in busy and "| met |" not in busy


def test_the_diversity_column_times_servings_greedy_path_after_a_larger_search():
    vectors = np.eye(4, dtype=np.float32)
    calls = []

    def greedy(scores, positions, owners, users, n):
        calls.append(scores.shape)
        return [[]]

    index = retrieval.serving_index().build_index(vectors, "flat")
    latency = timing.user_latencies(index, vectors[:2], np.array([0, 0]), 1,
                                    retrieval.serving_index().merge_interest_results, (3, greedy))
    assert latency.merged.shape == latency.diverse.shape == (1,)
    assert calls == [(2, 3)]  # the user's two interest rows, 3 candidates each
    assert timing.user_latencies(index, vectors[:2], np.array([0, 0]), 1,
                                 retrieval.serving_index().merge_interest_results).diverse is None


def run_tiny(tmp_path, *extra: str) -> str:
    out = tmp_path / "retrieval.md"
    done = subprocess.run(
        benchmark_command("retrieval", "--sizes", "2000", "--users", "20", "--clusters", "50", "--rounds", "2",
                          "--skip_ml100k", "--out", str(out), *extra),
        cwd=tmp_path, capture_output=True, text=True, timeout=300, env=benchmark_env(),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert len(re.findall(r"\[retrieval\] load round \d/2: ", done.stdout)) == 2  # the load at every round
    return out.read_text()


def check_run_facts(report: str) -> None:
    for section in ("## Run", "## Approximate indexes at scale (synthetic)", "## Target"):
        assert f"\n{section}\n" in report, section
    assert "Command: `python -m benchmarks.retrieval --sizes 2000" in report and "Date: " in report
    assert "Versions: faiss " in report and "Faiss threads: 1, 2" in report and "2 interleaved rounds" in report
    start = float(re.search(r"Load \(os.getloadavg, 1/5/15 min\) at start: ([\d.]+)", report).group(1))
    assert re.search(r"1-min load at the start of each round: min [\d.]+, max [\d.]+ over 2 rounds", report)
    assert ("WARNING: machine not idle" in report) == (start > 0.5)


def test_default_run_end_to_end_writes_a_row_per_index_and_thread_count(tmp_path):
    report = run_tiny(tmp_path)
    check_run_facts(report)
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in report.splitlines()
            if line.startswith("| 2,000 |")]
    results, targets = rows[:6], rows[6:]
    # the defaults of serving/index.py: 2 sqrt(2000) = 89 IVF cells, capped at 2000 / 39 = 51
    assert [(row[1].split()[0], row[2]) for row in results] == [
        ("IndexFlatIP", "1"), ("IVF51", "1"), ("HNSW", "1"), ("IndexFlatIP", "2"), ("IVF51", "2"), ("HNSW", "2")]
    for row in results:
        qps, ratio, recall, p50, p99 = (float(row[i].replace(",", "")) for i in (5, 6, 7, 8, 9))
        assert qps > 0 and ratio > 0 and 0 <= recall <= 1 and 0 < p50 <= p99 and float(row[4]) >= 0
        assert float(row[10]) > 0  # with diversity: serving's lambda > 0 path
    assert float(results[0][6]) == 1.0 and float(results[0][7]) == 1.0  # the exact index against itself
    assert [row[1] for row in targets] == [results[1][1], results[2][1]]  # the two defaults are judged
    assert all(re.fullmatch(r"met|NOT met|not valid \(.*\)", row[-1]) for row in targets)


def test_sweep_end_to_end_times_the_grid_and_says_which_settings_meet_the_target(tmp_path):
    report = run_tiny(tmp_path, "--sweep")
    check_run_facts(report)
    labels = {line.split("|")[2].strip() for line in report.splitlines() if line.startswith("| 2,000 |")}
    # sqrt(2000) = 45 cells, 2 and 4 x sqrt(N) capped at 2000 / 39 = 51 cells; 4 nprobes; 2 M x 3 efSearch
    assert len([label for label in labels if label.startswith("IVF")]) == 8
    assert len([label for label in labels if label.startswith("HNSW")]) == 6
    assert "Settings meeting the target with 1 AND with 2 threads at 2,000 items" in report


def test_trained_vectors_from_an_export_are_timed_and_recorded(trained_mind, tmp_path):
    # issue 47: the indexes measured on vectors a trained model exported, not only synthetic clusters
    import json

    from recbole_mind.serving.export import load_vectors

    done = subprocess.run(
        [sys.executable, "-m", "recbole_mind.retrieval", "export", trained_mind[0], "--out",
         str(tmp_path / "vectors")], cwd=trained_mind[1], capture_output=True, text=True, timeout=300,
        env=benchmark_env())
    assert done.returncode == 0, done.stderr[-3000:]
    exported = load_vectors(str(tmp_path / "vectors"))
    out = tmp_path / "trained.md"
    done = subprocess.run(
        benchmark_command("retrieval", "--vectors", str(tmp_path / "vectors"), "--users", "20", "--rounds", "1",
                          "--threads", "1", "--skip_ml100k", "--out", str(out)),
        cwd=tmp_path, capture_output=True, text=True, timeout=300, env=benchmark_env())
    assert done.returncode == 0, done.stderr[-3000:]
    assert "## Approximate indexes at scale (trained vectors)" in out.read_text()
    record = json.loads((tmp_path / "trained.json").read_text())
    (size, result), = record["sizes"].items()
    assert int(size) == len(exported["item_vectors"])
    assert {row["kind"] for row in result["rows"]} == {"flat", "ivf", "hnsw"}
    assert all(0 <= row["recall"] <= 1 for row in result["rows"]) and record["vectors"] == str(tmp_path / "vectors")
