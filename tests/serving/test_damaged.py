"""Damaged checkpoints are refused by name, never served."""

import struct
import zipfile

import pytest
import torch

from recbole_mind.training.checkpoint import load_checkpoint
from recbole_mind.serving.cli import main

COMMANDS = (["retrieve", "--users", "1"], ["export", "--out", "OUT"], ["explain", "--user", "1"])


def flip_a_weight_byte(source: str, target) -> str:
    """A copy of ``source`` with one byte changed inside its largest zip member (a tensor's data)."""
    data = bytearray(open(source, "rb").read())
    with zipfile.ZipFile(source) as archive:
        member = max(archive.infolist(), key=lambda info: info.compress_size)
    name_length, extra_length = struct.unpack("<HH", data[member.header_offset + 26 : member.header_offset + 30])
    start = member.header_offset + 30 + name_length + extra_length
    data[start + member.compress_size // 2] ^= 0x40
    target.write_bytes(bytes(data))
    return member.filename


def run(command, checkpoint, tmp_path, capsys):
    args = [str(tmp_path / "out") if arg == "OUT" else arg for arg in command]
    code = main([args[0], str(checkpoint), *args[1:]])
    return code, capsys.readouterr()


@pytest.mark.parametrize("command", COMMANDS)
def test_a_checkpoint_failing_its_crc_is_refused(in_trained_dir, tmp_path, capsys, command):
    damaged = tmp_path / "damaged.pth"
    member = flip_a_weight_byte(in_trained_dir[0], damaged)
    code, output = run(command, damaged, tmp_path, capsys)
    assert code == 2 and output.out == ""
    assert output.err.startswith(f"error: Checkpoint {damaged} is damaged: its member {member} fails")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", COMMANDS)
def test_non_finite_weights_are_refused_naming_the_parameters(in_trained_dir, tmp_path, capsys, command):
    checkpoint = load_checkpoint(in_trained_dir[0])
    names = [name for name, value in checkpoint["state_dict"].items() if value.is_floating_point()]
    checkpoint["state_dict"][names[0]].view(-1)[0] = float("nan")
    checkpoint["state_dict"][names[-1]].view(-1)[-1] = float("-inf")
    broken = tmp_path / "diverged.pth"
    torch.save(checkpoint, broken)
    code, output = run(command, broken, tmp_path, capsys)
    assert code == 2 and output.out == ""
    assert output.err.startswith(
        f"error: Checkpoint {broken} holds NaN or infinite weights in 2 parameters: {names[0]}, {names[-1]};")
    assert not (tmp_path / "out").exists()


def test_an_intact_checkpoint_passes_both_checks(in_trained_dir):
    assert zipfile.ZipFile(in_trained_dir[0]).testzip() is None
    assert set(load_checkpoint(in_trained_dir[0])) >= {"config", "state_dict"}
