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

from recbole_mind.settings.keys import RECBOLE_KEY_RULES, check_known_keys
from recbole_mind.settings.literals import literal_value
from recbole_mind.settings.table import SETTINGS
from recbole_mind.data.output import all_or_nothing, check_output_path, refuse_output_onto_input

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
    check_drawn_values(path, space)
    return space


def check_drawn_values(path: str, space: dict[str, dict[str, list]]) -> None:
    """Every value a trial can draw must be allowed for its key, checked before the first trial.

    A trial drawing a bad value would abort the whole search at that trial. ``uniform`` and
    ``quniform`` draw floats between (the rounded) bounds, ``loguniform`` draws exp(low) ..
    exp(high); the bounds are checked, the allowed ranges being intervals.
    """
    for key, values in space.get("choice", {}).items():
        for value in values:
            # a trial's config_dict is read as literals: text that reads as code stops the search now
            literal_value(key, value, f"{path}: choice of {key!r}")
            _check_drawn(path, "choice", key, value)
    for key, (low, high, *step) in {**space.get("uniform", {}), **space.get("quniform", {})}.items():
        distribution = "uniform" if key in space.get("uniform", {}) else "quniform"
        q = step[0] if step else None
        for bound in (low, high):
            drawn = float(round(bound / q) * q) if q else float(bound)
            _check_drawn(path, distribution, key, drawn)
    for key, (low, high) in space.get("loguniform", {}).items():
        if 0 < low and high <= 1 and high / low >= 10:
            raise ValueError(
                f"{path}: loguniform of {key!r} takes natural-log bounds, so [{low}, {high}] draws "
                f"{math.exp(low):.4g} .. {math.exp(high):.4g}; for values {low} .. {high} write "
                f"[{math.log(low):.2f}, {math.log(high):.2f}]"
            )
        for bound in (low, high):
            _check_drawn(path, "loguniform", key, math.exp(bound))


def _check_drawn(path: str, distribution: str, key: str, value: Any) -> None:
    error = allowed_value_error(key, value)
    if error is None:
        return
    if isinstance(value, float) and value.is_integer() and allowed_value_error(key, int(value)) is None:
        raise ValueError(
            f"{path}: {distribution} of {key!r} draws floats (e.g. {value!r}) and {key} takes "
            f"integers: list its values under choice, e.g. choice: {{{key}: [{int(value)}, ...]}}"
        )
    raise ValueError(f"{path}: {distribution} of {key!r} can draw {value!r}, which {key} does not allow: {error}")


def allowed_value_error(key: str, value: Any) -> str | None:
    """Why ``value`` is not allowed for ``key`` on its own (RecBole's rule or the settings
    table's), else None. Rules between keys depend on the rest of the config: not judged here."""
    rule = RECBOLE_KEY_RULES[key] if key in RECBOLE_KEY_RULES else SETTINGS[key].rule if key in SETTINGS else None
    if rule is None or rule.allows(value):
        return None
    return f"{key} must be {rule.text}, got {value!r}"


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
    check_output_path(output_file, "tune output")
    # the output is rewritten after every trial: onto the space or a config file, it would
    # replace what the next trials read
    refuse_output_onto_input(output_file, [space_file, *(config_file_list or [])], "tune output")
    if algo == "exhaustive":
        if set(space) != {"choice"}:
            raise ValueError(
                f"{space_file}: exhaustive search needs a grid: put every key under 'choice', "
                "or use --tune_algo=bayes / random"
            )
        grid_size = math.prod(len(values) for values in space["choice"].values())
        algo, max_evals, early_stop = grid_search(space["choice"]), grid_size, grid_size
    trials: list[dict[str, Any]] = []

    def recorded(config_dict: dict[str, Any], config_files: list[str] | None) -> dict[str, Any]:
        # each finished trial is written at once: a later trial that fails keeps the earlier ones
        params = {key: _plain(value) for key, value in config_dict.items()}
        result = objective(config_dict, config_files)
        trials.append({
            "params": params,
            "best_valid_score": float(result["best_valid_score"]),
            "bigger": result.get("valid_score_bigger", True),
        })
        write_trials(output_file, space_file, trials)
        return result

    # hyperopt seeds its own generator from this variable: the same seed, the same trials. It
    # stays set for the process (recorded in recbole_mind/integration/boundary.py).
    os.environ["HYPEROPT_FMIN_SEED"] = str(seed)
    tuner = HyperTuning(
        recorded,
        params_dict=space,
        fixed_config_file_list=config_file_list,
        algo=algo,
        max_evals=max_evals,
        early_stop=early_stop,
    )
    tuner.run()
    best = best_trial(trials)
    return {
        "best_params": best["params"],
        "best_valid_score": best["best_valid_score"],
        "trials": [{"params": t["params"], "best_valid_score": t["best_valid_score"]} for t in trials],
    }


def best_trial(trials: list[dict[str, Any]]) -> dict[str, Any]:
    """The trial with the best valid score (the highest, or the lowest for a loss-like metric)."""
    sign = 1 if trials[0]["bigger"] else -1
    return max(trials, key=lambda trial: sign * trial["best_valid_score"])


def write_trials(output_file: str, space_file: str, trials: list[dict[str, Any]]) -> None:
    """The best trial's keys as YAML (for --config_files), every finished trial as a comment.

    Written to a temporary file and renamed, so an interrupted write never leaves half a file.
    """
    best = best_trial(trials)
    lines = [
        f"# Best of {len(trials)} finished trials over {space_file}, scored on the validation split",
        f"# (best valid score {best['best_valid_score']:.4f}). Use with --config_files.",
        "# Finished trials (valid score: keys):",
        *(f"#   {t['best_valid_score']:.4f}: {t['params']}" for t in trials),
    ]
    with all_or_nothing([output_file]) as (partial,):
        with open(partial, "w", encoding="utf-8") as file:
            file.write("\n".join(lines) + "\n")
            yaml.safe_dump(best["params"], file, sort_keys=True)


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
