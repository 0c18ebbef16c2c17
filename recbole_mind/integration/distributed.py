"""Distributed evaluation that counts each user once, as one process would (``compat`` installs it).

RecBole 1.2.1 evaluates under a process group with torch's ``DistributedSampler``, which pads
every process's share to the same size by repeating the first users, so those users count twice;
``Trainer._map_reduce`` then averages the processes' means, each already rounded, weighted by
``num_sample``, the summed lengths of a process's batch tuples (4 per batch, whatever its users).
Here evaluation data loaders under a group take an :class:`UnpaddedDistributedSampler` (each user
on exactly one process), a process's metrics stay unrounded, and the processes are averaged
weighted by their users, then rounded: the result is the single-process evaluation's
(``tests/test_distributed.py``). Training keeps torch's padding: every process must run as many
batches, or DDP's gradient all-reduce waits forever.
"""

from __future__ import annotations

import collections
import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any

import torch


class UnpaddedDistributedSampler(torch.utils.data.distributed.DistributedSampler):
    """torch's ``DistributedSampler`` without its padding, for evaluation: rank ``r`` of ``w``
    takes samples ``r, r + w, ...`` (of the epoch's permutation when shuffling), so the ranks
    cover every sample exactly once and their counts differ by at most one (evaluation runs no
    collective per batch, so the processes may run different numbers of batches)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.total_size = len(self.dataset)  # type: ignore[arg-type]
        self.num_samples = len(range(self.rank, self.total_size, self.num_replicas))

    def __iter__(self) -> Iterator[int]:
        if self.shuffle:  # torch's permutation, so a shuffled order is the same on every rank
            generator = torch.Generator()
            generator.manual_seed(self.seed + self.epoch)
            indices = torch.randperm(self.total_size, generator=generator).tolist()
        else:
            indices = list(range(self.total_size))
        return iter(indices[self.rank::self.num_replicas])


@contextlib.contextmanager
def _distributed_sampler(sampler_class: type) -> Iterator[None]:
    """``torch.utils.data.distributed.DistributedSampler`` is ``sampler_class`` meanwhile."""
    module = torch.utils.data.distributed
    original = module.DistributedSampler
    module.DistributedSampler = sampler_class  # type: ignore[misc]
    try:
        yield
    finally:
        module.DistributedSampler = original  # type: ignore[misc]


def evaluation_loader_unpadded(loader_init: Callable) -> Callable:
    """``AbstractDataLoader.__init__`` giving RecBole's evaluation loaders, under a process group,
    an :class:`UnpaddedDistributedSampler`; refuses more processes than users to evaluate."""

    @functools.wraps(loader_init)
    def wrapper(self, config, dataset, sampler, shuffle=False) -> None:
        from recbole.data.dataloader.general_dataloader import FullSortEvalDataLoader, NegSampleEvalDataLoader

        if config["single_spec"] or not isinstance(self, (FullSortEvalDataLoader, NegSampleEvalDataLoader)):
            return loader_init(self, config, dataset, sampler, shuffle)
        users, processes = self.sample_size, config["world_size"]
        if users < processes:  # a process without users would have no metric to average
            phase = getattr(sampler, "phase", None) or "evaluation"
            raise ValueError(
                f"the {phase} split has {users} user{'s' if users != 1 else ''} to evaluate for "
                f"{processes} processes: each process evaluates users of its own, so run with at most "
                f"{users} processes"
            )
        # RecBole builds the sampler inside this __init__, and torch's DataLoader refuses another
        # once built: RecBole's own line builds ours.
        with _distributed_sampler(UnpaddedDistributedSampler):
            loader_init(self, config, dataset, sampler, shuffle)

    wrapper._recbole_mind_shim = True  # type: ignore[attr-defined]
    return wrapper


# Decimal places of a process's metrics: float64 keeps about 16, so nothing is rounded away.
_UNROUNDED = 17

# DataStruct keys holding one row per evaluated user (ranking metrics) or sample (value ones)
_PER_USER_KEYS = ("rec.topk", "rec.meanrank", "rec.items", "rec.score")


def evaluate_unrounded_under_a_group(evaluate: Callable) -> Callable:
    """``Evaluator.evaluate`` that, under a process group, leaves the metrics unrounded and
    records the number of users evaluated (``evaluated_users``)."""

    @functools.wraps(evaluate)
    def wrapper(self, dataobject) -> Any:
        if self.config["single_spec"]:
            return evaluate(self, dataobject)
        # A process's means are averaged across processes by Trainer._map_reduce, which rounds:
        # rounded here too, the result would differ from one process's by up to a last digit.
        metrics = [metric for metric in self.metric_class.values() if hasattr(metric, "decimal_place")]
        places = [metric.decimal_place for metric in metrics]
        for metric in metrics:
            metric.decimal_place = _UNROUNDED
        try:
            result = evaluate(self, dataobject)
        finally:
            for metric, place in zip(metrics, places):
                metric.decimal_place = place
        self.evaluated_users = next(
            (len(dataobject.get(key)) for key in _PER_USER_KEYS if key in dataobject), None
        )
        return result

    wrapper._recbole_mind_shim = True  # type: ignore[attr-defined]
    return wrapper


def map_reduce_by_users(map_reduce: Callable) -> Callable:
    """``Trainer._map_reduce`` averaging the processes' metrics weighted by their users, then rounding."""

    @functools.wraps(map_reduce)
    def wrapper(self, result, num_sample) -> Any:
        users = getattr(getattr(self, "evaluator", None), "evaluated_users", None)
        if users is None:
            return map_reduce(self, result, num_sample)
        # RecBole weights each process's means by num_sample, the summed lengths of its batch
        # tuples (4 per batch, however many users it holds): weight by the users evaluated.
        sums = torch.tensor([float(users), *(float(value) * users for value in result.values())],
                            dtype=torch.float64, device=self.device)
        torch.distributed.all_reduce(sums)
        total, *weighted = sums.tolist()
        places = self.config["metric_decimal_place"]
        return collections.OrderedDict(
            (key, round(value / total, places)) for key, value in zip(result, weighted)
        )

    wrapper._recbole_mind_shim = True  # type: ignore[attr-defined]
    return wrapper
