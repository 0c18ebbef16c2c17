"""Convert the raw MovieLens-1M files into RecBole atomic files, offline.

The raw archive (``ml-1m.zip`` from GroupLens) holds ``ratings.dat``, ``users.dat`` and
``movies.dat``: ``::``-separated, latin-1 encoded. This writes, in ``<out_dir>/ml-1m/``, the
same atomic files RecBole downloads when online:

- ``ml-1m.inter``: ``user_id:token item_id:token rating:float timestamp:float``
- ``ml-1m.user``: ``user_id:token age:token gender:token occupation:token zip_code:token``
- ``ml-1m.item``: ``item_id:token movie_title:token_seq release_year:token genre:token_seq``

Usage::

    python -m recbole_mind.data.movielens RAW_DIR OUT_DIR
    python run_recbole_mind.py --dataset=ml-1m --data_path=OUT_DIR
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from typing import Iterator, Sequence

from recbole_mind.data.output import all_or_nothing, report_written

DATASET = "ml-1m"
ENCODING = "latin-1"
# raw file -> (number of fields, atomic suffix, header)
LAYOUT = {
    "ratings.dat": (4, "inter", ["user_id:token", "item_id:token", "rating:float", "timestamp:float"]),
    "users.dat": (5, "user", ["user_id:token", "age:token", "gender:token", "occupation:token", "zip_code:token"]),
    "movies.dat": (3, "item", ["item_id:token", "movie_title:token_seq", "release_year:token", "genre:token_seq"]),
}
TITLE_YEAR = re.compile(r"^(.*) \((\d{4})\)\s*$")


class MovieLensFormatError(ValueError):
    """A raw file is missing or a line does not have the MovieLens-1M layout."""


def _records(path: str, fields: int) -> Iterator[list[str]]:
    with open(path, encoding=ENCODING) as file:
        for number, line in enumerate(file, start=1):
            line = line.rstrip("\r\n")
            if not line:
                continue
            values = line.split("::")
            if len(values) != fields or any("\t" in value for value in values):
                raise MovieLensFormatError(
                    f"{path}, line {number}: expected {fields} '::'-separated fields without tabs, "
                    f"got {line[:80]!r}"
                )
            yield values


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
    """Write RecBole atomic files for MovieLens-1M; returns the dataset folder written."""
    missing = [name for name in LAYOUT if not os.path.isfile(os.path.join(raw_dir, name))]
    if missing:
        raise MovieLensFormatError(
            f"{raw_dir} lacks {', '.join(missing)}: expected the unpacked ml-1m.zip "
            "(ratings.dat, users.dat, movies.dat)"
        )
    target = os.path.join(out_dir, DATASET)
    outputs = [os.path.join(target, f"{DATASET}.{suffix}") for _, suffix, _ in LAYOUT.values()]
    with all_or_nothing(outputs) as partial:
        for (raw_name, (fields, _, header)), out_path in zip(LAYOUT.items(), partial):
            path = os.path.join(raw_dir, raw_name)
            rows = 0
            with open(out_path, "w", encoding="utf-8") as out:
                out.write("\t".join(header) + "\n")
                for values in _records(path, fields):
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

    return report_written(write, (MovieLensFormatError, OSError))


if __name__ == "__main__":
    sys.exit(main())
