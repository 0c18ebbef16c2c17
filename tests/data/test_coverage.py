"""recbole_mind.data.coverage: warnings for data whose evaluation says less than it seems."""

import logging

from recbole_mind.training.config import build_config
from recbole_mind.data.datasets import load_dataset

INTER = "user_id:token\titem_id:token\ttimestamp:float\n" + "".join(
    f"u{user}\ti{(user + step) % 8}\t{100 * user + step}\n" for user in range(6) for step in range(5))


def load(root, item_rows, inter=INTER):
    folder = root / "data" / "tiny"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tiny.inter").write_text(inter)
    (folder / "tiny.item").write_text("item_id:token\tgenre:token\n" + "".join(f"{item}\tg\n" for item in item_rows))
    return load_dataset(build_config("MIND", "tiny", config_dict={"data_path": "data", "state": "ERROR"}))


def warnings_of(caplog):
    return [record.getMessage() for record in caplog.records
            if record.levelno == logging.WARNING and record.getMessage().startswith("dataset ")]


def test_items_only_in_the_item_file_are_warned_about(in_tmp_dir, caplog):
    dataset = load(in_tmp_dir, [f"i{item}" for item in range(12)])  # i8..i11: no interaction
    assert dataset.item_num == 13  # RecBole puts them into the ranked catalogue
    assert "dataset 'tiny': 4 of 12 items ('i8', 'i9', 'i10', ...) are in tiny.item but in no interaction" \
        in "\n".join(warnings_of(caplog))


def test_an_item_or_user_spelt_pad_is_warned_about(in_tmp_dir, caplog):
    items = ["[PAD]" if item == 3 else f"i{item}" for item in range(8)]
    load(in_tmp_dir, items, INTER.replace("i3\t", "[PAD]\t").replace("u2\t", "[PAD]\t"))
    found = "\n".join(warnings_of(caplog))
    assert "a item_id is spelt '[PAD]', the token RecBole gives the padding id 0" in found
    assert "a user_id is spelt '[PAD]'" in found


def test_a_dataset_whose_items_all_interact_gets_no_warning(in_tmp_dir, caplog):
    load(in_tmp_dir, [f"i{item}" for item in range(8)])
    assert warnings_of(caplog) == []
