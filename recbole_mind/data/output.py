"""Write a set of output files all at once or not at all, and report it as a command does.

A converter stopped by a bad line, a full disk or Ctrl-C must not leave half a dataset behind:
the next run would read the truncated files without a word. Each file is written under a
temporary name next to its final path and renamed into place only once every file is complete.
Temporary files and folders get a fresh random name, created exclusively (``O_EXCL``,
:func:`temporary_beside`): a fixed name (``out.inter.part``) is one anyone can plant a symlink
at, and writing to it would write through the link into the file it points to.
An output that is one of the command's inputs is refused before anything is written
(:func:`refuse_output_onto_input`).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from typing import Callable, Iterator, Sequence

# Longest part of a final name kept in a temporary name: with the random part and the suffix,
# the name must stay under the 255 bytes most file systems allow.
_NAME_CHARS = 100


def _default_file_mode() -> int:
    """The mode ``open(path, "w")`` would give a new file (0o666 less the umask): ``mkstemp``
    creates 0o600, and a dataset only its writer can read would surprise everyone else. (Reading
    the umask means setting it: a moment's 0 that only a file created by another thread would see.)"""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def temporary_beside(path: str, folder: bool = False) -> str:
    """Create an empty temporary file (or, ``folder=True``, folder) in the folder of ``path``,
    under a random name no other file has (``O_EXCL``), and return its path.

    Beside ``path`` so that renaming it onto ``path`` stays on one file system (atomic); hidden
    (a leading dot) and named after ``path`` so a leftover says where it came from.
    """
    parent = os.path.dirname(os.path.abspath(path))
    prefix = f".{os.path.basename(os.path.normpath(path))[:_NAME_CHARS]}."
    if folder:
        return tempfile.mkdtemp(dir=parent, prefix=prefix, suffix=".part")
    descriptor, temporary = tempfile.mkstemp(dir=parent, prefix=prefix, suffix=".part")
    try:
        os.fchmod(descriptor, _default_file_mode())
    finally:
        os.close(descriptor)
    return temporary


@contextlib.contextmanager
def all_or_nothing(paths: list[str]) -> Iterator[list[str]]:
    """Yield a temporary path for each of ``paths``; rename them into place if the block succeeds.

    The temporary files are created at once (:func:`temporary_beside`), empty; write them by
    path. On an error (or KeyboardInterrupt) they are removed, the final paths are left as they
    were, and a folder this call created is removed again if it stayed empty.
    """
    folders = sorted({os.path.dirname(os.path.abspath(path)) for path in paths})
    created = [folder for folder in folders if not os.path.isdir(folder)]
    partial: list[str] = []
    try:
        for folder in folders:
            os.makedirs(folder, exist_ok=True)
        for path in paths:
            partial.append(temporary_beside(path))
        yield list(partial)
        while partial:  # one by one, so a failed rename leaves only the files not yet moved
            os.replace(partial[0], paths[len(paths) - len(partial)])
            partial.pop(0)
    except BaseException:
        for path in partial:
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
        for folder in reversed(created):
            with contextlib.suppress(OSError):
                os.removedirs(folder)  # only while empty; stops at the first non-empty parent
        raise


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


def _same_place(first: str, second: str) -> bool:
    """Whether two paths name one file or folder: the same inode when both exist (symlinks,
    hard links, ``..``, relative paths, a case-insensitive file system), else the same resolved path."""
    try:
        return os.path.samefile(first, second)
    except OSError:  # one of them does not exist (yet): compare where each would be
        return os.path.normcase(os.path.realpath(first)) == os.path.normcase(os.path.realpath(second))


def refuse_output_onto_input(outputs: str | Sequence[str], inputs: Sequence[str], option: str) -> None:
    """Raise ``ValueError`` if an output path names one of the ``inputs`` (a file or folder the
    command reads), however it is spelt; call it before anything is written, so the input is
    left as it was. ``option`` is how the user gave the output (``--out``, ``--name``, ...).

    Write-then-rename does not protect an input: the rename replaces it with the new file.
    """
    for output in [outputs] if isinstance(outputs, str) else outputs:
        for source in inputs:
            if _same_place(output, source):
                spelt = "" if os.path.abspath(output) == os.path.abspath(source) else f" ({source})"
                raise ValueError(
                    f"{option}: {output} is an input of this command{spelt} and would be overwritten by "
                    f"its own output; write to another path"
                )


def check_dataset_name(name: str) -> None:
    """Raise ``ValueError`` unless ``name`` is a plain name: it becomes the folder
    ``<out_dir>/<name>/`` and its files, so a path (``../x``, ``a/b``) would write elsewhere."""
    if not name or name in (".", "..") or os.sep in name or (os.altsep and os.altsep in name):
        raise ValueError(
            f"--name must be a plain dataset name without a path (it names <out_dir>/<name>/<name>.inter), "
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
