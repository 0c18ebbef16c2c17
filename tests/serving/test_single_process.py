"""A checkpoint written by a distributed run (``--nproc`` > 1) is served, exported, explained and
resumed in one process: its saved config's distributed keys are made single-process first."""

import numpy as np
import pytest
import torch

from recbole_mind.training.checkpoint import as_single_process, load_checkpoint
from recbole_mind.serving.explain import explain
from recbole_mind.serving.export import export_vectors, load_vectors, retrieve_for_users

from conftest import SLICE_CONFIG

# What rank 0 of `--nproc 2` saves: RecBole's Config set these when the process group started.
DISTRIBUTED_KEYS = {
    "single_spec": False, "local_rank": 0, "world_size": 2, "nproc": 2, "ip": "localhost", "port": "5678",
    "offset": 0,
}


@pytest.fixture
def distributed_checkpoint(in_trained_dir, tmp_path):
    """``trained_mind``'s checkpoint saved again with the config of a 2-process run."""
    saved = load_checkpoint(in_trained_dir[0])
    for key, value in DISTRIBUTED_KEYS.items():
        saved["config"][key] = value
    path = str(tmp_path / "MIND-ddp.pth")
    torch.save(saved, path)
    return path, in_trained_dir


def test_as_single_process_resets_the_distributed_keys(distributed_checkpoint):
    config = load_checkpoint(distributed_checkpoint[0])["config"]
    assert as_single_process(config) is config
    assert config["single_spec"] is True and config["local_rank"] == 0
    assert all(key not in config.final_config_dict for key in ("world_size", "nproc", "ip", "port", "offset"))


def test_a_distributed_runs_checkpoint_is_served_exported_and_explained_in_one_process(distributed_checkpoint,
                                                                                        tmp_path):
    path, (original, _, _, _, dataset) = distributed_checkpoint
    users = [str(token) for token in dataset.id2token(dataset.uid_field, [1, 2])]
    # without the reset RecBole's data loaders ask for a process group that was never started
    found = retrieve_for_users(path, users, n=5, exclude_seen=True)
    assert found == retrieve_for_users(original, users, n=5, exclude_seen=True)
    export_vectors(path, str(tmp_path / "vectors"), users)
    assert set(load_vectors(str(tmp_path / "vectors"))["user_tokens"]) == set(users)
    explained = explain(path, users[0], n=3)
    assert explained["interests"] and explained == explain(original, users[0], n=3)


def test_a_distributed_runs_checkpoint_resumes_in_one_process(distributed_checkpoint):
    from recbole_mind.run.quick_start import run_recbole_mind

    path, _ = distributed_checkpoint
    result = run_recbole_mind(
        "MIND", "ml-100k", config_dict={**SLICE_CONFIG, "interest_num": 4, "epochs": 2}, resume_checkpoint=path
    )
    assert np.isfinite(result["best_valid_score"]) and len(result["train_epoch_seconds"]) == 1
