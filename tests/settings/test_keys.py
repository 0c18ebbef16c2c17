"""Key names and RecBole key values are checked before any data loads (recbole_mind.settings.keys)."""

import warnings

import pytest

from recbole_mind.training.config import build_config
from recbole_mind.settings.keys import UnknownKeyError, check_key_values, check_known_keys
from recbole_mind.settings.prerun import check_distributed_flags, check_metrics_consistent

from conftest import QUIET

@pytest.mark.parametrize(
    "typo, meant",
    [
        ("epoch", "epochs"),
        ("interest_nums", "interest_num"),
        ("learnig_rate", "learning_rate"),
        ("max_item_list_length", "MAX_ITEM_LIST_LENGTH"),
        ("train_batch_szie", "train_batch_size"),
        ("stoping_step", "stopping_step"),
        ("valid_metrics", "valid_metric"),
        ("embeding_size", "embedding_size"),
        ("routing_time", "routing_times"),
        ("user_inter_num_intervals", "user_inter_num_interval"),
    ],
)
def test_misspelt_key_in_config_dict_stops_with_did_you_mean(typo, meant):
    with pytest.raises(UnknownKeyError) as error:
        build_config("MIND", "ml-100k", config_dict={**QUIET, typo: 1})
    message = str(error.value)
    assert f"unknown key {typo!r}" in message and f"did you mean {meant!r}" in message


@pytest.mark.parametrize("key, value", [("n_layers", 2), ("hidden_size", 64), ("inner_size", 256)])
def test_keys_of_other_recbole_models_stay_allowed(key, value):
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        assert build_config("MIND", "ml-100k", config_dict={**QUIET, key: value})[key] == value


def test_a_key_far_from_every_known_one_is_only_warned_about():
    with pytest.warns(UserWarning, match="key 'my_model_depth' is read by no RecBole model"):
        check_known_keys(["my_model_depth"], "config_dict")


@pytest.mark.parametrize(
    "key, value, allowed",
    [
        ("MAX_ITEM_LIST_LENGTH", 0, "an integer >= 1"),
        ("MAX_ITEM_LIST_LENGTH", -1, "an integer >= 1"),
        ("MAX_ITEM_LIST_LENGTH", 2.5, "an integer >= 1"),
        ("learning_rate", "fast", "a finite number > 0"),
        ("learning_rate", 0, "a finite number > 0"),
        ("learning_rate", float("nan"), "a finite number > 0"),
        ("seed", "abc", "an integer in [0, 2**32)"),
        ("seed", -1, "an integer in [0, 2**32)"),
        ("epochs", 0, "an integer >= 1"),
        ("epochs", "x", "an integer >= 1"),
        ("train_batch_size", 0, "an integer >= 1"),
        ("eval_batch_size", 2.5, "an integer >= 1"),
        ("stopping_step", 0, "an integer >= 1"),
        ("weight_decay", -1, "a finite number >= 0"),
        ("learner", "adamw", "one of adam, sgd"),
        ("state", "LOUD", "one of info, debug"),
        ("show_progress", "yes", "True or False"),
        ("topk", 0, "an integer >= 1 or a non-empty list"),
        ("topk", "ten", "an integer >= 1 or a non-empty list"),
        ("topk", [], "an integer >= 1 or a non-empty list"),
        ("user_inter_num_interval", "[a,b]", "an interval like '[5,inf)'"),
        ("item_inter_num_interval", "[10,5]", "an interval like '[5,inf)'"),
        ("rm_dup_inter", "all", "~ (keep), first or last"),
        ("load_col", "inter", "~ (every column) or a mapping"),
        ("field_separator", "", "a non-empty string"),
        ("eval_args", {"order": "XX"}, "eval_args.order must be one of RO, TO"),
        ("eval_args", {"split": {"XX": [1]}}, "eval_args.split must be"),
        ("eval_args", {"group": "user"}, "eval_args has unknown keys ['group']"),
        ("metrics", ["Recal"], "Did you mean 'Recall'"),
        ("metrics", [], "a metric name or a non-empty list"),
    ],
)
def test_bad_recbole_value_names_source_key_value_and_what_is_allowed(key, value, allowed):
    with pytest.raises(ValueError) as error:
        check_key_values({key: value}, "my.yaml")
    message = str(error.value)
    assert message.startswith("my.yaml: ") and key in message and allowed in message
    if key not in ("eval_args", "metrics"):
        assert repr(value) in message


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"MAX_ITEM_LIST_LENGTH": 0}, "MAX_ITEM_LIST_LENGTH must be an integer >= 1, got 0"),
        ({"learning_rate": "fast"}, "learning_rate must be a finite number > 0, got 'fast'"),
        ({"valid_metric": "NDCG@20"}, "valid_metric 'NDCG@20' is not computed by this run"),
    ],
)
def test_build_config_checks_recbole_keys_before_data_loads(overrides, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build_config("MIND", "ml-100k", config_dict={**QUIET, **overrides})


@pytest.mark.parametrize(
    "metrics, topk, valid_metric, error",
    [
        (["Recall", "NDCG"], [10], "NDCG@20", "allowed: Recall@10, NDCG@10"),
        (["Recall", "NDCG"], [10], "MRR@10", "allowed: Recall@10, NDCG@10"),
        (["Recall"], [5, 10], "foo", "allowed: Recall@5, Recall@10"),
        (["Recall", "NDCG"], [10], "ndcg@10", None),  # RecBole matches case-insensitively
        (["Recall", "NDCG"], [5, 20], "NDCG@5", None),
        ("Recall", 10, "Recall@10", None),
    ],
)
def test_valid_metric_must_be_computed(metrics, topk, valid_metric, error):
    config = {"metrics": metrics, "topk": topk, "valid_metric": valid_metric}
    if error is None:
        check_metrics_consistent(config)
    else:
        with pytest.raises(ValueError, match=f"valid_metric '{valid_metric}' is not computed") as raised:
            check_metrics_consistent(config)
        assert error in str(raised.value)


def test_checkpoint_dir_that_cannot_be_created_is_refused_before_training(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(ValueError, match=f"checkpoint_dir .* cannot be created: {blocker} is a file"):
        build_config("MIND", "ml-100k", config_dict={**QUIET, "checkpoint_dir": str(blocker / "saved")})


def test_a_new_checkpoint_dir_is_accepted_and_not_created_by_the_check(tmp_path):
    folder = tmp_path / "new" / "saved"
    build_config("MIND", "ml-100k", config_dict={**QUIET, "checkpoint_dir": str(folder)})
    assert not (tmp_path / "new").exists()


def test_yaml_numbers_are_read_as_recbole_reads_them(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("learning_rate: 1e-3\nstate: ERROR\n")
    assert build_config("MIND", "ml-100k", config_file_list=[str(path)])["learning_rate"] == 0.001


@pytest.mark.parametrize(
    "nproc, world_size, ip, port, group_offset, message",
    [
        (0, -1, "localhost", "5678", 0, "--nproc must be an integer >= 1"),
        (2, 1, "localhost", "5678", 0, "--world_size must be -1 (= nproc) or at least --nproc (2)"),
        (2, -1, "localhost", "5678", -1, "--group_offset must be an integer in [0, world_size - nproc] = [0, 0]"),
        (2, 4, "localhost", "5678", 3, "= [0, 2]"),
        (2, -1, "localhost", "0", 0, "--port must be an integer in [1, 65535], got '0'"),
        (2, -1, "localhost", "70000", 0, "--port must be an integer in [1, 65535]"),
        (2, -1, "localhost", "http", 0, "--port must be an integer in [1, 65535]"),
        (2, -1, "", "5678", 0, "--ip must be a host name or address"),
        (2, -1, "10.0.0.1 ", "5678", 0, "--ip must be a host name or address"),
    ],
)
def test_inconsistent_distributed_flags_are_refused(nproc, world_size, ip, port, group_offset, message):
    with pytest.raises(ValueError) as error:
        check_distributed_flags(nproc, world_size, ip, port, group_offset)
    assert message in str(error.value)


@pytest.mark.parametrize("flags", [(1, -1, "localhost", "5678", 0), (4, 8, "10.0.0.1", 29500, 4)])
def test_consistent_distributed_flags_pass(flags):
    check_distributed_flags(*flags)


GRAD_SCALER = "`torch.cuda.amp.GradScaler(args...)` is deprecated. Please use `torch.amp.GradScaler('cuda', args...)` instead."
CHAINED = "A value is trying to be set on a copy of a DataFrame or Series through chained assignment using an inplace method."


@pytest.mark.parametrize("message", [GRAD_SCALER, CHAINED])
def test_third_party_deprecations_are_silenced_only_where_recbole_triggers_them(message):
    from recbole_mind.settings.prerun import silence_third_party_deprecations

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        silence_third_party_deprecations()
        warnings.warn_explicit(message, FutureWarning, "trainer.py", 235, module="recbole.trainer.trainer")
        warnings.warn_explicit(message, FutureWarning, "ours.py", 1, module="recbole_mind.model.trainer")
        warnings.warn_explicit("our own warning", FutureWarning, "trainer.py", 1, module="recbole.trainer.trainer")
    assert [str(warning.message) for warning in caught] == [message, "our own warning"]
