"""Distributed evaluation counts each user once, and weighs the processes by their users (issue 45)."""

import os
import subprocess
import sys

import pytest
import torch

from recbole_mind.training.checkpoint import load_checkpoint, restore_model
from recbole_mind.integration.distributed import UnpaddedDistributedSampler

from conftest import REPO_ROOT, SLICE_CONFIG, file_sha256, free_port, overridden_config


@pytest.mark.parametrize("samples, processes", [(2, 2), (7, 2), (213, 2), (3, 3), (7, 3), (213, 3)])
@pytest.mark.parametrize("shuffle", [False, True])
def test_the_unpadded_sampler_gives_each_sample_to_exactly_one_rank(samples, processes, shuffle):
    shares = [list(UnpaddedDistributedSampler(range(samples), num_replicas=processes, rank=rank, shuffle=shuffle))
              for rank in range(processes)]
    assert sorted(index for share in shares for index in share) == list(range(samples))
    assert [len(share) for share in shares] == [
        len(UnpaddedDistributedSampler(range(samples), num_replicas=processes, rank=rank)) for rank in range(processes)
    ]
    assert max(map(len, shares)) - min(map(len, shares)) <= 1


def _evaluation_loader(data, processes: int, rank: int, monkeypatch):
    """RecBole's full-sort test loader as rank ``rank`` of ``processes`` builds it (no group is
    started: torch's sampler asks torch.distributed for the world size and rank)."""
    from recbole.data.dataloader.general_dataloader import FullSortEvalDataLoader

    monkeypatch.setattr(torch.distributed, "get_world_size", lambda *args: processes)
    monkeypatch.setattr(torch.distributed, "get_rank", lambda *args: rank)
    config = overridden_config(data, single_spec=False, world_size=processes, local_rank=rank)
    test = data[4]
    return FullSortEvalDataLoader(config, test._dataset, test._sampler, shuffle=False)


def test_test_users_are_each_evaluated_by_exactly_one_of_two_processes(ml100k_data, monkeypatch):
    users = ml100k_data[4].sample_size
    assert users % 2 == 1  # RecBole's sampler would give rank 1 the first user again
    evaluated = []
    for rank in range(2):
        loader = _evaluation_loader(ml100k_data, 2, rank, monkeypatch)
        assert isinstance(loader.sampler, UnpaddedDistributedSampler)
        # the swap lasted while RecBole built the loader only
        assert torch.utils.data.distributed.DistributedSampler is not UnpaddedDistributedSampler
        for interaction, _, _, _ in loader:
            evaluated.extend(interaction[loader.uid_field].tolist())
    assert len(evaluated) == users
    assert sorted(evaluated) == sorted(ml100k_data[4]._dataset.inter_feat[ml100k_data[4].uid_field].tolist())


def test_more_processes_than_users_to_evaluate_is_refused(ml100k_data, monkeypatch):
    users = ml100k_data[4].sample_size
    with pytest.raises(ValueError, match=f"has {users} users to evaluate for {users + 1} processes: .*at most {users}"):
        _evaluation_loader(ml100k_data, users + 1, 0, monkeypatch)



def test_two_processes_resume_into_a_new_file_and_test_as_one_process_does(trained_mind, tmp_path):
    """Two gloo processes on a slice of ml-100k (213 test users, an odd number) resume a
    checkpoint: rank 0 writes a new file, the resumed one is left as it was, and the test
    metrics equal one process's evaluation of the new checkpoint."""
    from recbole_mind.training.config import build_config
    from recbole_mind.training.pipeline import build_trainer, prepare

    saved = load_checkpoint(trained_mind[0])
    saved["best_valid_score"] = float("-inf")  # the resumed epoch beats it: rank 0 saves it
    original = tmp_path / "resumed.pth"
    torch.save(saved, original)
    before = file_sha256(original)
    keys = {**SLICE_CONFIG, "interest_num": 4, "epochs": 2}
    done = subprocess.run(
        [sys.executable, os.path.join(REPO_ROOT, "run_recbole_mind.py"), "--nproc", "2",
         "--port", str(free_port()), f"--resume={original}", *(f"--{key}={value}" for key, value in keys.items())],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert file_sha256(original) == before
    lines = done.stdout.splitlines()
    checkpoint = next(line for line in lines if line.startswith("checkpoint: ")).split()[1].rstrip(";")
    assert [path.name for path in (tmp_path / "saved").iterdir()] == [os.path.basename(checkpoint)]
    assert load_checkpoint(str(tmp_path / checkpoint))["epoch"] == 1
    distributed = next(line for line in lines if line.startswith("test result: "))

    old_cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        config = build_config("MIND", "ml-100k", config_dict=keys)
        _, _, _, test_data, model = prepare(config)
        assert test_data.sample_size % 2 == 1
        restore_model(model, load_checkpoint(checkpoint))
        single = build_trainer(config, model).evaluate(test_data, load_best_model=False)
    finally:
        os.chdir(old_cwd)
    assert distributed == "test result: " + ", ".join(f"{key}: {float(value):.4f}" for key, value in single.items())
