import math
import os
import urllib.error
import urllib.request

import pytest
from recbole.utils import get_trainer

from recbole_mind import MIND, run_recbole_mind
from recbole_mind.training.checkpoint import load_data_and_model
from recbole_mind.training.config import build_config, resolve_model
from recbole_mind.data.datasets import DatasetNotFoundError

from conftest import FAST_CONFIG, REPO_ROOT


def random_ndcg_at_10(n_items: int) -> float:
    """Expected NDCG@10 of a uniformly random ranking with one relevant item."""
    return sum(1 / math.log2(rank + 1) for rank in range(1, 11)) / n_items


@pytest.fixture(scope="module")
def mind_run(tmp_path_factory):
    """One real epoch of MIND on the whole of ml-100k, through our quick-start."""
    import os

    old_cwd = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("mind_run"))
    try:
        yield run_recbole_mind(
            "MIND", "ml-100k", config_dict={**FAST_CONFIG, "epochs": 1}
        ), os.getcwd()
    finally:
        os.chdir(old_cwd)


def test_mind_trains_one_epoch_above_random_floor(mind_run):
    result, _ = mind_run
    assert set(result) >= {"best_valid_score", "valid_score_bigger", "best_valid_result", "test_result"}
    ndcg = result["test_result"]["ndcg@10"]
    assert math.isfinite(ndcg)
    # 1,682 items: a random ranking scores about .0027 (random_ndcg_at_10); one epoch must double it
    assert ndcg > 2 * random_ndcg_at_10(1682)
    assert len(result["train_epoch_seconds"]) == 1 and result["train_epoch_seconds"][0] > 0
    assert result["valid_curve"] == [[result["train_epoch_seconds"][0], result["best_valid_score"]]]
    assert result["test_users"] == 943 and result["test_seconds"] > 0


def test_best_checkpoint_reloads_and_reproduces_test_result(mind_run, monkeypatch):
    result, run_dir = mind_run
    monkeypatch.chdir(run_dir)
    config, model, _, _, _, test = load_data_and_model(result["checkpoint"])
    assert config["model"] == "MIND"
    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)
    reloaded = trainer.evaluate(test, load_best_model=False, show_progress=False)
    assert dict(reloaded) == pytest.approx(dict(result["test_result"]))


def test_sasrec_baseline_runs_through_the_same_entry_point(in_tmp_dir):
    small_sasrec = {"n_layers": 1, "hidden_size": 16, "inner_size": 32, "MAX_ITEM_LIST_LENGTH": 10}
    result = run_recbole_mind(
        "SASRec", "ml-100k", config_dict={**FAST_CONFIG, **small_sasrec, "epochs": 1}
    )
    assert result["checkpoint"].split("/")[-1].startswith("SASRec-")
    assert all(math.isfinite(value) for value in result["test_result"].values())


def test_defaults_come_from_mind_yaml_and_user_files_override_them(tmp_path):
    user_yaml = tmp_path / "mine.yaml"
    user_yaml.write_text("interest_num: 7\nrouting_times: 2\n")
    config = build_config(
        "MIND", "ml-100k", config_file_list=[str(user_yaml)], config_dict={"routing_times": 5}
    )
    assert config["interest_num"] == 7  # file beats MIND.yaml
    assert config["routing_times"] == 5  # dict beats file
    assert config["routing_softmax_axis"] == "interest"  # from MIND.yaml
    assert config["train_neg_sample_args"]["distribution"] == "none"  # sequential CE default


def test_no_negative_sampling_default_only_for_models_trained_with_ce():
    assert build_config("SASRec")["train_neg_sample_args"]["distribution"] == "none"
    assert build_config("FPMC")["train_neg_sample_args"]["distribution"] == "uniform"  # BPR


def test_resolve_model_finds_ours_and_recbole_builtins():
    assert resolve_model("MIND") is MIND
    assert resolve_model("GRU4Rec").__name__ == "GRU4Rec"
    assert resolve_model(MIND) is MIND


def test_unknown_model_lists_what_exists():
    with pytest.raises(ValueError) as error:
        resolve_model("gru4rec")
    message = str(error.value)
    assert "'gru4rec'" in message and "Did you mean 'GRU4Rec'" in message
    assert "MIND" in message and "SASRec" in message


def test_missing_config_file_is_named():
    with pytest.raises(FileNotFoundError, match="no/such/file.yaml"):
        build_config("MIND", "ml-100k", config_file_list=["no/such/file.yaml"])


def test_bad_key_fails_before_data_is_loaded():
    with pytest.raises(ValueError, match="interest_num must be an integer >= 1, got 0"):
        build_config("MIND", "ml-100k", config_dict={"interest_num": 0})


def test_offline_ml1m_without_local_files_says_where_to_put_them(in_tmp_dir, monkeypatch):
    def no_network(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    with pytest.raises(DatasetNotFoundError) as error:
        run_recbole_mind("MIND", "ml-1m", config_dict={**FAST_CONFIG, "data_path": "data"})
    message = str(error.value)
    assert str(in_tmp_dir / "data" / "ml-1m") in message
    assert "ml-1m.inter" in message and "--data_path" in message
    assert "python -m recbole_mind.data.movielens" in message


def test_ml1m_defaults_follow_recbole_benchmark_protocol():
    config = build_config("MIND", "ml-1m")
    assert config["val_interval"] == {"rating": "[3,inf)"}
    assert config["user_inter_num_interval"] == "[10,inf)"
    assert config["item_inter_num_interval"] == "[10,inf)"


@pytest.mark.slow
def test_readme_main_job_beats_the_popularity_floor(in_tmp_dir):
    # The README's first command: default MIND on ml-100k with early stopping (37 epochs).
    # Pop's NDCG@10 on this split is in docs/benchmarks.md (Pop row); the floor below sits above it.
    result = run_recbole_mind("MIND", "ml-100k", config_dict={"show_progress": False, "state": "WARNING"})
    assert result["test_result"]["ndcg@10"] > 0.05


@pytest.fixture
def no_process_starts(monkeypatch):
    """Fail the test if run() starts a run or spawns processes."""
    import torch.multiprocessing

    import recbole_mind.run.quick_start as quick_start

    def refuse(*args, **kwargs):
        raise AssertionError("a run started despite bad arguments")

    monkeypatch.setattr(torch.multiprocessing, "spawn", refuse)
    monkeypatch.setattr(quick_start, "run_recbole_mind", refuse)


@pytest.mark.parametrize(
    "flags, message",
    [
        ({"nproc": 0}, "nproc must be an integer >= 1, got 0"),
        ({"nproc": 2, "world_size": 1}, "world_size must be -1 (= nproc) or at least nproc (2), got 1"),
        ({"nproc": 1, "world_size": 0}, "world_size must be -1 (= nproc) or at least nproc (1), got 0"),
        ({"nproc": 2, "group_offset": 1}, "group_offset must be an integer in [0, world_size - nproc] = [0, 0]"),
        ({"nproc": 2, "world_size": 4, "group_offset": 3}, "= [0, 2]"),
        ({"nproc": 2, "port": "http"}, "port must be an integer in [1, 65535], got 'http'"),
        ({"nproc": 2, "port": 70000}, "port must be an integer in [1, 65535], got 70000"),
        ({"nproc": 2, "ip": "10.0.0.1 "}, "ip must be a host name or address"),
    ],
)
def test_the_python_api_checks_distributed_flags_before_starting_processes(in_tmp_dir, no_process_starts,
                                                                           flags, message):
    from recbole_mind.run.quick_start import run

    with pytest.raises(ValueError) as error:
        run("MIND", "ml-100k", config_dict={**FAST_CONFIG, "epochs": 1}, **flags)
    assert message in str(error.value) and "--" not in str(error.value)  # named as run()'s arguments
    assert not (in_tmp_dir / "log").exists()


def test_a_distributed_run_refuses_a_finished_checkpoint_before_spawning(trained_mind, in_tmp_dir,
                                                                        no_process_starts):
    from recbole_mind.run.quick_start import run

    with pytest.raises(ValueError, match="holds 1 trained epoch and this run has epochs=1"):
        run("MIND", "ml-100k", config_dict={**FAST_CONFIG, "epochs": 1, "interest_num": 4},
            resume_checkpoint=trained_mind[0], nproc=2)


def test_the_multi_target_protocol_refuses_several_processes_before_spawning(in_tmp_dir, no_process_starts):
    from recbole_mind.run.quick_start import run

    protocol = os.path.join(REPO_ROOT, "properties", "protocols", "multi_target.yaml")
    with pytest.raises(ValueError, match="multi_target: True runs in one process"):
        run("MIND", "ml-100k", config_file_list=[protocol], config_dict={**FAST_CONFIG, "epochs": 1}, nproc=2)
    assert not (in_tmp_dir / "log").exists()
