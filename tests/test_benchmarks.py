import math
import os
import subprocess
import sys

from conftest import REPO_ROOT

COMPARE = os.path.join(REPO_ROOT, "benchmarks", "compare.py")


def table_rows(report: str, section: str) -> dict[str, list[str]]:
    lines = []
    for line in report.split(f"## {section}\n", 1)[1].lstrip("\n").splitlines():
        if not line.startswith("|"):
            break
        lines.append(line)
    rows = {}
    for line in lines[2:]:  # skip header and rule
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows[cells[0]] = cells[1:]
    return rows


def test_quick_benchmark_writes_a_row_per_model_with_finite_numbers(tmp_path):
    done = subprocess.run(
        [sys.executable, COMPARE, "--quick", "--out_dir", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=1200,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "[compare] 7/7" in done.stdout  # progress is shown
    report = (tmp_path / "benchmarks.md").read_text()
    rows = table_rows(report, "ml-100k")
    assert set(rows) == {"MIND", "MIND K=1", "MIND L=50", "SASRec", "GRU4Rec", "SINE", "Pop"}
    for model, cells in rows.items():
        metrics = [float(cell.split("±")[0]) for cell in cells[1:9]]
        assert all(math.isfinite(value) and 0 <= value <= 1 for value in metrics), model
        assert float(cells[10].split("±")[0]) > 0, model  # seconds per epoch
        assert int(cells[12].replace(",", "")) > 0, model  # parameters
    assert "Targets" in report
    assert (tmp_path / "benchmarks.png").stat().st_size > 0
    assert len(list((tmp_path / "benchmark_runs_quick").glob("ml-100k_*.json"))) == 7

    # a second call reuses the finished runs instead of training again
    again = subprocess.run(
        [sys.executable, COMPARE, "--quick", "--models", "Pop", "--out_dir", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )
    assert again.returncode == 0 and "done earlier" in again.stdout


def test_scale_benchmark_writes_a_row_per_size_and_loss(tmp_path):
    out = tmp_path / "scale.md"
    done = subprocess.run(
        [sys.executable, os.path.join(REPO_ROOT, "benchmarks", "scale.py"), "--items", "500", "2000",
         "--interactions", "2000", "--users", "50", "--out", str(out)],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line for line in out.read_text().splitlines() if line.startswith("| 500") or line.startswith("| 2,000")]
    assert [row.split("|")[2].strip() for row in rows] == ["CE", "SSM", "SSM sparse"] * 2
    for row in rows:
        seconds, peak_rss = float(row.split("|")[3]), float(row.split("|")[5])
        assert seconds > 0 and peak_rss > 0
    # the whole catalogue is in the model, items nobody interacted with included
    assert [row.split("|")[7].strip() for row in rows] == ["500"] * 3 + ["2,000"] * 3


def test_retrieval_benchmark_writes_finite_rows_for_every_index(tmp_path):
    out = tmp_path / "retrieval.md"
    done = subprocess.run(
        [sys.executable, os.path.join(REPO_ROOT, "benchmarks", "retrieval.py"), "--sizes", "5000",
         "--users", "50", "--clusters", "100", "--skip_ml100k", "--out", str(out)],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line.split("|") for line in out.read_text().splitlines() if line.startswith("| 5,000")]
    assert [row[2].split()[0] for row in rows].count("HNSW") == 3 and len(rows) == 8
    assert sum("(default)" in row[2] for row in rows) == 2  # one setting of each approximate kind
    for row in rows:
        qps, recall, p50, p99 = float(row[5].replace(",", "")), float(row[7]), float(row[8]), float(row[9])
        assert qps > 0 and 0 <= recall <= 1 and 0 < p50 <= p99
    assert float(rows[0][7]) == 1.0  # the exact index against itself
    assert "Target (the `ivf` defaults: recall@50 >= .99 at >= 30x" in out.read_text()


def test_eval_determinism_benchmark_shows_the_fixed_draw_is_repeatable(tmp_path):
    out = tmp_path / "determinism.md"
    script = os.path.join(REPO_ROOT, "benchmarks", "eval_determinism.py")
    done = subprocess.run(
        [sys.executable, script, "--quick", "--out", str(out)],
        cwd=tmp_path, capture_output=True, text=True, timeout=900,
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
