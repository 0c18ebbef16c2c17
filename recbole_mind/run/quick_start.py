"""The run path: RecBole's ``run_recbole`` and ``run`` for MIND and RecBole's models alike.

RecBole's ``run_recbole`` works for MIND once ``recbole_mind`` is imported (see
``registration`` and ``compat``); ours builds the config with our defaults (``config``),
prepares data and model as every caller does (``pipeline.prepare``), checks a checkpoint to
resume from (``checkpoint``), times the training epochs for the benchmark, and starts the
processes of a distributed run (:func:`run`).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from logging import getLogger
from typing import Any

import torch

from recbole.utils import set_color

from recbole_mind.training.checkpoint import check_resumable, resume_training
from recbole_mind.training.config import build_config
from recbole_mind.data.datasets import fetch_dataset
from recbole_mind.training.pipeline import NOT_EVALUATED, build_trainer, prepare, run_result
from recbole_mind.settings.prerun import check_distributed_flags
from recbole_mind.protocols.multi_target import run_multi_target
from recbole_mind.settings.protocol import is_multi_target
from recbole_mind.training.run_log import logged_run, open_run_log


@logged_run
def run_recbole_mind(
    model: str | type = "MIND",
    dataset: str = "ml-100k",
    config_file_list: list[str] | None = None,
    config_dict: dict[str, Any] | None = None,
    saved: bool = True,
    resume_checkpoint: str | None = None,
    queue=None,
    evaluate_test: bool = True,
    command_line: dict[str, Any] | None = None,
    preset: str | None = None,
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
        evaluate_test: False for a validation-only run (a search's trials): the test split is
            never scored, and ``test_result`` says so instead of holding numbers.
        command_line: the ``--key=value`` keys ``cli.main`` parsed, above ``config_dict``. The
            process's ``sys.argv`` is never read (``config.build_config``).
        preset: the name of a packaged preset of MIND's keys (``"recommended"``:
            ``properties/presets/MIND-recommended.yaml``), above MIND's defaults and below
            ``config_file_list``, ``config_dict`` and ``command_line``.

    Returns:
        ``best_valid_score``, ``valid_score_bigger``, ``best_valid_result``, ``test_result``
        as RecBole's ``run_recbole``, plus ``checkpoint`` (path of the saved model, or None; a
        resumed run saves to a new file, never to ``resume_checkpoint``), ``resumed_from``
        (``resume_checkpoint``),
        ``train_epoch_seconds`` (wall time of each training epoch, validation excluded),
        ``test_seconds`` (wall time of the test evaluation), ``test_users`` (users evaluated),
        ``model_parameters`` (trainable parameters) and ``valid_curve`` (``[cumulative training
        seconds, validation score]`` after each validation).
    """
    config = build_config(model, dataset, config_file_list, config_dict, command_line, preset=preset)
    if is_multi_target(config):  # held-out users, several targets each (issue 15)
        return run_multi_target(config, saved, resume_checkpoint, evaluate_test)
    open_run_log(config)
    logger = getLogger()
    if command_line is not None:  # the command that started the run; a script's own argv is not its config
        logger.info(sys.argv)
    logger.info(config)

    loaded, train_data, valid_data, test_data, model_obj = prepare(config)
    trainer = build_trainer(config, model_obj)
    trainer.attach_diversity(loaded)  # a bad diversity_category_field fails before training
    if resume_checkpoint is not None:
        resume_training(trainer, resume_checkpoint, config, loaded, saved)
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
    test_result = (
        trainer.evaluate(test_data, load_best_model=saved, show_progress=config["show_progress"])
        if evaluate_test else NOT_EVALUATED
    )
    test_seconds = time.perf_counter() - test_start
    logger.info(set_color("best valid ", "yellow") + f": {best_valid_result}")
    logger.info(set_color("test result", "yellow") + f": {test_result}")
    result = {
        **run_result(trainer, model_obj, best_valid_score, best_valid_result, test_result, test_seconds, saved,
                     resume_checkpoint),
        "valid_score_bigger": config["valid_metric_bigger"],
        "test_users": test_data.sample_size,
    }
    if not config["single_spec"]:
        # Every process is done before the group goes, and DDP's reducer before the group:
        # gloo aborts a process whose group is torn down under pending work.
        torch.distributed.barrier()
        del trainer.distributed_model
        torch.distributed.destroy_process_group()
        trainer.tensorboard.close()  # the process ends with os._exit (_run_process): flush now
        if config["local_rank"] == 0 and queue is not None:
            queue.put(result)
    return result


def _run_process(rank: int, arguments: dict[str, Any]) -> None:
    arguments = dict(arguments)
    arguments["config_dict"] = {**arguments["config_dict"], "local_rank": rank}
    run_recbole_mind(**arguments)
    # The run is finished and its group destroyed. A CI run once saw a rank abort here, at
    # interpreter exit ("terminate called without an active exception": a C++ thread of the
    # torch runtime destroyed while joinable, in static destructors): skip them. What the
    # process has to say is flushed first; its result already went through the queue.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


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
    command_line: dict[str, Any] | None = None,
    preset: str | None = None,
) -> dict[str, Any] | None:
    """:func:`run_recbole_mind` in one process, or in ``nproc`` processes with PyTorch DDP.

    As RecBole's ``run``: ``nproc`` processes on this machine join a group of ``world_size``
    processes in all (default ``nproc``) at ``ip:port``; this machine's processes take the
    ranks ``group_offset`` .. ``group_offset + nproc - 1``. On CPUs the processes talk over
    gloo (``recbole_mind.integration.compat``), on GPUs over NCCL. Returns the first process's result.
    ``command_line`` and ``preset`` are :func:`run_recbole_mind`'s, passed on to every process.

    Raises:
        ValueError: flags that disagree (``prerun.check_distributed_flags``), or ``ip:port``
            taken on the machine of rank 0, before any process starts.
    """
    # The command line's checks, here too: bad flags would hang every process at the group's start.
    check_distributed_flags(nproc, world_size, ip, port, group_offset, prefix="")
    if nproc == 1 and world_size == -1:
        return run_recbole_mind(model, dataset, config_file_list, config_dict, saved, resume_checkpoint,
                                command_line=command_line, preset=preset)
    if group_offset == 0:
        check_port_free(ip, port, prefix="")
    import torch.multiprocessing as mp

    world_size = nproc if world_size == -1 else world_size
    # RecBole checks, then creates ./log/<model> and the checkpoint folder in every process:
    # processes starting together race on them (FileExistsError), so they exist before the
    # processes start. Building the config here also reports a bad key, and a checkpoint that
    # cannot resume this run, once, before spawning.
    config = build_config(model, dataset, config_file_list, config_dict, command_line, preset=preset)
    if is_multi_target(config):
        raise ValueError(
            "multi_target: True runs in one process (its held-out users are evaluated by one "
            f"process): got nproc={nproc}, world_size={world_size}; drop --nproc/--world_size"
        )
    if resume_checkpoint is not None:
        check_resumable(resume_checkpoint, config)
    os.makedirs(os.path.join("log", config["model"]), exist_ok=True)
    os.makedirs(config["checkpoint_dir"], exist_ok=True)
    # A dataset's first download happens here, once, so its errors end the run before any
    # process starts; the processes then find the files on disk.
    fetch_dataset(config)
    queue = mp.get_context("spawn").SimpleQueue()
    distributed = {"world_size": world_size, "ip": ip, "port": port, "nproc": nproc, "offset": group_offset}
    arguments = {
        "model": model, "dataset": dataset, "config_file_list": config_file_list,
        "config_dict": {**(config_dict or {}), **distributed}, "saved": saved,
        "resume_checkpoint": resume_checkpoint, "queue": queue, "command_line": command_line,
        "preset": preset,
    }
    mp.spawn(_run_process, args=(arguments,), nprocs=nproc, join=True)
    return None if queue.empty() else queue.get()



def check_port_free(ip: str, port: str | int, prefix: str = "--") -> None:
    """Rank 0 listens on ``ip:port``: a port another run holds would end every process in a
    traceback after the spawn (``DistNetworkError``), so it is refused before, naming the port
    as ``prefix`` + ``port`` (``--port`` on the command line)."""
    import errno
    import socket

    with socket.socket() as probe:
        # as the group's store binds: a port left in TIME_WAIT by a finished run is free
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((ip, int(port)))
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                return  # not this machine's address, say: the group's start reports it
            raise ValueError(
                f"{prefix}port {port}: {ip}:{port} is in use (another distributed run?): choose a free "
                f"port with {prefix}port"
            ) from None
