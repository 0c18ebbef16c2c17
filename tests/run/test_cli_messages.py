"""What the command line prints is true (issue 45): no RecBole line about our own flags, no
"resumed" result for a run that was not resumed, one line for a busy --port."""

import sys

import pytest

import recbole_mind.run.quick_start as quick_start
from recbole_mind.run.cli import main

from conftest import FAST_CONFIG, Stop, free_port

SLICE_ARGS = ["--MAX_ITEM_LIST_LENGTH=10", "--show_progress=False", "--state=WARNING",
              "--user_inter_num_interval=[20,30]"]


def test_a_run_that_validates_no_epoch_says_so_not_that_it_was_resumed(in_tmp_dir, monkeypatch, capsys):
    args = ["--epochs=1", "--eval_step=0", *SLICE_ARGS]
    monkeypatch.setattr(sys, "argv", ["run_recbole_mind.py", *args])
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "best valid: none: no epoch was validated (eval_step=0); the last epoch's weights were tested" in out
    assert "resumed" not in out and "test result: recall@10:" in out


@pytest.mark.parametrize("flags", [["--resume", "old.pth"], ["--nproc", "2", "--port", "{port}"]])
def test_our_own_flags_are_not_reported_as_unused_by_recbole(in_tmp_dir, monkeypatch, config_seen, caplog, capfd,
                                                             flags):
    (in_tmp_dir / "old.pth").write_bytes(b"")  # never read: the run stops before resuming
    def stop_before_spawning(config):  # a distributed run builds its config, then fetches the data
        config_seen.append(config)
        raise Stop

    monkeypatch.setattr(quick_start, "fetch_dataset", stop_before_spawning)
    args = [flag.format(port=free_port()) for flag in flags] + ["--epochs=2", "--state=WARNING",
                                                                "--show_progress=False"]
    monkeypatch.setattr(sys, "argv", ["run_recbole_mind.py", *args])
    with pytest.raises(Stop):
        main(args)
    assert config_seen and config_seen[0]["epochs"] == 2  # the config was built, with the flags in argv
    assert "will not be used" not in caplog.text + "".join(capfd.readouterr())


@pytest.mark.parametrize("ip", ["localhost", "127.0.0.1"])
def test_a_distributed_run_on_a_busy_port_stops_naming_the_port(in_tmp_dir, monkeypatch, capsys, ip):
    import datetime

    import torch.distributed
    import torch.multiprocessing

    def refuse(*args, **kwargs):
        raise AssertionError("processes started on a busy port")

    monkeypatch.setattr(torch.multiprocessing, "spawn", refuse)
    port = free_port()
    # the store rank 0 of another distributed run listens on
    store = torch.distributed.TCPStore(ip, port, 1, True, timeout=datetime.timedelta(seconds=10))
    args = ["--nproc", "2", "--ip", ip, "--port", str(port), "--epochs=1", *SLICE_ARGS[1:3]]
    monkeypatch.setattr(sys, "argv", ["run_recbole_mind.py", *args])
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: --port {port}: {ip}:{port} is in use (another distributed run?): "
                   "choose a free port with --port"]
    with pytest.raises(ValueError, match=f"^port {port}: {ip}:{port} is in use"):
        quick_start.run("MIND", "ml-100k", config_dict=FAST_CONFIG, nproc=2, ip=ip, port=str(port))
    del store
    assert not (in_tmp_dir / "log").exists()
