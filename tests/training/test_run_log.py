"""recbole_mind.training.run_log: each run writes its own log, and an error raised after the log file is opened is
written into it."""

import os
import subprocess
import sys

import pytest

from conftest import REPO_ROOT, SLICE_CONFIG


def test_a_data_error_found_after_loading_is_in_the_run_s_log(tmp_path):
    # A process of its own: RecBole's init_logger configures logging once per process.
    folder = tmp_path / "data" / "tiny"
    folder.mkdir(parents=True)
    rows = "".join(f"u{user}\ti{step}\t{10 * user + step}\n" for user in range(5) for step in range(3))
    (folder / "tiny.inter").write_text("user_id:token\titem_id:token\ttimestamp:float\n" + rows)
    done = subprocess.run(
        [sys.executable, os.path.join(REPO_ROOT, "run_recbole_mind.py"), "--dataset=tiny", "--data_path=data",
         "--epochs=1", "--show_progress=False"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": REPO_ROOT},
    )
    message = "dataset 'tiny': the valid split is empty"  # 3 interactions a user: no validation sample
    assert done.returncode == 2 and f"error: {message}" in done.stderr, done.stderr[-2000:]
    assert (done.stdout + done.stderr).count(message) == 1  # the console shows it once
    (log,) = (tmp_path / "log" / "MIND").glob("MIND-tiny-*.log")
    text = log.read_text()
    assert f"ERROR  run stopped: EmptySplitError: {message}" in text, text[-2000:]
    assert "Traceback" in text  # where it was raised, for a bug report


class DataError(ValueError):
    """Stands for a data problem found once the run's log is open."""


@pytest.fixture
def runs_log_and_stop(monkeypatch):
    """``run_recbole_mind`` up to its log: each run logs a line of its own (numbered, with its
    interest_num), then stops as a data error would (the error goes into its log too)."""
    from logging import getLogger

    import recbole_mind.protocols.multi_target as multi_target
    import recbole_mind.run.quick_start as quick_start

    lines = []

    def log_and_stop(config, *args, **kwargs):
        lines.append(f"line of run {len(lines) + 1} (interest_num {config['interest_num']})")
        getLogger().warning(lines[-1])
        raise DataError(f"stop of run {len(lines)}")

    monkeypatch.setattr(quick_start, "prepare", log_and_stop)
    monkeypatch.setattr(multi_target, "prepare_multi_target", log_and_stop)
    return lines


MULTI_TARGET = os.path.join(REPO_ROOT, "properties", "protocols", "multi_target.yaml")


def run_logging_a_line(config_file_list=None, **keys):
    from recbole_mind.run.quick_start import run_recbole_mind

    with pytest.raises(DataError):
        run_recbole_mind("MIND", "ml-100k", config_file_list, config_dict={**SLICE_CONFIG, **keys})


def logs_in_order(folder):
    return sorted((folder / "log" / "MIND").glob("*.log"), key=lambda path: path.stat().st_mtime_ns)


@pytest.mark.parametrize("config_file_list", [None, [MULTI_TARGET]], ids=["eval_args", "multi_target"])
def test_two_runs_in_one_process_each_write_their_own_complete_log(in_tmp_dir, runs_log_and_stop,
                                                                  config_file_list):
    import logging

    root = logging.getLogger()
    handlers = list(root.handlers)
    run_logging_a_line(config_file_list)  # the same config, in the same second: one log name
    run_logging_a_line(config_file_list)
    logs = logs_in_order(in_tmp_dir)
    assert len(logs) == 2
    for number, log in enumerate(logs, start=1):
        text = log.read_text()
        assert f"line of run {number}" in text and f"stop of run {number}" in text, text
        other = 3 - number
        assert f"line of run {other}" not in text and f"stop of run {other}" not in text, text
    assert root.handlers == handlers  # the runs' handlers are gone, their files closed


def test_each_search_trial_writes_its_own_log(in_tmp_dir, runs_log_and_stop):
    from recbole_mind.run.tuning import tune

    (in_tmp_dir / "space.yaml").write_text("choice:\n  interest_num: [1, 3]\n")

    def objective(config_dict, config_file_list):
        run_logging_a_line(**config_dict)
        return {"best_valid_score": float(config_dict["interest_num"]), "valid_score_bigger": True,
                "best_valid_result": {}, "test_result": {}, "model": "MIND"}

    tune(objective, "space.yaml", "best.yaml", algo="exhaustive")
    texts = [log.read_text() for log in logs_in_order(in_tmp_dir)]
    assert len(texts) == 2 and [text.count("line of run") for text in texts] == [1, 1], texts
    assert sorted(line.split("(")[1] for line in runs_log_and_stop) == ["interest_num 1)", "interest_num 3)"]
    for line, text in zip(runs_log_and_stop, texts):
        assert line in text


def test_a_run_in_a_script_that_set_up_logging_still_gets_its_log(in_tmp_dir, runs_log_and_stop):
    import io
    import logging

    own = logging.StreamHandler(io.StringIO())
    root = logging.getLogger()
    root.addHandler(own)  # as logging.basicConfig() in a user's script: RecBole's basicConfig did nothing
    try:
        run_logging_a_line()
    finally:
        root.removeHandler(own)
    (log,) = (in_tmp_dir / "log" / "MIND").glob("*.log")
    assert "line of run 1" in log.read_text()
    assert "line of run 1" in own.stream.getvalue()  # the script's own handler still sees the run
