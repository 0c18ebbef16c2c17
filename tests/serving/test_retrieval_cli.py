import os
import subprocess
import sys

import pytest

from conftest import REPO_ROOT, ml100k_copy


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
    assert "FutureWarning" not in done.stderr  # RecBole's own deprecations stay hidden, as in training
    done = cli("retrieve", checkpoint, "--users", user, "--n", "3", "--index", "hnsw", "--exclude_seen")
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith(f"{user}: ") and done.stdout.count("(") == 3
    done = cli("explain", checkpoint, "--user", user, "--plot", str(tmp_path / "heat.png"))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "formed by (routing weight)" in done.stdout and (tmp_path / "heat.png").stat().st_size > 0
    done = cli("retrieve", checkpoint, "--users", "nobody", "--n", "3")
    assert done.returncode == 2 and "Unknown user token" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["retrieve", "--users", "[PAD]"], "Unknown user token(s) ['[PAD]']"),
        (["explain", "--user", "[PAD]"], "'[PAD]' is the padding token, not a user"),
        (["retrieve", "--users", "1", "--data_path", "SHUFFLED"], "user ids differ from the checkpoint's"),
    ],
)
def test_the_padding_token_and_data_with_other_ids_are_refused(in_trained_dir, tmp_path, capsys, args, message):
    from recbole_mind.serving.cli import main

    if "SHUFFLED" in args:
        args[args.index("SHUFFLED")] = ml100k_copy(in_trained_dir, tmp_path, shuffle=True)
    assert main([args[0], in_trained_dir[0], *args[1:]]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and message in error


@pytest.mark.parametrize("kind", ["folder", "under_a_file"])
def test_a_bad_plot_path_is_named_before_the_checkpoint_loads(tmp_path, capsys, kind):
    from recbole_mind.serving.cli import main

    (tmp_path / "a_file").write_text("x")
    plot, message = {
        "folder": (tmp_path, "is a folder: give the path of a file"),
        "under_a_file": (tmp_path / "a_file" / "heat.png", "is a file, not a folder"),
    }[kind]
    # the checkpoint does not exist: the path is checked before it is read
    assert main(["explain", str(tmp_path / "none.pth"), "--user", "1", "--plot", str(plot)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --plot {plot}") and message in err
