"""Checks of one RecBole atomic file before RecBole reads it.

RecBole 1.2.1 reports a header without ``:type`` as "not enough values to unpack", a missing
user or item column as ``KeyError``, reads rows with too few or too many cells without a word
(missing cells become NaN), and calls an empty file "Some feat is empty". Worse, some data
changes results silently: repeated rows put a user's test item into their own history (so do
rows repeating a user, item and time with another rating), a token with a stray space (" 7")
becomes a user or item apart from "7", a missing time is filled with the column's mean, which
scrambles the time order, a time column typed ``token`` is ordered by first appearance in the
file, and ``inf`` sorts last. Others end in a
traceback deep inside pandas: a byte that is not valid in the file's encoding, a Windows line
end (RecBole reads the last header type as ``float\\r``), a non-numeric cell in a float column,
a cell longer than Python's csv field limit. We read each file once, in a streaming pass, and
stop before training, naming the file, the line, the column, how many rows are affected and
the fix to apply. Which files a run reads, and with which columns: ``data.dataset_files``.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field

FEATURE_TYPES = ("token", "float", "token_seq", "float_seq")
# RecBole's fix for repeated interactions: drop repeated user-item pairs, keeping one.
DUPLICATE_FIX = "set rm_dup_inter: first (RecBole keeps the first of repeated user-item pairs)"
ORDERED_BY_TIME = "a sequential model, eval_args order: TO, or multi_target"  # runs that sort by TIME_FIELD


class AtomicFileError(ValueError):
    """An atomic file that RecBole would misread or fail on."""


@dataclass
class _Problem:
    """One kind of problem in a file: how many rows, the first line, and what to do."""

    description: str
    fix: str
    count: int = 0
    first_lines: list[int] = field(default_factory=list)

    def add(self, line_number: int) -> None:
        self.count += 1
        if len(self.first_lines) < 3:
            self.first_lines.append(line_number)

    def report(self) -> str:
        lines = ", ".join(map(str, self.first_lines)) + (", ..." if self.count > len(self.first_lines) else "")
        return f"{self.count} row(s) {self.description} (line {lines}); {self.fix}"


def _header_fields(path: str, header: str, separator: str) -> list[tuple[str, str]]:
    if header.startswith("\ufeff"):
        raise AtomicFileError(
            f"{path}, line 1 starts with a UTF-8 byte-order mark, which RecBole reads as part of the "
            "first column's name: set encoding: utf-8-sig, or save the file without it"
        )
    if header.endswith("\r"):
        raise AtomicFileError(
            f"{path} has Windows line ends (\\r\\n): RecBole reads the last column's type with a "
            "trailing \\r and fails; convert the file (e.g. dos2unix, or sed -i 's/\\r$//' FILE)"
        )
    columns = []
    for column in header.split(separator):
        name, colon, kind = column.partition(":")
        if not colon or not name:
            raise AtomicFileError(
                f"{path}, line 1: header column {column!r} is not name:type "
                f"(type one of {', '.join(FEATURE_TYPES)}; separator {separator!r})"
            )
        if name != name.strip():
            raise AtomicFileError(
                f"{path}, line 1, column {len(columns) + 1}: column name {name!r} starts or ends with "
                f"whitespace, so it matches no key naming {name.strip()!r}: remove the spaces"
            )
        if kind not in FEATURE_TYPES:
            raise AtomicFileError(
                f"{path}, line 1: column {name!r} has type {kind!r}; allowed: {', '.join(FEATURE_TYPES)}"
            )
        if name in (known for known, _ in columns):
            raise AtomicFileError(
                f"{path}, line 1: column {name!r} appears twice in the header (RecBole would load one "
                "of them without a word); rename or drop the other"
            )
        columns.append((name, kind))
    return columns


def _is_numeric_cell(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _check_column_types(path: str, columns: list[tuple[str, str]], ids: tuple[str, ...],
                        time_field: str | None) -> None:
    """Ids must be tokens (RecBole maps them to ids); an ordering time must be a float, since
    RecBole sorts a token column by each value's first appearance in the file, not by time."""
    kinds = dict(columns)
    for name in ids:
        if kinds[name] != "token":
            raise AtomicFileError(
                f"{path}, line 1: id column {name!r} is declared {name}:{kinds[name]}; ids must be "
                f"tokens: declare {name}:token"
            )
    if time_field in kinds and kinds[time_field] != "float":
        raise AtomicFileError(
            f"{path}, line 1: time column {time_field!r} is declared {time_field}:{kinds[time_field]}, "
            f"but this run orders each user's interactions by {time_field}, and RecBole orders a "
            f"{kinds[time_field]} column by first appearance in the file, not by time: declare "
            f"{time_field}:float (numbers such as Unix seconds)"
        )


def _stray_whitespace(cell: str, kind: str, seq_separator: str) -> str | None:
    """The first token of a token or token_seq cell with leading or trailing whitespace, else None.

    RecBole keeps such a token as written, so " 7" and "7" become two users (or items); a
    token_seq cell is cut at ``seq_separator`` and its empty pieces dropped, as RecBole does.
    """
    pieces = [cell] if kind == "token" else [piece for piece in cell.split(seq_separator) if piece]
    return next((piece for piece in pieces if piece != piece.strip()), None)


def _lines(path: str, encoding: str):
    """(line number, text) of each line, decoded one by one so a bad byte is placed exactly."""
    with open(path, "rb") as file:
        for line_number, raw in enumerate(file, start=1):
            try:
                yield line_number, raw.decode(encoding).rstrip("\n")
            except UnicodeDecodeError as error:
                raise AtomicFileError(
                    f"{path}, line {line_number}: byte {raw[error.start:error.start + 1]!r} at "
                    f"position {error.start + 1} is not valid {encoding}; if the file is in another "
                    "encoding, set encoding: latin-1 (for example), or convert it "
                    f"(iconv -f latin-1 -t utf-8)"
                ) from error


def check_atomic_file(
    path: str,
    separator: str = "\t",
    required: tuple[str, ...] = (),
    *,
    encoding: str = "utf-8",
    time_field: str | None = None,
    time_ordered: bool = False,
    unique_field: str | None = None,
    duplicate_rows_allowed: bool = True,
    seq_separator: str = " ",
) -> list[str]:
    """Validate one atomic file; returns its field names.

    Args:
        path: ``<dataset>.inter``, ``.user``, ``.item``, ...
        separator: RecBole's ``field_separator``.
        required: the id fields (user, item): in the header, typed token, filled in every row.
        encoding: RecBole's ``encoding`` (UTF-8 unless set).
        time_field: a field whose empty cells RecBole would fill with the mean time.
        time_ordered: the run orders interactions by ``time_field``, which must then be typed
            float and hold finite numbers (RecBole splits an ``inf`` as the latest time).
        unique_field: a field that must not repeat (the id of a ``.user`` or ``.item`` file).
        duplicate_rows_allowed: False: identical rows stop the run (an ``.inter`` file), and so
            do rows repeating the ``required`` ids and the ``time_field`` of an earlier row.
        seq_separator: RecBole's ``seq_separator``, between the tokens of a token_seq cell.

    Raises:
        AtomicFileError: header not ``name:type`` with a known type, a column named twice, a
            byte-order mark or Windows line ends, a required field missing or not a token, an
            ordering time not a float, a row whose cell count differs from the header's, no rows
            at all; or, with counts and first lines, rows with a missing id or time, a non-finite
            ordering time, non-numeric cells in float columns, cells over the csv field limit,
            tokens with leading or trailing whitespace, repeated ids, repeated rows, or rows
            repeating the ids and time of an earlier row with other values elsewhere.
    """
    lines = _lines(path, encoding)
    line_number, header = next(lines, (1, ""))
    if not header:
        raise AtomicFileError(f"{path} is empty: its first line must be a header like user_id:token")
    columns = _header_fields(path, header, separator)
    fields = [name for name, _ in columns]
    missing = [name for name in required if name not in fields]
    if missing:
        raise AtomicFileError(f"{path} has no {', '.join(missing)} column; its columns: {', '.join(fields)}")
    _check_column_types(path, columns, required, time_field if time_ordered else None)
    problems: dict[str, _Problem] = {}

    def problem(key: str, description: str, fix: str) -> _Problem:
        return problems.setdefault(key, _Problem(description, fix))

    required_at = [fields.index(name) for name in required]
    time_at = fields.index(time_field) if time_field in fields else None
    unique_at = fields.index(unique_field) if unique_field in fields else None
    float_at = [index for index, (_, kind) in enumerate(columns) if kind == "float"]
    token_at = [(index, kind) for index, (_, kind) in enumerate(columns) if kind in ("token", "token_seq")]
    limit = csv.field_size_limit()
    # With a time, a row is one interaction of (ids, time): a repeat is a duplicate even if
    # another column (a rating) differs, since both rows land in the same place in time order.
    keyed = time_at is not None and bool(required_at)
    key_at = [*required_at, time_at] if keyed else None
    seen_rows: dict[int, int] = {}  # hash of the key -> hash of the first line with it
    first_repeat: tuple[int, int] | None = None  # (hash of the key, line) of the first repeat
    seen_ids: set[str] = set()
    rows = 0
    for line_number, line in lines:
        if not line:  # pandas skips empty lines; a line of empty cells is a row
            continue
        cells = line.split(separator)
        if len(cells) != len(fields):
            raise AtomicFileError(
                f"{path}, line {line_number}: {len(cells)} cells, but the header has {len(fields)} "
                f"({', '.join(fields)})"
            )
        rows += 1
        for index in required_at:
            if not cells[index].strip():
                problem(f"missing {fields[index]}", f"without a {fields[index]}",
                        "fill it in or drop those rows").add(line_number)
        if time_at is not None and not cells[time_at].strip():
            problem("missing time", f"without a {time_field} (RecBole would fill in the mean time, "
                    "scrambling the order)", "fill it in or drop those rows").add(line_number)
        elif time_ordered and time_at is not None and _is_numeric_cell(cells[time_at]) \
                and not math.isfinite(float(cells[time_at])):
            problem("infinite time", f"with a {time_field} that is not a finite number (e.g. "
                    f"{cells[time_at].strip()[:20]!r}; RecBole would place it first or last)",
                    "give the real time or drop those rows").add(line_number)
        for index in float_at:
            cell = cells[index].strip()
            if cell and not _is_numeric_cell(cell):
                problem(f"float {fields[index]}", f"with a non-number in float column {fields[index]!r} "
                        f"(e.g. {cell[:20]!r})", f"fix the cells, or declare {fields[index]}:token"
                        ).add(line_number)
        for index, kind in token_at:
            stray = _stray_whitespace(cells[index], kind, seq_separator)
            if stray is not None and (stray.strip() or index not in required_at):  # else: missing id
                problem(f"whitespace {fields[index]}", f"with a {fields[index]} token that starts or "
                        f"ends with whitespace (column {index + 1}, e.g. {stray[:20]!r}, which RecBole "
                        f"would count apart from {stray.strip()[:20]!r})",
                        "remove the spaces (or, if they were meant, pick tokens without them)"
                        ).add(line_number)
        if any(len(cell) > limit for cell in cells):
            problem("long", f"with a cell over {limit} characters (Python's csv field limit, which "
                    "RecBole's reader applies)", "shorten or drop those cells").add(line_number)
        if unique_at is not None:
            if cells[unique_at] in seen_ids:
                problem("repeated id", f"repeating an earlier {unique_field}",
                        "keep one row per id").add(line_number)
            seen_ids.add(cells[unique_at])
        if not duplicate_rows_allowed:
            line_key = hash(line)
            key = _interaction_key(cells, key_at) if key_at else line_key
            if key not in seen_rows:
                seen_rows[key] = line_key
            elif seen_rows[key] == line_key:
                problem("duplicate", "identical to an earlier row (a repeated row can put a test "
                        "interaction into the user's own history and inflate every metric)",
                        DUPLICATE_FIX + ", or remove them").add(line_number)
            else:
                keys = ", ".join(fields[index] for index in key_at)
                problem("repeated interaction", f"repeating the {keys} of an earlier row with other "
                        "values in another column (the test interaction would be in its own history)",
                        f"keep one row per {keys} (remove the repeats, or {DUPLICATE_FIX}), or give "
                        "separate events their own times").add(line_number)
                first_repeat = first_repeat or (key, line_number)
    if rows == 0:
        raise AtomicFileError(f"{path} has a header but no rows")
    if problems:
        if first_repeat is not None:
            problems["repeated interaction"].fix += "; first: " + _first_repeat(
                path, encoding, separator, fields, key_at, *first_repeat)
        raise AtomicFileError(
            f"{path} ({rows} rows) cannot be used as is:\n"
            + "\n".join(f"  - {found.report()}" for found in problems.values())
        )
    return fields


def _interaction_key(cells: list[str], key_at: list[int]) -> int:
    """Hash of a row's ids and time, the time as RecBole reads it ("5" and "5.0" are one time)."""
    *ids, time = (cells[index] for index in key_at)
    return hash((*ids, float(time) if _is_numeric_cell(time) else time.strip()))


def _first_repeat(path: str, encoding: str, separator: str, fields: list[str], key_at: list[int],
                  key: int, later: int) -> str:
    """Which earlier line line ``later`` repeats and how they differ, read again (only on an
    error: the streaming pass keeps hashes, not rows, to fit large files in memory)."""
    earlier = None
    for number, line in _lines(path, encoding):
        cells = line.split(separator)
        if number > 1 and len(cells) == len(fields) and earlier is None and _interaction_key(cells, key_at) == key:
            earlier = (number, cells)
        if number == later:
            differing = [f"{name} {old!r} vs {new!r}" for name, old, new in zip(fields, earlier[1], cells)
                         if old != new]
            return f"line {later} repeats line {earlier[0]} except for {', '.join(differing)}"
    return f"line {later}"
