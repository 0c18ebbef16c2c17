"""Write a set of output files all at once or not at all, and report it as a command does.

A converter stopped by a bad line, a full disk or Ctrl-C must not leave half a dataset behind:
the next run would read the truncated files without a word. Each file is written under a
temporary name next to its final path and renamed into place only once every file is complete.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from typing import Callable, Iterator


@contextlib.contextmanager
def all_or_nothing(paths: list[str]) -> Iterator[list[str]]:
    """Yield a temporary path for each of ``paths``; rename them into place if the block succeeds.

    On an error (or KeyboardInterrupt) the temporary files are removed, the final paths are
    left as they were, and a folder this call created is removed again if it stayed empty.
    """
    folders = sorted({os.path.dirname(os.path.abspath(path)) for path in paths})
    created = [folder for folder in folders if not os.path.isdir(folder)]
    for folder in folders:
        os.makedirs(folder, exist_ok=True)
    partial = [f"{path}.part" for path in paths]
    try:
        yield partial
    except BaseException:
        for path in partial:
            if os.path.exists(path):
                os.remove(path)
        for folder in reversed(created):
            with contextlib.suppress(OSError):
                os.removedirs(folder)  # only while empty; stops at the first non-empty parent
        raise
    for temporary, path in zip(partial, paths):
        os.replace(temporary, path)


def check_output_path(path: str, option: str, folder: bool = False) -> None:
    """Refuse an output path nothing can be written to, before any slow work: one line naming
    ``option`` (how the user gave it, e.g. ``--out``) and ``path``.

    Refused: a folder (``folder=False``) or a file (``folder=True``) already at ``path``, a file
    where a folder above it should be, and a folder this process cannot create files in
    (tested by creating and removing a temporary file: permission bits say nothing to root or
    on a read-only mount).
    """
    wanted, other = ("folder", "file") if folder else ("file", "folder")
    if os.path.exists(path) and os.path.isdir(path) != folder:
        raise ValueError(f"{option} {path} is a {other}, not a {wanted}: give a {wanted} path")
    parent = os.path.abspath(path if folder else os.path.dirname(os.path.abspath(path)))
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise ValueError(f"{option} {path}: {parent} is a file, so no {wanted} can be made under it")
    try:
        descriptor, probe = tempfile.mkstemp(dir=parent, prefix=".write-test-")
    except OSError as error:
        raise ValueError(
            f"{option} {path}: cannot write in {parent} ({error.strerror}); choose a folder you can write to"
        ) from error
    os.close(descriptor)
    os.remove(probe)


def check_dataset_name(name: str) -> None:
    """Raise ``ValueError`` unless ``name`` is a plain name: it becomes the folder
    ``<out_dir>/<name>/`` and its files, so a path (``../x``, ``a/b``) would write elsewhere."""
    if not name or name in (".", "..") or os.sep in name or (os.altsep and os.altsep in name):
        raise ValueError(
            f"name must be a plain dataset name without a path (it names <out_dir>/<name>/<name>.inter), "
            f"got {name!r}"
        )


def report_written(write: Callable[[], str], errors: tuple[type[BaseException], ...]) -> int:
    """Exit status of a dataset-writing command: run ``write`` and print the message it
    returns (0), or print one of ``errors`` as ``error: ...`` on stderr (2)."""
    try:
        message = write()
    except errors as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(message)
    return 0
