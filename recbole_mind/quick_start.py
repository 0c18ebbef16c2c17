"""Our quick-start: RecBole's ``run_recbole`` for MIND and RecBole's built-in models alike.

RecBole's ``run_recbole`` works for MIND once ``recbole_mind`` is imported (see
``registration`` and ``compat``); ours adds our dataset defaults, RecBole's baselines trained
with CE as their papers do, early checks of MIND's keys, a clear error for missing data, and
timings for the benchmark.
"""

from __future__ import annotations

import difflib
import os
import sys
import time
import urllib.error
from logging import getLogger
from typing import Any

import torch
import yaml

import recbole
from recbole.config import Config
from recbole.data import create_dataset, data_preparation
from recbole.utils import ModelType, get_model, get_trainer, init_logger, init_seed, set_color

from recbole_mind.checkpoint import load_checkpoint
from recbole_mind.data.atomic import check_dataset_files
from recbole_mind.keys import check_config_file_keys, check_run_config
from recbole_mind.mind import MIND
from recbole_mind.params import read_mind_params
from recbole_mind.registration import PLUGIN_MODELS, properties_path


class DatasetNotFoundError(FileNotFoundError):
    """The dataset is neither on disk nor downloadable from here."""


def recbole_model_names() -> list[str]:
    """Names of RecBole's built-in models (one defaults YAML each ships with RecBole)."""
    model_dir = os.path.join(os.path.dirname(recbole.__file__), "properties", "model")
    return sorted(name[: -len(".yaml")] for name in os.listdir(model_dir) if name.endswith(".yaml"))


def recbole_default(model_class: type, key: str) -> Any:
    """Value of ``key`` in the defaults YAML RecBole ships for a built-in model, else None."""
    path = os.path.join(
        os.path.dirname(recbole.__file__), "properties", "model", f"{model_class.__name__}.yaml"
    )
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as file:
        return (yaml.safe_load(file) or {}).get(key)


def resolve_model(model: str | type) -> type:
    """Model class for ``"MIND"``, a RecBole model name such as ``"SASRec"``, or a class."""
    if isinstance(model, type):
        return model
    if model in PLUGIN_MODELS:
        return PLUGIN_MODELS[model]
    builtin = recbole_model_names()
    if model in builtin:
        return get_model(model)
    known = sorted(PLUGIN_MODELS) + builtin
    close = [name for name in known if name.lower() == str(model).lower()]
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(
        f"Unknown model {model!r}.{hint} Available models: {', '.join(known)}"
    )


def check_config_file(path: str) -> None:
    """A user's YAML file must exist, parse, and hold ``key: value`` pairs."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Config file not found: {path}")
    with open(path, encoding="utf-8") as file:
        try:
            content = yaml.load(file, Loader=yaml.FullLoader)
        except yaml.YAMLError as error:
            raise ValueError(f"Config file {path} is not valid YAML: {error}") from error
    if content is not None and not isinstance(content, dict):
        raise ValueError(
            f"Config file {path} must hold 'key: value' lines, got a {type(content).__name__}"
        )
    check_config_file_keys(path)


def build_config(
    model: str | type = "MIND",
    dataset: str = "ml-100k",
    config_file_list: list[str] | None = None,
    config_dict: dict[str, Any] | None = None,
) -> Config:
    """RecBole ``Config`` with our defaults underneath the user's files, dict and command line.

    Priority, lowest first: RecBole's defaults with ``properties/MIND.yaml`` for MIND (see
    ``registration``), ``properties/sequential_ce.yaml`` (RecBole's sequential models trained
    with CE), ``properties/<dataset>.yaml``, ``config_file_list``, ``config_dict``,
    ``--key=value``.
    """
    model_class = resolve_model(model)
    for path in config_file_list or []:
        check_config_file(path)
    names = [f"{dataset}.yaml"]
    if model_class.type == ModelType.SEQUENTIAL and recbole_default(model_class, "loss_type") == "CE":
        names.insert(0, "sequential_ce.yaml")
    defaults = [properties_path(name) for name in names if os.path.isfile(properties_path(name))]
    config = Config(
        model=model_class,
        dataset=dataset,
        config_file_list=defaults + list(config_file_list or []),
        config_dict=config_dict,
    )
    if model_class is MIND:
        read_mind_params(config)  # fail on a bad key before the data is loaded
    check_run_config(config)
    return config


def downloadable_datasets() -> list[str]:
    """Dataset names RecBole knows how to download."""
    path = os.path.join(os.path.dirname(recbole.__file__), "properties", "dataset", "url.yaml")
    with open(path, encoding="utf-8") as file:
        return sorted(yaml.safe_load(file) or {})


def local_datasets(data_path: str) -> list[str]:
    """Subfolders of ``data_path``'s parent that hold a ``<name>/<name>.inter`` file."""
    parent = os.path.dirname(os.path.normpath(data_path)) or "."
    if not os.path.isdir(parent):
        return []
    return sorted(
        name for name in os.listdir(parent)
        if os.path.isfile(os.path.join(parent, name, f"{name}.inter"))
    )


def load_dataset(config: Config):
    """RecBole's ``create_dataset``, with clear errors for unknown, missing or malformed data."""
    dataset, data_path = config["dataset"], config["data_path"]
    known = downloadable_datasets()
    if not os.path.isdir(data_path) and dataset not in known:
        local = local_datasets(data_path)
        close = difflib.get_close_matches(dataset, known + local, n=3)
        raise DatasetNotFoundError(
            f"Unknown dataset {dataset!r}: no folder {os.path.abspath(data_path)} and not a name RecBole "
            f"can download.{' Did you mean ' + ', '.join(map(repr, close)) + '?' if close else ''} "
            f"Datasets on disk next to it: {', '.join(local) or 'none'}; "
            f"ml-100k ships with RecBole; RecBole can download {len(known)} more "
            f"(names in {os.path.join(os.path.dirname(recbole.__file__), 'properties', 'dataset', 'url.yaml')})"
        )
    check_dataset_files(config)
    try:
        return create_dataset(config)
    except urllib.error.URLError as error:
        data_path = os.path.abspath(data_path)
        converter = (
            " From the raw MovieLens-1M files (ratings.dat, users.dat, movies.dat): "
            "python -m recbole_mind.data.movielens RAW_DIR DIR, then --data_path=DIR."
            if dataset == "ml-1m"
            else ""
        )
        raise DatasetNotFoundError(
            f"Dataset {dataset!r} is not on disk at {data_path} and could not be downloaded "
            f"({error.reason}). Put RecBole atomic files there ({dataset}.inter, and "
            f"{dataset}.user / {dataset}.item if your config loads them), or point "
            f"--data_path=DIR at a folder that holds a '{dataset}' subfolder.{converter}"
        ) from error
    except ValueError as error:
        if "Some feat is empty" not in str(error):
            raise
        raise ValueError(
            f"No interactions of dataset {dataset!r} are left after RecBole's filters "
            "(user_inter_num_interval, item_inter_num_interval, val_interval, load_col, ...): "
            "loosen them"
        ) from error


def run_recbole_mind(
    model: str | type = "MIND",
    dataset: str = "ml-100k",
    config_file_list: list[str] | None = None,
    config_dict: dict[str, Any] | None = None,
    saved: bool = True,
    resume_checkpoint: str | None = None,
    queue=None,
) -> dict[str, Any]:
    """Train and evaluate ``model`` on ``dataset``, as RecBole's ``run_recbole`` does.

    Args:
        model: ``"MIND"``, the name of any RecBole model (``"SASRec"``, ``"GRU4Rec"``, ...)
            or a model class.
        dataset: dataset name; ``ml-100k`` ships inside RecBole.
        config_file_list: YAML files overriding the defaults, later files win.
        config_dict: keys overriding the files.
        saved: keep the best checkpoint and evaluate it on the test split.
        resume_checkpoint: a checkpoint of the same model and dataset to continue training
            from (RecBole's ``resume_checkpoint``: weights, optimizer, epoch and best score).
        queue: set by :func:`run` for distributed training: the first process puts its result
            there.

    Returns:
        ``best_valid_score``, ``valid_score_bigger``, ``best_valid_result``, ``test_result``
        as RecBole's ``run_recbole``, plus ``checkpoint`` (path of the saved model, or None),
        ``train_epoch_seconds`` (wall time of each training epoch, validation excluded),
        ``test_seconds`` (wall time of the test evaluation), ``test_users`` (users evaluated)
        and ``model_parameters`` (trainable parameters).
    """
    config = build_config(model, dataset, config_file_list, config_dict)
    init_seed(config["seed"], config["reproducibility"])
    init_logger(config)
    logger = getLogger()
    logger.info(sys.argv)
    logger.info(config)

    dataset_obj = load_dataset(config)
    logger.info(dataset_obj)
    train_data, valid_data, test_data = data_preparation(config, dataset_obj)

    init_seed(config["seed"] + config["local_rank"], config["reproducibility"])
    model_obj = config.model_class(config, train_data._dataset).to(config["device"])
    logger.info(model_obj)

    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model_obj)
    if resume_checkpoint is not None:
        check_resumable(resume_checkpoint, config)
        trainer.resume_checkpoint(resume_checkpoint)
    epoch_seconds = time_training_epochs(trainer)
    best_valid_score, best_valid_result = trainer.fit(
        train_data, valid_data, saved=saved, show_progress=config["show_progress"]
    )
    if not config["single_spec"]:
        # Only rank 0 writes the best checkpoint, under a name made of its own clock: every
        # process reads that file, once rank 0 has finished writing it.
        name = [trainer.saved_model_file]
        torch.distributed.broadcast_object_list(name, src=0)
        trainer.saved_model_file = name[0]
        torch.distributed.barrier()
    test_start = time.perf_counter()
    test_result = trainer.evaluate(
        test_data, load_best_model=saved, show_progress=config["show_progress"]
    )
    test_seconds = time.perf_counter() - test_start
    logger.info(set_color("best valid ", "yellow") + f": {best_valid_result}")
    logger.info(set_color("test result", "yellow") + f": {test_result}")
    result = {
        "best_valid_score": best_valid_score,
        "valid_score_bigger": config["valid_metric_bigger"],
        "best_valid_result": best_valid_result,
        "test_result": test_result,
        "checkpoint": trainer.saved_model_file if saved else None,
        "train_epoch_seconds": epoch_seconds,
        "test_seconds": test_seconds,
        "test_users": test_data.sample_size,
        "model_parameters": sum(p.numel() for p in model_obj.parameters() if p.requires_grad),
    }
    if not config["single_spec"]:
        # Every process is done before the group goes, and DDP's reducer before the group:
        # gloo aborts a process whose group is torn down under pending work.
        torch.distributed.barrier()
        del trainer.distributed_model
        torch.distributed.destroy_process_group()
        if config["local_rank"] == 0 and queue is not None:
            queue.put(result)
    return result


def check_resumable(path: str, config: Config) -> None:
    """Fail clearly before RecBole reads a checkpoint that cannot continue this run."""
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


def _run_process(rank: int, arguments: dict[str, Any]) -> None:
    arguments = dict(arguments)
    arguments["config_dict"] = {**arguments["config_dict"], "local_rank": rank}
    run_recbole_mind(**arguments)


def run(
    model: str | type = "MIND",
    dataset: str = "ml-100k",
    config_file_list: list[str] | None = None,
    config_dict: dict[str, Any] | None = None,
    saved: bool = True,
    resume_checkpoint: str | None = None,
    nproc: int = 1,
    world_size: int = -1,
    ip: str = "localhost",
    port: str = "5678",
    group_offset: int = 0,
) -> dict[str, Any] | None:
    """:func:`run_recbole_mind` in one process, or in ``nproc`` processes with PyTorch DDP.

    As RecBole's ``run``: ``nproc`` processes on this machine join a group of ``world_size``
    processes in all (default ``nproc``) at ``ip:port``; this machine's processes take the
    ranks ``group_offset`` .. ``group_offset + nproc - 1``. On CPUs the processes talk over
    gloo (``recbole_mind.compat``), on GPUs over NCCL. Returns the first process's result.
    """
    if nproc == 1 and world_size <= 0:
        return run_recbole_mind(model, dataset, config_file_list, config_dict, saved, resume_checkpoint)
    import torch.multiprocessing as mp

    if not isinstance(nproc, int) or nproc < 1:
        raise ValueError(f"nproc must be an integer >= 1, got {nproc!r}")
    world_size = nproc if world_size == -1 else world_size
    # RecBole checks, then creates ./log/<model> and the checkpoint folder in every process:
    # processes starting together race on them (FileExistsError), so they exist before the
    # processes start. Building the config here also reports a bad key once, before spawning.
    config = build_config(model, dataset, config_file_list, config_dict)
    os.makedirs(os.path.join("log", config["model"]), exist_ok=True)
    os.makedirs(config["checkpoint_dir"], exist_ok=True)
    queue = mp.get_context("spawn").SimpleQueue()
    distributed = {"world_size": world_size, "ip": ip, "port": port, "nproc": nproc, "offset": group_offset}
    arguments = {
        "model": model, "dataset": dataset, "config_file_list": config_file_list,
        "config_dict": {**(config_dict or {}), **distributed}, "saved": saved,
        "resume_checkpoint": resume_checkpoint, "queue": queue,
    }
    mp.spawn(_run_process, args=(arguments,), nprocs=nproc, join=True)
    return None if queue.empty() else queue.get()


def time_training_epochs(trainer) -> list[float]:
    """Record the wall time of each training epoch (validation excluded) into a list."""
    seconds: list[float] = []
    train_epoch = trainer._train_epoch

    def timed_train_epoch(*args, **kwargs):
        start = time.perf_counter()
        loss = train_epoch(*args, **kwargs)
        seconds.append(time.perf_counter() - start)
        return loss

    trainer._train_epoch = timed_train_epoch
    return seconds
