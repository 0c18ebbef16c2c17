import math
import os
import random

import pytest
from recbole.data import create_dataset

from recbole_mind import run_recbole_mind
from recbole_mind.data.movielens import MovieLensFormatError, convert_ml1m, main
from recbole_mind.training.config import build_config

from conftest import FAST_CONFIG

GENRES = ["Action", "Comedy", "Children's", "Sci-Fi", "Film-Noir"]


def write_raw_ml1m(folder, users=30, items=40, per_user=12, seed=0):
    """A small sample in the raw MovieLens-1M format: '::'-separated, latin-1."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    movies = [
        f"{i}::{'Misérables, Les' if i == 1 else f'Movie {i}'} ({1990 + i % 10})::"
        + "|".join(rng.sample(GENRES, 2))
        for i in range(1, items + 1)
    ]
    (folder / "movies.dat").write_bytes(("\n".join(movies) + "\n").encode("latin-1"))
    (folder / "users.dat").write_bytes(
        "".join(f"{u}::{'MF'[u % 2]}::{[1, 18, 25][u % 3]}::{u % 21}::{10000 + u}\n" for u in range(1, users + 1)).encode("latin-1")
    )
    ratings = []
    for user in range(1, users + 1):
        for step, item in enumerate(rng.sample(range(1, items + 1), per_user)):
            ratings.append(f"{user}::{item}::{rng.randint(3, 5)}::{978300000 + 100 * user + step}")
    (folder / "ratings.dat").write_bytes(("\n".join(ratings) + "\n").encode("latin-1"))


def test_converts_raw_files_to_recbole_atomic_files(tmp_path):
    write_raw_ml1m(tmp_path / "raw")
    target = convert_ml1m(str(tmp_path / "raw"), str(tmp_path / "out"))
    item_lines = open(f"{target}/ml-1m.item", encoding="utf-8").read().splitlines()
    assert item_lines[0] == "item_id:token\tmovie_title:token_seq\trelease_year:token\tgenre:token_seq"
    assert item_lines[1].split("\t")[:3] == ["1", "Misérables, Les", "1991"]
    user_lines = open(f"{target}/ml-1m.user", encoding="utf-8").read().splitlines()
    assert user_lines[1] == "1\t18\tF\t1\t10001"  # age before gender, as RecBole's file
    assert len(open(f"{target}/ml-1m.inter").read().splitlines()) == 1 + 30 * 12


def test_converted_files_load_in_recbole_with_profile_and_genres(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_raw_ml1m(tmp_path / "raw")
    convert_ml1m(str(tmp_path / "raw"), str(tmp_path / "out"))
    config = build_config("MIND", "ml-1m", config_dict={
        "data_path": str(tmp_path / "out"),
        "load_col": {"inter": ["user_id", "item_id", "rating", "timestamp"],
                     "user": ["user_id", "age", "gender", "occupation"],
                     "item": ["item_id", "genre"]},
        "user_inter_num_interval": "[0,inf)", "item_inter_num_interval": "[0,inf)",
        "state": "WARNING",
    })
    dataset = create_dataset(config)
    assert dataset.user_num == 31 and dataset.inter_num == 30 * 12
    assert set(dataset.field2id_token["gender"]) == {"[PAD]", "F", "M"}
    assert {"Children's", "Sci-Fi"} <= set(dataset.field2id_token["genre"])


def test_ml1m_offline_from_converted_folder_trains_end_to_end(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_raw_ml1m(tmp_path / "raw", users=40)
    convert_ml1m(str(tmp_path / "raw"), str(tmp_path / "out"))
    result = run_recbole_mind("MIND", "ml-1m", config_dict={
        **FAST_CONFIG, "epochs": 1, "data_path": str(tmp_path / "out"),
        "user_inter_num_interval": "[0,inf)", "item_inter_num_interval": "[0,inf)",
    })
    assert math.isfinite(result["test_result"]["ndcg@10"])
    assert result["test_users"] == 40


def test_missing_raw_file_is_named(tmp_path):
    write_raw_ml1m(tmp_path / "raw")
    (tmp_path / "raw" / "users.dat").unlink()
    with pytest.raises(MovieLensFormatError, match="lacks users.dat"):
        convert_ml1m(str(tmp_path / "raw"), str(tmp_path / "out"))


def test_malformed_line_names_file_and_line(tmp_path):
    write_raw_ml1m(tmp_path / "raw")
    with open(tmp_path / "raw" / "ratings.dat", "a", encoding="latin-1") as file:
        file.write("1,2,3,4\n")
    with pytest.raises(MovieLensFormatError, match=r"ratings.dat, line 361: expected 4"):
        convert_ml1m(str(tmp_path / "raw"), str(tmp_path / "out"))


def test_cli_reports_errors_without_traceback(tmp_path, capsys):
    assert main([str(tmp_path / "nothing"), str(tmp_path / "out")]) == 2
    assert "lacks ratings.dat, users.dat, movies.dat" in capsys.readouterr().err


@pytest.mark.parametrize("broken", ["ratings.dat", "users.dat", "movies.dat"])
def test_a_failed_conversion_leaves_no_partial_files_and_keeps_earlier_output(tmp_path, broken):
    write_raw_ml1m(tmp_path / "raw")
    with open(tmp_path / "raw" / broken, "a", encoding="latin-1") as file:
        file.write("not::a::valid::line::at::all\n")
    with pytest.raises(MovieLensFormatError, match=f"{broken}, line"):
        convert_ml1m(str(tmp_path / "raw"), str(tmp_path / "fresh"))
    assert not (tmp_path / "fresh").exists()  # the folder it created is gone again
    write_raw_ml1m(tmp_path / "good")
    target = convert_ml1m(str(tmp_path / "good"), str(tmp_path / "out"))
    before = {path.name: path.read_bytes() for path in (tmp_path / "out" / "ml-1m").iterdir()}
    with pytest.raises(MovieLensFormatError):
        convert_ml1m(str(tmp_path / "raw"), str(tmp_path / "out"))
    assert {path.name: path.read_bytes() for path in (tmp_path / "out" / "ml-1m").iterdir()} == before
    assert sorted(before) == ["ml-1m.inter", "ml-1m.item", "ml-1m.user"] and target.endswith("ml-1m")


def test_cli_output_folder_blocked_by_a_file_is_reported(tmp_path, capsys):
    write_raw_ml1m(tmp_path / "raw")
    (tmp_path / "out").write_text("")
    assert main([str(tmp_path / "raw"), str(tmp_path / "out")]) == 2
    assert "error:" in capsys.readouterr().err and (tmp_path / "out").read_text() == ""


def item_titles(target):
    return {line.split("\t")[0]: line.split("\t")[1] for line in open(f"{target}/ml-1m.item", encoding="utf-8")}


def test_movies_in_utf8_are_read_as_utf8_and_latin1_stays_latin1(tmp_path):
    write_raw_ml1m(tmp_path / "raw")  # latin-1, as GroupLens ships it
    assert item_titles(convert_ml1m(str(tmp_path / "raw"), str(tmp_path / "a")))["1"] == "Misérables, Les"
    movies = tmp_path / "raw" / "movies.dat"
    movies.write_bytes(movies.read_bytes().decode("latin-1").replace("Movie 2 ", "Café 2 ").encode("utf-8"))
    titles = item_titles(convert_ml1m(str(tmp_path / "raw"), str(tmp_path / "b")))
    assert titles["1"] == "Misérables, Les" and titles["2"] == "Café 2"  # not mojibake ("CafÃ©")


def test_a_byte_order_mark_is_not_part_of_the_first_user(tmp_path):
    write_raw_ml1m(tmp_path / "raw")
    for name in ("ratings.dat", "users.dat"):
        path = tmp_path / "raw" / name
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    target = convert_ml1m(str(tmp_path / "raw"), str(tmp_path / "out"))
    for suffix in ("inter", "user"):
        first_row = open(f"{target}/ml-1m.{suffix}", encoding="utf-8").read().splitlines()[1]
        assert first_row.split("\t")[0] == "1"


@pytest.mark.parametrize("row, message", [
    ("7::3::five::978300000", "the rating 'five' is not a finite number"),
    ("7::3::4::", "the timestamp '' is not a finite number"),
    ("7::3::4::inf", "the timestamp 'inf' is not a finite number"),
])
def test_a_rating_or_timestamp_that_is_not_a_number_names_file_and_line(tmp_path, row, message):
    write_raw_ml1m(tmp_path / "raw")
    with open(tmp_path / "raw" / "ratings.dat", "a", encoding="latin-1") as file:
        file.write(row + "\n")
    with pytest.raises(MovieLensFormatError, match=f"ratings.dat, line 361: {message}"):
        convert_ml1m(str(tmp_path / "raw"), str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_a_byte_order_mark_on_a_file_that_is_not_utf8_names_the_line(tmp_path):
    write_raw_ml1m(tmp_path / "raw")
    movies = tmp_path / "raw" / "movies.dat"
    movies.write_bytes(b"\xef\xbb\xbf" + movies.read_bytes())  # latin-1 'é' on line 1
    expected = r"movies.dat, line 1: starts with a UTF-8 byte-order mark but byte b'\\xe9'"
    with pytest.raises(MovieLensFormatError, match=expected):
        convert_ml1m(str(tmp_path / "raw"), str(tmp_path / "out"))


def test_a_conversion_onto_its_raw_folder_is_refused_and_the_raw_files_left_whole(tmp_path, monkeypatch, capsys):
    raw = tmp_path / "data" / "ml-1m"  # raw files where the converted dataset would go
    write_raw_ml1m(raw)
    before = {path.name: path.read_bytes() for path in raw.iterdir()}
    os.symlink(tmp_path / "data", tmp_path / "link")
    monkeypatch.chdir(raw)
    for raw_dir, out_dir in [
        (str(raw), str(tmp_path / "data")),  # the same folder
        (".", ".."),  # relative
        (str(raw), str(raw / ".." / ".." / "data")),  # through ..
        (str(raw), str(tmp_path / "link")),  # through a link
    ]:
        assert main([raw_dir, out_dir]) == 2
        error = capsys.readouterr().err
        assert error.startswith("error: OUT_DIR: ") and "is an input of this command" in error
        assert error.count("\n") == 1
        assert {path.name: path.read_bytes() for path in raw.iterdir()} == before


def test_a_link_at_the_old_temporary_name_is_not_written_through(tmp_path):
    write_raw_ml1m(tmp_path / "raw")
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    target = tmp_path / "out" / "ml-1m"
    target.mkdir(parents=True)
    planted = [f"ml-1m.{suffix}.part" for suffix in ("inter", "user", "item")]
    for name in planted:
        os.symlink(victim, target / name)
    convert_ml1m(str(tmp_path / "raw"), str(tmp_path / "out"))
    assert victim.read_text() == "keep me"
    assert sorted(os.listdir(target)) == sorted(["ml-1m.inter", "ml-1m.user", "ml-1m.item", *planted])
