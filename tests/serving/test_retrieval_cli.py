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


@pytest.mark.parametrize("kind", ["a folder", "under a file"])
def test_explain_refuses_an_unusable_plot_path_before_loading_anything(tmp_path, capsys, kind):
    from recbole_mind.serving.cli import main

    (tmp_path / "taken").write_text("x")
    plot, message = {
        "a folder": (str(tmp_path), "is a folder, not a file"),
        "under a file": (str(tmp_path / "taken" / "user1.png"), f"{tmp_path / 'taken'} is a file, so no file can"),
    }[kind]
    assert main(["explain", str(tmp_path / "missing.pth"), "--user", "1", "--plot", plot]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: --plot {plot}") and message in error and error.count("\n") == 1


def test_explain_refuses_a_plot_onto_its_checkpoint_however_spelt(tmp_path, monkeypatch, capsys):
    from recbole_mind.serving.cli import main

    checkpoint = tmp_path / "saved" / "MIND.pth"
    checkpoint.parent.mkdir()
    checkpoint.write_bytes(b"weights")
    os.symlink(checkpoint, tmp_path / "link.png")
    monkeypatch.chdir(tmp_path)
    for plot in (str(checkpoint), "saved/MIND.pth", "saved/../saved/MIND.pth", "link.png"):
        assert main(["explain", str(checkpoint), "--user", "1", "--plot", plot]) == 2
        error = capsys.readouterr().err
        assert error.startswith(f"error: --plot: {plot} is an input of this command") and error.count("\n") == 1
        assert checkpoint.read_bytes() == b"weights"


def test_export_refuses_a_file_onto_its_checkpoint_however_spelt(tmp_path, monkeypatch, capsys):
    from recbole_mind.serving.cli import main

    (tmp_path / "out").mkdir()
    checkpoint = tmp_path / "out" / "items.npz"  # a checkpoint named as an export file
    checkpoint.write_bytes(b"weights")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.symlink(checkpoint, elsewhere / "meta.json")
    monkeypatch.chdir(tmp_path)
    for out in ("out", str(tmp_path / "out"), "elsewhere/../out", str(elsewhere)):
        assert main(["export", str(checkpoint), "--out", out, "--overwrite"]) == 2
        error = capsys.readouterr().err
        assert error.startswith("error: --out: ") and "is an input of this command" in error
        assert error.count("\n") == 1 and checkpoint.read_bytes() == b"weights"
