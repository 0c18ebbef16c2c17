import json
import math
import os
import subprocess
import sys

import pytest

from conftest import REPO_ROOT, benchmark_command, benchmark_env, scratch_env


def table_rows(report: str, section: str) -> dict[str, list[str]]:
    lines = []
    for line in report.split(f"## {section}\n", 1)[1].splitlines():
        if line.startswith("|"):
            lines.append(line)
        elif lines:  # the first table of the section ends
            break
    rows = {}
    for line in lines[2:]:  # skip header and rule
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows[cells[0]] = cells[1:]
    return rows


def test_quick_benchmark_writes_a_row_per_model_with_finite_numbers(tmp_path):
    done = subprocess.run(
        benchmark_command("compare", "--quick", "--protocols", "leave_one_out", "--out_dir", str(tmp_path)),
        cwd=tmp_path, capture_output=True, text=True, timeout=1200, env=scratch_env(tmp_path),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert not list((tmp_path / "scratch").glob("recbole_mind_*"))  # its scratch directory is removed
    tuned = {name[:-len(".yaml")] + " tuned" for name in os.listdir(os.path.join(REPO_ROOT, "benchmarks", "baselines"))}
    expected = {"MIND", "MIND preset", "MIND preset K=1", "MIND preset L=5", "MIND preset dot", "SASRec", "GRU4Rec", "SINE",
                "Pop"} | tuned
    assert f"[compare] {len(expected)}/{len(expected)}" in done.stdout  # progress is shown
    report = (tmp_path / "benchmarks.md").read_text()
    rows = table_rows(report, "ml-100k")
    assert set(rows) == expected and {"GRU4Rec tuned", "SINE tuned"} <= expected
    for model, cells in rows.items():
        metrics = [float(cell.split("±")[0]) for cell in cells[1:9]]
        assert all(math.isfinite(value) and 0 <= value <= 1 for value in metrics), model
        assert float(cells[10].split("±")[0]) > 0, model  # seconds per epoch
        assert int(cells[12].replace(",", "")) > 0, model  # parameters
    assert "Targets" in report
    assert (tmp_path / "benchmarks.png").stat().st_size > 0
    assert (tmp_path / "time_to_quality.png").stat().st_size > 0 and "## Time to quality" in report
    assert len(list((tmp_path / "benchmark_runs_quick").glob("ml-100k_*.json"))) == len(expected)

    # a second call reuses the finished runs instead of training again
    again = subprocess.run(
        benchmark_command("compare", "--quick", "--models", "Pop", "--out_dir", str(tmp_path)),
        cwd=tmp_path, capture_output=True, text=True, timeout=600, env=benchmark_env(),
    )
    assert again.returncode == 0 and "done earlier" in again.stdout


def test_quick_multi_target_benchmark_has_its_own_section_and_targets(tmp_path):
    done = subprocess.run(
        benchmark_command("compare", "--quick", "--protocols", "multi_target", "--models", "MIND", "Pop",
                          "--out_dir", str(tmp_path)),
        cwd=tmp_path, capture_output=True, text=True, timeout=600, env=benchmark_env(),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = (tmp_path / "benchmarks.md").read_text()
    rows = table_rows(report, "ml-100k, multi-target protocol")
    assert set(rows) == {"MIND", "Pop"}
    for model, cells in rows.items():
        metrics = [float(cell.split("±")[0]) for cell in cells[1:7]]  # recall, ndcg, hitrate @20, @50
        assert all(math.isfinite(value) and 0 <= value <= 1 for value in metrics), model
        assert metrics[3] >= metrics[0], model  # Recall@50 >= Recall@20
    assert "history items excluded" in report and "Runs of this table" in report
    assert len(list((tmp_path / "benchmark_runs_quick").glob("multi_target_ml-100k_*.json"))) == 2


def test_scale_benchmark_writes_a_row_per_size_and_loss(tmp_path):
    out = tmp_path / "scale.md"
    done = subprocess.run(
        benchmark_command("scale", "--items", "500", "2000", "--interactions", "2000", "--users", "50",
                          "--out", str(out)),
        cwd=tmp_path, capture_output=True, text=True, timeout=600, env=scratch_env(tmp_path),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert not list((tmp_path / "scratch").glob("recbole_mind_*"))  # the generated data is removed
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
        benchmark_command("retrieval", "--sizes", "5000", "--users", "50", "--clusters", "100", "--skip_ml100k",
                          "--rounds", "2", "--out", str(out)),
        cwd=tmp_path, capture_output=True, text=True, timeout=600, env=benchmark_env(),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line.split("|") for line in out.read_text().splitlines() if line.startswith("| 5,000")][:6]
    assert [row[2].split()[0] for row in rows] == ["IndexFlatIP", "IVF128", "HNSW"] * 2  # 2 sqrt(5000) = 141 cells, capped at 5000 / 39
    assert [row[3].strip() for row in rows] == ["1"] * 3 + ["2"] * 3  # 1 and 2 faiss threads
    assert sum("(default)" in row[2] for row in rows) == 4  # one setting of each approximate kind
    for row in rows:
        qps, recall, p50, p99 = float(row[6].replace(",", "")), float(row[8]), float(row[9]), float(row[10])
        assert qps > 0 and 0 <= recall <= 1 and 0 < p50 <= p99
    assert float(rows[0][8]) == 1.0  # the exact index against itself
    assert "## Target" in out.read_text() and "at >= 30x the exact index's queries/s" in out.read_text()


def seed_entry(values: dict, metric: str = "recall@50") -> dict:
    """A summarise() entry holding only one metric's per-seed values (and their mean)."""
    mean = sum(values.values()) / len(values)
    return {metric: (mean, 0.0), "seeds": len(values), "by_seed": {seed: {metric: v} for seed, v in values.items()}}


def test_targets_take_their_verdict_from_the_one_noise_rule():
    from benchmarks.summary import compare_rows

    summary = {
        # ahead on every seed by .015 with a tiny spread: met (paired, far beyond 2 s.e.)
        ("d", "a"): seed_entry({1: 0.400, 2: 0.410, 3: 0.390}),
        ("d", "b"): seed_entry({1: 0.385, 2: 0.396, 3: 0.374}),
        # seeds disagree: level, though its mean is higher
        ("d", "c"): seed_entry({1: 0.420, 2: 0.380, 3: 0.400}),
        ("d", "one"): seed_entry({1: 0.5}),
    }
    assert compare_rows(summary, "d", "a", "b", "recall@50")[1] == "met"
    assert compare_rows(summary, "d", "b", "a", "recall@50")[1] == "NOT met"  # behind on every seed
    assert compare_rows(summary, "d", "a", "b", "recall@50", goal=1.10)[1] == "NOT met"  # ahead, short of the goal
    assert compare_rows(summary, "d", "c", "a", "recall@50")[1] == "level"
    assert compare_rows(summary, "d", "one", "a", "recall@50")[1].startswith("no verdict")
    assert compare_rows(summary, "d", "a", "missing", "recall@50") is None


def grid_command(*args: str) -> list[str]:
    return benchmark_command("validation_grid", *args)


def run_grid_file(tmp_path, text):
    """Write a grid file, run it with validation_grid.py; its log's first record and the log path."""
    import json

    grid, log = tmp_path / "grid.yaml", tmp_path / "log.jsonl"
    grid.write_text(text)
    done = subprocess.run(grid_command("run", str(grid), "--log", str(log)),
                          cwd=tmp_path, capture_output=True, text=True, timeout=600, env=benchmark_env())
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(log.read_text().splitlines()[0]), log


def test_validation_grid_scores_validation_only_and_resumes(tmp_path):
    grid = tmp_path / "grid.yaml"
    grid.write_text(
        "dataset: ml-100k\n"
        "fixed: {epochs: 1, MAX_ITEM_LIST_LENGTH: 10, user_inter_num_interval: '[20,30]'}\n"
        "seeds: [2020]\n"
        "points:\n  - short: {short_term_window: 3, interest_num: 2}\n"
    )
    log = tmp_path / "log.jsonl"
    run = grid_command("run", str(grid), "--log", str(log))
    done = subprocess.run(run, cwd=tmp_path, capture_output=True, text=True, timeout=600, env=benchmark_env())
    assert done.returncode == 0, done.stderr[-3000:]
    import json

    record = json.loads(log.read_text().splitlines()[0])
    assert record["label"] == "short" and record["params"] == {"short_term_window": 3, "interest_num": 2}
    assert "test" not in json.dumps(record).lower().replace("protocol", "")
    assert 0 <= record["valid"]["ndcg@10"] <= 1 and len(record["valid_curve"]) == 1
    again = subprocess.run(run, cwd=tmp_path, capture_output=True, text=True, timeout=600, env=benchmark_env())
    assert again.returncode == 0 and len(log.read_text().splitlines()) == 1  # nothing rerun
    table = subprocess.run(grid_command("table", str(log)), capture_output=True, text=True, env=benchmark_env())
    assert "| ml-100k | short | 1 |" in table.stdout


def test_validation_grid_validates_on_held_out_users_with_the_multi_target_protocol(tmp_path):
    record, log = run_grid_file(
        tmp_path,
        "dataset: ml-100k\nconfig_files: [properties/protocols/multi_target.yaml]\n"
        "fixed: {epochs: 1, MAX_ITEM_LIST_LENGTH: 10, user_inter_num_interval: '[20,30]'}\n"
        "seeds: [2020]\npoints:\n  - k2: {interest_num: 2}\n",
    )
    assert record["config_files"] == ["properties/protocols/multi_target.yaml"]
    assert set(record["valid"]) >= {"recall@20", "recall@50", "ndcg@50", "hitrate@50"}
    assert "ndcg@10" not in record["valid"] and 0 <= record["valid"]["recall@50"] <= 1
    table = subprocess.run(grid_command("table", str(log)), capture_output=True, text=True, env=benchmark_env())
    assert "| ml-100k | k2 | 1 | – | " in table.stdout, table.stdout


def _figures():
    from benchmarks import figures

    return figures


def test_readme_and_docs_figures_match_their_records():
    figures = _figures()
    assert os.path.join(REPO_ROOT, "docs", "results.md") in figures.FILES  # every page, not a list of two
    assert figures.check_files(figures.FILES, write=False) == []
    readme = open(os.path.join(REPO_ROOT, "README.md"), encoding="utf-8").read()
    results = open(os.path.join(REPO_ROOT, "docs", "results.md"), encoding="utf-8").read()
    # the blocks are filled, not empty
    assert "<!-- figures: headline -->\n| model | seeds | test NDCG@10 | test Recall@50 |" in readme
    assert "<!-- figures: benchmark -->\n**ml-100k**" in results


def test_readme_headline_table_is_rendered_from_the_benchmark_records():
    figures = _figures()
    table = figures.headline_block(figures.kept_runs())
    rows = {line.split(" | ")[0].lstrip("| "): line for line in table.splitlines()[2:]}
    assert list(rows) == list(figures.HEADLINE_ROWS.values())
    preset = rows["MIND, the preset"]
    readme = open(os.path.join(REPO_ROOT, "README.md"), encoding="utf-8").read()
    assert table in readme and preset.endswith("| 3 | 0.0677 ± 0.0018 | 0.4009 ± 0.0067 |")
    with pytest.raises(KeyError, match="Pop"):  # a headline row without runs is an error, not a gap
        figures.headline_block([run for run in figures.kept_runs() if run["row"] != "Pop"])


def test_figures_quoted_in_prose_are_backed_by_a_record_or_table():
    assert _figures().check_prose() == []


def test_a_stale_figure_in_prose_is_caught(tmp_path):
    figures = _figures()
    readme = tmp_path / "README.md"
    readme.write_text("MIND scores .0577 NDCG@10 (table below), and once scored .9137.\n"
                      "An epoch takes 2.6 s, once 3.8 s; 0.025x SASRec's, once 0.031x.\n\n"
                      "| row | ndcg@10 | s |\n| --- | --- | --- |\n| MIND | 0.0577 ± 0.0021 | 2.56 |\n\n"
                      "```\npython run.py --learning_rate=0.0123 --budget=9.9s\n```\n\n"
                      "<!-- figures: headline -->\nquoted .4444 and 7.7 s\n<!-- /figures: headline -->\n",
                      encoding="utf-8")
    records = figures.record_figures(str(tmp_path), str(tmp_path))  # no records there
    quantities = figures.quantity_forms([0.0251])  # as a JSON record of epoch costs would give
    # the table backs .0577 and 2.6 s, the record 0.025x; code and generated blocks are not
    # prose; .9137, 3.8 s and 0.031x have no source
    assert figures.unbacked_figures(str(readme), [], records, quantities) == [
        "line 1: .9137", "line 2: 3.8 s", "line 2: 0.031x"]
    assert figures.decimal_forms("0.34226 and .5") == {"3423", "342", "5000", "500", "5"}


def test_a_wrong_figure_in_a_copy_of_a_page_is_caught(tmp_path):
    # docs/results.md quotes metrics, seconds and ratios from the records: change the first of
    # each in its prose and exactly those three fail, the rest of the page still passing
    import re

    figures = _figures()
    page = os.path.join(REPO_ROOT, "docs", "results.md")
    records, quantities = figures.record_figures(), figures.record_quantities()
    sources = figures.named_pages(page)
    assert os.path.join(REPO_ROOT, "docs", "benchmarks.md") in sources
    assert figures.unbacked_figures(page, sources, records, quantities) == []
    lines = open(page, encoding="utf-8").read().splitlines(keepends=True)
    prose = dict(figures.prose_lines(page))
    wrong = {r"\.0\d{3}(?! ?s\b|x\b)": ".0999", r"\d+\.\d s\b": "99.9 s", r"0\.0\d\dx": "7.777x"}
    for pattern, stale in wrong.items():
        number = next(n for n in sorted(prose) if re.search(pattern, prose[n]))
        lines[number - 1] = re.sub(pattern, stale, lines[number - 1], count=1)
        prose[number] = ""  # one change a line
    copy = tmp_path / "results.md"
    copy.write_text("".join(lines), encoding="utf-8")
    found = [where.split(": ", 1)[1] for where in figures.unbacked_figures(str(copy), sources, records, quantities)]
    assert sorted(found) == sorted(wrong.values())


def test_a_figure_edited_by_hand_is_caught(tmp_path):
    figures = _figures()
    for name in ("README.md", os.path.join("docs", "results.md")):
        text = open(os.path.join(REPO_ROOT, name), encoding="utf-8").read()
        row = next(line for line in text.splitlines() if line.startswith(("| SASRec |", "| SASRec, tuned |")))
        edited = tmp_path / os.path.basename(name)
        edited.write_text(text.replace(row, row.replace("| 3 |", "| 4 |", 1)), encoding="utf-8")
        assert figures.check_files([str(edited)], write=False) == [str(edited)]


def test_benchmark_report_tables_regenerate_from_the_kept_runs(tmp_path):
    import shutil

    figures = _figures()
    shutil.copytree(os.path.join(REPO_ROOT, "docs", "benchmark_runs"), tmp_path / "benchmark_runs")
    from benchmarks import compare

    assert compare.main(["--report_only", "--out_dir", str(tmp_path)]) == 0
    tables = [
        [line for line in open(path, encoding="utf-8").read().splitlines() if line.startswith("|")]
        for path in (tmp_path / "benchmarks.md", os.path.join(REPO_ROOT, "docs", "benchmarks.md"))
    ]
    assert tables[0] == tables[1] and len(tables[0]) > 10
    assert figures.kept_runs(str(tmp_path / "benchmark_runs"))  # the records are committed


def test_validation_grid_gives_a_baseline_the_same_levers(tmp_path):
    record, _ = run_grid_file(
        tmp_path,
        "model: GRU4Rec\ndataset: ml-100k\n"
        "fixed: {epochs: 1, MAX_ITEM_LIST_LENGTH: 10, user_inter_num_interval: '[20,30]', embedding_size: 16, "
        "hidden_size: 16}\nseeds: [2020]\npoints:\n  - b256: {train_batch_size: 256}\n",
    )
    assert record["model"] == "GRU4Rec" and record["params"] == {"train_batch_size": 256}
    assert 0 <= record["valid"]["ndcg@10"] <= 1


def test_recboles_sine_pools_padding_as_the_benchmark_report_says(ml100k_data):
    # docs/benchmarks.md explains SINE's low row by this: padded positions are not masked and
    # the padding row is a fixed random vector. If RecBole fixes it, this fails: update the report.
    import torch
    from recbole.model.sequential_recommender.sine import SINE

    from recbole_mind.training.config import build_config

    config = build_config("SINE", "ml-100k", config_dict={"MAX_ITEM_LIST_LENGTH": 20, "state": "ERROR"})
    torch.manual_seed(0)
    model = SINE(config, ml100k_data[1]).eval()
    history = torch.zeros(1, config["MAX_ITEM_LIST_LENGTH"], dtype=torch.long)
    history[0, :3] = torch.tensor([10, 20, 30])
    with torch.no_grad():
        assert model.item_embedding.weight[0].norm() > 0  # re-drawn after padding_idx=0
        before = model.forward(history, torch.tensor([3]))[0].clone()
        model.item_embedding.weight[0] += 0.5  # the padding row only
        after = model.forward(history, torch.tensor([3]))[0]
    assert float(before.norm()) <= 1 + 1e-5  # a mix of unit-length interests: logits stay small
    assert float((after - before).norm()) > 0.5 * float(before.norm())


def test_report_only_without_any_finished_run_says_so(tmp_path):
    result = subprocess.run(
        benchmark_command("compare", "--report_only", "--out_dir", str(tmp_path)), capture_output=True, text=True,
        cwd=tmp_path, env=benchmark_env(),
    )
    assert result.returncode == 1
    assert "no finished runs in" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "benchmarks.md").exists()


def test_an_incomplete_report_names_every_unfinished_run_and_its_seeds():
    from benchmarks.report import missing_runs

    def task(row, seed, protocol="leave_one_out"):
        return {"row": row, "dataset": "d", "protocol": protocol, "config_dict": {"seed": seed}}

    tasks = [task(row, seed, protocol) for protocol in ("leave_one_out", "multi_target")
             for row in ("A", "B") for seed in (1, 2, 3)]
    runs = [{"row": "A", "dataset": "d", "seed": seed} for seed in (1, 2, 3)]  # no protocol: leave-one-out
    runs += [{"row": "B", "dataset": "d", "protocol": "multi_target", "seed": seed} for seed in (1, 2)]
    assert missing_runs(tasks, runs) == (
        "B (d): seeds 1, 2, 3", "A (d, multi-target protocol): seeds 1, 2, 3", "B (d, multi-target protocol): seed 3",
    )
    assert missing_runs(tasks[:3], runs) == ()


def test_paired_difference_compares_rows_seed_by_seed():
    from benchmarks.summary import paired_difference

    summary = {("d", "a"): seed_entry({1: 0.40, 2: 0.31, 3: 0.35}), ("d", "b"): seed_entry({1: 0.39, 2: 0.30, 3: 0.36}),
               ("d", "one"): seed_entry({1: 0.5})}
    assert paired_difference(summary, "d", "a", "b", "recall@50") == "+0.0033 ± 0.0115 (2/3 seeds higher): level"
    assert paired_difference(summary, "d", "a", "one", "recall@50") == "n/a"  # one seed in one row


def test_seconds_of_runs_in_anomaly_mode_are_marked_and_get_no_cost_verdict():
    from benchmarks.summary import ANOMALY_MARK, trained_in_anomaly_mode
    from benchmarks.report import epoch_cell
    from benchmarks.rows import PROTOCOLS, section_name
    from benchmarks.summary import summarise, target_lines

    def run(row, seed, seconds, environment=None):
        record = {"row": row, "dataset": "ml-100k", "seed": seed, "train_epoch_seconds": [seconds],
                  "test_result": dict.fromkeys(PROTOCOLS["multi_target"].reported, 0.3), "eval_users_per_second": 1.0,
                  "model_parameters": 1, "protocol": "multi_target"}
        if environment is not None:
            record["environment"] = environment
        return record

    # Records without the field: RecBole's models imported sine.py (anomaly on), MIND and Pop did not.
    assert trained_in_anomaly_mode(run("SASRec", 1, 1.0)) and not trained_in_anomaly_mode(run("MIND preset", 1, 1.0))
    assert not trained_in_anomaly_mode(run("Pop", 1, 1.0))
    assert not trained_in_anomaly_mode(run("SASRec", 1, 1.0, {"anomaly_mode": False}))

    section = section_name("ml-100k", "multi_target")
    fresh = [run("MIND preset", seed, 5.0, {"anomaly_mode": False}) for seed in (1, 2)]
    clean = summarise(fresh + [run("SASRec", seed, 100.0, {"anomaly_mode": False}) for seed in (1, 2)])
    assert ANOMALY_MARK not in epoch_cell(clean[(section, "SASRec")], digits=1)
    assert "| MIND preset / SASRec epoch_seconds | 0.050 | <= 0.1 | met | |" in target_lines(clean, section, "multi_target")

    mixed = summarise(fresh + [run("SASRec", 1, 100.0), run("SASRec", 2, 100.0, {"anomaly_mode": False})])
    assert epoch_cell(mixed[(section, "SASRec")], digits=1).endswith(ANOMALY_MARK)
    cost = [line for line in target_lines(mixed, section, "multi_target") if "epoch_seconds" in line]
    assert cost and "no verdict" in cost[0] and "| met |" not in cost[0]



def test_anomaly_note_quotes_its_record(tmp_path):
    from benchmarks.summary import anomaly_note, anomaly_ratios

    def row(model, off, on, identical=True):
        return {"model": model, "dataset": "ml-100k", "batches": 8, "batch_size": 2048, "seconds_off": off,
                "seconds_on": on, "ratio": on / off, "losses_identical": identical}

    record = tmp_path / "anomaly_mode.json"
    record.write_text(json.dumps({"finished": "2026-11-29T22:30:00+00:00", "environment": {},
                                  "models": [row("GRU4Rec", 10.0, 17.0), row("SASRec", 40.0, 48.0)]}))
    assert anomaly_ratios(str(record)) == "1.2x (SASRec) to 1.7x (GRU4Rec)"
    note = anomaly_note(str(record))
    assert "GRU4Rec 17.0 s against 10.0 s (1.70x)" in note and "SASRec 48.0 s against 40.0 s (1.20x)" in note
    assert "first 8 training batches" in note and "every loss identical" in note

    record.write_text(json.dumps({"finished": "2026-11-29T22:30:00+00:00", "environment": {},
                                  "models": [row("SASRec", 40.0, 48.0, identical=False)]}))
    assert anomaly_ratios(str(record)) == "1.2x (SASRec)" and "losses differed" in anomaly_note(str(record))


def test_provenance_names_the_code_and_rows_of_each_group_of_runs(tmp_path):
    from benchmarks.report import provenance_lines
    from benchmarks.run import code_version

    env = {"cpus": 2, "platform": "Linux", "recbole_mind": "0.1.0", "recbole": "1.2.1", "torch": "2.13.0",
           "python": "3.11.7"}
    runs = [
        {"row": "MIND", "finished": "2026-11-28T10:00:00", "environment": {**env, "code": "abc1234567"}},
        {"row": "MIND", "finished": "2026-11-29T10:00:00", "environment": {**env, "code": "abc1234567"}},
        {"row": "SASRec", "finished": "2026-11-29T12:00:00", "environment": env},
        {"row": "Pop"},
    ]
    lines = provenance_lines(runs)
    assert lines[0].startswith("- 2 runs, finished 2026-11-28 to 2026-11-29 (MIND x2): 2 CPUs")
    assert lines[0].endswith("code abc1234567") and lines[1].endswith("code commit not recorded")
    assert "(SASRec x1)" in lines[1] and lines[2] == "- 1 run (Pop x1): " + lines[2].split(": ", 1)[1]
    assert "not recorded" in lines[2]
    # this checkout: a commit, with or without edits; no git checkout: None
    version = code_version()
    assert version is None or version.split("+")[0].isalnum()
    assert code_version(str(tmp_path)) is None


def test_a_tuned_baseline_replaces_its_default_row_in_the_targets_once_it_has_as_many_seeds():
    from benchmarks.rows import PROTOCOLS, section_name
    from benchmarks.summary import summarise, target_lines

    def run(row, seed, recall):
        metrics = dict.fromkeys(PROTOCOLS["multi_target"].reported, 0.3) | {"recall@50": recall}
        return {"row": row, "dataset": "ml-100k", "seed": seed, "train_epoch_seconds": [1.0], "test_result": metrics,
                "eval_users_per_second": 1.0, "model_parameters": 1, "protocol": "multi_target"}

    section = section_name("ml-100k", "multi_target")
    base = [run("MIND preset", seed, 0.40 + seed / 1000) for seed in (1, 2, 3)]
    base += [run("GRU4Rec", seed, 0.30 + seed / 1000) for seed in (1, 2, 3)]
    tuned = [run("GRU4Rec tuned", seed, 0.50 + seed / 1000) for seed in (1, 2, 3)]

    def gru4rec_targets(runs):
        return [line for line in target_lines(summarise(runs), section, "multi_target") if "MIND preset / GRU4Rec" in line]

    assert gru4rec_targets(base)[0].startswith("| MIND preset / GRU4Rec test recall@50 |")
    assert "| met |" in gru4rec_targets(base)[0]
    # two seeds of the tuned row are not enough to replace three of the default one
    assert gru4rec_targets(base + tuned[:2])[0].startswith("| MIND preset / GRU4Rec test")
    replaced = gru4rec_targets(base + tuned)
    assert len(replaced) == 1 and replaced[0].startswith("| MIND preset / GRU4Rec tuned test recall@50 |")
    assert "| NOT met |" in replaced[0]


@pytest.mark.parametrize("model", ["SASRec", "GRU4Rec", "SINE"])
def test_a_baselines_tuned_row_runs_the_best_point_of_its_validation_grid(model):
    # Issue 16: the benchmark's tuned row holds the grid's best validation NDCG@10, and exists only
    # when that point beats RecBole's defaults, whose validation score at the grid's seed (2020)
    # is the benchmark's own default-row run.
    import yaml

    from benchmarks.validation_grid import finished_trials

    log = os.path.join(REPO_ROOT, "docs", "tuning_runs", f"baseline_{model.lower()}.jsonl")
    tuned = os.path.join(REPO_ROOT, "benchmarks", "baselines", f"{model}.yaml")
    trials = list(finished_trials(log).values())
    if not trials:
        assert not os.path.isfile(tuned), f"{tuned} has no grid log behind it"
        pytest.skip(f"{model}'s grid has not run")
    with open(os.path.join(REPO_ROOT, "docs", "benchmark_runs", f"ml-100k_{model}_seed2020_epochs20.json"),
              encoding="utf-8") as file:
        default = json.load(file)["best_valid_result"]["ndcg@10"]
    best = max(trials, key=lambda trial: trial["valid"]["ndcg@10"])
    if best["valid"]["ndcg@10"] > default and best["params"]:
        with open(tuned, encoding="utf-8") as file:
            assert yaml.safe_load(file) == best["params"]
    else:
        assert not os.path.isfile(tuned)


def spawned_children(parent: int) -> list[int]:
    """Pids of the multiprocessing workers whose parent is ``parent`` (Linux /proc)."""
    children = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as file:
                ppid = int(file.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as file:
                command = file.read()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent and b"spawn_main" in command:
            children.append(int(entry))
    return children


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads /proc")
def test_sigterm_to_a_benchmark_stops_its_training_process_too():
    """`kill PID` of compare.py once left its training child running for 98 minutes."""
    import signal
    import time

    script = (
        "import time; from benchmarks.run import run_in_fresh_process; run_in_fresh_process(time.sleep, 120)"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], env=benchmark_env())
    children = []
    try:
        deadline = time.monotonic() + 60
        while not children and time.monotonic() < deadline:
            time.sleep(0.2)
            children = spawned_children(parent.pid)
        assert children, "the training process never started"
        time.sleep(1)  # let the child reach its work
        parent.send_signal(signal.SIGTERM)
        assert parent.wait(timeout=30) != 0
        deadline = time.monotonic() + 15
        alive = children
        while alive and time.monotonic() < deadline:
            time.sleep(0.2)
            alive = [pid for pid in children if os.path.exists(f"/proc/{pid}")]
        assert not alive, f"training process {alive} outlived the benchmark"
    finally:
        parent.kill()
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def test_paired_table_pairs_points_only_on_datasets_where_they_share_two_seeds(tmp_path):
    from benchmarks.validation_grid import paired_table

    def trial(dataset, label, seed, score):
        return {"dataset": dataset, "label": label, "seed": seed, "valid": {"ndcg@10": score, "recall@50": score}}

    records = [
        trial("both", "a", 1, 0.3), trial("both", "a", 2, 0.5), trial("both", "b", 1, 0.2), trial("both", "b", 2, 0.3),
        trial("one seed", "a", 1, 0.3), trial("one seed", "b", 1, 0.2), trial("one seed", "b", 2, 0.2),
    ]
    log = tmp_path / "log.jsonl"
    log.write_text("".join(json.dumps(record) + "\n" for record in records))
    rows = paired_table([str(log)], [("a", "b")]).splitlines()[2:]
    # t = 0.15 / 0.05 = 3, short of 12.71 at 2 seeds (1 degree of freedom): level (benchmarks/stats.py)
    cell = "+0.1500 ± 0.0707 (2/2 seeds higher): level"
    assert rows == [f"| both | a - b | {cell} | {cell} |"]


def test_epoch_cost_ratios_divide_medians_by_the_reference():
    from benchmarks.epoch_cost import epoch_ratios

    ratios = epoch_ratios({"MIND preset": [9.0, 30.0, 10.0], "SASRec tuned": [90.0, 100.0, 95.0]}, "SASRec tuned")
    assert ratios == {"MIND preset": pytest.approx(10.0 / 95.0), "SASRec tuned": 1.0}


def test_epoch_cost_rejects_an_unknown_row_before_loading_data(tmp_path):
    script = benchmark_command("epoch_cost")
    result = subprocess.run([*script, "--rows", "MIND", "SASRecc"], capture_output=True, text=True,
                            cwd=tmp_path, timeout=300, env=benchmark_env())
    assert result.returncode == 2 and "unknown row(s) ['SASRecc']" in result.stderr
    result = subprocess.run([*script, "--rows", "MIND", "--reference", "Pop"], capture_output=True,
                            text=True, cwd=tmp_path, timeout=300, env=benchmark_env())
    assert result.returncode == 2 and "--reference 'Pop' must be one of --rows" in result.stderr
    result = subprocess.run([*script, "--rows", "MIND", "--reference", "MIND", "--dataset", "ml-100kk"],
                            capture_output=True, text=True, cwd=tmp_path, timeout=300, env=benchmark_env())
    assert result.returncode == 2 and "Unknown dataset 'ml-100kk'" in result.stderr and "Traceback" not in result.stderr


def test_epoch_cost_times_each_row_in_turn(tmp_path):
    out = tmp_path / "epoch_cost.json"
    subprocess.run([sys.executable, "-m", "recbole_mind.data.synthetic", str(tmp_path / "data"), "--name", "tiny",
                    "--users", "60", "--items", "100", "--interactions", "1500"], check=True, cwd=tmp_path, timeout=300)
    subprocess.run(benchmark_command("epoch_cost", "--rows", "MIND", "MIND preset L=5", "--reference", "MIND",
                                     "--rounds", "2", "--dataset", "tiny", "--data_path", "data", "--out", str(out)),
                   check=True, cwd=tmp_path, timeout=900, env=benchmark_env())
    record = json.loads(out.read_text())
    assert record["reference"] == "MIND" and "--rounds 2" in record["command"] and record["environment"]["torch"]
    assert record["dataset"] == "tiny"
    rows = {row["row"]: row for row in record["rows"]}
    assert set(rows) == {"MIND", "MIND preset L=5"}
    assert all(len(row["epoch_seconds"]) == 2 and min(row["epoch_seconds"]) > 0 for row in rows.values())
    assert rows["MIND"]["ratio_to_reference"] == 1.0 and math.isfinite(rows["MIND preset L=5"]["ratio_to_reference"])


def test_cost_targets_take_the_one_run_epoch_ratio_when_a_record_times_both_rows(tmp_path):
    from benchmarks.summary import epoch_cost_ratio
    from benchmarks.rows import REPORTED
    from benchmarks.summary import summarise, target_lines

    def run(row, seed, seconds):
        return {"row": row, "dataset": "ml-100k", "seed": seed, "train_epoch_seconds": [seconds],
                "test_result": dict.fromkeys(REPORTED, 0.3), "eval_users_per_second": 1.0,
                "model_parameters": 1, "environment": {"anomaly_mode": False}}

    summary = summarise([run(row, seed, seconds) for seed in (1, 2)
                         for row, seconds in (("MIND preset", 25.0), ("SASRec", 100.0))])
    record = tmp_path / "epoch_cost.json"
    assert epoch_cost_ratio("MIND preset", "SASRec", "ml-100k", str(record)) is None  # no record
    lines = [line for line in target_lines(summary, "ml-100k", epoch_cost_path=str(record)) if "MIND preset / SASRec epoch" in line]
    assert lines == ["| MIND preset / SASRec epoch_seconds | 0.250 | <= 0.1 | NOT met | |"]

    record.write_text(json.dumps({"finished": "2026-11-30T22:00:00+00:00", "dataset": "ml-100k", "rows": [
        {"row": "MIND preset", "median_seconds": 8.0}, {"row": "SASRec", "median_seconds": 100.0}]}))
    lines = target_lines(summary, "ml-100k", epoch_cost_path=str(record))
    (cost,) = [line for line in lines if "MIND preset / SASRec epoch" in line]
    assert cost.startswith("| MIND preset / SASRec epoch_seconds, timed in turn (benchmarks/epoch_cost.py, 2026-11-30) | 0.080 |")
    assert "| met | the benchmark runs' seconds: 0.250 |" in cost and "drift falls on both" in lines[-1]
    # another dataset's or protocol's record, or one that did not time the baseline, leaves the runs' ratio
    assert epoch_cost_ratio("MIND preset", "SASRec", "ml-1m", str(record)) is None
    assert epoch_cost_ratio("MIND preset", "SASRec", "ml-100k, multi-target protocol", str(record)) is None
    assert epoch_cost_ratio("MIND preset", "GRU4Rec", "ml-100k", str(record)) is None
    record.write_text('{"rows": "fast"}')
    with pytest.raises(ValueError, match="is not a record of benchmarks/epoch_cost.py"):
        epoch_cost_ratio("MIND preset", "SASRec", "ml-100k", str(record))
