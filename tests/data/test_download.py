"""A dataset's first download (issue 37): served by a local HTTP server, only RecBole's URL lookup redirected."""

import http.server
import io
import os
import re
import subprocess
import sys
import threading
import zipfile

import pytest

from recbole_mind.training.checkpoint import load_checkpoint
from recbole_mind.data import download
from recbole_mind.data.token_maps import saved_token_maps

from conftest import TINY, cli_flags, free_port, run_cli

USERS, ITEMS = 40, 30


def ml1m_shaped_zip() -> bytes:
    """RecBole's ml-1m layout (atomic files at the archive's top), small, with rows that
    properties/ml-1m.yaml filters out: ratings below 3 and users with fewer than 10 ratings."""
    inter = ["user_id:token\titem_id:token\trating:float\ttimestamp:float"]
    for user in range(1, USERS + 1):
        for step in range(15):
            inter.append(f"{user}\t{(user + step) % ITEMS + 1}\t4\t{user * 100 + step}")
        inter += [f"{user}\t{ITEMS + 1}\t1\t{user * 100 + 20}", f"{user}\t{ITEMS + 2}\t2\t{user * 100 + 21}"]
    for user in range(USERS + 1, USERS + 6):  # light users: 5 ratings each
        inter += [f"{user}\t{step + 1}\t5\t{user * 100 + step}" for step in range(5)]
    users = ["user_id:token\tage:token\tgender:token"] + [f"{u}\t{u % 7}\t{'MF'[u % 2]}" for u in range(1, USERS + 6)]
    items = ["item_id:token\tgenre:token_seq"] + [f"{i}\tDrama Comedy" for i in range(1, ITEMS + 3)]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for suffix, lines in (("inter", inter), ("user", users), ("item", items)):
            bundle.writestr(f"ml-1m.{suffix}", "\n".join(lines) + "\n")
    return buffer.getvalue()


ARCHIVE = ml1m_shaped_zip()


class DatasetServer(http.server.ThreadingHTTPServer):
    """Serves /ml-1m.zip and broken variants on 127.0.0.1; counts the requests per path."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: dict[str, int] = {}

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        counts = self.server.requests
        counts[self.path] = counts.get(self.path, 0) + 1
        if self.path == "/ml-1m.zip":
            self._send(ARCHIVE, len(ARCHIVE))
        elif self.path == "/cut-short.zip":  # announces the whole archive, sends half, closes
            self._send(ARCHIVE[: len(ARCHIVE) // 2], len(ARCHIVE))
        elif self.path == "/truncated.zip":  # a truncated archive, announced as what it is
            self._send(ARCHIVE[: len(ARCHIVE) // 2], len(ARCHIVE) // 2)
        elif self.path == "/no-inter.zip":
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w") as bundle:
                bundle.writestr("ml-1m.user", "user_id:token\n1\n")
            self._send(buffer.getvalue(), len(buffer.getvalue()))
        elif self.path == "/huge.zip":  # announces 2 GiB; a client that asks first never reads it
            self._send(b"", 2 << 30)
        else:
            self.send_error(404, "Not Found")

    def _send(self, body: bytes, length: int) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/zip")
        self.send_header("Content-Length", str(length))
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server():
    served = DatasetServer()
    thread = threading.Thread(target=served.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield served
    served.shutdown()
    served.server_close()


def lookup_to(monkeypatch, url: str) -> None:
    """Redirect RecBole's URL lookup (the url.yaml entry) and nothing else."""
    real = download.dataset_url
    monkeypatch.setattr(download, "dataset_url", lambda name: url if name == "ml-1m" else real(name))


def refused_url() -> str:
    return f"http://127.0.0.1:{free_port()}/ml-1m.zip"  # nothing listens there


FLAGS = cli_flags(TINY, MAX_ITEM_LIST_LENGTH=5, state="INFO")


def test_first_run_downloads_and_trains_and_the_second_reuses_the_files(server, in_tmp_dir, monkeypatch, capsys):
    lookup_to(monkeypatch, server.url("/ml-1m.zip"))
    assert run_cli(["--dataset=ml-1m", "--data_path=data", *FLAGS], monkeypatch=monkeypatch) == 0
    assert "test result: recall@10:" in capsys.readouterr().out
    assert server.requests == {"/ml-1m.zip": 1}
    folder = in_tmp_dir / "data" / "ml-1m"
    assert sorted(os.listdir(folder)) == ["ml-1m.inter", "ml-1m.item", "ml-1m.user"]
    assert os.listdir(in_tmp_dir / "data") == ["ml-1m"]  # no staging folder left beside it
    # properties/ml-1m.yaml applied: ratings >= 3 and 10-core users (the maps hold the padding token too)
    checkpoint = load_checkpoint(str(next((in_tmp_dir / "saved").glob("MIND-*.pth"))))
    maps = saved_token_maps(checkpoint)
    assert (len(maps["user"]["tokens"]), len(maps["item"]["tokens"])) == (USERS + 1, ITEMS + 1)

    assert run_cli(["--dataset=ml-1m", "--data_path=data", *FLAGS], monkeypatch=monkeypatch) == 0
    assert "test result: recall@10:" in capsys.readouterr().out
    assert server.requests == {"/ml-1m.zip": 1}  # the second run made no request


@pytest.mark.parametrize("path, reason", [
    ("/cut-short.zip", "received"),
    ("/truncated.zip", "not a valid zip file"),
    ("/missing.zip", "HTTP 404"),
    ("/no-inter.zip", "holds no ml-1m.inter"),
    (None, "no connection"),
])
def test_a_failed_download_says_why_and_leaves_nothing(server, in_tmp_dir, monkeypatch, capsys, path, reason):
    lookup_to(monkeypatch, server.url(path) if path else refused_url())
    assert run_cli(["--dataset=ml-1m", "--data_path=data", *FLAGS], monkeypatch=monkeypatch) == 2
    message = capsys.readouterr().err
    assert message.startswith("error: Dataset 'ml-1m' could not be downloaded from 127.0.0.1:")
    assert reason in message
    assert str(in_tmp_dir / "data" / "ml-1m") in message
    assert "--data_path" in message and "python -m recbole_mind.data.movielens" in message
    assert "Traceback" not in message
    assert not (in_tmp_dir / "data").exists()  # neither the dataset's folder nor a staging folder


def test_a_half_filled_folder_is_named_with_what_to_delete(in_tmp_dir, monkeypatch, capsys):
    folder = in_tmp_dir / "data" / "ml-1m"
    folder.mkdir(parents=True)
    (folder / "ml-1m.zip").write_bytes(ARCHIVE[:100])  # RecBole's own download, interrupted
    assert run_cli(["--dataset=ml-1m", "--data_path=data", *FLAGS], monkeypatch=monkeypatch) == 2
    message = capsys.readouterr().err
    assert f"{folder} holds: ml-1m.zip" in message
    assert f"delete the folder (rm -r {folder})" in message


def test_a_large_archive_without_a_terminal_asks_for_the_key_instead_of_reading_stdin(
    server, in_tmp_dir, monkeypatch, capsys
):
    lookup_to(monkeypatch, server.url("/huge.zip"))
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # no terminal: RecBole's input() raised EOFError
    assert run_cli(["--dataset=ml-1m", "--data_path=data", *FLAGS], monkeypatch=monkeypatch) == 2
    message = capsys.readouterr().err
    assert "its archive is 2.00 GB" in message and "--download_confirm=True" in message
    assert "EOFError" not in message and not (in_tmp_dir / "data").exists()


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_large_archive_at_a_terminal_is_asked_about(server, in_tmp_dir, monkeypatch, capsys):
    lookup_to(monkeypatch, server.url("/huge.zip"))
    monkeypatch.setattr(sys, "stdin", _Terminal("n\n"))
    assert run_cli(["--dataset=ml-1m", "--data_path=data", *FLAGS], monkeypatch=monkeypatch) == 2
    captured = capsys.readouterr()
    assert "is 2.00 GB to download into" in captured.out
    assert "download of 2.00 GB declined" in captured.err
    # accepted by the key: the download goes ahead (and this server then sends nothing)
    assert run_cli(["--dataset=ml-1m", "--data_path=data", "--download_confirm=True", *FLAGS], monkeypatch=monkeypatch) == 2
    assert "received 0 of the 2147483648 bytes" in capsys.readouterr().err


def test_recbole_own_create_dataset_downloads_without_a_process_group(server, in_tmp_dir, monkeypatch):
    # RecBole's Dataset._download (patched by compat) is what RecBole's own run_recbole reaches
    from recbole.data import create_dataset

    from recbole_mind.training.config import build_config

    lookup_to(monkeypatch, server.url("/ml-1m.zip"))
    config = build_config("MIND", "ml-1m", config_dict={"data_path": "data", "show_progress": False})
    dataset = create_dataset(config)
    assert dataset.user_num == USERS + 1 and server.requests == {"/ml-1m.zip": 1}


DISTRIBUTED_FETCH = """
import os, sys, torch.distributed as dist, torch.multiprocessing as mp
from recbole_mind.training.checkpoint import load_checkpoint
from recbole_mind.data import download
from recbole_mind.data.token_maps import saved_token_maps

def work(rank, url, folder, port):
    download.dataset_url = lambda name: url
    dist.init_process_group("gloo", rank=rank, world_size=2, init_method=f"tcp://127.0.0.1:{port}")
    try:
        download.fetch_missing_dataset("ml-1m", folder, show_progress=False, local_rank=rank)
        line = f"{rank} {sorted(os.listdir(folder))}"
    except download.DatasetNotFoundError as error:
        line = f"{rank} error: {error}"
    sys.stdout.write(line[:80] + "\\n")  # one short write: the two processes' lines never interleave
    sys.stdout.flush()
    dist.barrier()
    dist.destroy_process_group()

if __name__ == "__main__":
    mp.spawn(work, args=tuple(sys.argv[1:]), nprocs=2, join=True)
"""


@pytest.mark.parametrize("path", ["/ml-1m.zip", "/missing.zip"])
def test_in_a_process_group_one_process_downloads_and_all_learn_the_outcome(server, tmp_path, path):
    script = tmp_path / "fetch.py"
    script.write_text(DISTRIBUTED_FETCH, encoding="utf-8")
    port = free_port()
    done = subprocess.run(
        [sys.executable, str(script), server.url(path), str(tmp_path / "data" / "ml-1m"), str(port)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = sorted(done.stdout.strip().splitlines())
    if path == "/ml-1m.zip":
        assert lines == [f"{rank} ['ml-1m.inter', 'ml-1m.item', 'ml-1m.user']" for rank in (0, 1)]
    else:
        assert [line[:9] for line in lines] == ["0 error: ", "1 error: "]
    assert server.requests == {path: 1}


CLI_WITH_LOOKUP = """
import os, sys
from recbole_mind.training.checkpoint import load_checkpoint
from recbole_mind.data import download
from recbole_mind.data.token_maps import saved_token_maps
download.dataset_url = lambda name: os.environ["DATASET_URL"]
from recbole_mind.run.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_two_processes_download_once_and_both_train(server, tmp_path):
    port = free_port()
    done = subprocess.run(
        [sys.executable, "-c", CLI_WITH_LOOKUP, "--dataset=ml-1m", "--data_path=data", "--nproc=2",
         f"--port={port}", *FLAGS],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
        env={**os.environ, "DATASET_URL": server.url("/ml-1m.zip")},
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert server.requests == {"/ml-1m.zip": 1}
    # rank 0's result; gloo's gradient all-reduce completes only when both processes train
    assert re.search(r"^test result: recall@10: [0-9.]+", done.stdout, re.M)
