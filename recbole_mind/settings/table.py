"""The one table of the keys this package adds to RecBole: name, default, rule, doc, owner.

Every key that MIND, controllable diversity, the multi-target protocol and the dataset download
add is a :class:`Setting` of :data:`SETTINGS`. Registration gives every RecBole ``Config`` the
table's defaults at RecBole's lowest priority (MIND's keys to MIND's configs, the others to every
config), so each key has a value once a config is built. A setting's rule judges a value on its
own; rules between keys (``short_term_window`` within ``MAX_ITEM_LIST_LENGTH``, a valid metric
among the metrics) stay with the reader of that owner's keys (``model.params``,
``settings.diversity``, ``settings.protocol``), which run when the config is built. The YAML
files under ``properties/`` show the defaults and must agree with the table
(tests/settings/test_table.py); ``--help`` and docs/configuration.md list it; tuning asks a rule
whether a value may be drawn.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass
from typing import Any, Callable, Mapping, TypeVar

import numpy as np

OWNERS = ("MIND", "diversity", "multi_target", "download")
ROUTING_SOFTMAX_AXES = ("interest", "behaviour")
SAMPLER_DISTRIBUTIONS = ("uniform", "popularity")
LOSS_TYPES = ("CE", "SSM")
TRAINING_SCORES = ("attention", "max")
MIN_COSINE_TEMPERATURE = 0.01
DIVERSITY_METRICS = ("Diversity", "CategoryCoverage")
MULTI_TARGET_METRICS = ("Recall", "NDCG", "HitRate")


# ------------------------------------------------------------------------------- values


def is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def as_number(value: Any) -> float | None:
    """``value`` as a float when it is a number (``inf``/``infinity`` spelt as text too), else None."""
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    if isinstance(value, str) and value.strip().lower() in ("inf", "infinity"):
        return math.inf
    return None


def is_number(value: Any) -> bool:
    """A finite int or float (not a bool)."""
    number = as_number(value) if not isinstance(value, str) else None
    return number is not None and math.isfinite(number)


# -------------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class Rule:
    """What a key allows on its own: ``test`` a value, ``text`` the words after "must be",
    ``convert`` the checked value into what the code reads (a float, a tuple), ``hint`` more
    words for a value written the wrong way."""

    test: Callable[[Any], bool]
    text: str
    convert: Callable[[Any], Any] | None = None
    hint: Callable[[str, Any], str] | None = None

    def allows(self, value: Any) -> bool:
        try:
            return bool(self.test(value))
        except (TypeError, ValueError, AttributeError):
            return False

    def check(self, key: str, value: Any, source: str = "") -> Any:
        """``value`` converted, or a ValueError naming ``key`` (after ``source``, a file or
        "the command line") and what it allows."""
        if not self.allows(value):
            hint = self.hint(key, value) if self.hint else ""
            where = f"{source}: " if source else ""
            raise ValueError(f"{where}{key} must be {self.text}, got {value!r}{hint}")
        return self.convert(value) if self.convert else value


def integer(minimum: int) -> Rule:
    return Rule(lambda value: is_int(value) and value >= minimum, f"an integer >= {minimum}", int)


def boolean() -> Rule:
    return Rule(lambda value: isinstance(value, (bool, np.bool_)), "True or False", bool)


def choice(allowed: tuple[str, ...]) -> Rule:
    return Rule(lambda value: value in allowed, f"one of {list(allowed)}")


def number(text: str, test: Callable[[float], bool]) -> Rule:
    """A number (``inf`` spelt as text too) that passes ``test``; read as a float."""
    return Rule(lambda value: as_number(value) is not None and test(as_number(value)), text, as_number)


def _unquoted_names_hint(key: str, value: Any) -> str:
    if isinstance(value, str) and value.startswith("["):  # --key=[age,gender]: names unquoted
        names = ",".join(repr(name.strip()) for name in value.strip("[] ").split(",") if name.strip())
        return f"; on the command line quote the names: --{key}=\"[{names}]\""
    return ""


def field_names() -> Rule:
    return Rule(lambda value: isinstance(value, (list, tuple)) and all(isinstance(name, str) for name in value),
                "a list of field names ([] for none)", tuple, _unquoted_names_hint)


def _integers(value: Any, minimum: int, empty: bool) -> bool:
    values = [value] if is_int(value) else value
    return isinstance(values, (list, tuple)) and (empty or bool(values)) and all(
        is_int(item) and item >= minimum for item in values)


def _names_of(value: Any) -> list:
    return [value] if isinstance(value, str) else list(value)


# ------------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    rule: Rule
    doc: str
    owner: str


_SETTINGS = (
    # MIND (properties/MIND.yaml): the paper's model, then the recommended preset's additions (off here)
    Setting("embedding_size", 128, integer(1), "Size of item embeddings and of each interest vector.", "MIND"),
    Setting("interest_num", 2, integer(1), "K, the maximum number of interests per user.", "MIND"),
    Setting("routing_times", 3, integer(1), "Iterations of B2I dynamic routing.", "MIND"),
    Setting("dynamic_interest", True, boolean(),
            "K'_u = max(1, min(K, floor(log2 |history|))); False: always K.", "MIND"),
    Setting("routing_logit_std", 1.0, number("a finite number > 0", lambda x: 0 < x < math.inf),
            "Std of the Gaussian initial routing logits.", "MIND"),
    Setting("routing_softmax_axis", "interest", choice(ROUTING_SOFTMAX_AXES),
            "Softmax of routing logits over 'interest' or 'behaviour'.", "MIND"),
    Setting("attention_power", math.inf,
            number("a number > 0 (or inf for hard attention)", lambda x: not math.isnan(x) and x > 0),
            "p of label-aware attention; inf = hard attention.", "MIND"),
    Setting("interest_mlp_hidden_sizes", [],
            Rule(lambda value: isinstance(value, (list, tuple)) and _integers(list(value), 1, empty=True),
                 "a list of integers >= 1 (empty list: one linear layer)", tuple),
            "ReLU hidden layers of the interest MLP; [] = one linear map.", "MIND"),
    Setting("dropout_prob", 0.0, number("a number in [0, 1)", lambda x: 0 <= x < 1),
            "Dropout on history embeddings and MLP hidden layers.", "MIND"),
    Setting("loss_type", "CE", choice(LOSS_TYPES), "CE: full softmax over all items; SSM: sampled softmax.", "MIND"),
    Setting("num_negatives", 100, integer(1), "SSM: negatives drawn per batch, shared by its rows.", "MIND"),
    Setting("negative_sampler", "popularity", choice(SAMPLER_DISTRIBUTIONS),
            "SSM: 'uniform' or 'popularity' (training frequency + 1).", "MIND"),
    Setting("logq_correction", True, boolean(), "SSM: subtract log Q(i) from every candidate's logit.", "MIND"),
    Setting("sparse_item_embedding", False, boolean(),
            "SSM only: sparse item-table gradients updated by lazy Adam, so a step's cost does not grow "
            "with the catalogue.", "MIND"),
    Setting("user_profile_fields", [], field_names(),
            "User fields tiled onto every capsule before the interest MLP, e.g. [age, gender, occupation].",
            "MIND"),
    Setting("item_feature_fields", [], field_names(),
            "Item fields mean-pooled with the item id embedding, e.g. [class] on ml-100k.", "MIND"),
    Setting("short_term_window", 0, integer(0),
            "> 0: interest 0 pools the latest short_term_window behaviours, the others are routed.", "MIND"),
    Setting("short_term_recency_weights", False, boolean(),
            "With short_term_window > 0: learn a weight per recency position of that window.", "MIND"),
    Setting("training_score", "attention", choice(TRAINING_SCORES),
            "'attention' (the paper's label-aware attention) or 'max' (every item by its best interest, "
            "the serving rule).", "MIND"),
    Setting("short_term_loss_weight", 0.0, number("a finite number >= 0 (0: off)", lambda x: 0 <= x < math.inf),
            "With short_term_window > 0: weight of the short-term interest's own softmax loss.", "MIND"),
    Setting("cosine_temperature", 0.0,
            number(f"0 (off) or a finite number of at least {MIN_COSINE_TEMPERATURE} (cosine scores divided by "
                   "it are training's logits)", lambda x: x == 0 or MIN_COSINE_TEMPERATURE <= x < math.inf),
            "> 0: scores are cosines (unit vectors), training's logits the cosines over it; 0: inner products.",
            "MIND"),
    # controllable diversity, for every model (properties/diversity.yaml)
    Setting("diversity_lambda", 0.0,
            number("a finite number >= 0 (0: rank by score alone)", lambda x: 0 <= x < math.inf),
            "Weight of the category difference in ComiRec's greedy top-N; 0: rank by score alone.", "diversity"),
    Setting("diversity_category_field", None,
            Rule(lambda value: value is None or (isinstance(value, str) and value != ""),
                 "an item field name (a token or token_seq field, e.g. class on ml-100k, genre on ml-1m) or ~"),
            "Item field holding the categories; needed by diversity_lambda > 0 and the diversity metrics.",
            "diversity"),
    # the multi-target protocol (properties/protocols/multi_target.yaml)
    Setting("multi_target", False, boolean(), "Evaluate with the multi-target protocol instead of eval_args.",
            "multi_target"),
    Setting("user_split", [0.8, 0.1, 0.1],
            Rule(lambda value: isinstance(value, (list, tuple)) and len(value) == 3
                 and all(is_number(share) and share > 0 for share in value),
                 "3 numbers > 0 (shares of train, validation and test users, e.g. [0.8, 0.1, 0.1])"),
            "Train, validation and test users; normalised to sum 1.", "multi_target"),
    Setting("user_split_seed", None, Rule(lambda value: value is None or is_int(value), "an integer or ~ (use seed)"),
            "Seed of the user split; ~ = RecBole's seed.", "multi_target"),
    Setting("history_ratio", 0.8,
            Rule(lambda value: is_number(value) and 0 < value < 1,
                 "a number in (0, 1) (share of behaviours used as history)", float),
            "Earliest share of a held-out user's behaviours that forms the history.", "multi_target"),
    Setting("exclude_history", True, boolean(), "History items are removed from the ranking.", "multi_target"),
    Setting("multi_target_topk", [20, 50],
            Rule(lambda value: _integers(value, 1, empty=False), "a non-empty list of integers >= 1",
                 lambda value: tuple(sorted(set([value] if is_int(value) else value)))),
            "N of Recall@N, NDCG@N and HitRate@N.", "multi_target"),
    Setting("multi_target_metrics", ["Recall", "NDCG", "HitRate"],
            Rule(lambda value: bool(_names_of(value)) and all(
                isinstance(name, str) and name.lower() in {m.lower() for m in MULTI_TARGET_METRICS + DIVERSITY_METRICS}
                for name in _names_of(value)),
                f"a non-empty list of {list(MULTI_TARGET_METRICS + DIVERSITY_METRICS)}",
                lambda value: tuple(dict.fromkeys(
                    {m.lower(): m for m in MULTI_TARGET_METRICS + DIVERSITY_METRICS}[name.lower()]
                    for name in _names_of(value)))),
            "Any of Recall, NDCG, HitRate, Diversity and CategoryCoverage.", "multi_target"),
    Setting("multi_target_valid_metric", "Recall@50",
            Rule(lambda value: isinstance(value, str) and "@" in value, "<metric>@<N> of the protocol's metrics"),
            "<metric>@<N>: early stopping and model choice.", "multi_target"),
    # the dataset download (data.download)
    Setting("download_confirm", False, boolean(), "Accept a dataset archive over 1 GB without asking.", "download"),
)
SETTINGS: dict[str, Setting] = {setting.name: setting for setting in _SETTINGS}
# RecBole keys whose default MIND changes (properties/MIND.yaml): RecBole's rules judge them.
MIND_RECBOLE_DEFAULTS: dict[str, Any] = {"MAX_ITEM_LIST_LENGTH": 5, "train_batch_size": 512,
                                         "train_neg_sample_args": None}


def owned_by(owner: str) -> dict[str, Setting]:
    return {name: setting for name, setting in SETTINGS.items() if setting.owner == owner}


def defaults_for(model_is_ours: bool) -> dict[str, Any]:
    """The defaults registration gives a config: every owner's, MIND's only to our models."""
    values = {name: setting.default for name, setting in SETTINGS.items()
              if model_is_ours or setting.owner != "MIND"}
    if model_is_ours:
        values.update(MIND_RECBOLE_DEFAULTS)
    return values


def setting_value(config: Mapping[str, Any], key: str) -> Any:
    """``config``'s value of a table key, the table's default when ``config`` lacks the key (a
    plain mapping, or a config written before the key existed). A key set to ~ stays None."""
    return config[key] if key in config else SETTINGS[key].default


def checked(config: Mapping[str, Any], key: str) -> Any:
    """:func:`setting_value`, checked by the key's rule and converted."""
    return SETTINGS[key].rule.check(key, setting_value(config, key))


# ------------------------------------------------------------------------- validated once

Params = TypeVar("Params")
# Keys outside the table that the readers' rules between keys look at.
_ALSO_READ = ("MAX_ITEM_LIST_LENGTH", "metrics", "seed", "single_spec")
_VALIDATED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _fingerprint(config: Mapping[str, Any]) -> tuple:
    return tuple(repr(config[key]) if key in config else "-" for key in (*SETTINGS, *_ALSO_READ))


def validated_once(config: Mapping[str, Any], reader: Callable[..., Params], *arguments: Any) -> Params:
    """``reader(config, *arguments)`` (``read_mind_params``, ``read_diversity_params``,
    ``read_multi_target_params``), checked once per config: the config's build checks its keys,
    and the model, evaluation and the protocols then share the frozen object it gave. A key
    changed since is checked again (the result is kept with the keys' values it was read from).
    A plain mapping, which cannot be kept track of, is read each time."""
    try:
        kept = _VALIDATED.setdefault(config, {})
    except TypeError:  # not weakly referable: a dict
        return reader(config, *arguments)
    fingerprint, asked = _fingerprint(config), (reader, repr(arguments))
    found = kept.get(asked)
    if found is None or found[0] != fingerprint:
        kept[asked] = found = (fingerprint, reader(config, *arguments))
    return found[1]
