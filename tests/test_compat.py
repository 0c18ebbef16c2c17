import subprocess
import sys

import numpy as np

from recbole_mind import compat


def test_import_changes_nothing_in_numpy():
    code = "import numpy, recbole_mind; print(hasattr(numpy, 'float_'))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    expected = str(hasattr(np, "float_") and np.lib.NumpyVersion(np.__version__) < "2.0.0")
    assert done.stdout.strip() == expected


def test_numpy_aliases_point_at_numpy1_dtypes():
    compat.apply()
    compat.apply()  # idempotent
    assert np.float_ is np.float64
    assert np.complex_ is np.complex128
    assert np.unicode_ is np.str_


def test_missing_feature_values_are_filled(tmp_path, monkeypatch):
    # RecBole fills missing values with chained `df[f].fillna(..., inplace=True)`, which
    # pandas 3 silently ignores (NaN reaches the model); setup.py pins pandas < 3 for it.
    from recbole.data import create_dataset

    from recbole_mind.quick_start import build_config

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
