"""Command line mirroring RecBole's ``run_recbole.py``.

``--model``, ``--dataset``, ``--config_files``, ``--preset`` and the run's flags are ours; every other
``--key=value`` is a RecBole/MIND config override, read here as a literal (``literals.literal_value``,
never ``eval``) and handed to the run with the priority of RecBole's command line; RecBole's
``Config`` does not read ``sys.argv`` itself (``config.build_config``).
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
from typing import Any, Sequence

from recbole_mind.training.config import config_file_setting, resolve_model
from recbole_mind.data.datasets import DatasetNotFoundError
from recbole_mind.settings.keys import check_key_values, check_known_keys, command_line_values
from recbole_mind.training.pipeline import TrainingInterrupted
from recbole_mind.data.output import check_output_path, refuse_output_onto_input
from recbole_mind.settings.prerun import check_distributed_flags
from recbole_mind.settings.presets import check_preset_model, preset_file, preset_names, presets_help
from recbole_mind.run.quick_start import check_port_free, run, run_recbole_mind
from recbole_mind.settings.table import OWNERS, owned_by
from recbole_mind.run.tuning import ALGORITHMS, load_search_space, tune


def settings_help() -> str:
    """The keys this package adds, with their defaults and meaning, from the settings table."""
    titles = {"MIND": "MIND", "diversity": "controllable diversity, every model",
              "multi_target": "the multi-target protocol, every model", "download": "dataset downloads"}
    lines = ["Keys this package adds (--key=value, or a YAML file; defaults from recbole_mind/settings/table.py):"]
    for owner in OWNERS:
        lines.append(f"  {titles[owner]}:")
        for name, setting in owned_by(owner).items():
            default = "~" if setting.default is None else setting.default
            lines.append(f"    {name} = {default}  ({setting.rule.text})")
            lines.append(f"        {setting.doc}")
    return "\n".join(lines)


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description=(
            "Train and evaluate MIND (or any RecBole model) with RecBole. Any other "
            "--key=value overrides a config key, e.g. --epochs=20 --interest_num=8. A list is "
            "written without spaces, names quoted: --user_profile_fields=\"['age','gender']\"."
        ),
        epilog=presets_help() + "\n\n" + settings_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        # an abbreviated flag would be taken silently (--tune_max_eval=3 as --tune_max_evals);
        # without abbreviations it is checked as a key, with "did you mean"
        allow_abbrev=False,
    )
    parser.add_argument("--model", "-m", default=None,
                        help="MIND or a RecBole model name (default: a config file's model, else MIND)")
    parser.add_argument("--dataset", "-d", default=None,
                        help="dataset name (default: a config file's dataset, else ml-100k)")
    parser.add_argument(
        "--config_files", default=None, help="space-separated YAML files, later files win"
    )
    parser.add_argument(
        "--preset", metavar="NAME", default=None,
        help=f"a packaged set of MIND's keys ({', '.join(preset_names())}; listed below), above "
             "MIND's defaults and under --config_files and --key=value",
    )
    parser.add_argument("--resume", metavar="CHECKPOINT", default=None,
                        help="continue training from a checkpoint of the same model and dataset")
    distributed = parser.add_argument_group(
        "distributed training (PyTorch DDP through RecBole; gloo on CPUs, NCCL on GPUs)"
    )
    distributed.add_argument("--nproc", type=int, default=1, help="processes on this machine (default 1)")
    distributed.add_argument("--world_size", type=int, default=-1,
                             help="processes on all machines (default: nproc)")
    distributed.add_argument("--ip", default="localhost", help="address of the machine with rank 0")
    distributed.add_argument("--port", default="5678", help="free port on that machine")
    distributed.add_argument("--group_offset", type=int, default=0,
                             help="rank of this machine's first process (0 on the first machine)")
    tuning = parser.add_argument_group(
        "hyper-parameter search (each trial trains and validates; the test split is not used to choose)"
    )
    tuning.add_argument("--tune", metavar="SPACE_YAML", default=None,
                        help="search this space file instead of a single run (e.g. properties/hyper/MIND.yaml)")
    tuning.add_argument("--tune_algo", default="bayes", choices=ALGORITHMS, help="search algorithm (default: bayes)")
    tuning.add_argument("--tune_max_evals", type=int, default=20, help="most trials (default: 20)")
    tuning.add_argument("--tune_output", default=None,
                        help="YAML file for the best keys, rewritten after every finished trial "
                             "(default: <space name>.best.yaml here)")
    return parser


def check_config_arguments(arguments: Sequence[str], parser: argparse.ArgumentParser) -> dict[str, Any]:
    """The arguments argparse leaves over: ``--key=value`` config keys, each set once; returns
    them read as literals.

    RecBole's ``Config`` dropped anything else with only a log line (``--epochs 20`` trained for
    the default), silently dropped a value holding '=', and raised a traceback for a key given
    twice; the key names and values are checked as a YAML file's are.
    """
    flags = {action.dest for action in parser._actions}
    check_lists_not_split(arguments)
    values: dict[str, str] = {}
    for argument in arguments:
        key, equals, value = argument[2:].partition("=") if argument.startswith("--") else ("", "", "")
        if not key or not equals or "=" in value:
            example = f" (e.g. {argument}=VALUE)" if argument.startswith("--") and not equals else ""
            raise ValueError(
                f"unexpected argument {argument!r}: config keys are given as --key=value with a "
                f"single '='{example}; run with --help for the flags"
            )
        if key in values and values[key] != value:
            raise ValueError(f"--{key} is given twice, as {values[key]!r} and {value!r}: keep one")
        values[key] = value
    check_known_keys(values, "the command line", also_known=flags)
    typed = command_line_values(values)
    check_key_values(typed, "the command line")
    return typed


def check_lists_not_split(arguments: Sequence[str]) -> None:
    """``--key=[a, b]`` reaches us as two arguments, ``--key=[a,`` and ``b]``: name the list
    and show the form that arrives whole."""
    for index, argument in enumerate(arguments):
        key, _, value = argument.partition("=")
        if not argument.startswith("--") or value.count("[") <= value.count("]"):
            continue
        rest = list(itertools.takewhile(lambda part: not part.startswith("--"), arguments[index + 1:]))
        written = " ".join([argument, *rest])
        items = [item.strip().strip("'\"") for item in written.partition("=")[2].strip("[] ").split(",")]
        example = "[" + ",".join(f"'{item}'" if not item.isdigit() else item for item in items if item) + "]"
        raise ValueError(
            f"{written!r} reached the program split at its spaces: write a list without spaces, names "
            f"quoted, e.g. {key}=\"{example}\""
        )


def _check_tuning_flags(args: argparse.Namespace) -> None:
    """A search runs single-process trials from scratch: flags it would ignore are refused."""
    ignored = [flag for flag, given in (("--resume", args.resume is not None), ("--nproc", args.nproc != 1),
                                        ("--world_size", args.world_size != -1)) if given]
    if ignored:
        raise ValueError(
            f"--tune runs each trial from scratch in one process, so it cannot honour "
            f"{' and '.join(ignored)}: drop {'it' if len(ignored) == 1 else 'them'}, or run without --tune"
        )


def _run_tuning(args: argparse.Namespace, config_files: list[str] | None, command_line: dict[str, Any]) -> int:
    _check_tuning_flags(args)
    space = load_search_space(args.tune)
    searched = {key for params in space.values() for key in params}
    fixed = set(command_line) & searched  # a --key=value wins over every trial
    if fixed:
        raise ValueError(
            f"{', '.join(sorted(fixed))} set on the command line and searched in {args.tune}: "
            "a --key=value wins over every trial; drop one of the two"
        )
    output = args.tune_output or os.path.splitext(os.path.basename(args.tune))[0] + ".best.yaml"
    check_output_path(output, "--tune_output")  # before the first trial, not after the last
    refuse_output_onto_input(output, [args.tune, *(config_files or [])], "--tune_output")

    def objective(config_dict, config_file_list):
        # validation only: a search never scores the test split, nor keeps a checkpoint per trial
        # the preset sits under the fixed files and the searched keys
        result = run_recbole_mind(args.model, args.dataset, config_file_list, config_dict, saved=False,
                                  evaluate_test=False, command_line=command_line, preset=args.preset)
        return {**result, "model": args.model}

    outcome = tune(objective, args.tune, output, config_files, args.tune_algo, args.tune_max_evals)
    print("trials, best first (valid score: parameters):")
    for trial in sorted(outcome["trials"], key=lambda t: t["best_valid_score"], reverse=True):
        print(f"  {trial['best_valid_score']:.4f}: {trial['params']}")
    print(f"best valid score: {outcome['best_valid_score']:.4f} after {len(outcome['trials'])} trials")
    with_preset = f" (run it with --preset={args.preset} --config_files={output})" if args.preset else ""
    print(f"best config: {outcome['best_params']} -> {output}{with_preset}")
    return 0


# A best valid result of None means one of two things: say which.
NOT_VALIDATED = "none: no epoch was validated (eval_step=0); the last epoch's weights were tested"


def _format_result(result: dict[str, Any] | str | None) -> str:
    """``metric: value, ...``, or the text that stands for a result (``NOT_VALIDATED``)."""
    if isinstance(result, str):
        return result
    if result is None:  # validated, resumed, and no epoch beat the checkpoint's best valid score
        return "no resumed epoch beat the checkpoint's best valid score; its weights were kept"
    return ", ".join(f"{metric}: {float(value):.4f}" for metric, value in result.items())


def _checkpoint_line(result: dict[str, Any]) -> str | None:
    """Where the run's best weights are; a resumed run names the file it read, left unchanged."""
    path, resumed_from = result.get("checkpoint"), result.get("resumed_from")
    if path is None:
        return None
    if resumed_from is None:
        return f"checkpoint: {path}"
    kept = " (a copy of its weights: no resumed epoch beat them)" if result["best_valid_result"] is None else ""
    return f"checkpoint: {path}{kept}; resumed from {resumed_from}, left unchanged"


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Entry point of ``run_recbole_mind.py``, ``python -m recbole_mind`` and ``recbole-mind``."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(prog)
    args, config_arguments = parser.parse_known_args(argv)
    config_files = args.config_files.split() if args.config_files else None
    try:
        command_line = check_config_arguments(config_arguments, parser)
        # a flag given wins; else the YAML files' model and dataset, not the flags' defaults
        args.model = args.model or config_file_setting("model", config_files) or "MIND"
        args.dataset = args.dataset or config_file_setting("dataset", config_files) or "ml-100k"
        if args.preset is not None:  # before a search's first trial, or the processes' start
            preset_file(args.preset)
            check_preset_model(args.preset, resolve_model(args.model))
        check_distributed_flags(args.nproc, args.world_size, args.ip, args.port, args.group_offset)
        if args.resume is not None and not os.path.isfile(args.resume):
            raise FileNotFoundError(f"--resume: checkpoint not found: {args.resume}")
        if args.tune:
            return _run_tuning(args, config_files, command_line)
        if (args.nproc > 1 or args.world_size != -1) and args.group_offset == 0:
            check_port_free(args.ip, args.port)  # run() checks too, naming it without the dashes
        result = run(
            model=args.model, dataset=args.dataset, config_file_list=config_files,
            resume_checkpoint=args.resume, nproc=args.nproc, world_size=args.world_size,
            ip=args.ip, port=args.port, group_offset=args.group_offset, command_line=command_line,
            preset=args.preset,
        )
    except (ValueError, DatasetNotFoundError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except TrainingInterrupted as interrupt:
        print(interrupt, file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("interrupted outside training; a checkpoint written before is named in the log", file=sys.stderr)
        return 130
    if result is None:  # distributed, and rank 0 runs on another machine
        print("done; the process with rank 0 reports the results")
        return 0
    if result.get("protocol") == "multi_target":  # say which protocol produced the numbers
        excluded = "history items excluded" if result["history_excluded"] else "history items ranked"
        print(f"protocol: multi_target ({result['valid_users']} validation and {result['test_users']} "
              f"test users, several targets each; {excluded})")
    else:
        print("protocol: RecBole's eval_args split")
    if result["best_valid_result"] is None and not result.get("valid_curve", True):
        result = {**result, "best_valid_result": NOT_VALIDATED}  # each validation adds a curve point
    print(f"best valid: {_format_result(result['best_valid_result'])}")
    print(f"test result: {_format_result(result['test_result'])}")
    checkpoint_line = _checkpoint_line(result)
    if checkpoint_line is not None:
        print(checkpoint_line)
    return 0
