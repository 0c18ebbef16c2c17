import os
import sys

import pytest
from hypothesis import settings

# Shared machines are slow and noisy: no per-example deadline, a modest number of examples.
settings.register_profile("recbole-mind", deadline=None, max_examples=40)
settings.load_profile("recbole-mind")

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PRESET = os.path.join(REPO_ROOT, "properties", "presets", "MIND-recommended.yaml")


def preset_keys() -> dict:
    """The recommended preset's keys, as its YAML sets them."""
    import yaml

    with open(PRESET, encoding="utf-8") as file:
        return yaml.safe_load(file)

# Small but real: ml-100k as shipped with RecBole, short histories, quiet logs.
FAST_CONFIG = {
    "MAX_ITEM_LIST_LENGTH": 20,
    "show_progress": False,
    "metrics": ["Recall", "NDCG"],
    "topk": [10],
    "valid_metric": "NDCG@10",
    "state": "WARNING",
}


# A real end-to-end run in seconds: ml-100k users with 20 to 30 ratings (213 users, about
# 5k ratings), one epoch.
SLICE_CONFIG = {**FAST_CONFIG, "user_inter_num_interval": "[20,30]", "epochs": 1}

# Quiet logs that still show RecBole's warnings (tests read them with caplog), no progress bars.
QUIET = {"state": "WARNING", "show_progress": False}

# One epoch of MIND over short histories: a config dict, or on the command line cli_flags(TINY).
TINY = {**FAST_CONFIG, "MAX_ITEM_LIST_LENGTH": 10, "epochs": 1}


def cli_flags(config: dict, **overrides) -> list[str]:
    """``--key=value`` flags of ``config`` with keys overridden, as run_recbole_mind.py reads them."""
    return [f"--{key}={value}" for key, value in {**config, **overrides}.items()]


def run_cli(args, cwd=None, monkeypatch=None):
    """``run_recbole_mind.py ARGS``. With ``monkeypatch``: ``cli.main`` in this process, with
    sys.argv set as the shell would (RecBole's Config reads --key=value from it), returning the
    exit code. Without: the script in a fresh process run in ``cwd``, returning the
    CompletedProcess (output captured as text)."""
    if monkeypatch is not None:
        from recbole_mind.run.cli import main

        monkeypatch.setattr(sys, "argv", ["run_recbole_mind.py", *args])
        return main(args)
    import subprocess

    script = os.path.join(REPO_ROOT, "run_recbole_mind.py")
    return subprocess.run([sys.executable, script, *args], cwd=cwd, capture_output=True, text=True, timeout=600)


def tiny_config(model="MIND", data_path="data", dataset="tiny", config_files=(), defaults=None, **overrides):
    """RecBole's Config of ``model`` on a small dataset written by the test (``data_path``/
    ``dataset``/), :data:`QUIET`, then ``defaults`` (a test module's own keys), then ``overrides``."""
    from recbole_mind.training.config import build_config

    config_dict = {"data_path": data_path, **QUIET, **(defaults or {}), **overrides}
    return build_config(model, dataset, list(config_files), config_dict)


def file_sha256(path) -> str:
    """The SHA-256 of a file's bytes: a file a run only reads must keep it."""
    import hashlib

    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def free_port() -> int:
    """A loopback port that was free a moment ago (for a process group, or nothing listening)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def overridden_config(data, **overrides):
    """A copy of a (config, dataset, train, valid, test) fixture's config with keys overridden."""
    import copy

    config = copy.deepcopy(data[0])
    for key, value in overrides.items():
        config[key] = value
    return config


def build_mind(data, **overrides):
    """A fresh, seeded MIND for such a fixture, keys overridden."""
    import torch

    from recbole_mind import MIND

    config = overridden_config(data, **overrides)
    torch.manual_seed(0)
    return MIND(config, data[2]._dataset)


class Stop(Exception):
    """Raised in place of loading the data: the test has seen what it needs."""


@pytest.fixture
def config_seen(monkeypatch):
    """The configs runs built, each run stopped (``Stop``) before any data loads."""
    import recbole_mind.run.quick_start as quick_start

    seen = []

    def stop(config, *args, **kwargs):
        seen.append(config)
        raise Stop

    monkeypatch.setattr(quick_start, "prepare", stop)
    return seen


@pytest.fixture
def in_tmp_dir(tmp_path, monkeypatch):
    """Run in a scratch folder: RecBole writes log/, saved/ and log_tensorboard/ to the cwd."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def prepared_ml100k(work_dir, config_dict):
    """(config, dataset, train, valid, test) for MIND on ml-100k, built in ``work_dir``."""
    from recbole_mind.training.config import build_config
    from recbole_mind.training.pipeline import prepare

    old_cwd = os.getcwd()
    os.chdir(work_dir)
    try:
        config = build_config("MIND", "ml-100k", config_dict=dict(config_dict))
        dataset, train, valid, test, _ = prepare(config, build_model=False)
    finally:
        os.chdir(old_cwd)
    return config, dataset, train, valid, test


@pytest.fixture(scope="session")
def ml100k_data(tmp_path_factory):
    """MIND on ml-100k with FAST_CONFIG, built once per session."""
    return prepared_ml100k(tmp_path_factory.mktemp("ml100k"), FAST_CONFIG)


FEATURE_CONFIG = {
    **FAST_CONFIG,
    "load_col": {
        "inter": ["user_id", "item_id", "rating", "timestamp"],
        "user": ["user_id", "age", "gender", "occupation"],
        "item": ["item_id", "class", "release_year"],
    },
    "user_profile_fields": ["age", "gender", "occupation"],
    "item_feature_fields": ["class", "release_year"],
}


@pytest.fixture(scope="session")
def ml100k_feature_data(tmp_path_factory):
    """Like ml100k_data, with ml-100k's user profile and item genre/year fields loaded."""
    return prepared_ml100k(tmp_path_factory.mktemp("ml100k_features"), FEATURE_CONFIG)


@pytest.fixture(scope="session")
def trained_mind(tmp_path_factory):
    """(checkpoint, run folder, config, model, dataset) of a tiny MIND (4 interests) trained for
    one epoch on a slice of ml-100k, for the serving tests."""
    from recbole_mind.run.quick_start import run_recbole_mind
    from recbole_mind.serving.users import load_mind

    run_dir = tmp_path_factory.mktemp("trained_mind")
    old_cwd = os.getcwd()
    os.chdir(run_dir)
    try:
        result = run_recbole_mind("MIND", "ml-100k", config_dict={**SLICE_CONFIG, "interest_num": 4})
        checkpoint = os.path.abspath(result["checkpoint"])
        config, model, dataset = load_mind(checkpoint)
    finally:
        os.chdir(old_cwd)
    return checkpoint, run_dir, config, model, dataset


@pytest.fixture
def in_trained_dir(trained_mind, monkeypatch):
    """``trained_mind``, run from its folder (where the checkpoint's data_path points)."""
    monkeypatch.chdir(trained_mind[1])
    return trained_mind


def full_sort_scores(model, dataset, user_ids):
    """``full_sort_predict`` on the users' latest histories: ``(U, n_items - 1)`` scores aligned
    with the item vector rows (padding dropped), and the histories."""
    import torch
    from recbole.data.interaction import Interaction

    from recbole_mind.serving.users import FIRST_ITEM_ID, latest_histories

    histories = latest_histories(dataset, user_ids, model.max_seq_length)
    batch = Interaction({
        dataset.uid_field: histories.user_ids,
        model.ITEM_SEQ: histories.item_seq,
        model.ITEM_SEQ_LEN: histories.item_seq_len,
    })
    with torch.no_grad():
        return model.eval().full_sort_predict(batch)[:, FIRST_ITEM_ID:].numpy(), histories


def ml100k_copy(trained_mind, folder, shuffle):
    """A folder holding ml-100k's .inter file (rows shuffled or not), as data_path."""
    import random
    import shutil

    config = trained_mind[2]
    target = folder / "ml-100k"
    target.mkdir(parents=True)
    source = os.path.join(config["data_path"], "ml-100k.inter")
    if not shuffle:
        shutil.copy(source, target / "ml-100k.inter")
        return str(folder)
    header, *rows = open(source, encoding="utf-8").read().splitlines()
    random.Random(0).shuffle(rows)
    (target / "ml-100k.inter").write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return str(folder)


def benchmark_command(module: str, *args: str) -> list[str]:
    """``python -m benchmarks.<module> ARGS``: the benchmark scripts are modules of the repository's
    ``benchmarks`` package (run them with :func:`benchmark_env` from outside the repository)."""
    return [sys.executable, "-m", f"benchmarks.{module}", *args]


def benchmark_env(**variables: str) -> dict[str, str]:
    """The environment of a benchmark script run from any folder: the repository on PYTHONPATH."""
    path = os.pathsep.join(filter(None, [REPO_ROOT, os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, **variables}


def scratch_env(tmp_path) -> dict[str, str]:
    """:func:`benchmark_env` with temporary directories landing in tmp_path/scratch."""
    (tmp_path / "scratch").mkdir()
    return benchmark_env(TMPDIR=str(tmp_path / "scratch"))
