"""No code from a checkpoint ever runs: every reader goes through recbole_mind.integration.safe_load."""

import io
import os
import pickle
import subprocess
import sys

import pytest
import torch

from recbole_mind.training.checkpoint import load_checkpoint
from recbole_mind.integration.safe_load import UnsafeCheckpointError, restricted_pickle, safe_torch_load


class ShellPayload:
    """Unpickled by a plain unpickler, it runs ``touch MARKER`` through ``os.system``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class EvalPayload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return eval, (f"open({self.marker!r}, 'w').close()",)


class PopenPayload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return subprocess.Popen, (["touch", self.marker],)


class Stranger:
    """A class no checkpoint holds: rebuilt by NEWOBJ, it would be created without a word."""

    def __init__(self):
        self.anything = 1


PAYLOADS = {"os.system": ShellPayload, "builtins.eval": EvalPayload, "subprocess.Popen": PopenPayload}


def poisoned_checkpoint(path, payload, where="config", protocol=4):
    """A RecBole-shaped checkpoint with the payload under ``where``."""
    state = {"config": {"model": "MIND"}, "state_dict": {"w": torch.zeros(2)}, "epoch": 0}
    if where == "state_dict":
        state["state_dict"]["evil"] = payload
    else:
        state[where] = payload
    torch.save(state, path, pickle_protocol=protocol)
    return str(path)


@pytest.mark.parametrize("name", sorted(PAYLOADS))
@pytest.mark.parametrize("where,protocol", [("config", 4), ("state_dict", 2), ("other_parameter", 4)])
def test_a_payload_is_refused_by_name_before_it_runs(tmp_path, name, where, protocol):
    marker = tmp_path / "pwned"
    path = poisoned_checkpoint(tmp_path / "evil.pth", PAYLOADS[name](marker), where, protocol)
    with pytest.raises(ValueError) as refused:
        load_checkpoint(path)
    message = str(refused.value)
    assert path in message and "refused" in message and "\n" not in message
    assert name.split(".")[-1] in message  # names the global it asked for
    assert not marker.exists()


def test_the_payload_is_real_for_a_plain_unpickler(tmp_path):
    # The tests above can fail: the same file run through torch's full unpickler runs the command.
    marker = tmp_path / "pwned"
    path = poisoned_checkpoint(tmp_path / "evil.pth", ShellPayload(marker))
    torch.load(path, weights_only=False)
    assert marker.exists()


def test_an_unknown_class_is_refused(tmp_path):
    path = poisoned_checkpoint(tmp_path / "stranger.pth", Stranger())
    with pytest.raises(UnsafeCheckpointError, match="Stranger"):
        safe_torch_load(path)


def raw(opcodes: bytes):
    return restricted_pickle.load(io.BytesIO(opcodes))


def test_allowlisted_value_classes_are_never_called():
    # INST of RecBole's Config would run its constructor (which eval()s strings and reads files)
    with pytest.raises(UnsafeCheckpointError, match="Config"):
        raw(b"(irecbole.config.configurator\nConfig\n.")
    # REDUCE of it, protocol 2
    with pytest.raises(UnsafeCheckpointError, match="Config"):
        raw(b"\x80\x02crecbole.config.configurator\nConfig\n)R.")


def test_attributes_are_never_set_on_a_class():
    # BUILD on a class object would patch it for the whole process
    with pytest.raises(UnsafeCheckpointError, match="class"):
        raw(b"\x80\x02crecbole.config.configurator\nConfig\nN}X\x07\x00\x00\x00__len__ccollections\nOrderedDict\ns\x86b.")


def test_a_module_of_ours_that_is_no_model_is_refused():
    with pytest.raises(UnsafeCheckpointError, match="fetch_dataset"):
        raw(b"\x80\x02crecbole_mind.data.datasets\nfetch_dataset\n.")
    with pytest.raises(UnsafeCheckpointError, match="system"):
        raw(b"\x80\x02crecbole.model.abstract_recommender\nos.system\n.")


def test_data_that_checkpoints_hold_loads():
    import numpy as np

    from recbole.utils import InputType

    value = {"tokens": np.array(["[PAD]", "1", "2"], dtype=object), "ids": np.arange(3), "scalar": np.float64(2.5),
             "enum": InputType.POINTWISE, "device": torch.device("cpu"), "t": torch.ones(2, 3),
             "p": torch.nn.Parameter(torch.zeros(2)), "dtype": torch.float16, "set": {1, 2}}
    buffer = io.BytesIO()
    torch.save(value, buffer, pickle_protocol=4)
    buffer.seek(0)
    loaded = safe_torch_load(buffer)
    assert list(loaded["tokens"]) == ["[PAD]", "1", "2"] and loaded["scalar"] == 2.5
    assert loaded["enum"] is InputType.POINTWISE and loaded["dtype"] is torch.float16 and loaded["set"] == {1, 2}
    assert torch.equal(loaded["t"], torch.ones(2, 3)) and isinstance(loaded["p"], torch.nn.Parameter)


def test_our_checkpoint_and_recboles_load_safely(trained_mind, tmp_path, monkeypatch):
    # trained_mind: written by RecBole 1.2.1's own trainer (torch.save, protocol 4) in our run
    checkpoint = load_checkpoint(trained_mind[0])
    assert checkpoint["config"]["model"] == "MIND" and checkpoint["config"].model_class.__name__ == "MIND"
    # RecBole's own reader, through our compat layer
    monkeypatch.chdir(trained_mind[1])
    from recbole.quick_start import load_data_and_model

    config, model, *_ = load_data_and_model(trained_mind[0])
    assert config["model"] == "MIND" and type(model).__name__ == "MIND"


def test_recboles_readers_refuse_a_payload(trained_mind, tmp_path):
    from recbole.quick_start import load_data_and_model

    marker = tmp_path / "pwned"
    path = poisoned_checkpoint(tmp_path / "evil.pth", ShellPayload(marker))
    with pytest.raises(UnsafeCheckpointError, match="system"):
        load_data_and_model(path)
    from recbole.trainer import Trainer

    model = trained_mind[3]
    trainer = Trainer.__new__(Trainer)  # evaluate reads the file before it touches anything else
    trainer.model, trainer.device = model, torch.device("cpu")
    with pytest.raises(UnsafeCheckpointError, match="system"):
        trainer.evaluate([object()], load_best_model=True, model_file=path)  # any non-empty data
    with pytest.raises(UnsafeCheckpointError, match="system"):
        trainer.resume_checkpoint(path)
    assert not marker.exists()
    assert torch.load is torch.serialization.load  # torch's own again, outside RecBole's readers


CLI_PAYLOAD_RUNS = {
    "export": ["-m", "recbole_mind.retrieval", "export", "{ckpt}", "--out", "{tmp}/vectors"],
    "retrieve": ["-m", "recbole_mind.retrieval", "retrieve", "{ckpt}", "--users", "1", "--n", "5"],
    "explain": ["-m", "recbole_mind.retrieval", "explain", "{ckpt}", "--user", "1"],
    "resume": ["run_recbole_mind.py", "--resume={ckpt}", "--epochs=2"],
}


@pytest.mark.parametrize("entry", sorted(CLI_PAYLOAD_RUNS))
def test_every_command_refuses_a_payload_with_one_line(tmp_path, entry):
    from conftest import REPO_ROOT

    marker = tmp_path / "pwned"
    path = poisoned_checkpoint(tmp_path / "evil.pth", ShellPayload(marker))
    arguments = [part.format(ckpt=path, tmp=tmp_path) for part in CLI_PAYLOAD_RUNS[entry]]
    if arguments[0].endswith(".py"):
        arguments[0] = os.path.join(REPO_ROOT, arguments[0])
    done = subprocess.run([sys.executable, *arguments], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode != 0
    assert not marker.exists()
    assert "refused to load" in done.stderr and "system" in done.stderr, done.stderr[-2000:]
    assert "Traceback" not in done.stderr


def test_a_checkpoint_pickled_before_the_model_moved_still_loads(trained_mind, tmp_path, monkeypatch):
    # Checkpoints written before issue 46 name the model class recbole_mind.mind.MIND
    import types

    from recbole_mind import MIND

    checkpoint = load_checkpoint(trained_mind[0])
    legacy = types.ModuleType("recbole_mind.mind")
    legacy.MIND = MIND
    monkeypatch.setitem(sys.modules, "recbole_mind.mind", legacy)
    monkeypatch.setattr(MIND, "__module__", "recbole_mind.mind")
    path = tmp_path / "old.pth"
    torch.save(checkpoint, path, pickle_protocol=4)
    monkeypatch.undo()
    import zipfile

    with zipfile.ZipFile(path) as archive:
        pickled = archive.read(next(name for name in archive.namelist() if name.endswith("data.pkl")))
    assert b"recbole_mind.mind" in pickled and b"recbole_mind.model.mind" not in pickled
    assert "recbole_mind.mind" not in sys.modules
    loaded = load_checkpoint(str(path))
    assert loaded["config"].model_class is MIND
