"""Checks of the RecBole keys a run reads, and of key names, before any data is loaded.

RecBole 1.2.1 ignores a key it does not know (``--epoch=1`` trains for 300 epochs), keeps a
value of the wrong type until deep inside training (``learning_rate: fast``, ``seed: abc``),
trains with values that make no sense (``MAX_ITEM_LIST_LENGTH: 0``) and finds out only after
the first epoch, or after training, that ``valid_metric`` is not computed or that
``checkpoint_dir`` cannot be written. Each check here raises ``ValueError`` naming where the key
came from, the key, the bad value and what is allowed.

A key is known when RecBole's ``overall.yaml``, a dataset YAML, the YAML of ANY RecBole model,
our ``properties/*.yaml`` or RecBole's own code reads it, so keys of other RecBole models stay
allowed. An unknown key close to a known one stops the run ("did you mean ..."); any other
unknown key is reported with a warning (it may belong to a user's own model).
"""

from __future__ import annotations

import difflib
import functools
import glob
import os
import warnings
from typing import Any, Iterable, Mapping

import yaml

import recbole
from recbole_mind.settings.literals import INTERVAL as _INTERVAL, ConfigYamlLoader, literal_values
from recbole_mind.settings.properties import properties_path
from recbole_mind.settings.removed import REMOVED_LEVERS, check_removed_keys
from recbole_mind.settings.table import SETTINGS, Rule, boolean, integer, is_int, is_number

# Keys RecBole's code reads (or the run sets) that no shipped YAML lists.
CODE_ONLY_KEYS = (
    "model", "dataset", "config_file", "device", "encoding", "local_rank", "world_size", "ip",
    "port", "nproc", "offset", "single_spec", "MODEL_TYPE", "MODEL_INPUT_TYPE", "eval_type",
    "valid_neg_sample_args", "test_neg_sample_args",
)
# RecBole's optimizers (Trainer._build_optimizer); any other name silently falls back to Adam.
LEARNERS = ("adam", "sgd", "adagrad", "rmsprop", "sparse_adam")
LOG_LEVELS = ("info", "debug", "warning", "error", "critical")
EVAL_ORDERS = ("RO", "TO")
EVAL_GROUPS = ("user", "none")
DUPLICATE_POLICIES = ("first", "last")


class UnknownKeyError(ValueError):
    """A key no RecBole model, dataset or MIND reads, close to one that is read."""


@functools.lru_cache(maxsize=1)
def known_keys() -> frozenset[str]:
    """Every key RecBole (overall, datasets, all models), MIND or RecBole's code reads."""
    recbole_properties = os.path.join(os.path.dirname(recbole.__file__), "properties")
    # url.yaml and kg_url.yaml map dataset names to URLs: their keys are not config keys.
    paths = [
        path for path in glob.glob(os.path.join(recbole_properties, "**", "*.yaml"), recursive=True)
        if os.path.basename(path) not in ("url.yaml", "kg_url.yaml")
    ]
    # ours: MIND.yaml, datasets, and the keys of protocols/ (multi_target.yaml) and presets/
    ours = os.path.dirname(properties_path("MIND.yaml"))
    paths += glob.glob(os.path.join(ours, "**", "*.yaml"), recursive=True)
    # A removed lever's key is known: at its default it is accepted, else check_removed_keys names it.
    keys = set(CODE_ONLY_KEYS) | set(SETTINGS) | set(REMOVED_LEVERS)
    for path in paths:
        with open(path, encoding="utf-8") as file:
            content = yaml.safe_load(file)
        if isinstance(content, dict):
            keys.update(str(key) for key in content)
    return frozenset(keys)


def close_keys(key: str, candidates: Iterable[str]) -> list[str]:
    """Candidates that look like a misspelling of ``key`` (case ignored), closest first."""
    by_lower = {candidate.lower(): candidate for candidate in candidates}
    matches = difflib.get_close_matches(key.lower(), list(by_lower), n=3, cutoff=0.8)
    return [by_lower[match] for match in matches]


def check_known_keys(keys: Iterable[str], source: str, also_known: Iterable[str] = ()) -> None:
    """Stop on a key that looks like a typo of a known one; warn about other unknown keys.

    Args:
        keys: the key names as the user wrote them.
        source: where they come from (a file, ``the command line``, ``config_dict``), for the message.
        also_known: further names allowed here (e.g. the command line's own flags).
    """
    known = known_keys() | set(also_known)
    for key in keys:
        key = str(key)
        if key in known:
            continue
        close = close_keys(key, known)
        if close:
            raise UnknownKeyError(
                f"{source}: unknown key {key!r}; did you mean {' or '.join(map(repr, close))}? "
                "(no RecBole model, dataset or MIND reads it)"
            )
        warnings.warn(
            f"{source}: key {key!r} is read by no RecBole model, dataset or MIND; it is ignored "
            "unless your own model reads it",
            UserWarning,
            stacklevel=2,
        )


def _one_of(allowed: tuple[str, ...]) -> Rule:
    lowered = {name.lower() for name in allowed}
    return Rule(lambda value: isinstance(value, str) and value.lower() in lowered, f"one of {', '.join(allowed)}")


def _name() -> Rule:
    return Rule(lambda value: isinstance(value, str) and value != "", "a non-empty string")


def _interval(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, list):
        # a YAML list [20, 30], or a config RecBole built before literal_value kept "[20,30]" a
        # string (it str()s the value when it parses the interval)
        return len(value) == 2 and all(is_number(end) for end in value) and value[0] <= value[1]
    if not isinstance(value, str):
        return False
    for part in value.split(";"):
        match = _INTERVAL.match(part.strip())
        if not match or float(match.group(1)) > float(match.group(2)):
            return False
    return True


def _load_col(value: Any) -> bool:
    return value is None or (
        isinstance(value, dict)
        and all(
            isinstance(columns, list) and all(isinstance(column, str) for column in columns)
            for columns in value.values()
        )
    )


def _topk(value: Any) -> bool:
    values = value if isinstance(value, list) else [value]
    return bool(values) and all(is_int(k) and k >= 1 for k in values)


# key -> its rule: the RecBole keys a MIND or baseline run reads. Our own keys' rules are in the
# settings table (settings.table).
RECBOLE_KEY_RULES: dict[str, Rule] = {
    "epochs": integer(1),
    "train_batch_size": integer(1),
    "eval_batch_size": integer(1),
    "MAX_ITEM_LIST_LENGTH": integer(1),
    "stopping_step": integer(1),
    "eval_step": integer(0),
    "worker": integer(0),
    "loss_decimal_place": integer(0),
    "metric_decimal_place": integer(0),
    "seed": Rule((lambda value: is_int(value) and 0 <= value < 2**32), "an integer in [0, 2**32)"),
    "learning_rate": Rule((lambda value: is_number(value) and value > 0), "a finite number > 0"),
    "weight_decay": Rule((lambda value: is_number(value) and value >= 0), "a finite number >= 0"),
    "learner": _one_of(LEARNERS),
    "state": _one_of(LOG_LEVELS),
    "show_progress": boolean(),
    "reproducibility": boolean(),
    "use_gpu": boolean(),
    "shuffle": boolean(),
    "repeatable": boolean(),
    "valid_metric_bigger": boolean(),
    "filter_inter_by_user_or_item": boolean(),
    "enable_amp": boolean(),
    "enable_scaler": boolean(),
    "topk": Rule(_topk, "an integer >= 1 or a non-empty list of them"),
    "metrics": Rule(
        lambda value: isinstance(value, str) or (isinstance(value, list) and bool(value)
                                                 and all(isinstance(name, str) for name in value)),
        "a metric name or a non-empty list of them",
    ),
    "valid_metric": _name(),
    "checkpoint_dir": _name(),
    "data_path": _name(),
    "USER_ID_FIELD": _name(),
    "ITEM_ID_FIELD": _name(),
    "field_separator": _name(),
    "seq_separator": _name(),
    "user_inter_num_interval": Rule(_interval, "an interval like '[5,inf)' or '(0,10]' (';' between several)"),
    "item_inter_num_interval": Rule(_interval, "an interval like '[5,inf)' or '(0,10]' (';' between several)"),
    "rm_dup_inter": Rule(lambda value: value is None or value in DUPLICATE_POLICIES, "~ (keep), first or last"),
    "load_col": Rule(_load_col, "~ (every column) or a mapping like {inter: [user_id, item_id, timestamp]}"),
    "clip_grad_norm": Rule(lambda value: value is None or isinstance(value, dict),
                       "~ or a mapping like {max_norm: 5, norm_type: 2}"),
    "eval_args": Rule(lambda value: isinstance(value, dict), "a mapping with split, group_by, order, mode"),
    # RecBole's KD_DAGFM passes it to eval() to pick its teacher network: a name, never code
    "teacher": Rule((lambda value: value in ("CrossNet", "CIN")), "CrossNet or CIN (KD_DAGFM's teacher networks)"),
}


def metric_names() -> dict[str, str]:
    """RecBole's metric names, lower case -> as RecBole spells them in results (e.g. ndcg -> NDCG)."""
    from recbole.evaluator.register import metrics_dict

    return {name: metric.__name__ for name, metric in metrics_dict.items()}


def _where(source: str) -> str:
    return f"{source}: " if source else ""


def check_key_values(values: Mapping[str, Any], source: str = "") -> None:
    """Type and range of each key in ``values`` that has a rule; metric names; eval_args.

    ``source`` (a file, ``the command line``) starts each message; empty for the merged config.
    """
    check_removed_keys(values, source)
    for key, value in values.items():
        rule = RECBOLE_KEY_RULES[key] if key in RECBOLE_KEY_RULES else SETTINGS[key].rule if key in SETTINGS else None
        if rule is not None:
            rule.check(key, value, source)
    if values.get("metrics") is not None:
        metrics = values["metrics"] if isinstance(values["metrics"], list) else [values["metrics"]]
        known = metric_names()
        for metric in metrics:
            if metric.lower() not in known:
                close = close_keys(metric, known.values())
                hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
                raise ValueError(
                    f"{_where(source)}metrics has no metric {metric!r}.{hint} "
                    f"RecBole's metrics: {', '.join(sorted(known.values()))}"
                )
    if isinstance(values.get("eval_args"), dict):
        _check_eval_args(values["eval_args"], source)


def _check_eval_args(eval_args: Mapping[str, Any], source: str) -> None:
    unknown = set(eval_args) - {"split", "group_by", "order", "mode"}
    if unknown:
        raise ValueError(
            f"{_where(source)}eval_args has unknown keys {sorted(unknown)}; allowed: split, group_by, order, mode"
        )
    order = eval_args.get("order")
    if order is not None and order not in EVAL_ORDERS:
        raise ValueError(f"{_where(source)}eval_args.order must be one of {', '.join(EVAL_ORDERS)}, got {order!r}")
    group_by = eval_args.get("group_by")
    if group_by is not None and group_by not in EVAL_GROUPS:
        raise ValueError(
            f"{_where(source)}eval_args.group_by must be one of {', '.join(EVAL_GROUPS)}, got {group_by!r}"
        )
    split = eval_args.get("split")
    if split is not None:
        ratios = split.get("RS") if isinstance(split, dict) and set(split) == {"RS"} else None
        leave_one_out = isinstance(split, dict) and set(split) == {"LS"}
        if not leave_one_out and not (
            isinstance(ratios, list) and ratios and all(is_number(r) and r >= 0 for r in ratios)
            and sum(ratios) > 0
        ):
            raise ValueError(
                f"{_where(source)}eval_args.split must be {{'RS': [train, valid, test]}} with ratios >= 0 "
                f"or {{'LS': valid_and_test}}, got {split!r}"
            )


def command_line_values(raw_values: Mapping[str, str]) -> dict[str, Any]:
    """``--key=value`` strings read as literals (``literal_value``), never evaluated."""
    return literal_values(raw_values, "the command line")


def read_config_file(path: str) -> dict[str, Any]:
    """A YAML config file as our Config reads it (``literals.ConfigYamlLoader``: RecBole's float
    rule, ``1e-3`` is a float; plain data only)."""
    with open(path, encoding="utf-8") as file:
        content = yaml.load(file.read(), Loader=ConfigYamlLoader)
    if content is None:
        # RecBole's Config fails on an empty file with a TypeError (dict.update(None)).
        raise ValueError(f"Config file {path} holds no keys: add 'key: value' lines or leave it out")
    return content if isinstance(content, dict) else {}


def check_config_file_keys(path: str) -> None:
    """Key names and values of a user's YAML file (hooked into ``check_config_file``)."""
    content = read_config_file(path)
    check_known_keys(content, path)
    check_key_values(content, path)


def user_config(config) -> dict:
    """The keys the user's files, dict and command line set (later wins), not RecBole's defaults
    nor the values RecBole derives from them (it rewrites ``data_path``, for one)."""
    merged: dict = {}
    for source in ("file_config_dict", "variable_config_dict", "cmd_config_dict"):
        merged.update(getattr(config, source, None) or {})
    return merged
