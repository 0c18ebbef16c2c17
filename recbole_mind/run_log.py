"""A run's error written into its log file, not only printed.

RecBole's ``init_logger`` sends a run's lines to the console and to ``log/<model>/*.log``. An
error raised after it (a data problem found once the dataset is loaded, an empty split) reached
only the console, through ``cli.main``, and left a log that ends as if the run were going on.
"""

from __future__ import annotations

import functools
import logging
from typing import Any, Callable, TypeVar

Run = TypeVar("Run", bound=Callable[..., Any])


def errors_logged(run: Run) -> Run:
    """``run``, writing an exception it raises into the run's log files before it propagates."""

    @functools.wraps(run)
    def logged(*args: Any, **kwargs: Any) -> Any:
        try:
            return run(*args, **kwargs)
        except Exception as error:
            write_to_log_files(error)
            raise

    return logged  # type: ignore[return-value]


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
