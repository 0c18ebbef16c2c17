"""The benchmark's rows and protocols: what each row trains and under which YAML files.

A row is a named model configuration (``MODELS``); a protocol (``PROTOCOLS``) layers its files on
``protocol.yaml``. ``row_config`` gives the RecBole ``Config`` of a row for the scripts that train
or time one row themselves (epoch_cost, frontier).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PROTOCOL = os.path.join(HERE, "protocol.yaml")
QUICK = os.path.join(HERE, "quick.yaml")
PROPERTIES = os.path.join(ROOT, "properties")

# row name -> (model, YAML files after the protocol's, config overrides)
PRESET = os.path.join(PROPERTIES, "presets", "MIND-recommended.yaml")
# A baseline's best validated batch size and learning rate (docs/tuning.md, grid 18), one YAML
# per model that beat RecBole's defaults; its row is "<model> tuned".
BASELINES = os.path.join(HERE, "baselines")
TUNED = " tuned"
MODELS: dict[str, tuple[str, list[str], dict[str, Any]]] = {
    "MIND": ("MIND", [], {}),
    "MIND preset": ("MIND", [PRESET], {}),
    "MIND preset K=1": ("MIND", [PRESET], {"interest_num": 1}),
    "MIND preset L=5": ("MIND", [PRESET], {"MAX_ITEM_LIST_LENGTH": 5}),
    # the preset as it was before grid 35: inner products, not cosine scores
    "MIND preset dot": ("MIND", [PRESET], {"cosine_temperature": 0.0}),
    "SASRec": ("SASRec", [], {}),
    "GRU4Rec": ("GRU4Rec", [], {}),
    "SINE": ("SINE", [], {}),
    **{
        model + TUNED: (model, [os.path.join(BASELINES, f"{model}.yaml")], {})
        for model in ("SASRec", "GRU4Rec", "SINE")
        if os.path.isfile(os.path.join(BASELINES, f"{model}.yaml"))
    },
    "Pop": ("Pop", [], {}),
}
# One colour per row in every figure (benchmarks.png, time_to_quality.png, the frontier plot), so
# a reader follows a model from figure to figure; no two rows share one.
ROW_COLOURS = dict(zip(MODELS, (
    "tab:red", "tab:orange", "tab:brown", "tab:pink", "gold", "tab:blue", "tab:green", "tab:purple",
    "tab:cyan", "tab:olive", "black", "tab:gray",
)))
REPORTED = ["recall@10", "mrr@10", "ndcg@10", "hit@10", "recall@50", "mrr@50", "ndcg@50", "hit@50"]


@dataclass(frozen=True)
class Protocol:
    """One evaluation protocol of the benchmark: its YAML files (after ``protocol.yaml``), the
    rows it runs by default, the metrics its table reports and the two its plot draws."""

    files: tuple[str, ...]
    rows: tuple[str, ...]
    reported: tuple[str, ...]
    headline: tuple[str, str]  # (quality metric, recall metric) of the plot and the targets
    valid_metric: str  # what the validation curve holds
    description: str


PROTOCOLS: dict[str, Protocol] = {
    "leave_one_out": Protocol(
        files=(), rows=tuple(MODELS), reported=tuple(REPORTED), headline=("ndcg@10", "recall@50"),
        valid_metric="NDCG@10",
        description=(
            "RecBole's leave-one-out (`benchmarks/protocol.yaml`): `LS: valid_and_test`, `order: TO`, "
            "full sort over all items; every user's last item is the test target, the one before it "
            "the validation target."
        ),
    ),
    "multi_target": Protocol(
        files=(os.path.join(PROPERTIES, "protocols", "multi_target.yaml"),),
        rows=tuple(row for row in MODELS if row != "MIND preset L=5"),
        reported=("recall@20", "ndcg@20", "hitrate@20", "recall@50", "ndcg@50", "hitrate@50"),
        headline=("ndcg@50", "recall@50"), valid_metric="Recall@50",
        description=(
            "The multi-interest literature's protocol (ComiRec, REMI; "
            "`properties/protocols/multi_target.yaml` on top of `benchmarks/protocol.yaml`): users "
            "split 8:1:1 into train, validation and test users (seeded by the run's seed); models "
            "train on the train users' sequences; a held-out user's earliest 80% of behaviours are "
            "the history (truncated to the model's window), the distinct later items the targets; "
            "full sort over the catalogue with history items excluded; Recall@N = hits / targets, "
            "NDCG@N, HitRate@N averaged over users; early stopping on validation users' Recall@50."
        ),
    ),
}


def section_name(dataset: str, protocol: str) -> str:
    """The report section (and summary key) of a dataset under a protocol."""
    return dataset if protocol == "leave_one_out" else f"{dataset}, {protocol.replace('_', '-')} protocol"


def run_section(run: dict[str, Any]) -> str:
    # runs kept before the multi-target protocol existed carry no protocol: leave-one-out
    return section_name(run["dataset"], run.get("protocol", "leave_one_out"))


def protocol_files(dataset: str, quick: bool, row_files: list[str] = (), protocol: str = "leave_one_out") -> list[str]:
    """The protocol, the dataset's protocol file, the protocol's own files, the row's own
    files, then --quick's slice."""
    files = [PROTOCOL]
    dataset_file = os.path.join(HERE, f"protocol_{dataset}.yaml")
    if os.path.isfile(dataset_file):
        files.append(dataset_file)
    files += [*PROTOCOLS[protocol].files, *row_files]
    if quick:
        files.append(QUICK)
    return files


def row_config(row: str, dataset: str, protocol: str, seed: int, data_path: str | None = None, **keys: Any):
    """RecBole's ``Config`` of a benchmark row under ``protocol``, for the scripts that train or
    time one row in their own process (``data_path``: the folder holding ``<dataset>/``; ``keys``
    override the row's own)."""
    from recbole_mind.training.config import build_config

    model_name, row_files, overrides = MODELS[row]
    config_dict = {**overrides, "seed": seed, **keys}
    if data_path:
        config_dict["data_path"] = os.path.abspath(data_path)
    return build_config(model_name, dataset, protocol_files(dataset, False, row_files, protocol), config_dict)


def dataset_available(dataset: str, data_path: str | None) -> bool:
    if dataset == "ml-100k":
        return True  # ships inside the recbole wheel
    folder = os.path.join(data_path or "dataset", dataset)
    return os.path.isfile(os.path.join(folder, f"{dataset}.inter"))
