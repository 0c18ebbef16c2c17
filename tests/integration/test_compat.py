import json
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch

from recbole_mind.integration import compat


IMPORT_SIDE_EFFECTS = """
import importlib.util, json, numpy, torch
load, has_pkg_resources = torch.load, importlib.util.find_spec("pkg_resources") is not None
import recbole_mind
print(json.dumps({
    "float_": hasattr(numpy, "float_"), "bool8": hasattr(numpy, "bool8"),
    "torch_load_unchanged": torch.load is load,
    "pkg_resources_unchanged": (importlib.util.find_spec("pkg_resources") is not None) == has_pkg_resources,
}))
"""


def test_import_changes_nothing_in_numpy_torch_or_pkg_resources():
    done = subprocess.run([sys.executable, "-c", IMPORT_SIDE_EFFECTS], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    numpy1 = np.lib.NumpyVersion(np.__version__) < "2.0.0"
    assert seen == {"float_": numpy1, "bool8": numpy1, "torch_load_unchanged": True, "pkg_resources_unchanged": True}


def test_numpy_aliases_point_at_numpy1_dtypes():
    compat.restore_numpy_aliases()
    compat.restore_numpy_aliases()  # idempotent
    assert np.float_ is np.float64
    assert np.complex_ is np.complex128
    assert np.unicode_ is np.str_
    assert np.bool8 is np.bool_


def test_recbole_quick_start_imports_and_leaves_no_pkg_resources_behind():
    code = (
        "import importlib.util, sys; before = importlib.util.find_spec('pkg_resources') is not None\n"
        "import recbole_mind\nfrom recbole.quick_start import run_recbole, load_data_and_model\n"
        "after = importlib.util.find_spec('pkg_resources') is not None\n"
        "print(before == after, getattr(load_data_and_model, '_recbole_mind_shim', False))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["True", "True"]


ANOMALY_MODE_AFTER_MODEL_IMPORTS = """
import sys, torch
torch.autograd.set_detect_anomaly({before})
import recbole_mind
from recbole.utils import get_model
get_model("GRU4Rec"); get_model("SINE")  # imports every sequential model, SINE's module with them
assert "recbole.model.sequential_recommender.sine" in sys.modules
print(torch.is_anomaly_enabled())
"""


@pytest.mark.parametrize("before", [False, True])
def test_recbole_sine_import_leaves_anomaly_mode_as_the_user_set_it(before):
    # RecBole's sine.py switches anomaly mode on at import: RecBole's sequential models trained slower
    # (docs/anomaly_mode.json records by how much).
    code = ANOMALY_MODE_AFTER_MODEL_IMPORTS.format(before=before)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split()[-1] == str(before)


def test_without_the_shim_recbole_sine_import_does_switch_anomaly_mode_on():
    # The shim's reason, checked so the shim goes when a RecBole release drops the line.
    code = "import torch\nimport recbole.model.sequential_recommender\nprint(torch.is_anomaly_enabled())"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split()[-1] == "True"


def test_safe_torch_load_is_in_force_only_inside_and_restores_torch_load(tmp_path):
    from recbole_mind.integration.safe_load import UnsafeCheckpointError

    path = tmp_path / "config.pth"
    torch.save({"config": Opaque(3)}, path)
    original = torch.load
    with compat.safe_torch_load():
        with pytest.raises(UnsafeCheckpointError, match="Opaque"):  # a class no checkpoint holds
            torch.load(path)
        with compat.safe_torch_load():  # nested
            assert torch.load is not original
    assert torch.load is original
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path)  # torch's own default (weights_only=True) is back


class Opaque:
    def __init__(self, value: int) -> None:
        self.value = value


def test_missing_feature_values_are_filled(tmp_path, monkeypatch):
    # RecBole fills missing values with chained `df[f].fillna(..., inplace=True)`, which
    # pandas 3 silently ignores (NaN reaches the model); setup.py pins pandas < 3 for it.
    from recbole.data import create_dataset

    from recbole_mind.training.config import build_config

    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "data" / "tiny"
    folder.mkdir(parents=True)
    rows = [f"{u}\t{i}\t{100 * u + i}" for u in range(1, 4) for i in range(1, 5)]
    (folder / "tiny.inter").write_text(
        "user_id:token\titem_id:token\ttimestamp:float\n" + "\n".join(rows) + "\n"
    )
    (folder / "tiny.item").write_text(
        "item_id:token\tprice:float\tclass:token_seq\n1\t2.0\ta b\n2\t\t\n3\t4.0\tb\n4\t6.0\tc\n"
    )
    config = build_config(
        "MIND",
        "tiny",
        config_dict={
            "data_path": "data",
            "load_col": {"inter": ["user_id", "item_id", "timestamp"], "item": ["item_id", "price", "class"]},
            "normalize_all": False,
            "state": "WARNING",
        },
    )
    dataset = create_dataset(config)
    feat = dataset.item_feat
    assert not feat["price"].isna().any()
    missing_row = feat[feat["item_id"] == dataset.token2id("item_id", "2")]
    assert missing_row["price"].item() == 4.0  # mean of 2, 4 and 6


def test_install_refuses_another_recbole_release_naming_both_versions(monkeypatch):
    import recbole

    monkeypatch.setattr(recbole, "__version__", "1.3.0")
    with pytest.raises(ImportError, match=r"supports RecBole 1\.2\.1 only.*RecBole 1\.3\.0 is installed"):
        compat.install()


# What `import recbole_mind` patches in RecBole is held to integration.boundary's record by
# tests/integration/test_boundary.py.
