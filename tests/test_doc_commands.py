"""Every example command of the README and docs/ runs as written (issue 45): its flags parse and
its keys and values pass our own checks, without training.

A command of the run's command line (``python run_recbole_mind.py``, ``python -m recbole_mind``,
``recbole-mind``) goes through ``cli.main``'s checks up to the built config (key names, values,
``valid_metric`` among the metrics, distributed flags, the search space); a command of another of
our modules (``python -m recbole_mind.retrieval ...``) through its argument parser. A config file or
search space a page writes (``cat > my.yaml <<'EOF'``) is checked with it; one it only names
(``my.yaml``, a search's output) is the reader's own and skipped; ``<time>`` and ``[optional]``
are notation.
"""

import argparse
import glob
import os
import re
import shlex

import pytest

from conftest import REPO_ROOT

PAGES = [os.path.join(REPO_ROOT, "README.md"),
         *sorted(glob.glob(os.path.join(REPO_ROOT, "docs", "**", "*.md"), recursive=True))]
SEPARATORS = ("&&", "||", ";", "|")
HEREDOC = re.compile(r"^cat > (\S+) <<'?(\w+)'?\n(.*?)^\2$", re.M | re.S)


def code_lines(text: str):
    """(line number, line) of fenced and indented code blocks, continuation lines joined."""
    in_fence, pending, start = False, "", 0
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
            continue
        if not (in_fence or line.startswith("    ")):
            continue
        if not pending:
            start = number
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        yield start, pending + line
        pending = ""


def our_commands(line: str):
    """The argument lists of our commands in a shell line: (module or None for the run's CLI, args)."""
    try:
        tokens = shlex.split(line, comments=True)
    except ValueError:
        return
    command: list[str] = []
    for token in [*tokens, "&&"]:
        if token not in SEPARATORS:
            command.append(token)
            continue
        if command[:1] == ["recbole-mind"]:
            yield None, command[1:]
        elif command[:1] == ["python"] and len(command) > 1 and command[1].endswith("run_recbole_mind.py"):
            yield None, command[2:]
        elif command[:2] == ["python", "-m"] and len(command) > 2 and command[2].split(".")[0] == "recbole_mind":
            yield (None if command[2] == "recbole_mind" else command[2]), command[3:]
        command = []


def doc_commands():
    found = []
    for page in PAGES:
        with open(page, encoding="utf-8") as file:
            text = file.read()
        written = {name: content for name, _, content in HEREDOC.findall(text)}  # files the page writes
        for number, line in code_lines(text):
            for module, args in our_commands(line):
                where = f"{os.path.relpath(page, REPO_ROOT)}:{number}"
                found.append(pytest.param(module, args, written, id=f"{where} {' '.join(args)}"[:120]))
    return found


COMMANDS = doc_commands()


def test_the_pages_have_commands_of_each_kind():
    modules = {param.values[0] for param in COMMANDS}
    assert None in modules and "recbole_mind.retrieval" in modules and len(COMMANDS) >= 20


class Parsed(Exception):
    """Raised by a module's parser once it has read the arguments, before the command runs."""


def test_a_page_s_own_config_file_is_found():
    (written,) = {str(param.values[2]) for param in COMMANDS if "--config_files=my_mind.yaml" in param.values[1]}
    assert "interest_num: 4" in written


@pytest.mark.parametrize("module, args, written", COMMANDS)
def test_a_documented_command_passes_our_checks(module, args, written, tmp_path, monkeypatch):
    for name, content in written.items():
        (tmp_path / name).write_text(content)
    monkeypatch.chdir(REPO_ROOT)  # the pages' relative paths (properties/...) are the repository's
    args = [arg for arg in args if arg not in ("[", "]")]
    args = [arg.lstrip("[").rstrip("]") if arg.startswith("[--") or arg.endswith("]") and arg.startswith("[")
            else arg for arg in args]
    if module is None:
        check_run_command(args, tmp_path)
    else:
        check_module_command(module, args, monkeypatch)


def check_run_command(argv: list[str], work_dir) -> None:
    """``cli.main``'s checks on ``argv``, then the config it would build, without a run."""
    from recbole_mind.run.cli import _check_tuning_flags, build_parser, check_config_arguments
    from recbole_mind.training.config import build_config, config_file_setting
    from recbole_mind.settings.prerun import check_distributed_flags
    from recbole_mind.run.tuning import load_search_space

    parser = build_parser()
    if "--help" in argv or "-h" in argv:
        return
    args, rest = parser.parse_known_args(argv)
    command_line = check_config_arguments(rest, parser)
    files = [path if os.path.isfile(path) else os.path.join(work_dir, path)
             for path in (args.config_files or "").split()]
    files = [os.path.abspath(path) for path in files if os.path.isfile(path)]
    model = args.model or config_file_setting("model", files) or "MIND"
    dataset = args.dataset or config_file_setting("dataset", files) or "ml-100k"
    check_distributed_flags(args.nproc, args.world_size, args.ip, args.port, args.group_offset)
    if args.tune:
        _check_tuning_flags(args)
        space = args.tune if os.path.isfile(args.tune) else os.path.join(work_dir, args.tune)
        if os.path.isfile(space):
            load_search_space(space)
    os.chdir(work_dir)  # build_config checks the folders a run would write
    build_config(model, dataset, files, command_line=command_line, preset=args.preset)


def check_module_command(module: str, argv: list[str], monkeypatch) -> None:
    """The module's parser reads ``argv`` (an unknown flag or a bad value exits); nothing runs."""
    import importlib

    def parsed(self, args=None, namespace=None):
        namespace, extra = argparse.ArgumentParser.parse_known_args(self, args, namespace)
        if extra:
            self.error(f"unrecognized arguments: {' '.join(extra)}")
        raise Parsed(namespace)

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parsed)
    main = importlib.import_module(module if module != "recbole_mind.retrieval" else "recbole_mind.serving.cli").main
    with pytest.raises(Parsed):
        main(argv)
