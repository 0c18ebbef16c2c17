import pytest

from recbole_mind.data.atomic import AtomicFileError, check_atomic_file
from recbole_mind.training.config import build_config
from recbole_mind.data.datasets import load_dataset

from conftest import tiny_config

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
        ({"item": "item_id:token\n1\n"}, "tiny.inter does not exist; /.*/data/tiny holds: tiny.item"),
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


ROWS = "1\t2\t3\n2\t3\t4\n"


@pytest.mark.parametrize(
    "content, options, fragments",
    [
        (HEADER + ROWS + "1\t2\t3\n", {"duplicate_rows_allowed": False},
         ["1 row(s) identical to an earlier row", "(line 4)", "set rm_dup_inter: first"]),
        (HEADER + ROWS + "1\t2\t3\n2\t3\t4\n", {"duplicate_rows_allowed": False},
         ["2 row(s) identical to an earlier row", "(line 4, 5)"]),
        (HEADER + ROWS + "\t2\t5\n", {}, ["1 row(s) without a user_id (line 4); fill it in or drop those rows"]),
        (HEADER + ROWS + "1\t\t5\n", {}, ["1 row(s) without a item_id (line 4)"]),
        (HEADER + ROWS + "\t\t\n", {}, ["without a user_id (line 4)", "without a item_id (line 4)"]),
        (HEADER + ROWS + "3\t4\t\n", {"time_field": "timestamp"},
         ["1 row(s) without a timestamp (RecBole would fill in the mean time", "(line 4)"]),
        (HEADER + ROWS + "3\t4\tyesterday\n", {},
         ["non-number in float column 'timestamp' (e.g. 'yesterday')", "(line 4)", "declare timestamp:token"]),
        (HEADER + ROWS + "3\t" + "x" * 200_000 + "\t5\n", {}, ["1 row(s) with a cell over 131072 characters", "(line 4)"]),
        ("\ufeff" + HEADER + ROWS, {}, ["line 1 starts with a UTF-8 byte-order mark", "encoding: utf-8-sig"]),
        (HEADER.replace("\n", "\r\n") + ROWS, {}, ["Windows line ends", "dos2unix"]),
        ("item_id:token\tclass:token\n1\ta\n2\tb\n1\tc\n", {"unique_field": "item_id"},
         ["1 row(s) repeating an earlier item_id (line 4)"]),
    ],
)
def test_data_problems_are_counted_with_lines_and_fix(tmp_path, content, options, fragments):
    path = tmp_path / "odd.inter"
    path.write_text(content, encoding="utf-8", newline="")
    required = ("item_id",) if content.startswith("item_id") else ("user_id", "item_id")
    with pytest.raises(AtomicFileError) as error:
        check_atomic_file(str(path), required=required, **options)
    message = str(error.value)
    assert str(path) in message and all(fragment in message for fragment in fragments), message


def test_a_byte_invalid_in_the_encoding_is_placed_and_the_fix_named(tmp_path):
    path = tmp_path / "odd.inter"
    path.write_bytes((HEADER + ROWS).encode() + "3\tMisérables\t5\n".encode("latin-1"))
    with pytest.raises(AtomicFileError, match=r"odd.inter, line 4: byte b'\\xe9' at position 6 is not valid utf-8.*encoding: latin-1"):
        check_atomic_file(str(path), required=("user_id", "item_id"))
    assert check_atomic_file(str(path), encoding="latin-1") == ["user_id", "item_id", "timestamp"]


def test_repeated_rows_stop_the_run_and_rm_dup_inter_lets_recbole_drop_them(in_tmp_dir):
    rows = "".join(f"{user}\t{item}\t{user * 10 + item}\n" for user in range(1, 4) for item in range(1, 4))
    write_dataset(in_tmp_dir, "tiny", {"inter": HEADER + rows + rows})
    with pytest.raises(AtomicFileError, match=r"9 row\(s\) identical to an earlier row .*set rm_dup_inter: first"):
        load_dataset(tiny_config())
    assert load_dataset(tiny_config(rm_dup_inter="first")).inter_num == 9


def test_missing_time_is_not_a_problem_when_time_is_not_loaded(in_tmp_dir):
    write_dataset(in_tmp_dir, "tiny", {"inter": HEADER + ROWS + "3\t4\t\n"})
    with pytest.raises(AtomicFileError, match="without a timestamp"):
        load_dataset(tiny_config())
    config = tiny_config("BPR", load_col={"inter": ["user_id", "item_id"]},
                         eval_args={"order": "RO", "split": {"RS": [0.8, 0.1, 0.1]}})
    assert load_dataset(config).inter_num == 3


def test_without_load_col_every_column_of_the_files_is_loaded(in_tmp_dir):
    rows = "".join(f"u{user}\ti{item}\t{user * 10 + item}\n" for user in range(1, 4) for item in range(1, 4))
    write_dataset(in_tmp_dir, "tiny", {"inter": HEADER + rows, "item": "item_id:token\tcluster:token\ni1\tc1\n"})
    dataset = load_dataset(tiny_config())
    assert "timestamp" in dataset.inter_feat and "cluster" in dataset.item_feat
    explicit = load_dataset(tiny_config("BPR", load_col={"inter": ["user_id", "item_id"]}))
    assert "timestamp" not in explicit.inter_feat  # a load_col the user gave is kept


@pytest.mark.parametrize(
    "overrides, files, message",
    [
        ({"load_col": {"inter": ["user_id", "item_id", "timestmap"]}}, {},
         "load_col names 'timestmap' for data/tiny/tiny.inter, which has no such column. Did you mean 'timestamp'?"),
        ({"load_col": {"inter": ["user_id", "item_id"], "item": ["item_id", "genre"]}}, {},
         "load_col loads the .item file, but data/tiny/tiny.item does not exist"),
        ({}, {"inter": "user_id:token\titem_id:token\n1\t2\n2\t3\n"},
         "data/tiny/tiny.inter has no timestamp column, but this run orders each user's interactions by time"),
    ],
)
def test_columns_the_run_needs_must_be_in_the_files(in_tmp_dir, overrides, files, message):
    write_dataset(in_tmp_dir, "tiny", {"inter": HEADER + ROWS, **files})
    with pytest.raises(AtomicFileError) as error:
        load_dataset(tiny_config(**overrides))
    assert message in str(error.value)


TIMED_ROWS = "".join(f"{user}\t{item}\t{user * 10 + item}\n" for user in range(1, 4) for item in range(1, 5))


def test_a_time_field_typed_token_is_refused_when_the_run_orders_by_time(in_tmp_dir):
    # As a token, RecBole would order the rows by each time's first appearance in the file.
    write_dataset(in_tmp_dir, "tiny", {"inter": HEADER.replace("timestamp:float", "timestamp:token") + TIMED_ROWS})
    with pytest.raises(AtomicFileError, match=r"tiny.inter, line 1: time column 'timestamp' is declared "
                       r"timestamp:token, but this run orders .* declare timestamp:float"):
        load_dataset(tiny_config())
    unordered = tiny_config("BPR", eval_args={"order": "RO", "split": {"RS": [0.8, 0.1, 0.1]}})
    assert load_dataset(unordered).inter_num == 12  # a token time is only a feature there


@pytest.mark.parametrize("time", ["inf", "-inf", "nan", "1e400", "Infinity"])
def test_a_time_that_is_not_finite_is_refused_with_its_line(in_tmp_dir, time):
    write_dataset(in_tmp_dir, "tiny", {"inter": HEADER + TIMED_ROWS + f"3\t9\t{time}\n"})
    with pytest.raises(AtomicFileError) as error:
        load_dataset(tiny_config())
    message = str(error.value)
    assert "tiny.inter (13 rows)" in message and "(line 14)" in message, message
    assert f"1 row(s) with a timestamp that is not a finite number (e.g. {time!r}" in message


def test_load_col_without_the_time_field_is_refused_when_the_run_orders_by_time(in_tmp_dir):
    write_dataset(in_tmp_dir, "tiny", {"inter": HEADER + TIMED_ROWS})
    with pytest.raises(AtomicFileError, match=r"load_col loads \['user_id', 'item_id'\] from data/tiny/tiny.inter "
                       r"without the time field 'timestamp' .* add 'timestamp' to load_col's inter list"):
        load_dataset(tiny_config(load_col={"inter": ["user_id", "item_id"]}))


@pytest.mark.parametrize(
    "suffix, content, message",
    [
        ("inter", HEADER.replace("user_id:token", "user_id:float") + TIMED_ROWS,
         "tiny.inter, line 1: id column 'user_id' is declared user_id:float; ids must be tokens: "
         "declare user_id:token"),
        ("item", "item_id:token_seq\tgenre:token\n1\ta\n",
         "tiny.item, line 1: id column 'item_id' is declared item_id:token_seq"),
        ("inter", HEADER.replace("\n", "\titem_id:float\n") + TIMED_ROWS.replace("\n", "\t1\n"),
         "tiny.inter, line 1: column 'item_id' appears twice in the header"),
    ],
)
def test_ids_must_be_tokens_and_header_columns_unique(in_tmp_dir, suffix, content, message):
    write_dataset(in_tmp_dir, "tiny", {"inter": HEADER + TIMED_ROWS, suffix: content})
    with pytest.raises(AtomicFileError) as error:
        load_dataset(tiny_config())
    assert message in str(error.value)


def test_the_multi_target_protocol_orders_by_time_for_any_model(in_tmp_dir):
    write_dataset(in_tmp_dir, "tiny", {"inter": HEADER.replace("timestamp:float", "timestamp:token") + TIMED_ROWS})
    config = tiny_config("Pop", multi_target=True, eval_args={"order": "RO", "split": {"RS": [0.8, 0.1, 0.1]}})
    with pytest.raises(AtomicFileError, match="time column 'timestamp' is declared timestamp:token"):
        load_dataset(config)


# ------------------------------------------------- tokens with stray whitespace (issue #45)


@pytest.mark.parametrize(
    "suffix, content, line, column, value",
    [
        ("inter", HEADER + TIMED_ROWS + " 7\t2\t99\n", 14, "column 1", "' 7'"),
        ("inter", HEADER + TIMED_ROWS + "3\t12 \t99\n", 14, "column 2", "'12 '"),
        ("user", "user_id:token\tgender:token\n1\tF\n2\tM \n", 3, "column 2", "'M '"),
        ("item", "item_id:token\tclass:token_seq\n1\tAction Drama\n2\tComedy\n 3\tDrama\n", 4, "column 1", "' 3'"),
        ("item", "item_id:token\tclass:token_seq\n1\tAction, Drama\n", 2, "column 2", "' Drama'"),
    ],
)
def test_tokens_with_stray_whitespace_are_refused_with_file_line_and_column(in_tmp_dir, suffix, content, line,
                                                                           column, value):
    # RecBole keeps " 7" as written: a user apart from "7", silently. Separator ", " for the
    # token_seq case: its pieces keep the space after the comma.
    files = {"inter": HEADER + TIMED_ROWS, suffix: content}
    write_dataset(in_tmp_dir, "tiny", files)
    with pytest.raises(AtomicFileError) as error:
        load_dataset(tiny_config(seq_separator=","))
    message = str(error.value)
    assert f"tiny.{suffix}" in message and f"(line {line})" in message, message
    assert f"starts or ends with whitespace ({column}, e.g. {value}" in message, message


def test_clean_tokens_and_token_seqs_split_at_spaces_pass(in_tmp_dir):
    # seq_separator " " (RecBole's default): the empty pieces of "  a  b " are dropped, as RecBole does
    item = "item_id:token\tclass:token_seq\ttitle:token\n1\t  Action  Drama \tA film\n2\tComedy\tB\n"
    write_dataset(in_tmp_dir, "tiny", {"inter": HEADER + TIMED_ROWS, "item": item})
    dataset = load_dataset(tiny_config())
    assert set(dataset.field2id_token["class"]) == {"[PAD]", "Action", "Drama", "Comedy"}


def test_a_header_column_name_with_stray_whitespace_is_refused(tmp_path):
    path = tmp_path / "odd.inter"
    path.write_text("user_id:token\t item_id:token\n1\t2\n")
    with pytest.raises(AtomicFileError, match=r"odd.inter, line 1, column 2: column name ' item_id' starts or ends"):
        check_atomic_file(str(path))


# ------------------------- rows repeating user, item and time with other values (issue #45)


def test_rows_repeating_user_item_and_time_with_another_rating_are_refused(in_tmp_dir):
    header = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
    rows = "".join(f"{user}\t{item}\t3\t{user * 10 + item}\n" for user in range(1, 4) for item in range(1, 5))
    # line 14 repeats line 3 (user 1, item 2, time 12) with another rating; time 12.0 is 12
    write_dataset(in_tmp_dir, "tiny", {"inter": header + rows + "1\t2\t5\t12.0\n3\t4\t1\t34\n"})
    with pytest.raises(AtomicFileError) as error:
        load_dataset(tiny_config())
    message = str(error.value)
    assert "tiny.inter (14 rows)" in message and "2 row(s) repeating the user_id, item_id, timestamp" in message
    assert "(line 14, 15)" in message and "rm_dup_inter: first" in message, message
    assert "first: line 14 repeats line 3 except for rating '3' vs '5', timestamp '12' vs '12.0'" in message
    assert load_dataset(tiny_config(rm_dup_inter="first")).inter_num == 12


def test_the_same_user_and_item_at_another_time_passes(in_tmp_dir):
    header = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
    rows = "".join(f"{user}\t{item}\t3\t{user * 10 + item}\n" for user in range(1, 4) for item in range(1, 5))
    write_dataset(in_tmp_dir, "tiny", {"inter": header + rows + "1\t2\t5\t99\n"})  # a re-watch, later
    assert load_dataset(tiny_config()).inter_num == 13
