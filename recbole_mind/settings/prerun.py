"""Checks made before a run loads data, so that nothing fails after a long training.

``check_run_config`` (hooked into ``recbole_mind.training.config.build_config``) checks the keys a run
reads (``recbole_mind.settings.keys``), that ``valid_metric`` is computed, and that the folders a run
writes are writable; ``check_distributed_flags`` checks the multi-process flags of the command
line and of ``quick_start.run``. Third-party deprecation noise RecBole triggers on every run is
silenced here too.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from typing import Any, Mapping

from recbole_mind.settings.keys import user_config
from recbole_mind.settings.diversity import read_diversity_params
from recbole_mind.settings.protocol import is_multi_target
from recbole_mind.settings.keys import RECBOLE_KEY_RULES, check_key_values, check_known_keys, metric_names
from recbole_mind.settings.table import is_int, validated_once


def check_metrics_consistent(config: Mapping[str, Any]) -> None:
    """``valid_metric`` must be one of the metrics computed at one of the ``topk`` cut-offs."""
    from recbole.evaluator.register import metric_types
    from recbole.utils import EvaluatorType

    known = metric_names()
    metrics = config["metrics"] if isinstance(config["metrics"], list) else [config["metrics"]]
    topk = config["topk"] if isinstance(config["topk"], list) else [config["topk"]]
    computed = []
    for metric in metrics:
        if metric_types[metric.lower()] == EvaluatorType.RANKING:
            computed += [f"{known[metric.lower()]}@{k}" for k in topk]
        else:
            computed.append(known[metric.lower()])
    valid_metric = str(config["valid_metric"])
    if valid_metric.lower() not in {name.lower() for name in computed}:
        raise ValueError(
            f"valid_metric {valid_metric!r} is not computed by this run (metrics {metrics}, topk "
            f"{topk}), so early stopping could not read it; allowed: {', '.join(computed)}"
        )


def check_folder_writable(key: str, folder: str) -> None:
    """``folder`` exists as a writable folder, or can be created: checked without creating it."""
    path = os.path.abspath(folder)
    existing = path
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise ValueError(f"{key} {folder!r} cannot be created: {existing} is a file, not a folder")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:
        raise ValueError(f"{key} {folder!r} is not writable ({existing}: {error.strerror})") from error


def check_run_config(config) -> None:
    """Every check that can be made before RecBole loads data (hooked into ``build_config``).

    ``config`` is RecBole's ``Config``: the keys of its ``config_dict`` are checked for
    typos, every RecBole key the run reads for type and range, the metrics for consistency,
    and the folders a run writes (``checkpoint_dir``, ``./log``, ``./log_tensorboard``) for
    being writable, so nothing fails after a long training.
    """
    silence_third_party_deprecations()
    check_dataset_location(config["dataset"], user_config(config).get("data_path"))
    check_gpu_available(user_config(config), config["use_gpu"])
    check_known_keys(getattr(config, "variable_config_dict", {}) or {}, "config_dict")
    check_key_values({key: config[key] for key in RECBOLE_KEY_RULES if key in config})
    check_metrics_consistent(config)
    if not is_multi_target(config):  # that protocol checks its own metrics
        validated_once(config, read_diversity_params, config["metrics"])
    for key, folder in (("checkpoint_dir", config["checkpoint_dir"]), ("log folder", "log"),
                        ("tensorboard folder", "log_tensorboard")):
        check_folder_writable(key, folder)


def check_gpu_available(user_keys: Mapping[str, Any], use_gpu: bool) -> None:
    """A GPU the user asked for (``gpu_id``, ``device: cuda``) must exist: RecBole falls back to
    the CPU without a word, so a run meant for a GPU would train for hours on the CPU."""
    import torch

    asked = [f"{key}={user_keys[key]!r}" for key in ("gpu_id", "device")
             if key in user_keys and str(user_keys[key]).strip().lower() not in ("", "cpu")]
    if asked and use_gpu and not torch.cuda.is_available():
        raise ValueError(
            f"{' and '.join(asked)} asks for a GPU, and torch finds none (torch.cuda.is_available() is "
            "False): drop it, or set use_gpu=False, to train on the CPU"
        )


def check_dataset_location(dataset: str, data_path: str | None) -> None:
    """``dataset`` is a folder name and the user's ``data_path`` is not a file (RecBole's Config
    replaces ``data_path`` with ``<data_path>/<dataset>``, or with its bundled copy for ml-100k).

    RecBole joins the two; a name with path parts would write logs and checkpoints under
    invented folders, and a file given as ``data_path`` would be passed over for a download or
    RecBole's bundled copy.
    """
    if not dataset or dataset in (".", "..") or any(sep in dataset for sep in ("/", "\\")):
        raise ValueError(
            f"dataset must be a plain name such as ml-100k, got {dataset!r}: put the folder that "
            "holds <name>/<name>.inter in --data_path and the name in --dataset"
        )
    if data_path and os.path.isfile(data_path):
        raise ValueError(
            f"data_path {data_path} is a file: point it at the folder that holds {dataset}/{dataset}.inter"
        )


def silence_third_party_deprecations() -> None:
    """Hide deprecation warnings RecBole's own code triggers on every run, and only those.

    torch deprecated ``torch.cuda.amp.GradScaler(...)``, which RecBole's trainer calls; pandas
    warns about the chained assignment in RecBole's dataset code. Neither is ours to fix, and
    both would bury real warnings. The filters match the module RecBole calls from, so the
    same warnings raised from any other code, ours included, still show. The filters stay
    for the rest of the process (recorded in ``recbole_mind.integration.boundary``).
    """
    warnings.filterwarnings("ignore", message=r"`torch\.cuda\.amp\.GradScaler\(args\.\.\.\)` is deprecated",
                            category=FutureWarning, module=r"recbole\.")
    warnings.filterwarnings("ignore", message=r"(?s).*chained assignment", category=FutureWarning,
                            module=r"recbole\.")


def check_distributed_flags(
    nproc: int, world_size: int, ip: str, port: Any, group_offset: int, prefix: str = "--"
) -> None:
    """``--nproc``, ``--world_size``, ``--group_offset``, ``--ip``, ``--port`` agree with each other.

    Inconsistent values otherwise hang every process at the group's start (a rank nobody takes)
    or fail inside torch's rendezvous, after the data has been loaded in each process. Checked
    by the command line and by ``quick_start.run`` (``prefix=""``: messages name the arguments).
    """
    flag = {name: prefix + name for name in ("nproc", "world_size", "group_offset", "ip", "port")}
    if not is_int(nproc) or nproc < 1:
        raise ValueError(f"{flag['nproc']} must be an integer >= 1, got {nproc!r}")
    if not is_int(world_size) or not (world_size == -1 or world_size >= nproc):
        raise ValueError(
            f"{flag['world_size']} must be -1 (= nproc) or at least {flag['nproc']} ({nproc}), "
            f"got {world_size!r}"
        )
    total = nproc if world_size == -1 else world_size
    if not is_int(group_offset) or not 0 <= group_offset <= total - nproc:
        raise ValueError(
            f"{flag['group_offset']} must be an integer in [0, world_size - nproc] = [0, {total - nproc}] "
            f"(this machine's ranks are group_offset .. group_offset + nproc - 1), got {group_offset!r}"
        )
    if not isinstance(ip, str) or not ip.strip() or any(char.isspace() for char in ip):
        raise ValueError(f"{flag['ip']} must be a host name or address, got {ip!r}")
    port_text = str(port)
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"{flag['port']} must be an integer in [1, 65535], got {port!r}")
