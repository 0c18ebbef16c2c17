"""Each run's own log file, holding the whole run and its error.

RecBole's ``init_logger`` sends a run's lines to the console and to ``log/<model>/*.log``
through ``logging.basicConfig``, which does nothing once the root logger has a handler: a
second run in one process (the Python API called twice, ``--tune`` trials) wrote into the first
run's file, and a script that had set up logging got no file at all. :func:`open_run_log` gives
every run its own file; :func:`logged_run` removes the run's handlers when it ends. An error
raised after the log is opened (a data problem found once the dataset is loaded, an empty split)
is written into the file too, not only to the console.
"""

from __future__ import annotations

import functools
import logging
import os
from typing import Any, Callable, TypeVar

from recbole.utils import init_logger

from recbole_mind.training.pipeline import claim_unique_file

Run = TypeVar("Run", bound=Callable[..., Any])

# Log files opened by runs of this process: RecBole names them to the second, after a hash of
# the config, so two runs of the same config in one second would share one.
_opened: set[str] = set()


def logged_run(run: Run) -> Run:
    """``run``, writing an exception it raises into its log files before it propagates, and
    removing the handlers it added to the root logger (closing its files) when it ends."""

    @functools.wraps(run)
    def logged(*args: Any, **kwargs: Any) -> Any:
        root = logging.getLogger()
        handlers, level = list(root.handlers), root.level
        try:
            return run(*args, **kwargs)
        except Exception as error:
            write_to_log_files(error)
            raise
        finally:
            for handler in [handler for handler in root.handlers if handler not in handlers]:
                root.removeHandler(handler)
                handler.close()
            root.setLevel(level)

    return logged  # type: ignore[return-value]


def open_run_log(config: Any) -> str:
    """RecBole's ``init_logger`` for this run, with a file of its own; returns the file's path.

    Handlers already on the root logger (an earlier run's, a script's own) are set aside while
    ``init_logger`` runs, so its ``basicConfig`` installs this run's handlers, then put back.
    As with RecBole, the console handler is only kept when the root logger had no handler: a
    script's own handlers show the lines (not twice). Call it inside :func:`logged_run`, which
    removes the handlers again.
    """
    root = logging.getLogger()
    before = list(root.handlers)
    for handler in before:
        root.removeHandler(handler)
    try:
        init_logger(config)
    finally:
        added = [handler for handler in root.handlers if handler not in before]
        for handler in before:
            root.addHandler(handler)
    (file_handler,) = [handler for handler in added if isinstance(handler, logging.FileHandler)]
    path = file_handler.baseFilename
    if path in _opened or os.path.getsize(path) > 0:  # the same name as another run's file
        file_handler = _file_handler_like(file_handler, claim_unique_file(path))
        path = file_handler.baseFilename
        root.addHandler(file_handler)
    _opened.add(path)
    if before:
        for handler in added:
            if not isinstance(handler, logging.FileHandler):
                root.removeHandler(handler)
    return path


def _file_handler_like(handler: logging.FileHandler, path: str) -> logging.FileHandler:
    """A handler writing to ``path`` with ``handler``'s level, format and filters; ``handler``
    is removed and closed."""
    logging.getLogger().removeHandler(handler)
    handler.close()
    replacement = logging.FileHandler(path)
    replacement.setLevel(handler.level)
    replacement.setFormatter(handler.formatter)
    for log_filter in handler.filters:
        replacement.addFilter(log_filter)
    return replacement


def write_to_log_files(error: BaseException) -> None:
    """Log ``error`` and its traceback to the root logger's files only: the console gets the
    error once, from whoever catches it (``cli.main`` prints ``error: ...``). Before
    ``init_logger`` there is no file, and nothing is written."""
    root = logging.getLogger()
    record = root.makeRecord(root.name, logging.ERROR, __file__, 0, f"run stopped: {type(error).__name__}: "
                             f"{error}", None, (type(error), error, error.__traceback__))
    for handler in root.handlers:
        if isinstance(handler, logging.FileHandler) and record.levelno >= handler.level:
            handler.handle(record)
