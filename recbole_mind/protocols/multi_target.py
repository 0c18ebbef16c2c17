"""The multi-interest protocol: held-out users whose history retrieves several future items.

RecBole's leave-one-out protocol scores one next item per user. ComiRec (KDD 2020), REMI
(RecSys 2023) and MIND's own offline test measure candidate retrieval instead:

- users are split at random into train, validation and test users (``user_split``, 8:1:1);
- models train on the train users' whole sequences exactly as RecBole trains a sequential
  model (RecBole's ``SequentialDataset`` augmentation and ``TrainDataLoader``);
- each validation or test user's time-ordered behaviours are cut once: the earliest
  ``history_ratio`` (80%) are the history, fed to the model's ``full_sort_predict`` truncated
  to ``MAX_ITEM_LIST_LENGTH`` (most recent kept, as in training); the distinct later items
  are the targets;
- the whole catalogue is ranked; with ``exclude_history`` the history items cannot be
  recommended (as RecBole's full sort removes a user's training items), and targets already
  in the history are dropped (they could never be hit);
- Recall@N = hits / |targets|, NDCG@N = DCG of the hits over the IDCG of min(|targets|, N)
  hits, HitRate@N = share of users with at least one hit; all averaged over users.
  ComiRec's released code discounts a hit by its position in the target list instead of its
  rank and normalises by the IDCG of the hits found; we use the rank-based definition above,
  the same as RecBole's NDCG, so a hit counts more the higher it is ranked.

Validation users drive RecBole's early stopping (``multi_target_valid_metric``); the test users
are evaluated once, on the best checkpoint. ``run_multi_target`` returns the same result dict
as ``quick_start.run_recbole_mind`` with ``protocol: "multi_target"``.
"""

from __future__ import annotations

import functools
import math
import time
from collections import OrderedDict
from dataclasses import dataclass
from logging import getLogger
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
import yaml
from recbole.config import Config
from recbole.data.dataset import Dataset
from recbole.data.interaction import Interaction
from recbole.data.utils import create_samplers, get_dataloader
from recbole.trainer import Trainer
from recbole.utils import ModelType, init_logger, init_seed, set_color
from torch import nn

from recbole_mind.registration import properties_path

PROTOCOL_NAME = "multi_target"
PROTOCOL_FILE = "protocols/multi_target.yaml"
METRICS = ("Recall", "NDCG", "HitRate")

# A scorer maps a batch of held-out users to one score per catalogue item: (B, n_items).
Scorer = Callable[[Interaction], torch.Tensor]


# ----------------------------------------------------------------------------- config keys


@dataclass(frozen=True)
class MultiTargetParams:
    """The protocol's keys, validated (``properties/protocols/multi_target.yaml``)."""

    user_split: tuple[float, float, float]
    user_split_seed: int
    history_ratio: float
    exclude_history: bool
    topk: tuple[int, ...]
    metrics: tuple[str, ...]
    valid_metric: str  # lower case, as RecBole's trainer keys results: "recall@50"


@functools.lru_cache(maxsize=None)
def protocol_defaults() -> dict[str, Any]:
    """The keys of the shipped protocol file: defaults for keys a config leaves out."""
    with open(properties_path(PROTOCOL_FILE), encoding="utf-8") as file:
        return yaml.safe_load(file)


def _get(config: Mapping[str, Any], key: str) -> Any:
    # RecBole's Config answers None for a key it does not hold; a key set to ~ is kept as None.
    return config[key] if key in config else protocol_defaults()[key]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def is_multi_target(config: Mapping[str, Any]) -> bool:
    """Whether ``config`` selects this protocol (``multi_target: True``)."""
    value = config["multi_target"] if "multi_target" in config else None
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ValueError(f"multi_target must be True or False, got {value!r}")
    return value


def read_multi_target_params(config: Mapping[str, Any]) -> MultiTargetParams:
    """Validate the protocol's keys in a RecBole ``Config`` (or any mapping).

    Keys the config does not hold take the shipped file's values. Each error names the key,
    the bad value and what is allowed.
    """
    user_split = _get(config, "user_split")
    if (
        not isinstance(user_split, (list, tuple))
        or len(user_split) != 3
        or not all(_is_number(share) and share > 0 for share in user_split)
    ):
        raise ValueError(
            "user_split must be 3 numbers > 0 (shares of train, validation and test users, "
            f"e.g. [0.8, 0.1, 0.1]), got {user_split!r}"
        )
    total = float(sum(user_split))
    seed = _get(config, "user_split_seed")
    if seed is None:
        seed = config["seed"] if "seed" in config and config["seed"] is not None else 2020
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"user_split_seed must be an integer or ~ (use seed), got {seed!r}")
    history_ratio = _get(config, "history_ratio")
    if not _is_number(history_ratio) or not 0 < history_ratio < 1:
        raise ValueError(
            f"history_ratio must be a number in (0, 1) (share of behaviours used as history), got {history_ratio!r}"
        )
    exclude_history = _get(config, "exclude_history")
    if not isinstance(exclude_history, bool):
        raise ValueError(f"exclude_history must be True or False, got {exclude_history!r}")
    topk = _get(config, "multi_target_topk")
    if isinstance(topk, int) and not isinstance(topk, bool):
        topk = [topk]
    if (
        not isinstance(topk, (list, tuple))
        or not topk
        or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in topk)
    ):
        raise ValueError(f"multi_target_topk must be a non-empty list of integers >= 1, got {topk!r}")
    metrics = _get(config, "multi_target_metrics")
    canonical = {name.lower(): name for name in METRICS}
    if isinstance(metrics, str):
        metrics = [metrics]
    if (
        not isinstance(metrics, (list, tuple))
        or not metrics
        or any(not isinstance(name, str) or name.lower() not in canonical for name in metrics)
    ):
        raise ValueError(f"multi_target_metrics must be a non-empty list of {list(METRICS)}, got {metrics!r}")
    metrics = tuple(dict.fromkeys(canonical[name.lower()] for name in metrics))
    topk = tuple(sorted(set(topk)))
    valid_metric = _get(config, "multi_target_valid_metric")
    allowed = [f"{name}@{n}" for name in metrics for n in topk]
    if not isinstance(valid_metric, str) or valid_metric.lower() not in [name.lower() for name in allowed]:
        raise ValueError(f"multi_target_valid_metric must be one of {allowed}, got {valid_metric!r}")
    if "single_spec" in config and config["single_spec"] is False:
        raise ValueError(
            "multi_target: True runs in one process; distributed training (nproc > 1) is not supported yet"
        )
    return MultiTargetParams(
        user_split=tuple(share / total for share in user_split),
        user_split_seed=seed,
        history_ratio=float(history_ratio),
        exclude_history=exclude_history,
        topk=topk,
        metrics=metrics,
        valid_metric=valid_metric.lower(),
    )


# ------------------------------------------------------------------------ users and targets


def time_ordered_sequences(
    frame: pd.DataFrame, uid_field: str, iid_field: str, time_field: str
) -> dict[int, np.ndarray]:
    """Each user's item ids in time order (ties keep the file's order, as a stable sort)."""
    ordered = frame.sort_values([uid_field, time_field], kind="mergesort")
    users = ordered[uid_field].to_numpy()
    items = ordered[iid_field].to_numpy().astype(np.int64)
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    return {int(users[s]): items[s:e] for s, e in zip(starts, np.r_[starts[1:], len(users)])}


def split_users(
    user_ids: Sequence[int], shares: Sequence[float], seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train, validation and test users: a seeded permutation cut by ``shares``.

    Validation and test get ``round(n * share)`` users each and at least one; train the rest.
    """
    user_ids = np.sort(np.asarray(user_ids, dtype=np.int64))
    n_users = len(user_ids)
    n_valid = max(1, int(round(n_users * shares[1])))
    n_test = max(1, int(round(n_users * shares[2])))
    if n_users - n_valid - n_test < 1:
        raise ValueError(
            f"user_split {list(shares)} leaves no train users among {n_users} users: use more users "
            "or a larger train share"
        )
    permuted = np.random.default_rng(seed).permutation(user_ids)
    return (
        np.sort(permuted[n_valid + n_test:]),
        np.sort(permuted[:n_valid]),
        np.sort(permuted[n_valid:n_valid + n_test]),
    )


def history_length(n_behaviours: int, history_ratio: float) -> int:
    """How many of a user's earliest behaviours form the history: ``floor(n * ratio)``, as
    ComiRec, kept in ``[1, n - 1]`` so that there is a history and at least one target."""
    return min(max(int(n_behaviours * history_ratio), 1), n_behaviours - 1)


@dataclass
class HeldOutUsers:
    """Validation or test users: the model's input, the items to exclude and the targets.

    ``item_seq`` holds the most recent ``max_item_list_length`` history items left-aligned and
    padded with 0, as RecBole's ``SequentialDataset`` builds its ``item_id_list``.
    """

    user_ids: np.ndarray  # (U,)
    histories: list[np.ndarray]  # the whole history of each user (excluded from ranking)
    targets: list[np.ndarray]  # the distinct items each user should retrieve
    item_seq: torch.Tensor  # (U, L)
    item_seq_len: torch.Tensor  # (U,)
    uid_field: str
    item_seq_field: str
    item_seq_len_field: str
    skipped_users: int = 0  # held-out users with too few behaviours or no target left
    user_features: Interaction | None = None  # RecBole's user_feat, joined as its loaders do

    def __len__(self) -> int:
        return len(self.user_ids)

    def interaction(self, start: int, stop: int) -> Interaction:
        """Users ``start:stop`` as the batch a sequential model's ``full_sort_predict`` reads."""
        user_ids = torch.as_tensor(self.user_ids[start:stop])
        batch = Interaction({
            self.uid_field: user_ids,
            self.item_seq_field: self.item_seq[start:stop],
            self.item_seq_len_field: self.item_seq_len[start:stop],
        })
        if self.user_features is not None:
            batch.update(self.user_features[user_ids])
        return batch


def build_held_out_users(
    sequences: Mapping[int, np.ndarray],
    user_ids: Sequence[int],
    history_ratio: float,
    max_item_list_length: int,
    exclude_history: bool,
    uid_field: str = "user_id",
    item_seq_field: str = "item_id_list",
    item_seq_len_field: str = "item_length",
) -> HeldOutUsers:
    """Cut each user's time-ordered behaviours into history and targets (module docstring)."""
    kept, histories, targets = [], [], []
    for user in user_ids:
        items = sequences[int(user)]
        if len(items) < 2:
            continue
        cut = history_length(len(items), history_ratio)
        history, future = items[:cut], items[cut:]
        # Distinct targets, in order of first appearance; one the user already had cannot be
        # ranked when history items are excluded, so it does not count.
        future = pd.unique(future)
        if exclude_history:
            future = future[~np.isin(future, history)]
        if len(future) == 0:
            continue
        kept.append(int(user))
        histories.append(history)
        targets.append(np.asarray(future, dtype=np.int64))
    item_seq = torch.zeros((len(kept), max_item_list_length), dtype=torch.long)
    item_seq_len = torch.zeros(len(kept), dtype=torch.long)
    for row, history in enumerate(histories):
        recent = history[-max_item_list_length:]
        item_seq[row, : len(recent)] = torch.as_tensor(recent)
        item_seq_len[row] = len(recent)
    return HeldOutUsers(
        user_ids=np.asarray(kept, dtype=np.int64),
        histories=histories,
        targets=targets,
        item_seq=item_seq,
        item_seq_len=item_seq_len,
        uid_field=uid_field,
        item_seq_field=item_seq_field,
        item_seq_len_field=item_seq_len_field,
        skipped_users=len(user_ids) - len(kept),
    )


# --------------------------------------------------------------------- ranking and metrics


def rank_catalogue(
    scorer: Scorer,
    users: HeldOutUsers,
    n_items: int,
    max_k: int,
    batch_size: int,
    exclude_history: bool = True,
    device: torch.device | str = "cpu",
) -> np.ndarray:
    """The ``max_k`` best item ids of each held-out user, best first: ``(U, max_k)``.

    Every catalogue item is scored; the padding id 0 and, with ``exclude_history``, the
    user's history items are ranked last.
    """
    ranked = []
    k = min(max_k, n_items - 1)
    for start in range(0, len(users), batch_size):
        stop = min(start + batch_size, len(users))
        scores = scorer(users.interaction(start, stop).to(device))
        scores = scores.detach().view(stop - start, -1).float().clone()
        if scores.shape[1] != n_items:
            raise ValueError(f"the scorer returned {scores.shape[1]} scores per user for {n_items} items")
        scores[:, 0] = -torch.inf
        if exclude_history:
            histories = users.histories[start:stop]
            rows = np.repeat(np.arange(stop - start), [len(history) for history in histories])
            scores[torch.as_tensor(rows), torch.as_tensor(np.concatenate(histories))] = -torch.inf
        ranked.append(torch.topk(scores, k, dim=1).indices.cpu().numpy())
    return np.concatenate(ranked) if ranked else np.zeros((0, k), dtype=np.int64)


def multi_target_metrics(
    ranked: np.ndarray,
    targets: Sequence[np.ndarray],
    topk: Sequence[int],
    metrics: Sequence[str] = METRICS,
) -> OrderedDict[str, float]:
    """Recall, NDCG and HitRate at each N, averaged over users (module docstring).

    Args:
        ranked: ``(U, width)`` item ids, best first; ``width >= max(topk)`` unless the
            catalogue is smaller.
        targets: each user's distinct target items (non-empty).
        topk: the cut-offs N.
        metrics: names among ``Recall``, ``NDCG``, ``HitRate``.

    Returns:
        ``{"recall@20": ..., "ndcg@20": ..., ...}``, lower case as RecBole keys its results.
    """
    if len(ranked) != len(targets) or len(targets) == 0:
        raise ValueError(f"need one target set per ranked user, got {len(ranked)} rankings, {len(targets)} target sets")
    hits = np.stack([np.isin(row, user_targets) for row, user_targets in zip(ranked, targets)])
    target_counts = np.array([len(user_targets) for user_targets in targets])
    discounts = 1.0 / np.log2(np.arange(2, max(topk) + 2))
    ideal_dcg = np.r_[0.0, np.cumsum(discounts)]  # ideal_dcg[m]: DCG of m hits at ranks 1..m
    values = {}
    for n in topk:
        hits_at_n = hits[:, :n]
        hit_counts = hits_at_n.sum(axis=1)
        dcg = (hits_at_n * discounts[: hits_at_n.shape[1]]).sum(axis=1)
        values["recall", n] = float(np.mean(hit_counts / target_counts))
        values["ndcg", n] = float(np.mean(dcg / ideal_dcg[np.minimum(target_counts, n)]))
        values["hitrate", n] = float(np.mean(hit_counts > 0))
    return OrderedDict((f"{name.lower()}@{n}", values[name.lower(), n]) for name in metrics for n in topk)


def evaluate_held_out_users(
    scorer: Scorer,
    users: HeldOutUsers,
    n_items: int,
    params: MultiTargetParams,
    batch_size: int,
    device: torch.device | str = "cpu",
) -> OrderedDict[str, float]:
    """Rank the catalogue for every held-out user with ``scorer`` and score the targets."""
    ranked = rank_catalogue(scorer, users, n_items, max(params.topk), batch_size, params.exclude_history, device)
    return multi_target_metrics(ranked, users.targets, params.topk, params.metrics)


# ------------------------------------------------------------------------ data and trainer


@dataclass
class MultiTargetPrepared:
    """What :func:`prepare_multi_target` returns; ``dataset`` holds the train users only."""

    dataset: Dataset
    train_data: Any  # RecBole's TrainDataLoader
    valid_users: HeldOutUsers
    test_users: HeldOutUsers
    user_counts: dict[str, int]  # users in each part of the split
    model: nn.Module | None


def prepare_multi_target(
    config: Config, params: MultiTargetParams, build_model: bool = True
) -> MultiTargetPrepared:
    """Seed, load the dataset, split its users, build the train loader and the model.

    As ``pipeline.prepare``, with the users split instead of RecBole's ``eval_args``: the
    dataset keeps only the train users' interactions before RecBole converts and augments it
    (``_change_feat_format``, the step ``Dataset.build`` starts with), so no held-out user's
    behaviour reaches training, nor the popularity counts a model reads from the dataset.
    """
    from recbole_mind.data.datasets import load_dataset

    logger = getLogger()
    init_seed(config["seed"], config["reproducibility"])
    dataset = load_dataset(config)
    uid_field, iid_field, time_field = dataset.uid_field, dataset.iid_field, dataset.time_field
    if time_field is None:
        raise ValueError(
            f"multi_target: True orders behaviours by time: dataset {config['dataset']!r} has no "
            "TIME_FIELD loaded (add it to load_col)"
        )
    frame = dataset.inter_feat
    sequences = time_ordered_sequences(frame, uid_field, iid_field, time_field)
    train_ids, valid_ids, test_ids = split_users(list(sequences), params.user_split, params.user_split_seed)

    dataset.inter_feat = frame[frame[uid_field].isin(train_ids)].reset_index(drop=True)
    dataset._change_feat_format()
    train_sampler = create_samplers(config, dataset, [dataset, dataset, dataset])[0]
    train_data = get_dataloader(config, "train")(config, dataset, train_sampler, shuffle=config["shuffle"])

    held_out = {}
    for name, ids in (("valid", valid_ids), ("test", test_ids)):
        users = build_held_out_users(
            sequences, ids, params.history_ratio, config["MAX_ITEM_LIST_LENGTH"], params.exclude_history,
            uid_field, iid_field + config["LIST_SUFFIX"], config["ITEM_LIST_LENGTH_FIELD"],
        )
        if len(users) == 0:
            raise ValueError(
                f"no {name} user has a history and a target left ({len(ids)} {name} users): use more "
                "users, a larger user_split share, or longer sequences"
            )
        users.user_features = dataset.user_feat
        held_out[name] = users
    user_counts = {"train": len(train_ids), "valid": len(valid_ids), "test": len(test_ids)}
    logger.info(
        set_color("multi_target users", "pink")
        + f": {user_counts} (seed {params.user_split_seed}); evaluated "
        f"valid {len(held_out['valid'])}, test {len(held_out['test'])}; history ratio {params.history_ratio}"
    )
    model = None
    if build_model:
        init_seed(config["seed"] + config["local_rank"], config["reproducibility"])
        model = config.model_class(config, dataset).to(config["device"])
        logger.info(model)
    return MultiTargetPrepared(dataset, train_data, held_out["valid"], held_out["test"], user_counts, model)


class MultiTargetEvaluation:
    """Mixed into a RecBole trainer: ``evaluate`` scores :class:`HeldOutUsers` with this
    protocol (RecBole's ``fit`` then early-stops on them), RecBole's loaders as before."""

    multi_target_params: MultiTargetParams

    def evaluate(self, eval_data, load_best_model=True, model_file=None, show_progress=False):
        if not isinstance(eval_data, HeldOutUsers):
            return super().evaluate(eval_data, load_best_model, model_file, show_progress)
        if load_best_model:
            from recbole_mind.checkpoint import load_checkpoint, restore_model

            checkpoint_file = model_file or self.saved_model_file
            restore_model(self.model, load_checkpoint(checkpoint_file, map_location=self.device))
            self.logger.info(f"Loading model structure and parameters from {checkpoint_file}")
        self.model.eval()
        with torch.no_grad():
            return evaluate_held_out_users(
                self.model.full_sort_predict, eval_data, self.model.n_items,
                self.multi_target_params, self.test_batch_size, self.device,
            )


@functools.lru_cache(maxsize=None)
def _with_multi_target_evaluation(trainer_class: type) -> type:
    name = f"MultiTarget{trainer_class.__name__}"
    return type(name, (MultiTargetEvaluation, trainer_class), {"__qualname__": name})


def build_multi_target_trainer(config: Config, model: nn.Module, params: MultiTargetParams) -> Trainer:
    """``pipeline.build_trainer``'s trainer (RecBole's choice, epoch timing) evaluating
    held-out users, early-stopping on ``multi_target_valid_metric``."""
    from recbole_mind.pipeline import build_trainer

    trainer = build_trainer(config, model)
    # build_trainer returns an instance of a class it makes for the model; giving that
    # instance a subclass keeps whatever it chose (MINDTrainer, epoch timing, ...).
    trainer.__class__ = _with_multi_target_evaluation(type(trainer))
    trainer.multi_target_params = params
    trainer.valid_metric = params.valid_metric
    trainer.valid_metric_bigger = True
    trainer.best_valid_score = -np.inf
    return trainer


# --------------------------------------------------------------------------------- the run


def run_multi_target(
    config: Config, saved: bool = True, resume_checkpoint: str | None = None
) -> dict[str, Any]:
    """Train on the train users, early-stop on the validation users, test the test users.

    Returns ``quick_start.run_recbole_mind``'s result dict (``best_valid_score``,
    ``best_valid_result``, ``test_result``, ``checkpoint``, ``train_epoch_seconds``, ...) with
    ``protocol: "multi_target"``, ``history_excluded``, ``valid_users`` and ``users`` (the split).
    """
    params = read_multi_target_params(config)  # fail on a bad key before the data is loaded
    if config["MODEL_TYPE"] != ModelType.SEQUENTIAL or not hasattr(config.model_class, "full_sort_predict"):
        raise ValueError(
            f"multi_target: True evaluates sequential models that rank the catalogue from a history "
            f"(MIND, SASRec, GRU4Rec, SINE, ...); {config['model']} is a {config['MODEL_TYPE'].name} model"
        )
    init_logger(config)
    logger = getLogger()
    logger.info(config)
    prepared = prepare_multi_target(config, params)
    trainer = build_multi_target_trainer(config, prepared.model, params)
    if resume_checkpoint is not None:
        from recbole_mind.checkpoint import check_resumable

        check_resumable(resume_checkpoint, config)
        trainer.resume_checkpoint(resume_checkpoint)
    best_valid_score, best_valid_result = trainer.fit(
        prepared.train_data, prepared.valid_users, saved=saved, show_progress=config["show_progress"]
    )
    test_start = time.perf_counter()
    test_result = trainer.evaluate(prepared.test_users, load_best_model=saved)
    test_seconds = time.perf_counter() - test_start
    excluded = "history items excluded from the ranking" if params.exclude_history else "history items ranked"
    protocol = (
        f"multi_target protocol ({len(prepared.test_users)} test users, history ratio "
        f"{params.history_ratio}, {excluded})"
    )
    logger.info(set_color("best valid ", "yellow") + f"[{protocol}]: {best_valid_result}")
    logger.info(set_color("test result", "yellow") + f" [{protocol}]: {test_result}")
    return {
        "best_valid_score": best_valid_score,
        "valid_score_bigger": True,
        "best_valid_result": best_valid_result,
        "test_result": test_result,
        "checkpoint": trainer.saved_model_file if saved else None,
        "train_epoch_seconds": trainer.epoch_seconds,
        "test_seconds": test_seconds,
        "test_users": len(prepared.test_users),
        "valid_users": len(prepared.valid_users),
        "users": prepared.user_counts,
        "model_parameters": sum(p.numel() for p in prepared.model.parameters() if p.requires_grad),
        "protocol": PROTOCOL_NAME,
        "history_excluded": params.exclude_history,
    }
