"""The steps every run shares: data and model from a config, and a trainer that times its epochs.

``prepare`` is the one place that turns a config into data splits and a model; the run
(``quick_start``), checkpoint loading (``checkpoint``), the benchmarks and the tests all call it,
so they seed, load and split the same way RecBole's ``run_recbole`` does.
"""

from __future__ import annotations

import functools
import os
import time
from logging import getLogger
from typing import Any, NamedTuple, Sequence

import numpy as np
from recbole.config import Config
from recbole.data import data_preparation
from recbole.data.dataloader import AbstractDataLoader
from recbole.data.dataset import Dataset
from recbole.trainer import Trainer
from recbole.utils import ModelType, get_trainer, init_seed
from torch import nn

from recbole_mind.data.datasets import load_dataset
from recbole_mind.diversity.evaluation import DiverseFullSort
from recbole_mind.training.memory import check_memory
from recbole_mind.data.token_maps import record_token_maps

# test_result of a validation-only run (a search's trial): RecBole's HyperTuning prints it
NOT_EVALUATED = "not evaluated (validation-only run: the test split is never scored)"


class Prepared(NamedTuple):
    """What :func:`prepare` returns; ``model`` is None when none was asked for."""

    dataset: Dataset
    train_data: AbstractDataLoader
    valid_data: AbstractDataLoader
    test_data: AbstractDataLoader
    model: nn.Module | None


def prepare(config: Config, build_model: bool = True) -> Prepared:
    """Seed, load and check the dataset, split it, seed again and build ``config``'s model.

    With a model, ``topk`` must fit the catalogue (:func:`require_topk_within_catalogue`).

    The second seed (``seed + local_rank``, as RecBole's ``run_recbole``) makes the initial
    weights independent of how much randomness the data preparation used, and gives each
    process of a distributed run its own stream. The model is put on ``config["device"]``.
    The dataset's user and item token <-> id maps are recorded on ``config``, so every
    checkpoint of the run carries them (``recbole_mind.data.token_maps``), and its interactions are
    kept (:func:`all_interactions`) before the split replaces them.
    """
    logger = getLogger()
    init_seed(config["seed"], config["reproducibility"])
    dataset = load_dataset(config)
    record_token_maps(config, dataset)
    keep_all_interactions(dataset)
    logger.info(dataset)
    if build_model:
        check_memory(config, dataset)  # before the histories and the model are allocated
    dataset.build = _nonempty_splits(config, dataset)
    train_data, valid_data, test_data = data_preparation(config, dataset)
    model = None
    if build_model:
        # a model to train or evaluate (data alone is ranked by nobody); after the split, whose
        # errors (an empty split) say more about the data
        require_topk_within_catalogue(config, dataset)
        init_seed(config["seed"] + config["local_rank"], config["reproducibility"])
        model = config.model_class(config, train_data._dataset).to(config["device"])
        logger.info(model)
    return Prepared(dataset, train_data, valid_data, test_data, model)


class Interactions(NamedTuple):
    """Every (user id, item id) interaction of a dataset, by user, then time, then file order."""

    users: np.ndarray
    items: np.ndarray


# The dataset attribute holding its Interactions (an attribute: RecBole knows nothing of it)
INTERACTIONS_ATTRIBUTE = "recbole_mind_interactions"


def keep_all_interactions(dataset: Dataset) -> None:
    """Keep ``dataset``'s interactions before ``build`` turns them into training samples.

    A sequential dataset's ``build`` replaces ``inter_feat`` with one row per prediction
    target, so each user's first interaction (and every interaction of a one-interaction user)
    is no row of it any more; serving reads a user's whole history from what is kept here. The
    order is the augmentation's: by user, then (stably) by time.
    """
    frame = dataset.inter_feat
    users = np.asarray(frame[dataset.uid_field])
    items = np.asarray(frame[dataset.iid_field])
    times = np.asarray(frame[dataset.time_field]) if dataset.time_field in frame else np.zeros(len(users))
    order = np.lexsort((np.arange(len(users)), times, users))
    setattr(dataset, INTERACTIONS_ATTRIBUTE, Interactions(users[order], items[order]))


def all_interactions(dataset: Dataset) -> Interactions:
    """The interactions :func:`keep_all_interactions` kept for ``dataset`` (``prepare`` keeps them)."""
    kept = getattr(dataset, INTERACTIONS_ATTRIBUTE, None)
    if kept is None:
        raise ValueError(
            f"dataset {dataset.dataset_name!r} was not loaded by recbole_mind.training.pipeline.prepare, so its "
            "full interactions were not kept (RecBole's split keeps only training samples)"
        )
    return kept


class EmptySplitError(ValueError):
    """A split of the dataset holds no sample, so nothing can be trained or evaluated."""


def require_nonempty(dataset_name: str, sizes: dict[str, int], hint: str) -> None:
    """Raise :class:`EmptySplitError` naming the dataset and every split's size if one is 0.

    Without it RecBole fails later, inside torch's sampler, with "num_samples should be a
    positive integer value, but got num_samples=0", which names neither the data nor the split.
    """
    empty = [name for name, size in sizes.items() if size == 0]
    if empty:
        names = empty[0] if len(empty) == 1 else ", ".join(empty[:-1]) + " and " + empty[-1]
        counts = ", ".join(f"{name} {size}" for name, size in sizes.items())
        verb = "split is" if len(empty) == 1 else "splits are"
        raise EmptySplitError(f"dataset {dataset_name!r}: the {names} {verb} empty ({counts} samples); {hint}")


def require_topk_within(key: str, topk: int | Sequence[int], available: int, what: str, other_fix: str = "") -> None:
    """Raise ``ValueError`` if the longest list ``key`` asks for exceeds the ``available`` items.

    Without it the run trains an epoch and fails in the first evaluation (torch's ``topk``:
    "selected index k out of range"), or fills the list with excluded items ranked at ``-inf``.
    ``what`` says where ``available`` comes from ("dataset X has 1682 items").
    """
    asked = list(topk) if isinstance(topk, (list, tuple)) else [topk]
    if max(asked) > available:
        raise ValueError(
            f"{key} {asked} asks for {max(asked)} items but {what}: use {key} <= {available}{other_fix}"
        )


def require_topk_within_catalogue(config: Config, dataset: Dataset) -> None:
    """``topk`` fits the items a full-sort list can hold, checked once the data is loaded (the
    catalogue is known only after RecBole's filters): every item but the padding id 0, the only
    one RecBole masks for a sequential model."""
    items = dataset.item_num - 1
    require_topk_within("topk", config["topk"], items, f"dataset {config['dataset']} has {items} items")


def _nonempty_splits(config: Config, dataset: Dataset) -> Any:
    """``dataset.build`` that checks the splits it returns (``data_preparation`` calls it)."""
    build = dataset.build

    def build_checked() -> list[Dataset]:
        interactions, users = dataset.inter_num, dataset.user_num - 1  # user id 0 is padding
        split_args = config["eval_args"]["split"]
        hint = f"{interactions} interactions of {users} users were split by eval_args {split_args}"
        if "LS" in split_args:
            hint += ": " + _leave_one_out_hint(config, dataset, split_args["LS"])
        splits = build()
        require_nonempty(config["dataset"], dict(zip(("train", "valid", "test"), map(len, splits))), hint)
        return splits

    return build_checked


def _leave_one_out_hint(config: Config, dataset: Dataset, mode: str) -> str:
    """What leave-one-out needs of each user, and how many users have less.

    RecBole gives a user's samples to train first, then test, then validation (a user with
    two samples has no validation one); a sequential model's first sample is its user's second
    interaction, the first being only history. Both measured on generated data (tests).
    """
    if mode == "test_only":
        return "LS: test_only leaves the validation split empty; use LS: valid_and_test"
    sequential = config["MODEL_TYPE"] == ModelType.SEQUENTIAL
    minimum = 4 if sequential else 3
    counts = dataset.inter_feat[dataset.uid_field].value_counts()
    short = int((counts < minimum).sum())
    reason = "the first is only history, then 1 to train" if sequential else "1 to train"
    return (
        f"leave-one-out needs users with at least {minimum} interactions for a "
        f"{'sequential' if sequential else 'non-sequential'} model ({reason}, 1 for validation, 1 for "
        f"test); {short} of {len(counts)} users have fewer (raise user_inter_num_interval's lower "
        f"bound to [{minimum},inf) to drop them, or add interactions)"
    )


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during training; the message says where the last checkpoint is and how to resume."""

    def __init__(self, last_saved: tuple[str, int] | None) -> None:
        if last_saved is None:
            message = "interrupted during training, before any checkpoint was saved: nothing to resume"
        else:
            path, epoch = last_saved
            message = (f"interrupted during training: the last checkpoint is {path} (epoch {epoch}, the best "
                       f"so far); continue it with --resume={path} and the same keys")
        super().__init__(message)
        self.last_saved = last_saved


def run_result(trainer: Trainer, model: nn.Module, best_valid_score: float, best_valid_result: Any,
               test_result: Any, test_seconds: float, saved: bool, resume_checkpoint: str | None) -> dict[str, Any]:
    """The keys every run mode returns (RecBole's ``run_recbole`` result, plus the checkpoint
    written and the one resumed from, epoch seconds, test seconds, parameters, the validation curve)."""
    return {
        "best_valid_score": best_valid_score,
        "best_valid_result": best_valid_result,
        "test_result": test_result,
        "checkpoint": trainer.saved_model_file if saved else None,
        "resumed_from": resume_checkpoint,
        "train_epoch_seconds": trainer.epoch_seconds,
        "test_seconds": test_seconds,
        "model_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "valid_curve": trainer.valid_curve,
    }


def claim_unique_file(path: str) -> str:
    """``path``, else ``<stem>-2<ext>``, ``-3``, ...: the first name no file has, created empty
    at once (``O_EXCL``), so a run started in the same second, here or in another process,
    cannot take the same name, and no run overwrites another's checkpoint."""
    stem, extension = os.path.splitext(path)
    candidate, number = path, 1
    while True:
        try:
            os.close(os.open(candidate, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            return candidate
        except FileExistsError:
            number += 1
            candidate = f"{stem}-{number}{extension}"


def build_trainer(config: Config, model: nn.Module) -> Trainer:
    """RecBole's trainer for ``model`` (``get_trainer``) that also records, in its
    ``epoch_seconds`` list, the wall time of each training epoch (validation excluded), and in
    ``valid_curve`` the ``[cumulative training seconds, validation score]`` of each validation.
    Its full-sort evaluation applies ``diversity_lambda`` (``diversity.DiverseFullSort``). It saves
    under a name no file has (:func:`claim_unique_file`), a resumed run too: the checkpoint it
    resumes from is only read."""
    trainer_class = get_trainer(config["MODEL_TYPE"], config["model"])
    return _epoch_timed(trainer_class)(config, model)


@functools.lru_cache(maxsize=None)
def _epoch_timed(trainer_class: type) -> type:
    """A subclass of ``trainer_class`` timing ``_train_epoch`` and recording ``fit``'s validations.

    ``_train_epoch`` is the hook RecBole's own trainers override per epoch (``KGTrainer``,
    ``DecisionTreeTrainer``, ...); a subclass keeps the trainer RecBole chose, whatever it is.
    """

    class EpochTimedTrainer(DiverseFullSort, trainer_class):
        def __init__(self, config: Config, model: nn.Module) -> None:
            super().__init__(config, model)
            self.epoch_seconds: list[float] = []
            self.valid_curve: list[list[float]] = []
            self.last_saved: tuple[str, int] | None = None  # (file, epoch) of the latest save
            self.file_claimed = False

        def resume_checkpoint(self, resume_file: str) -> None:
            own_file = self.saved_model_file
            super().resume_checkpoint(resume_file)
            # RecBole would save the resumed run into the file it resumed from, overwriting its
            # input: the run keeps the name it chose, claimed on its first save as a fresh run's.
            self.saved_model_file = own_file

        def _save_checkpoint(self, epoch: int, *args: Any, **kwargs: Any) -> None:
            writes = self.config["single_spec"] or self.config["local_rank"] == 0
            if writes and "saved_model_file" not in kwargs and not self.file_claimed:
                # RecBole names the file from the clock, to the second: claim a name of our own
                self.saved_model_file = claim_unique_file(self.saved_model_file)
                self.file_claimed = True
            super()._save_checkpoint(epoch, *args, **kwargs)
            if writes:
                self.last_saved = (kwargs.get("saved_model_file", self.saved_model_file), epoch)

        def fit(self, *args: Any, callback_fn=None, **kwargs: Any) -> Any:
            def record(epoch: int, score: float) -> None:
                self.valid_curve.append([sum(self.epoch_seconds), float(score)])
                if callback_fn is not None:
                    callback_fn(epoch, score)

            try:
                return super().fit(*args, callback_fn=record, **kwargs)
            except KeyboardInterrupt:
                raise TrainingInterrupted(self.last_saved) from None

        def _train_epoch(self, *args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            loss = super()._train_epoch(*args, **kwargs)
            self.epoch_seconds.append(time.perf_counter() - start)
            return loss

    EpochTimedTrainer.__name__ = EpochTimedTrainer.__qualname__ = f"EpochTimed{trainer_class.__name__}"
    return EpochTimedTrainer
