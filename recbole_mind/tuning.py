"""Hyper-parameter search from a YAML space file, driven by RecBole's ``HyperTuning`` (hyperopt).

A space file maps a distribution to the keys it samples (RecBole's ``params_dict`` form)::

    choice:
      interest_num: [2, 4, 8]
      attention_power: [1.0, .inf]
    loguniform:                 # natural-log bounds: exp(low) .. exp(high)
      learning_rate: [-8, -5]
    uniform:
      dropout_prob: [0.0, 0.3]
    quniform:                   # [low, high, q]: floats; use choice for integer keys
      routing_logit_std: [0.5, 2.0, 0.5]

Every trial is a full ``run_recbole_mind`` run, scored on the validation split only
(``valid_metric``); the test split never steers the search. The best trial's keys are written
as a YAML file that ``--config_files`` accepts.
"""

from __future__ import annotations

import itertools
import math
import os
from typing import Any, Callable

import yaml

from recbole_mind.keys import check_key_values, check_known_keys

DISTRIBUTIONS = {"choice": None, "uniform": 2, "loguniform": 2, "quniform": 3}
ALGORITHMS = ("bayes", "random", "exhaustive")


def load_search_space(path: str) -> dict[str, dict[str, list]]:
    """Read and check a space file; errors name the file, the key and what is allowed."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Search space file not found: {path}")
    with open(path, encoding="utf-8") as file:
        try:
            space = yaml.safe_load(file)
        except yaml.YAMLError as error:
            raise ValueError(f"{path}: not valid YAML: {error}") from error
    if not isinstance(space, dict) or not space:
        raise ValueError(
            f"{path}: expected a mapping from a distribution ({', '.join(DISTRIBUTIONS)}) "
            f"to the keys it samples, got {space!r}"
        )
    seen: set[str] = set()
    for distribution, params in space.items():
        if distribution not in DISTRIBUTIONS:
            raise ValueError(
                f"{path}: unknown distribution {distribution!r}; allowed: {', '.join(DISTRIBUTIONS)}"
            )
        if not isinstance(params, dict) or not params:
            raise ValueError(f"{path}: '{distribution}' must map config keys to values, got {params!r}")
        for key, values in params.items():
            if key in seen:
                raise ValueError(f"{path}: key {key!r} appears under more than one distribution")
            seen.add(key)
            _check_values(path, distribution, key, values)
    # A misspelt key would run every trial unchanged and land in the best-config YAML.
    check_known_keys(seen, path)
    for key, values in space.get("choice", {}).items():
        for value in values:
            check_key_values({key: value}, f"{path}, choice of {key!r}")
    return space


def _check_values(path: str, distribution: str, key: str, values: Any) -> None:
    arity = DISTRIBUTIONS[distribution]
    if arity is None:
        if not isinstance(values, list) or not values:
            raise ValueError(f"{path}: choice of {key!r} must be a non-empty list, got {values!r}")
        return
    bounds = "[low, high]" if arity == 2 else "[low, high, q]"
    if (
        not isinstance(values, list)
        or len(values) != arity
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        or not all(math.isfinite(v) for v in values)
        or not values[0] < values[1]
        or (arity == 3 and not values[2] > 0)
    ):
        raise ValueError(
            f"{path}: {distribution} of {key!r} must be {bounds} finite numbers with low < high"
            + (" and q > 0" if arity == 3 else "")
            + f", got {values!r}"
        )


def tune(
    objective: Callable[[dict[str, Any], list[str] | None], dict[str, Any]],
    space_file: str,
    output_file: str,
    config_file_list: list[str] | None = None,
    algo: str = "bayes",
    max_evals: int = 20,
    early_stop: int = 10,
    seed: int = 2020,
) -> dict[str, Any]:
    """Search ``space_file`` and write the best keys to ``output_file``.

    Args:
        objective: ``(config_dict, config_file_list) -> result`` with RecBole's result keys plus
            ``model``; ``run_recbole_mind`` wrapped for one model and dataset.
        space_file: YAML search space (see the module docstring).
        output_file: where the best keys are written, as YAML.
        config_file_list: fixed YAML files applied to every trial.
        algo: ``bayes`` (TPE), ``random``, or ``exhaustive`` (choice-only spaces).
        max_evals: trials at most (``exhaustive`` runs the whole grid).
        early_stop: stop after this many trials without improvement.
        seed: seed of the search itself.

    Returns:
        ``best_params``, ``best_valid_score``, ``trials`` (list of params and valid scores).
    """
    from recbole.trainer.hyper_tuning import HyperTuning

    if algo not in ALGORITHMS:
        raise ValueError(f"tune algo must be one of {list(ALGORITHMS)}, got {algo!r}")
    if isinstance(max_evals, bool) or not isinstance(max_evals, int) or max_evals < 1:
        raise ValueError(f"max_evals must be an integer >= 1, got {max_evals!r}")
    space = load_search_space(space_file)
    if algo == "exhaustive":
        if set(space) != {"choice"}:
            raise ValueError(
                f"{space_file}: exhaustive search needs a grid: put every key under 'choice', "
                "or use --tune_algo=bayes / random"
            )
        grid_size = math.prod(len(values) for values in space["choice"].values())
        algo, max_evals, early_stop = grid_search(space["choice"]), grid_size, grid_size
    # hyperopt seeds its own generator from this variable: the same seed, the same trials.
    os.environ["HYPEROPT_FMIN_SEED"] = str(seed)
    tuner = HyperTuning(
        objective,
        params_dict=space,
        fixed_config_file_list=config_file_list,
        algo=algo,
        max_evals=max_evals,
        early_stop=early_stop,
    )
    tuner.run()
    best = {key: _plain(value) for key, value in tuner.best_params.items()}
    trials = [
        {"params": params, "best_valid_score": float(result["best_valid_score"])}
        for params, result in tuner.params2result.items()
    ]
    header = (
        f"# Best of {len(trials)} trials over {space_file}, scored on the validation split\n"
        f"# (best valid score {float(tuner.best_score):.4f}). Use with --config_files.\n"
    )
    with open(output_file, "w", encoding="utf-8") as file:
        file.write(header)
        yaml.safe_dump(best, file, sort_keys=True)
    return {"best_params": best, "best_valid_score": float(tuner.best_score), "trials": trials}


def grid_search(choices: dict[str, list]) -> Callable:
    """A hyperopt ``algo`` that walks the grid of ``choices`` in a fixed order, each point once.

    RecBole's own ``exhaustive`` algorithm draws from ``numpy.random.RandomState``, which
    hyperopt >= 0.2.7 no longer accepts (it calls ``rng.integers``), so we enumerate the grid
    ourselves; trial ``n`` is grid point ``n``.
    """
    names = sorted(choices)
    grid = list(itertools.product(*(range(len(choices[name])) for name in names)))

    def suggest(new_ids, domain, trials, seed):
        from hyperopt.base import miscs_update_idxs_vals

        docs = []
        for new_id in new_ids:
            point = grid[new_id % len(grid)]
            misc = {"tid": new_id, "cmd": domain.cmd, "workdir": domain.workdir}
            miscs_update_idxs_vals(
                [misc],
                {name: [new_id] for name in names},
                {name: [index] for name, index in zip(names, point)},
            )
            docs.extend(trials.new_trial_docs([new_id], [None], [domain.new_result()], [misc]))
        return docs

    return suggest


def _plain(value: Any) -> Any:
    """numpy scalars from hyperopt as plain Python values, so the YAML stays readable."""
    return value.item() if hasattr(value, "item") else value
