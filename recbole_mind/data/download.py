"""First use of a dataset RecBole can download: fetched once, checked, and moved into place whole.

RecBole 1.2.1's ``Dataset._download`` fails every user's first online run: it ends with
``torch.distributed.barrier()`` whether or not a process group exists (upstream issues #1989
and #2050), after the files are written. It also asks ``input()`` for archives over 1 GB (an
``EOFError`` without a terminal), and extracts straight into ``<data_path>/<dataset>/``: RecBole
downloads only when that folder is missing, so an interrupted download leaves a half-filled
folder that fails every later run.

Here one GET streams the archive, with a progress bar, into a temporary folder beside the
target; the byte count is checked against ``Content-Length`` and the zip's CRCs are checked;
the archive is extracted there, its atomic files renamed to the dataset's name (as RecBole
does), ``<dataset>.inter`` checked, and only then is the folder renamed into place, so a failed
or interrupted download leaves nothing that blocks a retry. Errors name the dataset, the
server's host, the folder and the offline alternative.

Under distributed training the first process of each machine downloads and the others wait
for it and learn its outcome (:func:`fetch_missing_dataset`); ``quick_start.run`` downloads in
the launching process before it starts the training processes.
"""

from __future__ import annotations

import functools
import http.client
import os
import shutil
import sys
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from logging import getLogger

import yaml

import recbole

from recbole_mind.data.output import temporary_beside

# RecBole's list of the datasets it can download (name -> url).
RECBOLE_DATASET_URLS = os.path.join(os.path.dirname(recbole.__file__), "properties", "dataset", "url.yaml")
# RecBole's threshold for asking before a download.
LARGE_ARCHIVE_BYTES = 1 << 30
# Seconds without an answer (connection or a read) before a download is given up.
DOWNLOAD_TIMEOUT_SECONDS = 60
ATOMIC_SUFFIXES = (".inter", ".user", ".item")
_CHUNK_BYTES = 1 << 20


class DatasetNotFoundError(FileNotFoundError):
    """The dataset is neither on disk nor downloadable from here."""


@functools.lru_cache(maxsize=1)
def _recbole_dataset_urls() -> dict[str, str]:
    with open(RECBOLE_DATASET_URLS, encoding="utf-8") as file:
        return yaml.safe_load(file) or {}


def downloadable_datasets() -> list[str]:
    """Dataset names RecBole knows how to download."""
    return sorted(_recbole_dataset_urls())


def dataset_url(dataset: str) -> str | None:
    """RecBole's download URL for ``dataset``, or None if RecBole lists none."""
    return _recbole_dataset_urls().get(dataset)


def offline_hint(dataset: str, folder: str) -> str:
    """What to do without the network: put the atomic files in ``folder`` or pass --data_path."""
    hint = (
        f"Offline, put RecBole atomic files in {folder} ({dataset}.inter, and {dataset}.user / "
        f"{dataset}.item if your config loads them), or point --data_path=DIR at a folder that holds "
        f"a '{dataset}' subfolder."
    )
    if dataset == "ml-1m":
        hint += (
            " From the raw MovieLens-1M files (ratings.dat, users.dat, movies.dat): "
            "python -m recbole_mind.data.movielens RAW_DIR DIR, then --data_path=DIR."
        )
    return hint


def incomplete_folder_message(dataset: str, folder: str) -> str | None:
    """Why an existing ``folder`` cannot hold ``dataset`` (it lacks ``<dataset>.inter``), else None."""
    if not os.path.isdir(folder) or os.path.isfile(os.path.join(folder, f"{dataset}.inter")):
        return None
    folder = os.path.abspath(folder)
    present = sorted(entry for entry in os.listdir(folder) if not entry.startswith("."))
    message = (
        f"{os.path.join(folder, dataset + '.inter')} does not exist; {folder} holds: "
        f"{', '.join(present) or 'nothing'}. A RecBole dataset needs at least {dataset}.inter."
    )
    if dataset_url(dataset) is not None:
        message += (
            f" If an earlier download was interrupted, delete the folder (rm -r {folder}) and run "
            "again to download it afresh."
        )
    return message


def fetch_missing_dataset(
    dataset: str, folder: str, confirm_large: bool = False, show_progress: bool = True, local_rank: int = 0
) -> None:
    """Download ``dataset`` into ``folder`` if the folder does not exist yet.

    Without a process group this process downloads. In a distributed run the process with
    ``local_rank`` 0 on each machine downloads while the others wait; every process then
    raises the same error if that download failed.

    Raises:
        DatasetNotFoundError: no URL, a refused large download, or a failed one; nothing is
            left on disk.
    """
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        if not os.path.exists(folder):
            download_dataset(dataset, folder, confirm_large, show_progress)
        return
    failure = None
    if local_rank == 0 and not os.path.exists(folder):
        try:
            download_dataset(dataset, folder, confirm_large, show_progress)
        except DatasetNotFoundError as error:
            failure = str(error)
    failures = [None] * dist.get_world_size()
    dist.all_gather_object(failures, failure)
    failure = next((message for message in failures if message), None)
    if failure is not None:
        raise DatasetNotFoundError(failure)


def download_dataset(dataset: str, folder: str, confirm_large: bool = False, show_progress: bool = True) -> None:
    """Download RecBole's archive of ``dataset`` and put its atomic files in ``folder``.

    ``folder`` must not exist. Archives over 1 GB need ``confirm_large``, or a "y" at the prompt
    when standard input is a terminal.

    Raises:
        DatasetNotFoundError: as :func:`fetch_missing_dataset`.
    """
    folder = os.path.abspath(folder)
    url = dataset_url(dataset)
    if url is None:
        raise DatasetNotFoundError(
            f"Dataset {dataset!r} is not on disk at {folder}, and RecBole lists no download for it "
            f"({RECBOLE_DATASET_URLS}). {offline_hint(dataset, folder)}"
        )
    host = urllib.parse.urlsplit(url).netloc or url
    parent = os.path.dirname(folder)
    created_parent = not os.path.isdir(parent)
    os.makedirs(parent, exist_ok=True)
    staging = temporary_beside(folder, folder=True)  # a fresh name: no one can have planted a link there
    try:
        archive = os.path.join(staging, urllib.parse.unquote(url.rpartition("/")[2]) or "archive.zip")
        _fetch(url, archive, dataset, folder, confirm_large, show_progress)
        ready = _extract(archive, dataset)
        try:
            os.rename(ready, folder)
        except OSError:
            if incomplete_folder_message(dataset, folder) is not None or not os.path.isdir(folder):
                raise
            # another process put a complete copy there meanwhile: keep that one
        getLogger().info(f"Dataset {dataset}: {', '.join(sorted(os.listdir(folder)))} in {folder}")
    except (OSError, ValueError, http.client.HTTPException, zipfile.BadZipFile) as error:
        raise DatasetNotFoundError(
            f"Dataset {dataset!r} could not be downloaded from {host} into {folder}: {_reason(error)}. "
            f"Nothing was kept; run again to retry. {offline_hint(dataset, folder)}"
        ) from error
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if created_parent and os.path.isdir(parent) and not os.listdir(parent):
            os.rmdir(parent)


def _reason(error: BaseException) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"the server answered HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        return f"no connection ({error.reason})"
    if isinstance(error, TimeoutError):
        return f"no answer within {DOWNLOAD_TIMEOUT_SECONDS} s"
    if isinstance(error, http.client.IncompleteRead):
        return "the connection closed before the archive was complete"
    if isinstance(error, zipfile.BadZipFile):
        return f"the archive is not a valid zip file ({error})"
    return str(error)


def _fetch(url: str, archive: str, dataset: str, folder: str, confirm_large: bool, show_progress: bool) -> None:
    """Stream ``url`` into ``archive`` with one request, checking its length."""
    from tqdm import tqdm

    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_SECONDS) as response:
        length = response.headers.get("Content-Length")
        size = int(length) if length and length.isdigit() else None
        if size is not None and size > LARGE_ARCHIVE_BYTES:
            _confirm_large(dataset, size, folder, confirm_large)
        getLogger().info(
            f"Downloading dataset {dataset} ({_megabytes(size)}) from {url} into {folder}"
        )
        received = 0
        with open(archive, "wb") as file, tqdm(
            total=size, unit="B", unit_scale=True, desc=f"Downloading {dataset}", disable=not show_progress
        ) as progress:
            while chunk := response.read(_CHUNK_BYTES):
                file.write(chunk)
                received += len(chunk)
                progress.update(len(chunk))
    if size is not None and received != size:
        raise ValueError(f"received {received} of the {size} bytes the server announced")


def _megabytes(size: int | None) -> str:
    return "size not announced" if size is None else f"{size / 1e6:.1f} MB"


def _confirm_large(dataset: str, size: int, folder: str, confirm_large: bool) -> None:
    """Go on with a download over 1 GB only when confirmed by key or, at a terminal, by the user."""
    if confirm_large:
        return
    gigabytes = f"{size / LARGE_ARCHIVE_BYTES:.2f} GB"
    how = "set download_confirm: True in a config file, or pass --download_confirm=True"
    if sys.stdin is not None and sys.stdin.isatty():
        answer = input(f"Dataset {dataset} is {gigabytes} to download into {folder}. Proceed? (y/N) ")
        if answer.strip().lower() in ("y", "yes"):
            return
        raise ValueError(f"download of {gigabytes} declined; to accept without the question, {how}")
    raise ValueError(
        f"its archive is {gigabytes}, over RecBole's 1 GB threshold, and there is no terminal to ask; "
        f"to accept, {how}"
    )


def _extract(archive: str, dataset: str) -> str:
    """Check the zip's CRCs, unpack it beside the archive and name its files after ``dataset``.

    Returns the folder that holds the dataset's files (at least ``<dataset>.inter``).
    """
    staging = os.path.dirname(archive)
    unpacked, ready = os.path.join(staging, "unpacked"), os.path.join(staging, "ready")
    with zipfile.ZipFile(archive) as bundle:
        damaged = bundle.testzip()
        if damaged is not None:
            raise zipfile.BadZipFile(f"{damaged} fails its CRC check")
        bundle.extractall(unpacked)
    os.remove(archive)
    source = unpacked
    entries = [entry for entry in os.listdir(unpacked) if entry != "__MACOSX"]
    if len(entries) == 1 and os.path.isdir(os.path.join(unpacked, entries[0])):  # files in one subfolder
        source = os.path.join(unpacked, entries[0])
    os.mkdir(ready)
    basename = os.path.splitext(os.path.basename(archive))[0]
    for entry in os.listdir(source):
        if os.path.isfile(os.path.join(source, entry)):
            # as RecBole's rename_atomic_files: the archive's name in a file's name becomes the dataset's
            stem, suffix = os.path.splitext(entry)
            os.replace(os.path.join(source, entry), os.path.join(ready, stem.replace(basename, dataset) + suffix))
    if not os.path.isfile(os.path.join(ready, f"{dataset}.inter")):
        found = sorted(entry for entry in os.listdir(ready) if entry.endswith(ATOMIC_SUFFIXES))
        raise ValueError(f"the archive holds no {dataset}.inter (atomic files in it: {', '.join(found) or 'none'})")
    return ready
