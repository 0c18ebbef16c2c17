"""recbole_mind.run_log: an error raised after the log file is opened is written into it."""

import os
import subprocess
import sys

from conftest import REPO_ROOT


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
