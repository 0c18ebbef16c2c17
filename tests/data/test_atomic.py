import pytest

from recbole_mind.data.atomic import AtomicFileError, check_atomic_file
from recbole_mind.config import build_config
from recbole_mind.data.datasets import load_dataset

HEADER = "user_id:token\titem_id:token\ttimestamp:float\n"


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "is empty"),
        ("user_id\titem_id\ttimestamp\n1\t2\t3\n", "line 1: header column 'user_id' is not name:type"),
        ("user_id:tok\titem_id:token\ttimestamp:float\n1\t2\t3\n", "column 'user_id' has type 'tok'"),
        ("user_id:token\ttimestamp:float\n1\t3\n", "has no item_id column; its columns: user_id, timestamp"),
        (HEADER, "has a header but no rows"),
        (HEADER + "1\t2\t3\n1\t2\n", "line 3: 2 cells, but the header has 3"),
        (HEADER + "1\t2\t3\t4\n", "line 2: 4 cells, but the header has 3"),
    ],
)
def test_malformed_atomic_files_are_named_with_line_and_column(tmp_path, content, message):
    path = tmp_path / "bad.inter"
    path.write_text(content)
    with pytest.raises(AtomicFileError) as error:
        check_atomic_file(str(path), required=("user_id", "item_id"))
    assert str(path) in str(error.value) and message in str(error.value)


def test_a_well_formed_file_passes_and_blank_lines_are_ignored(tmp_path):
    path = tmp_path / "ok.inter"
    path.write_text(HEADER + "1\t2\t3\n\n2\t3\t4\n")
    assert check_atomic_file(str(path), required=("user_id", "item_id")) == ["user_id", "item_id", "timestamp"]


def write_dataset(root, name, files):
    folder = root / "data" / name
    folder.mkdir(parents=True)
    for suffix, content in files.items():
        (folder / f"{name}.{suffix}").write_text(content)


def config_for(name):
    return build_config("MIND", name, config_dict={"data_path": "data", "state": "ERROR", "load_col": None})


@pytest.mark.parametrize(
    "files, message",
    [
        ({"item": "item_id:token\n1\n"}, "tiny.inter does not exist; data/tiny holds: tiny.item"),
        ({"inter": HEADER}, "tiny.inter has a header but no rows"),
        ({"inter": HEADER + "1\t2\t3\n", "user": "user_id:token\tage\n1\t20\n"}, "tiny.user, line 1"),
    ],
)
def test_load_dataset_checks_files_before_recbole_reads_them(in_tmp_dir, files, message):
    write_dataset(in_tmp_dir, "tiny", files)
    with pytest.raises(AtomicFileError, match=message):
        load_dataset(config_for("tiny"))


def test_filters_that_leave_nothing_say_so(in_tmp_dir):
    rows = "".join(f"{user}\t{item}\t{user * 10 + item}\n" for user in range(1, 4) for item in range(1, 4))
    write_dataset(in_tmp_dir, "tiny", {"inter": HEADER + rows})
    config = build_config("MIND", "tiny", config_dict={
        "data_path": "data", "state": "ERROR", "load_col": None, "user_inter_num_interval": "[100,inf)"})
    with pytest.raises(ValueError, match="No interactions of dataset 'tiny' are left after RecBole's filters"):
        load_dataset(config)


def test_unknown_dataset_name_suggests_close_names_and_lists_local_ones(in_tmp_dir):
    write_dataset(in_tmp_dir, "mine", {"inter": HEADER + "1\t2\t3\n"})
    with pytest.raises(FileNotFoundError) as error:
        load_dataset(build_config("MIND", "ml-100", config_dict={"data_path": "data", "state": "ERROR"}))
    message = str(error.value)
    assert "Unknown dataset 'ml-100'" in message and "Did you mean 'ml-100k'" in message
    assert "Datasets on disk next to it: mine" in message and "url.yaml" in message
