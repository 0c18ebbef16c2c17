import os
import subprocess
import sys

from conftest import REPO_ROOT


def test_command_line_export_retrieve_explain(in_trained_dir, tmp_path):
    checkpoint, run_dir, _, _, dataset = in_trained_dir
    user = str(dataset.id2token(dataset.uid_field, 1))
    env = {**os.environ, "PYTHONPATH": REPO_ROOT}

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "recbole_mind.retrieval", *args], cwd=run_dir,
                              capture_output=True, text=True, timeout=600, env=env)

    done = cli("export", checkpoint, "--out", str(tmp_path / "vectors"), "--users", user)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "vectors" / "interests.npz").is_file()
    done = cli("retrieve", checkpoint, "--users", user, "--n", "3", "--index", "hnsw", "--exclude_seen")
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith(f"{user}: ") and done.stdout.count("(") == 3
    done = cli("explain", checkpoint, "--user", user, "--plot", str(tmp_path / "heat.png"))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "formed by (routing weight)" in done.stdout and (tmp_path / "heat.png").stat().st_size > 0
    done = cli("retrieve", checkpoint, "--users", "nobody", "--n", "3")
    assert done.returncode == 2 and "Unknown user token" in done.stderr and "Traceback" not in done.stderr
