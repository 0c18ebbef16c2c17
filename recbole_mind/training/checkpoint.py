"""Checkpoints: reading them on torch >= 2.6, rebuilding data and model, checking a resume.

RecBole's trainer saves ``{"config": Config, "state_dict": ..., "other_parameter": ...,
"optimizer": ..., "epoch": ...}`` with pickle protocol 4, which torch's ``weights_only``
unpickler cannot read. Every checkpoint is read through ``recbole_mind.integration.safe_load``, whose
unpickler admits only the globals a checkpoint holds and refuses any other before it runs: a
checkpoint from anyone can be loaded without running code from it.

A checkpoint's config also carries the user and item token <-> id maps of its data
(``recbole_mind.data.token_maps``): loading it with data, or resuming from it, refuses data whose
ids differ.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from logging import getLogger
from typing import Any

import torch
from recbole.config import Config

from recbole_mind.training.pipeline import prepare
from recbole_mind.integration.registration import PLUGIN_MODELS
from recbole_mind.settings.table import defaults_for
from recbole_mind.integration.safe_load import UnsafeCheckpointError, safe_torch_load
from recbole_mind.settings.removed import REMOVED_LEVERS, check_removed_weights
from recbole_mind.data.token_maps import check_token_maps, saved_token_maps


def load_checkpoint(path: str, map_location: Any = "cpu") -> dict[str, Any]:
    """Load a RecBole checkpoint written by RecBole's trainer, running no code from it.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file names a global no checkpoint holds (``safe_load.UnsafeCheckpointError``,
            refused before it ran), is truncated, corrupt (a zip member failing its CRC check),
            not a RecBole checkpoint, holds NaN or infinite weights, or weights of a removed
            lever (``recbole_mind.settings.removed``).
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Checkpoint not found: {path}")
    check_archive(path)
    try:
        checkpoint = safe_torch_load(path, map_location=map_location)
    except UnsafeCheckpointError:
        raise
    except (EOFError, RuntimeError, pickle.UnpicklingError, ValueError, AttributeError, ImportError,
            KeyError, IndexError, TypeError) as error:
        raise ValueError(
            f"Cannot read checkpoint {path} (truncated or corrupt?): {type(error).__name__}: {error}"
        ) from error
    if not isinstance(checkpoint, dict) or not {"config", "state_dict"} <= set(checkpoint):
        raise ValueError(f"{path} is not a RecBole checkpoint (it has no 'config' and 'state_dict')")
    check_finite(checkpoint["state_dict"], path)
    if "model" in checkpoint["config"] and checkpoint["config"]["model"] == "MIND":
        check_removed_weights(checkpoint["state_dict"], f"Checkpoint {path}")
    return checkpoint


def check_archive(path: str) -> None:
    """Refuse a checkpoint whose zip archive (torch's format) fails its CRC checks.

    torch reads a damaged member's bytes without checking them, so a flipped byte would be
    served as a wrong weight. Files in torch's older, non-zip format are not checked here.
    """
    if not zipfile.is_zipfile(path):
        return
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        damaged = f"? ({error})"
    if damaged is not None:
        raise ValueError(
            f"Checkpoint {path} is damaged: its member {damaged} fails the zip archive's CRC check "
            "(an interrupted copy or a disk error?); copy it again from its source or retrain"
        )


def check_finite(state_dict: dict[str, Any], path: str) -> None:
    """Refuse weights holding NaN or inf, naming the parameters: served, they would give NaN
    scores, empty top-N lists and NaN vectors without a word."""
    bad = [
        name for name, value in state_dict.items()
        if isinstance(value, torch.Tensor) and value.is_floating_point() and not torch.isfinite(value).all()
    ]
    if bad:
        named = ", ".join(bad[:10]) + (f" and {len(bad) - 10} more" if len(bad) > 10 else "")
        raise ValueError(
            f"Checkpoint {path} holds NaN or infinite weights in {len(bad)} parameter"
            f"{'s' if len(bad) != 1 else ''}: {named}; training diverged or the file is damaged: "
            "use an earlier checkpoint, or retrain (a lower learning_rate often helps)"
        )


def restore_model(model: torch.nn.Module, checkpoint: dict[str, Any]) -> None:
    """Put a checkpoint's weights into ``model``, as RecBole's ``evaluate`` does."""
    model.load_state_dict(checkpoint["state_dict"])
    model.load_other_parameter(checkpoint.get("other_parameter"))


def load_data_and_model(path: str, config_dict: dict[str, Any] | None = None) -> tuple:
    """RecBole's ``load_data_and_model`` for our checkpoints, on CPU, with config overrides.

    Args:
        path: a checkpoint written by RecBole's trainer (``saved/MIND-<time>.pth``).
        config_dict: keys to change before the data is loaded, e.g. ``{"data_path": DIR}``
            (the folder holding the dataset's subfolder, as on the command line) when the
            checkpoint was written in another folder.

    Returns:
        ``(config, model, dataset, train_data, valid_data, test_data)`` as RecBole's, with the
        model in eval mode.
    """
    return data_and_model(load_checkpoint(path), config_dict, source=path)


def add_keys_newer_than(config: Config) -> None:
    """Give a checkpoint's config the keys of the settings table added since it was written.

    Each key added to MIND defaults to off, which is how that checkpoint's model was trained, so
    it loads as it was instead of failing on a missing key; the keys of every model (diversity,
    the protocol) take their defaults as a config built today would."""
    for key, value in defaults_for(config["model"] in PLUGIN_MODELS).items():
        if config[key] is None:
            config[key] = value


# What RecBole's Config sets only in the processes of a distributed run (``--nproc`` > 1 or
# ``--world_size``): rank 0 saves the checkpoint, so its config keeps them.
DISTRIBUTED_ONLY_KEYS = ("world_size", "nproc", "ip", "port", "offset", "group_offset")


def as_single_process(config: Config) -> Config:
    """Make a saved config run in this one process, as RecBole's Config sets up a run without
    ``local_rank``: ``single_spec`` True, ``local_rank`` 0, the group's keys removed.

    A checkpoint written by a distributed run keeps ``single_spec: False``, which makes RecBole's
    data loaders (and trainer) ask for a process group that a single process never starts
    ("Default process group has not been initialized"). Returns ``config``, changed in place.
    """
    config["single_spec"] = True
    config["local_rank"] = 0
    for key in DISTRIBUTED_ONLY_KEYS:
        config.final_config_dict.pop(key, None)
    return config


def data_and_model(
    checkpoint: dict[str, Any], config_dict: dict[str, Any] | None = None, source: str = "the checkpoint"
) -> tuple:
    """:func:`load_data_and_model` for a checkpoint already read with :func:`load_checkpoint`.

    ``source`` names the checkpoint in errors.

    Raises:
        ValueError: the rebuilt data gives users or items other ids than the checkpoint was
            trained with (``recbole_mind.data.token_maps``).
    """
    config = checkpoint["config"]
    config["device"] = torch.device("cpu")
    as_single_process(config)
    add_keys_newer_than(config)
    for key, value in (config_dict or {}).items():
        # RecBole's Config stores data_path joined with the dataset name.
        config[key] = os.path.join(value, config["dataset"]) if key == "data_path" else value
    trained_maps = saved_token_maps(checkpoint)  # before prepare records the data's on config
    dataset, train_data, valid_data, test_data, model = prepare(config)
    check_token_maps(trained_maps, dataset, source)
    restore_model(model, checkpoint)
    return config, model.eval(), dataset, train_data, valid_data, test_data


# Keys of where and how a run executes, and the command line's own flags (RecBole's Config
# reads every --key=value of sys.argv): a resumed run may change them without a word. The
# processes of a distributed run but the first set state, show_progress and verbose themselves.
RUN_ENVIRONMENT_KEYS = frozenset({
    "device", "gpu_id", "use_gpu", "local_rank", "single_spec", "world_size", "ip", "port", "nproc",
    "offset", "group_offset", "data_path", "checkpoint_dir", "worker", "state", "show_progress", "verbose",
    "resume", "config_files", "tune", "tune_algo", "tune_max_evals", "tune_output",
})
# Keys a resumed run reads afresh from its own config (the trainer's loop and evaluation, the
# optimizer's step size, set on it by resume_training): a new value is well defined and reported.
RESUME_APPLIED_KEYS = frozenset({
    "epochs", "stopping_step", "eval_step", "train_batch_size", "eval_batch_size", "metrics", "topk",
    "clip_grad_norm", "learning_rate", "weight_decay", "loss_decimal_place", "metric_decimal_place",
    "log_wandb", "wandb_project", "enable_amp", "enable_scaler",
})


def changed_keys(saved: Config, config: Config) -> dict[str, tuple[Any, Any]]:
    """Keys whose value differs between a checkpoint's config and this run's: key -> (saved, new)."""
    add_keys_newer_than(saved)
    old, new = saved.final_config_dict, config.final_config_dict
    changed = {}
    # A removed lever's key: an older checkpoint holds its default (any other value is refused
    # when the model is built), this run no longer has it.
    for key in sorted((set(old) | set(new)) - RUN_ENVIRONMENT_KEYS - set(REMOVED_LEVERS)):
        before, after = old.get(key), new.get(key)
        if _differs(before, after):
            changed[key] = (before, after)
    return changed


def _differs(before: Any, after: Any) -> bool:
    try:
        return bool(before != after)
    except (TypeError, ValueError, RuntimeError):  # arrays and tensors compare element-wise
        return repr(before) != repr(after)


def _describe(changed: dict[str, tuple[Any, Any]]) -> str:
    return ", ".join(f"{key} {before!r} -> {after!r}" for key, (before, after) in changed.items())


def check_resumable(path: str, config: Config, dataset=None) -> dict[str, tuple[Any, Any]]:
    """Fail clearly before RecBole reads a checkpoint that cannot continue this run.

    Refused: a checkpoint that is not a full training state, of another model or dataset,
    trained with other values of keys that shape the model, its data or the best score it
    holds (``embedding_size``, ``valid_metric``, ...), that has already trained the run's
    ``epochs`` (RecBole would train no epoch and re-save it as epoch -1) or, when ``dataset``
    is given, whose token <-> id maps differ from its.

    Returns:
        The changed keys a resumed run applies (``RESUME_APPLIED_KEYS``): key -> (saved, new).
    """
    checkpoint = load_checkpoint(path)
    missing = {"state_dict", "optimizer", "epoch", "cur_step", "best_valid_score"} - set(checkpoint)
    if missing:
        raise ValueError(f"{path} cannot resume training: it lacks {', '.join(sorted(missing))}")
    saved = checkpoint["config"]
    for key in ("model", "dataset"):
        if saved[key] != config[key]:
            raise ValueError(
                f"{path} was trained with {key}={saved[key]!r}; this run has {key}={config[key]!r}"
            )
    trained = checkpoint["epoch"] + 1  # RecBole resumes at the epoch after the saved one
    if config["epochs"] <= trained:
        raise ValueError(
            f"{path} holds {trained} trained epoch{'s' if trained != 1 else ''} and this run has "
            f"epochs={config['epochs']}: no epoch would be left to train (RecBole would resume at epoch "
            f"{trained} of {config['epochs']} and stop at once); set epochs > {trained} to continue it"
        )
    changed = changed_keys(saved, config)
    refused = {key: values for key, values in changed.items() if key not in RESUME_APPLIED_KEYS}
    if refused:
        raise ValueError(
            f"{path} cannot resume with changed {', '.join(refused)} ({_describe(refused)}): "
            "they shape the model, its data or the best score being compared; resume with the "
            "checkpoint's values, or train a new run without --resume"
        )
    if dataset is not None:
        check_token_maps(saved_token_maps(checkpoint), dataset, path)
    return changed


def resume_training(trainer, path: str, config: Config, dataset, saved: bool = True) -> None:
    """Check ``path`` (:func:`check_resumable`), restore it into ``trainer`` and apply the
    changed keys: RecBole restores the optimizer's saved step size, so the run's own
    ``learning_rate`` and ``weight_decay`` are set on it again.

    ``path`` is only read: ``pipeline.build_trainer``'s trainer saves the resumed run under a new
    name. With ``saved``, the resumed state is written there at once (by the writing process), so
    the new checkpoint is complete even when no resumed epoch beats the checkpoint's best score
    (it then holds the resumed weights) or the run is interrupted.
    """
    changed = check_resumable(path, config, dataset)
    trainer.resume_checkpoint(path)
    for group in trainer.optimizer.param_groups:
        group["lr"] = config["learning_rate"]
        if "weight_decay" in group:
            group["weight_decay"] = config["weight_decay"]
    logger = getLogger()
    if changed:
        logger.warning(f"resuming {path} with changed keys (checkpoint -> this run): {_describe(changed)}")
    if saved:
        # epoch and best score as read: the copy resumes exactly as the original would
        trainer._save_checkpoint(trainer.start_epoch - 1, verbose=False)
        if getattr(trainer, "last_saved", None) is not None:  # the process that writes
            logger.info(f"resumed {path} (left unchanged): this run saves to {trainer.last_saved[0]}")
