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
import time
from collections import OrderedDict
from dataclasses import dataclass
from logging import getLogger
from typing import Any

import numpy as np
import torch
from recbole.config import Config
from recbole.data.dataset import Dataset
from recbole.data.utils import create_samplers, get_dataloader
from recbole.trainer import Trainer
from recbole.utils import ModelType, init_seed, set_color
from torch import nn

from recbole_mind.settings.protocol import PROTOCOL_NAME, MultiTargetParams, Scorer, read_multi_target_params
from recbole_mind.settings.table import validated_once
from recbole_mind.protocols.targets import (
    HeldOutUsers,
    build_held_out_users,
    multi_target_metrics,
    rank_catalogue,
    require_candidates,
    split_users,
    time_ordered_sequences,
)
from recbole_mind.training.pipeline import run_result
from recbole_mind.training.run_log import open_run_log

# below this many validation or test users, metrics are mostly noise: the run warns
FEW_HELD_OUT_USERS = 10


def evaluate_held_out_users(
    scorer: Scorer,
    users: HeldOutUsers,
    n_items: int,
    params: MultiTargetParams,
    batch_size: int,
    device: torch.device | str = "cpu",
    rerank: Any = None,
    categories: Any = None,
) -> OrderedDict[str, float]:
    """Rank the catalogue for every held-out user with ``scorer`` (re-ranked by ``rerank``,
    ``diversity.DiversityReranker``, if given) and score the targets; ``categories``
    (``ItemCategories``) for the Diversity and CategoryCoverage metrics."""
    ranked = rank_catalogue(
        scorer, users, n_items, max(params.topk), batch_size, params.exclude_history, device, rerank
    )
    return multi_target_metrics(ranked, users.targets, params.topk, params.metrics, categories)


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
    from recbole_mind.training.pipeline import require_nonempty
    from recbole_mind.data.token_maps import record_token_maps

    logger = getLogger()
    init_seed(config["seed"], config["reproducibility"])
    dataset = load_dataset(config)
    record_token_maps(config, dataset)  # every id, held-out users' too: checkpoints carry them
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
    interactions = len(dataset.inter_feat)
    dataset._change_feat_format()
    require_nonempty(
        config["dataset"], {"train": len(dataset)},
        f"the {len(train_ids)} train users hold {interactions} interactions: a training sample "
        "needs a user with at least 2 (use more users, a larger user_split share, or longer sequences)",
    )
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
        if len(users) < FEW_HELD_OUT_USERS:
            logger.warning(
                f"multi_target: only {len(users)} {name} users are evaluated: one user moves each metric "
                f"by 1/{len(users)}, so differences are mostly noise; use more users or a larger user_split share"
            )
        # before training: a list longer than a user's candidates would hold excluded items
        require_candidates(params.topk, users, dataset.item_num, params.exclude_history, part=name)
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
            from recbole_mind.training.checkpoint import load_checkpoint, restore_model

            checkpoint_file = model_file or self.saved_model_file
            restore_model(self.model, load_checkpoint(checkpoint_file, map_location=self.device))
            self.logger.info(f"Loading model structure and parameters from {checkpoint_file}")
        self.model.eval()
        params = self.multi_target_params
        with torch.no_grad():
            return evaluate_held_out_users(
                self.model.full_sort_predict, eval_data, self.model.n_items, params, self.test_batch_size,
                self.device, self.diversity_reranker(max(params.topk)), self.diversity_categories,
            )


@functools.lru_cache(maxsize=None)
def _with_multi_target_evaluation(trainer_class: type) -> type:
    name = f"MultiTarget{trainer_class.__name__}"
    return type(name, (MultiTargetEvaluation, trainer_class), {"__qualname__": name})


def build_multi_target_trainer(config: Config, model: nn.Module, params: MultiTargetParams) -> Trainer:
    """``pipeline.build_trainer``'s trainer (RecBole's choice, epoch timing) evaluating
    held-out users, early-stopping on ``multi_target_valid_metric``."""
    from recbole_mind.training.pipeline import build_trainer

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
    config: Config, saved: bool = True, resume_checkpoint: str | None = None, evaluate_test: bool = True
) -> dict[str, Any]:
    """Train on the train users, early-stop on the validation users, test the test users.

    Returns ``quick_start.run_recbole_mind``'s result dict (``best_valid_score``,
    ``best_valid_result``, ``test_result``, ``checkpoint``, ``train_epoch_seconds``, ...) with
    ``protocol: "multi_target"``, ``history_excluded``, ``valid_users`` and ``users`` (the split).
    """
    params = validated_once(config, read_multi_target_params)  # fail on a bad key before the data is loaded
    # Pop ranks every user's catalogue the same way, so it needs no history: the reference point
    # every retrieval model must beat. Other general models score user ids a held-out user lacks.
    if config["model"] != "Pop" and (
        config["MODEL_TYPE"] != ModelType.SEQUENTIAL or not hasattr(config.model_class, "full_sort_predict")
    ):
        raise ValueError(
            f"multi_target: True evaluates sequential models that rank the catalogue from a history "
            f"(MIND, SASRec, GRU4Rec, SINE, ...) and Pop; {config['model']} is a "
            f"{config['MODEL_TYPE'].name} model"
        )
    open_run_log(config)  # a file of its own, also for a second run in this process
    logger = getLogger()
    logger.info(config)
    prepared = prepare_multi_target(config, params)
    trainer = build_multi_target_trainer(config, prepared.model, params)
    trainer.attach_diversity(prepared.dataset, params.metrics)  # a bad category field fails before training
    if resume_checkpoint is not None:
        from recbole_mind.training.checkpoint import resume_training

        resume_training(trainer, resume_checkpoint, config, prepared.dataset, saved)
    best_valid_score, best_valid_result = trainer.fit(
        prepared.train_data, prepared.valid_users, saved=saved, show_progress=config["show_progress"]
    )
    test_start = time.perf_counter()
    if evaluate_test:
        test_result = trainer.evaluate(prepared.test_users, load_best_model=saved)
    else:
        from recbole_mind.training.pipeline import NOT_EVALUATED

        test_result = NOT_EVALUATED
    test_seconds = time.perf_counter() - test_start
    excluded = "history items excluded from the ranking" if params.exclude_history else "history items ranked"
    protocol = (
        f"multi_target protocol ({len(prepared.test_users)} test users, history ratio "
        f"{params.history_ratio}, {excluded})"
    )
    logger.info(set_color("best valid ", "yellow") + f"[{protocol}]: {best_valid_result}")
    logger.info(set_color("test result", "yellow") + f" [{protocol}]: {test_result}")
    return {
        **run_result(trainer, prepared.model, best_valid_score, best_valid_result, test_result, test_seconds, saved,
                     resume_checkpoint),
        "valid_score_bigger": True,
        "test_users": len(prepared.test_users),
        "valid_users": len(prepared.valid_users),
        "users": prepared.user_counts,
        "protocol": PROTOCOL_NAME,
        "history_excluded": params.exclude_history,
    }

