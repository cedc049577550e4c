"""Hostile keepalived.conf inputs and the properties the config front end must keep on them.

Shared by the short in-suite run (``tests/unit/config/test_config_fuzz*.py``, driven by hypothesis)
and the long run (``bench/fuzz_config.py``, driven by a seeded ``random.Random``). A case is a set
of files in one directory, ``keepalived.conf`` first, made by applying a few mutations to a seed
config: truncation, byte flips, binary junk, unterminated quotes, deep nesting, huge numbers,
preprocessor abuse, include loops and splices of another config. ``check_case`` writes the files,
loads them with ``load_config`` and returns every broken property (an exception propagates).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from pathlib import Path

from fastalived.config import LoadResult, dump_json, load_config

MAIN = "keepalived.conf"
SHARED_CONFIGS = Path(__file__).resolve().parents[2].parent / "shared" / "configs"

Files = dict[str, bytes]
Mutator = Callable[[random.Random, Files, Sequence[bytes]], None]

HUGE_NUMBERS = (
    b"0",
    b"-1",
    b"-0",
    b"256",
    b"65536",
    b"4294967296",
    b"18446744073709551616",
    b"1e400",
    b"-1e400",
    b"nan",
    b"inf",
    b"0x" + b"f" * 40,
    b"1" * 5000,
    b"0." + b"0" * 400 + b"1",
    b"1_000",
)
PREPROCESSOR_LINES = (
    b"$A=$A $A",
    b"${B}",
    b"$B=${B}${B}",
    b"$C=x \\",
    b"$C",
    b"~SEQ(i,1,300) s$i",
    b"~SEQ(i,1,0,9)",
    b"~SEQ(",
    b"~LST({a,b},{1},{2,3})",
    b"~SEQ(i,1,20) ~SEQ(j,1,20) $i$j",
    b"@fuzz",
    b"@^fuzz",
    b"@",
    b"\\",
    b"${_RANDOM 1 99999999999999999999999999}",
    b"${_PWD}/${_INSTANCE}",
)
INCLUDE_LINES = (
    b"include keepalived.conf",
    b"include other.conf",
    b"include *.conf",
    b"include {keepalived,other}.conf",
    b"includer missing.conf",
    b"include .",
    b"include /dev/zero",
    b"include /dev/null",
    b'include "unterminated',
    b"include \x00",
    b"include",
)


def corpus(root: Path = SHARED_CONFIGS) -> list[bytes]:
    """The seed configs (every ``*.conf`` under ``root``), read now; [] when it is absent."""
    return [path.read_bytes() for path in sorted(root.rglob("*.conf"))] if root.is_dir() else []


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def _insert_line(rng: random.Random, data: bytes, line: bytes) -> bytes:
    lines = _lines(data)
    lines.insert(rng.randint(0, len(lines)), line)
    return b"\n".join(lines)


def truncate(rng: random.Random, files: Files, seeds: Sequence[bytes]) -> None:
    files[MAIN] = files[MAIN][: rng.randint(0, len(files[MAIN]))]


def flip_bytes(rng: random.Random, files: Files, seeds: Sequence[bytes]) -> None:
    data = bytearray(files[MAIN])
    for _ in range(rng.randint(1, 8) if data else 0):
        data[rng.randrange(len(data))] ^= rng.randint(1, 255)
    files[MAIN] = bytes(data)


def binary_junk(rng: random.Random, files: Files, seeds: Sequence[bytes]) -> None:
    at = rng.randint(0, len(files[MAIN]))
    junk = rng.randbytes(rng.randint(1, 200))
    files[MAIN] = files[MAIN][:at] + junk + files[MAIN][at:]


def unterminated_quote(rng: random.Random, files: Files, seeds: Sequence[bytes]) -> None:
    at = rng.randint(0, len(files[MAIN]))
    files[MAIN] = files[MAIN][:at] + rng.choice((b'"', b"'", b'"\\')) + files[MAIN][at:]


def deep_nesting(rng: random.Random, files: Files, seeds: Sequence[bytes]) -> None:
    """Open ``depth`` blocks (one per line, on one line, or keyword-less), closing all, some or none."""
    depth = rng.choice((2, 40, 500, 10_000))
    opener = rng.choice((b"x {\n", b"x {", b"{", b"{\n"))
    closes = rng.choice((depth, depth // 2, 0, depth + 3))
    block = opener * depth + b"}\n" * closes
    files[MAIN] = _insert_line(rng, files[MAIN], block)


def huge_number(rng: random.Random, files: Files, seeds: Sequence[bytes]) -> None:
    """Replace one run of digits with an out-of-range, malformed or enormous number."""
    data = files[MAIN]
    digits = [i for i in range(len(data)) if 48 <= data[i] <= 57 and (i == 0 or not 48 <= data[i - 1] <= 57)]
    if not digits:
        files[MAIN] = _insert_line(rng, data, b"priority " + rng.choice(HUGE_NUMBERS))
        return
    start = end = rng.choice(digits)
    while end < len(data) and 48 <= data[end] <= 57:
        end += 1
    files[MAIN] = data[:start] + rng.choice(HUGE_NUMBERS) + data[end:]


def shuffle_lines(rng: random.Random, files: Files, seeds: Sequence[bytes]) -> None:
    """Delete, duplicate or swap a few lines."""
    lines = _lines(files[MAIN])
    for _ in range(rng.randint(1, 4)):
        at, other = rng.randrange(len(lines)), rng.randrange(len(lines))
        action = rng.randrange(3)
        if action == 0 and len(lines) > 1:
            del lines[at]
        elif action == 1:
            lines.insert(at, lines[other])
        else:
            lines[at], lines[other] = lines[other], lines[at]
    files[MAIN] = b"\n".join(lines)


def preprocessor_abuse(rng: random.Random, files: Files, seeds: Sequence[bytes]) -> None:
    for _ in range(rng.randint(1, 3)):
        files[MAIN] = _insert_line(rng, files[MAIN], rng.choice(PREPROCESSOR_LINES))


def include_tricks(rng: random.Random, files: Files, seeds: Sequence[bytes]) -> None:
    """Self and mutual includes, globs, missing files, a directory and character devices."""
    files[MAIN] = _insert_line(rng, files[MAIN], rng.choice(INCLUDE_LINES))
    if rng.random() < 0.5:
        files["other.conf"] = rng.choice(INCLUDE_LINES) + b"\n" + rng.choice(seeds)[:400]


def splice(rng: random.Random, files: Files, seeds: Sequence[bytes]) -> None:
    """Insert a run of lines taken from another seed."""
    donor = _lines(rng.choice(seeds))
    start = rng.randrange(len(donor))
    piece = b"\n".join(donor[start : start + rng.randint(1, 20)])
    files[MAIN] = _insert_line(rng, files[MAIN], piece)


MUTATORS: tuple[Mutator, ...] = (
    truncate,
    flip_bytes,
    binary_junk,
    unterminated_quote,
    deep_nesting,
    huge_number,
    shuffle_lines,
    preprocessor_abuse,
    include_tricks,
    splice,
)


def mutate(rng: random.Random, seeds: Sequence[bytes]) -> tuple[Files, list[str]]:
    """One case: a seed with 1-4 mutations; returns its files and the mutators' names."""
    files: Files = {MAIN: rng.choice(seeds)}
    applied = [rng.choice(MUTATORS) for _ in range(rng.randint(1, 4))]
    for mutator in applied:
        mutator(rng, files, seeds)
    return files, [m.__name__ for m in applied]


def write_case(directory: Path, files: Files) -> Path:
    """Write the case's files into ``directory`` (replacing the last case's); the main file's path."""
    for stale in directory.glob("*.conf"):
        stale.unlink()
    for name, data in files.items():
        (directory / name).write_bytes(data)
    return directory / MAIN


def broken_properties(result: LoadResult, files: Files, directory: Path) -> list[str]:
    """What ``result`` gets wrong: a diagnostic without a usable ``file:line:col``, or no dump."""
    line_counts = {str(directory / name): data.count(b"\n") + 1 for name, data in files.items()}
    problems = []
    for diagnostic in result.diagnostics:
        where = diagnostic.where
        lines = line_counts.get(where.file)
        if lines is None or not 1 <= where.line <= lines or where.col < 1:
            problems.append(f"diagnostic not placed in a case file line: {diagnostic}")
    try:
        dump_json(result.config)
    except Exception as exc:  # a property to report, not a crash of the harness
        problems.append(f"dump_json failed: {exc!r}")
    return problems


def check_case(directory: Path, files: Files) -> list[str]:
    """Load the case from ``directory`` and return its broken properties (exceptions propagate)."""
    path = write_case(directory, files)
    return broken_properties(load_config(str(path), config_id="fuzz"), files, directory)
