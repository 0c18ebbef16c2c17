import copy
import os

import pytest
import torch

from recbole_mind import run_recbole_mind
from recbole_mind.model.trainer import MINDTrainer, SparseAndDenseAdam

from conftest import SLICE_CONFIG, build_mind, overridden_config

SPARSE = {"loss_type": "SSM", "sparse_item_embedding": True, "num_negatives": 20}


def make_trainer(ml100k_data, **overrides):
    model = build_mind(ml100k_data, **overrides)
    return MINDTrainer(overridden_config(ml100k_data, **overrides), model), ml100k_data[2]


def test_sparse_item_table_updates_only_the_rows_a_batch_touched(ml100k_data):
    trainer, train = make_trainer(ml100k_data, **SPARSE)
    assert isinstance(trainer.optimizer, SparseAndDenseAdam)
    model = trainer.model.train()
    batch = next(iter(train))[:16]
    table_before = model.item_encoder.id_embedding.weight.detach().clone()
    bilinear_before = model.routing.bilinear.weight.detach().clone()
    trainer.optimizer.zero_grad()
    model.calculate_loss(batch).backward()
    gradient = model.item_encoder.id_embedding.weight.grad
    assert gradient.is_sparse
    touched = set(gradient.coalesce().indices()[0].tolist())
    trainer.optimizer.step()
    changed = (model.item_encoder.id_embedding.weight.detach() != table_before).any(dim=1)
    assert set(changed.nonzero().flatten().tolist()) <= touched and changed.any()
    assert len(touched) < model.n_items / 2  # a batch touches a fraction of the catalogue
    assert not torch.equal(model.routing.bilinear.weight.detach(), bilinear_before)  # dense Adam too


def test_optimizer_state_round_trips_for_resume(ml100k_data):
    trainer, train = make_trainer(ml100k_data, **SPARSE)
    trainer.model.train().calculate_loss(next(iter(train))).backward()
    trainer.optimizer.step()
    state = copy.deepcopy(trainer.optimizer.state_dict())
    other, _ = make_trainer(ml100k_data, **SPARSE)
    other.optimizer.load_state_dict(state)
    assert other.optimizer.state_dict()["optimizers"][1]["state"].keys() == state["optimizers"][1]["state"].keys()
    with pytest.raises(ValueError, match="not from sparse_item_embedding: True"):
        other.optimizer.load_state_dict(torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))]).state_dict())


def test_without_sparse_parameters_it_is_recboles_adam(ml100k_data):
    trainer, _ = make_trainer(ml100k_data, loss_type="SSM")
    assert isinstance(trainer.optimizer, torch.optim.Adam)


@pytest.mark.parametrize(
    "overrides, message",
    [({"learner": "sgd"}, "trains with learner: adam, got learner: sgd"), ({"weight_decay": 0.1}, "does not support weight_decay")],
)
def test_sparse_item_table_refuses_what_sparse_adam_cannot_do(ml100k_data, overrides, message):
    with pytest.raises(ValueError, match=message):
        make_trainer(ml100k_data, **SPARSE, **overrides)


def test_sparse_ssm_trains_and_evaluates_end_to_end(in_tmp_dir):
    result = run_recbole_mind("MIND", "ml-100k", config_dict={**SLICE_CONFIG, **SPARSE})
    assert all(value == value for value in result["test_result"].values())
    assert result["test_result"]["ndcg@10"] > 0


def test_runs_started_in_the_same_second_write_their_own_checkpoints(ml100k_data, tmp_path, monkeypatch):
    # RecBole names the file <model>-<time to the second>.pth: two runs would share it
    import recbole.trainer.trainer as recbole_trainer

    from recbole_mind.training.pipeline import build_trainer

    monkeypatch.setattr(recbole_trainer, "get_local_time", lambda: "Jan-01-2030_00-00-00")
    config = overridden_config(ml100k_data, checkpoint_dir=str(tmp_path))
    (tmp_path / "MIND-Jan-01-2030_00-00-00.pth").write_bytes(b"another run's")
    trainers = [build_trainer(config, build_mind(ml100k_data)) for _ in range(2)]
    for trainer in trainers:
        trainer._save_checkpoint(0, verbose=False)
    names = sorted(os.path.basename(trainer.saved_model_file) for trainer in trainers)
    assert names == ["MIND-Jan-01-2030_00-00-00-2.pth", "MIND-Jan-01-2030_00-00-00-3.pth"]
    assert (tmp_path / "MIND-Jan-01-2030_00-00-00.pth").read_bytes() == b"another run's"
    trainers[0]._save_checkpoint(1, verbose=False)  # a run keeps writing its own file
    assert trainers[0].last_saved == (trainers[0].saved_model_file, 1)
    assert len(list(tmp_path.iterdir())) == 3
