"""Convert the raw MovieLens-1M files into RecBole atomic files, offline.

The raw archive (``ml-1m.zip`` from GroupLens) holds ``ratings.dat``, ``users.dat`` and
``movies.dat``: ``::``-separated, latin-1 encoded. Copies that were re-saved in UTF-8 exist too,
so each file's encoding is detected: a file whose bytes are valid UTF-8 and not all ASCII (or
that starts with a UTF-8 byte-order mark) is read as UTF-8, any other as latin-1; a byte-order
mark is dropped. Ratings and timestamps must be finite numbers. Errors name the file and line.
This writes UTF-8, in ``<out_dir>/ml-1m/``, the same atomic files RecBole downloads when online:

- ``ml-1m.inter``: ``user_id:token item_id:token rating:float timestamp:float``
- ``ml-1m.user``: ``user_id:token age:token gender:token occupation:token zip_code:token``
- ``ml-1m.item``: ``item_id:token movie_title:token_seq release_year:token genre:token_seq``

Usage::

    python -m recbole_mind.data.movielens RAW_DIR OUT_DIR
    python run_recbole_mind.py --dataset=ml-1m --data_path=OUT_DIR
"""

from __future__ import annotations

import argparse
import codecs
import math
import os
import re
import sys
from typing import Iterator, Sequence

from recbole_mind.data.output import all_or_nothing, refuse_output_onto_input, report_written

DATASET = "ml-1m"
# raw file -> (number of fields, atomic suffix, header)
LAYOUT = {
    "ratings.dat": (4, "inter", ["user_id:token", "item_id:token", "rating:float", "timestamp:float"]),
    "users.dat": (5, "user", ["user_id:token", "age:token", "gender:token", "occupation:token", "zip_code:token"]),
    "movies.dat": (3, "item", ["item_id:token", "movie_title:token_seq", "release_year:token", "genre:token_seq"]),
}
TITLE_YEAR = re.compile(r"^(.*) \((\d{4})\)\s*$")


class MovieLensFormatError(ValueError):
    """A raw file is missing or a line does not have the MovieLens-1M layout."""


def read_text(path: str) -> tuple[str, str]:
    """The text of a raw file, without a byte-order mark, and the encoding it was read in.

    UTF-8 when the bytes start with a UTF-8 byte-order mark, or are valid UTF-8 with non-ASCII
    bytes; latin-1 otherwise (GroupLens's files: in latin-1, every byte is a character, and an
    accented title is almost never valid UTF-8 by chance).
    """
    with open(path, "rb") as file:
        data = file.read()
    marked = data.startswith(codecs.BOM_UTF8)
    if marked:
        data = data[len(codecs.BOM_UTF8):]
    if marked or not data.isascii():
        try:
            return data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError as error:
            if marked:
                line = data[:error.start].count(b"\n") + 1
                raise MovieLensFormatError(
                    f"{path}, line {line}: starts with a UTF-8 byte-order mark but byte "
                    f"{data[error.start:error.start + 1]!r} is not UTF-8; save the file in one encoding"
                ) from None
    return data.decode("latin-1"), "latin-1"


def _records(path: str, fields: int) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of each non-empty line of a raw file."""
    text, _ = read_text(path)
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if not line:
            continue
        values = line.split("::")
        if len(values) != fields or any("\t" in value for value in values):
            raise MovieLensFormatError(
                f"{path}, line {number}: expected {fields} '::'-separated fields without tabs, "
                f"got {line[:80]!r}"
            )
        yield number, values


def _check_numbers(path: str, number: int, values: list[str]) -> None:
    """A rating and a timestamp that RecBole can read as float (it would fail in training)."""
    for name, value in (("rating", values[2]), ("timestamp", values[3])):
        try:
            finite = math.isfinite(float(value))
        except ValueError:
            finite = False
        if not finite:
            raise MovieLensFormatError(
                f"{path}, line {number}: the {name} {value!r} is not a finite number "
                "(expected UserID::MovieID::Rating::Timestamp, e.g. 1::1193::5::978300760)"
            )


def _convert_row(raw_name: str, values: list[str]) -> list[str]:
    if raw_name == "ratings.dat":
        return values
    if raw_name == "users.dat":
        # users.dat lists gender before age; RecBole's atomic file puts age first
        user, gender, age, occupation, zip_code = values
        return [user, age, gender, occupation, zip_code]
    item, title, genres = values
    match = TITLE_YEAR.match(title)
    title, year = (match.group(1), match.group(2)) if match else (title, "")
    return [item, title, year, " ".join(genres.split("|"))]


def convert_ml1m(raw_dir: str, out_dir: str) -> str:
    """Write RecBole atomic files for MovieLens-1M; returns the dataset folder written.

    An output folder that is ``raw_dir`` (or an output file that is a raw file), however spelt,
    is refused (``ValueError``) before anything is written.
    """
    missing = [name for name in LAYOUT if not os.path.isfile(os.path.join(raw_dir, name))]
    if missing:
        raise MovieLensFormatError(
            f"{raw_dir} lacks {', '.join(missing)}: expected the unpacked ml-1m.zip "
            "(ratings.dat, users.dat, movies.dat)"
        )
    target = os.path.join(out_dir, DATASET)
    outputs = [os.path.join(target, f"{DATASET}.{suffix}") for _, suffix, _ in LAYOUT.values()]
    # the folders too: atomic files written among the raw ones would mix the two layouts
    inputs = [raw_dir, *(os.path.join(raw_dir, name) for name in LAYOUT)]
    refuse_output_onto_input([target, *outputs], inputs, "OUT_DIR")
    with all_or_nothing(outputs) as partial:
        for (raw_name, (fields, _, header)), out_path in zip(LAYOUT.items(), partial):
            path = os.path.join(raw_dir, raw_name)
            rows = 0
            with open(out_path, "w", encoding="utf-8") as out:
                out.write("\t".join(header) + "\n")
                for number, values in _records(path, fields):
                    if raw_name == "ratings.dat":
                        _check_numbers(path, number, values)
                    out.write("\t".join(_convert_row(raw_name, values)) + "\n")
                    rows += 1
            if rows == 0:
                raise MovieLensFormatError(f"{path} has no records")
    return target


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m recbole_mind.data.movielens",
        description="Convert raw MovieLens-1M (ratings.dat, users.dat, movies.dat) to RecBole atomic files.",
    )
    parser.add_argument("raw_dir", help="folder with the unpacked ml-1m.zip")
    parser.add_argument("out_dir", help="folder to write ml-1m/ into; then run with --data_path=OUT_DIR")
    args = parser.parse_args(argv)

    def write() -> str:
        target = convert_ml1m(args.raw_dir, args.out_dir)
        return f"wrote {target}; run: python run_recbole_mind.py --dataset=ml-1m --data_path={args.out_dir}"

    return report_written(write, (ValueError, OSError))


if __name__ == "__main__":
    sys.exit(main())
