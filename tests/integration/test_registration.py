import json
import os
import subprocess
import sys

import pytest

from recbole_mind import MIND
from recbole_mind.integration import registration

from conftest import REPO_ROOT, SLICE_CONFIG

SLICE = SLICE_CONFIG

# The habits of a RecBole user, untouched: RecBole's run_recbole, then load_data_and_model
# on the checkpoint it wrote, scoring the test users again with the reloaded model.
RECBOLE_HABITS = """
import json, sys
import torch
import recbole_mind
from recbole.quick_start import load_data_and_model, run_recbole
from recbole.utils import get_trainer

result = run_recbole(model="MIND", dataset="ml-100k", config_dict=json.loads(sys.argv[1]))
import glob
checkpoint = sorted(glob.glob("saved/MIND-*.pth"))[-1]
config, model, dataset, train, valid, test = load_data_and_model(checkpoint)
trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)
reloaded = trainer.evaluate(test, load_best_model=False)
print(json.dumps({"test_result": dict(result["test_result"]), "reloaded": dict(reloaded),
                  "model_class": type(model).__module__ + "." + type(model).__name__,
                  "checkpoint": checkpoint}))
"""


def test_recbole_run_recbole_and_load_data_and_model_work_for_mind(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", RECBOLE_HABITS, json.dumps({**SLICE, "show_progress": True})],
        cwd=tmp_path, capture_output=True, text=True, timeout=900,
        env={**os.environ, "PYTHONPATH": REPO_ROOT},
    )
    assert done.returncode == 0, done.stderr[-4000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["model_class"] == "recbole_mind.model.mind.MIND"
    assert all(value == value and value >= 0 for value in out["test_result"].values())
    assert out["test_result"]["ndcg@10"] > 0
    assert out["reloaded"] == pytest.approx(out["test_result"])
    assert os.path.basename(out["checkpoint"]).startswith("MIND-")
    assert "Train     0" in done.stderr and "Evaluate" in done.stderr  # RecBole's progress bars
    logs = os.listdir(tmp_path / "log" / "MIND")
    assert logs and all(name.startswith("MIND-ml-100k-") for name in logs)
    assert any(name.startswith("MIND-ml-100k-") for name in os.listdir(tmp_path / "log_tensorboard"))


def test_get_model_and_get_trainer_find_mind():
    from recbole.trainer import Trainer
    from recbole.utils import ModelType, get_model, get_trainer

    assert get_model("MIND") is MIND
    from recbole_mind.model.trainer import MINDTrainer

    assert get_trainer(ModelType.SEQUENTIAL, "MIND") is MINDTrainer and issubclass(MINDTrainer, Trainer)
    assert get_model("SASRec").__name__ == "SASRec"  # RecBole's own models are untouched


def test_recbole_config_reads_the_settings_tables_defaults_under_user_values():
    from recbole.config import Config

    config = Config(model="MIND", dataset="ml-100k", config_dict={"interest_num": 3, "state": "WARNING"})
    assert config["interest_num"] == 3  # the user's value wins
    assert config["routing_softmax_axis"] == "interest"  # the settings table's default
    assert config["train_neg_sample_args"]["distribution"] == "none"  # MIND's: CE, no negatives
    bpr = Config(model="BPR", dataset="ml-100k", config_dict={"state": "WARNING"})
    assert "routing_times" not in bpr.final_config_dict
    assert bpr["diversity_lambda"] == 0.0 and bpr["multi_target"] is False  # every model's keys


def test_registering_twice_changes_nothing():
    from recbole.config import Config

    hook = Config._load_internal_config_dict
    registration.register()
    assert Config._load_internal_config_dict is hook
    assert sys.modules["recbole.model.sequential_recommender.mind"].MIND is MIND
