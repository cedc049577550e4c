"""keepalived.conf lexer: files -> a tree of statements, with every preprocessor feature applied.

keepalived's grammar is line oriented: a statement is the words on one line, ``{`` opens a block
owned by the statement before it (same line or the previous one) and ``}`` closes it, possibly on
the same line (``virtual_ipaddress { 198.51.100.1 }``). Before tokenising, each line goes through
keepalived's preprocessor, in keepalived's order: ``include`` (detected on the raw line),
``@id``/``@^id`` conditionals, ``$NAME=value`` definitions (``\\``-continued for multi-line ones),
``~SEQ``/``~LST`` replication and ``$NAME``/``${NAME}`` substitution, which is re-applied to its
result so a substituted line can itself be a conditional, definition or several lines.

The lexer is deliberately plain (``str.split`` on the common path, one small slotted object per
statement) because a 10,000-real-server file has ~150,000 lines.
"""

from __future__ import annotations

import os
import re
import socket

from fastalived.config.diagnostics import Reporter
from fastalived.config.model import Where
from fastalived.config.words import expand_braces, split_lines, split_words, strip_comment

INCLUDE_KEYWORDS = frozenset({"include", "includer", "includem", "includew", "includeb", "includea"})
# Sections that only exist at the top level: seeing one inside a block means a '}' is missing.
TOP_LEVEL_SECTIONS = frozenset(
    {
        "global_defs",
        "vrrp_instance",
        "vrrp_script",
        "vrrp_sync_group",
        "virtual_server",
        "virtual_server_group",
        "static_ipaddress",
        "static_routes",
        "static_rules",
    }
)
# Bounds that keep hostile or broken input from hanging or exhausting the loader.
MAX_SUBSTITUTION_DEPTH = 32
MAX_INCLUDE_DEPTH = 32
MAX_BLOCK_DEPTH = 32  # keepalived's deepest block (virtual_server/real_server/HTTP_GET/url) is 4
MAX_REPLICATION = 1_000_000  # one ~SEQ; keepalived's own example makes 65,024 instances
MAX_GENERATED_LINES = 1_000_000  # lines ~SEQ/~LST and multi-line $definitions add to one config
MAX_LINE_LENGTH = 65_536  # characters in one line, as read or after substitution
MAX_FILE_CHARS = 64 << 20

_DEFINITION = re.compile(r"\$([A-Za-z_]\w*)=(.*)\Z", re.S)
_REFERENCE = re.compile(r"\$\{([A-Za-z_]\w*)((?:\s[^}]*)?)\}|\$([A-Za-z_]\w*)(?=\s|\Z)")
_REPLICATOR = re.compile(r"~(SEQx?|LST)\(([^)]*)\)")
_GLOB_CHARS = frozenset("*?[{")
# A word (an undefined ``${NAME}`` stays part of its word) or a structural brace.
_WORD_OR_BRACE = re.compile(r"(?:\$\{[^}\s]*\}|[^\s{}])+|[{}]")


class Stmt:
    """One statement: its words, where it starts, and its ``{}`` block (None if it has none)."""

    __slots__ = ("words", "file", "line", "col", "text", "block")

    def __init__(self, words: list[str], file: str, line: int, col: int, text: str) -> None:
        self.words = words
        self.file = file
        self.line = line
        self.col = col
        self.text = text  # the (expanded) source line, to locate later words for diagnostics
        self.block: list[Stmt] | None = None

    @property
    def keyword(self) -> str:
        return self.words[0]

    def where(self, index: int = 0) -> Where:
        """Position of word ``index`` (found by searching the line, so only computed on demand)."""
        if index == 0 or index >= len(self.words):
            return Where(self.file, self.line, self.col)
        pos = self.col - 1
        for i, word in enumerate(self.words[: index + 1]):
            found = self.text.find(word, pos)
            if found < 0:
                break
            if i == index:
                return Where(self.file, self.line, found + 1)
            pos = found + len(word)
        return Where(self.file, self.line, self.col)

    def __repr__(self) -> str:
        inner = "" if self.block is None else f" {{{len(self.block)}}}"
        return f"Stmt({' '.join(self.words)!r}{inner} @{self.file}:{self.line})"


def default_config_id() -> str:
    """keepalived's default config id: the first label of the host name."""
    return socket.gethostname().split(".")[0]


class Lexer:
    """Reads a config (and its includes) into a list of top-level :class:`Stmt` trees."""

    def __init__(self, report: Reporter, config_id: str | None = None) -> None:
        self.report = report
        self.config_id = default_config_id() if config_id is None else config_id
        self.definitions: dict[str, str] = {}
        self.files: list[str] = []
        self.root: list[Stmt] = []
        self._open: list[Stmt] = []  # statements whose block is still open, outermost first
        self._current: list[Stmt] = self.root
        self._last: Stmt | None = None  # last statement of the current block (for a next-line '{')
        self._misindented: Stmt | None = None  # first block closed by a '}' left of its keyword
        self._including: list[str] = []  # real paths of the files being read, for loop detection
        self._file = "<string>"
        self._ignored_depth = 0  # blocks open beyond MAX_BLOCK_DEPTH, whose contents are dropped
        self._generated = 0  # lines added by preprocessing, against MAX_GENERATED_LINES
        self._used: set[str] = set()  # definitions the last substitution expanded

    # ----------------------------------------------------------------------- entry points

    def read_file(self, path: str) -> list[Stmt]:
        self._include_file(path, Where(path, 1, 1), keyword=None)
        self._finish()
        return self.root

    def read_string(self, text: str, filename: str = "<string>") -> list[Stmt]:
        self.files.append(filename)
        self._feed(split_lines(text), filename)
        self._finish()
        return self.root

    # ----------------------------------------------------------------------- files and includes

    def _include_file(self, path: str, where: Where, keyword: str | None) -> None:
        if "\x00" in path:
            self.report.error(where, keyword, "config file name contains a NUL character")
            return
        real = os.path.realpath(path)
        if real in self._including:
            self.report.error(where, keyword, f"include loop: '{path}' includes itself")
            return
        if len(self._including) >= MAX_INCLUDE_DEPTH:
            self.report.error(where, keyword, f"includes nested deeper than {MAX_INCLUDE_DEPTH}")
            return
        if os.path.exists(path) and not os.path.isfile(path):  # a directory, /dev/zero, a FIFO...
            self.report.error(where, keyword, f"config file '{path}' is not a regular file")
            return
        try:
            with open(path, encoding="utf-8", errors="replace", newline="") as stream:
                text = stream.read(MAX_FILE_CHARS + 1)
        except FileNotFoundError:
            self.report.error(where, keyword, f"config file '{path}' not found")
            return
        except OSError as exc:
            self.report.error(where, keyword, f"cannot read config file '{path}': {exc.strerror or exc}")
            return
        if len(text) > MAX_FILE_CHARS:
            self.report.error(where, keyword, f"config file '{path}' is larger than {MAX_FILE_CHARS >> 20} MiB")
            return
        lines = split_lines(text)
        self.files.append(path)
        self._including.append(real)
        outer_file = self._file
        try:
            self._feed(lines, path)
        finally:
            self._including.pop()
            self._file = outer_file

    def _include(self, words: list[str], where: Where) -> None:
        if len(words) < 2:
            self.report.error(where, words[0], f"{words[0]} needs a file name")
            return
        base = os.path.dirname(self._file)
        for pattern in words[1:]:
            pattern = self._substitute_all(pattern)
            if not os.path.isabs(pattern):
                pattern = os.path.join(base, pattern)
            if "\x00" in pattern or not _GLOB_CHARS.intersection(pattern):
                self._include_file(pattern, where, words[0])
                continue
            import glob  # only include patterns need it

            matches = sorted({m for p in expand_braces(pattern) for m in glob.glob(p)})
            if not matches:
                self.report.warning(where, words[0], f"{words[0]} pattern '{pattern}' matched no files")
            for match in matches:
                self._include_file(match, where, words[0])

    # ----------------------------------------------------------------------- line preprocessing

    def _feed(self, lines: list[str], file: str) -> None:
        self._file = file
        pending_name: str | None = None  # multi-line definition being collected
        pending: list[str] = []
        for lineno, raw in enumerate(lines, 1):
            if len(raw) > MAX_LINE_LENGTH:
                self.report.error(
                    Where(file, lineno, 1), None, f"line longer than {MAX_LINE_LENGTH} characters; ignored"
                )
                continue
            text = strip_comment(raw) if ("#" in raw or "!" in raw) else raw
            stripped = text.strip()
            if pending_name is not None:
                if not stripped:
                    continue
                more = stripped.endswith("\\")
                pending.append(stripped[:-1].rstrip() if more else stripped)
                if not more:
                    self._define_multiline(pending_name, pending)
                    pending_name = None
                continue
            if not stripped:
                continue
            first = stripped[0]
            if (
                first not in "@~$}"
                and "$" not in stripped
                and '"' not in stripped
                and "'" not in stripped
                and stripped[-1] != "\\"
                and not (first == "i" and stripped.startswith("include"))
            ):  # the common case: nothing to preprocess, no quotes
                if "{" not in stripped and "}" not in stripped:
                    statement = Stmt(stripped.split(), file, lineno, text.index(first) + 1, text)
                    self._current.append(statement)
                    self._last = statement
                elif stripped[-1] == "{" and stripped.count("{") == 1 and "}" not in stripped:
                    self._opening(stripped, text, file, lineno, text.index(first) + 1)
                else:
                    self._tokens(text, file, lineno)
                continue
            if stripped == "}":
                self._close(file, lineno, text.index("}") + 1)
                continue
            if stripped.startswith("include"):
                first = stripped.split(None, 1)[0]
                if first in INCLUDE_KEYWORDS:
                    quoted = '"' in stripped or "'" in stripped
                    words = split_words(stripped)[0] if quoted else stripped.split()
                    self._include(words, Where(file, lineno, text.find(first) + 1))
                    continue
            if stripped.endswith("\\") and "=" in stripped:
                unconditional = stripped.split(None, 1)[-1] if stripped[0] == "@" else stripped
                match = _DEFINITION.match(unconditional)
                if match:
                    kept = self._conditional(text) is not None
                    pending_name = match[1] if kept else ""  # "" = collect, then discard
                    pending = [match[2][:-1].strip()]
                    continue
            self._line(text, file, lineno, 0)
        if pending_name is not None:
            self._define_multiline(pending_name, pending)

    def _define_multiline(self, name: str, lines: list[str]) -> None:
        if name:
            self.definitions[name] = "\n".join(line for line in lines if line)

    def _conditional(self, text: str) -> str | None:
        """Apply an ``@id``/``@^id`` prefix: the rest of the line (blanked prefix) or None to drop."""
        stripped = text.lstrip()
        if not stripped.startswith("@"):
            return text
        end = len(stripped)
        for i, ch in enumerate(stripped):
            if ch.isspace():
                end = i
                break
        negate = stripped.startswith("@^")
        ident = stripped[2 if negate else 1 : end]
        if (ident == self.config_id) == negate:
            return None
        indent = len(text) - len(stripped)
        return " " * (indent + end) + stripped[end:]

    def _line(self, text: str, file: str, lineno: int, depth: int, expanding: frozenset[str] = frozenset()) -> None:
        """Preprocess one line; ``expanding`` are the definitions whose expansion produced it."""
        stripped = text.lstrip()
        if not stripped:
            return
        if stripped[0] == "@":
            conditional = self._conditional(text)
            if conditional is None:
                return
            text = conditional
            stripped = text.lstrip()
            if not stripped:
                return
        first = stripped[0]
        if first == "$":
            match = _DEFINITION.match(stripped.rstrip())
            if match:
                self.definitions[match[1]] = match[2].strip()
                return
        elif first == "~" and _REPLICATOR.match(stripped):
            self._replicate(text, file, lineno, depth, expanding)
            return
        if "$" in stripped:
            self._used.clear()
            expanded = _REFERENCE.sub(self._lookup, text)
            if expanded != text:
                where = Where(file, lineno, 1)
                if recursive := self._used & expanding:
                    self.report.error(where, None, f"recursive definition: ${min(recursive)} expands to itself")
                    return
                if depth >= MAX_SUBSTITUTION_DEPTH:
                    self.report.error(where, None, "parameter substitution nested too deeply (recursive definition?)")
                    return
                parts = expanded.split("\n")
                if max(map(len, parts)) > MAX_LINE_LENGTH:
                    self.report.error(
                        where, None, f"parameter substitution makes a line longer than {MAX_LINE_LENGTH} characters"
                    )
                    return
                if not self._generate(len(parts) - 1, where):
                    return
                inner = expanding | self._used
                for part in parts:
                    self._line(part, file, lineno, depth + 1, inner)
                return
        self._tokens(text, file, lineno)

    def _lookup(self, match: re.Match[str]) -> str:
        name = match[1] or match[3]
        value = self.definitions.get(name)
        if value is not None:
            self._used.add(name)
            return value
        if name == "_PWD":
            return os.path.dirname(os.path.abspath(self._file))
        if name == "_INSTANCE":
            return self.config_id
        if name == "_HASH":
            return "#"
        if name == "_BANG":
            return "!"
        if name == "_RANDOM":
            import random  # rarely used: not worth its import on every load

            bounds = [int(b) for b in (match[2] or "").split() if b.isdigit()]
            low = bounds[0] if bounds else 0
            high = bounds[1] if len(bounds) > 1 else 32767
            return str(random.randint(min(low, high), max(low, high)))
        return match[0]

    def _substitute_all(self, text: str) -> str:
        for _ in range(MAX_SUBSTITUTION_DEPTH):
            expanded = _REFERENCE.sub(self._lookup, text)
            if expanded == text or len(expanded) > MAX_LINE_LENGTH:
                break
            text = expanded
        return text

    def _generate(self, count: int, where: Where) -> bool:
        """Account for ``count`` lines added by preprocessing; False (reported once) past the budget."""
        if not count:
            return True
        if self._generated > MAX_GENERATED_LINES:
            return False
        self._generated += count
        if self._generated <= MAX_GENERATED_LINES:
            return True
        self.report.error(
            where,
            None,
            f"~SEQ/~LST and $definitions expand the config by more than {MAX_GENERATED_LINES} lines; "
            "the rest of the expansion is ignored",
        )
        return False

    def _replicate(self, text: str, file: str, lineno: int, depth: int, expanding: frozenset[str]) -> None:
        """``~SEQ(var, start, step, end)`` / ``~SEQx`` / ``~LST(var, v1, ...)``: repeat the rest."""
        stripped = text.lstrip()
        match = _REPLICATOR.match(stripped)
        assert match is not None
        where = Where(file, lineno, len(text) - len(stripped) + 1)
        rest = " " * (len(text) - len(stripped) + match.end()) + stripped[match.end() :]
        kind = match[1]
        bindings = (
            self._seq_values(match[2], kind == "SEQx", where) if kind != "LST" else self._lst_values(match[2], where)
        )
        if bindings is None or not self._generate(len(bindings) - 1, where):
            return
        names = {name for binding in bindings for name in binding}
        saved = {name: self.definitions.get(name) for name in names}
        try:
            for binding in bindings:
                self.definitions.update(binding)
                self._line(rest, file, lineno, depth + 1, expanding)
        finally:
            for name, value in saved.items():
                if value is None:
                    self.definitions.pop(name, None)
                else:
                    self.definitions[name] = value

    def _seq_values(self, spec: str, hexadecimal: bool, where: Where) -> list[dict[str, str]] | None:
        parts = [p.strip() for p in spec.split(",")]
        try:
            name = parts[0]
            numbers = [int(self._substitute_all(p), 0) for p in parts[1:]]
        except ValueError:
            numbers = []
            name = ""
        if not re.fullmatch(r"[A-Za-z_]\w*", name) or not 1 <= len(numbers) <= 3:
            self.report.error(where, "~SEQ", f"invalid ~SEQ specification '({spec})'")
            return None
        if len(numbers) == 1:
            end = numbers[0]
            start = 1 if end > 0 else -1 if end < 0 else 0
            step = 1 if end >= start else -1
        elif len(numbers) == 2:
            start, end = numbers
            step = 1 if end >= start else -1
        else:
            start, step, end = numbers
        if step == 0:
            self.report.error(where, "~SEQ", "~SEQ step must not be 0")
            return None
        count = (end - start) // step + 1 if (end - start) * step >= 0 else 0  # len(range) overflows on huge bounds
        if count > MAX_REPLICATION:
            shown = count if count < 10**18 else "over 10^18"  # hex bounds may have any number of digits
            self.report.error(where, "~SEQ", f"~SEQ would repeat a line {shown} times (limit {MAX_REPLICATION})")
            return None
        values = range(start, end + 1 if step > 0 else end - 1, step)
        return [{name: format(v, "x") if hexadecimal else str(v)} for v in values]

    def _lst_values(self, spec: str, where: Where) -> list[dict[str, str]] | None:
        spec = spec.strip()
        groups = re.findall(r"\{([^}]*)\}", spec)
        if spec.startswith("{") and groups:
            names = [n.strip() for n in groups[0].split(",")]
            rows = [[v.strip() for v in g.split(",")] for g in groups[1:]]
        else:
            items = [p.strip() for p in spec.split(",")]
            names, rows = items[:1], [[v] for v in items[1:]]
        if (
            not rows
            or not all(re.fullmatch(r"[A-Za-z_]\w*", n) for n in names)
            or any(len(row) != len(names) for row in rows)
        ):
            self.report.error(where, "~LST", f"invalid ~LST specification '({spec})'")
            return None
        return [dict(zip(names, row, strict=True)) for row in rows]

    # ----------------------------------------------------------------------- statements and blocks

    def _tokens(self, text: str, file: str, lineno: int) -> None:
        if '"' in text or "'" in text:
            words, cols, braces = split_words(text)
            self._statements(words, cols, braces, text, file, lineno)
            return
        if "{" not in text and "}" not in text:
            words = text.split()
            col = len(text) - len(text.lstrip()) + 1
            self._add(Stmt(words, file, lineno, col, text))
            return
        stripped = text.strip()
        if stripped == "}":
            self._close(file, lineno, text.find("}") + 1)
            return
        if stripped.endswith("{") and stripped.count("{") == 1 and "}" not in stripped:
            self._opening(stripped, text, file, lineno, len(text) - len(text.lstrip()) + 1)
            return
        words, cols, braces = [], [], set()
        for match in _WORD_OR_BRACE.finditer(text):
            if match[0] in "{}":
                braces.add(len(words))
            words.append(match[0])
            cols.append(match.start())
        self._statements(words, cols, braces, text, file, lineno)

    def _opening(self, stripped: str, text: str, file: str, lineno: int, col: int) -> None:
        """A line ending in its only brace, ``keyword words {`` (or a lone ``{``): open a block."""
        words = stripped[:-1].split()
        if words:
            statement = Stmt(words, file, lineno, col, text)
            self._current.append(statement)
            self._last = statement
            self._open_block(statement, file, lineno, col)
        else:
            self._open_block(self._last, file, lineno, col)

    def _statements(
        self, words: list[str], cols: list[int], braces: set[int], text: str, file: str, lineno: int
    ) -> None:
        """Group one line's words into statements around its structural braces."""
        start = 0
        for i in sorted(braces) + [len(words)]:
            if i > start:
                statement = Stmt(words[start:i], file, lineno, cols[start] + 1, text)
                self._add(statement)
            if i == len(words):
                break
            if words[i] == "{":
                self._open_block(self._last, file, lineno, cols[i] + 1)
            else:
                self._close(file, lineno, cols[i] + 1)
            start = i + 1

    def _add(self, statement: Stmt) -> None:
        self._current.append(statement)
        self._last = statement

    def _open_block(self, owner: Stmt | None, file: str, line: int, col: int) -> None:
        if self._ignored_depth or len(self._open) >= MAX_BLOCK_DEPTH:
            if not self._ignored_depth:
                self.report.error(
                    Where(file, line, col),
                    None,
                    f"blocks nested deeper than {MAX_BLOCK_DEPTH} levels; the inner blocks are ignored",
                )
                self._current = []  # collects the ignored statements, then dropped
            self._ignored_depth += 1
            return
        if owner is None or owner.block is not None:
            self.report.error(Where(file, line, col), None, "'{' without a keyword before it")
            owner = Stmt(["{"], file, line, col, "")  # so its '}' still balances
            self._current.append(owner)
        if owner.words[0] in TOP_LEVEL_SECTIONS and self._open:
            self._recover_missing_close(owner)
        owner.block = []
        self._open.append(owner)
        self._current = owner.block
        self._last = None

    def _unclosed(self) -> Stmt:
        """The block most likely missing its '}'.

        A '}' that closes a block while sitting left of that block's keyword was probably meant for
        an outer block, so the inner block is the culprit; otherwise the outermost open block is.
        """
        return self._misindented or self._open[0]

    def _recover_missing_close(self, section: Stmt) -> None:
        """A top-level section inside a block: report the unclosed block and restart at top level."""
        culprit = self._unclosed()
        self.report.error(
            culprit.where(),
            culprit.words[0],
            f"missing '}}': block '{' '.join(culprit.words)}' is still open at "
            f"'{section.words[0]}' on line {section.line}",
        )
        self._current.remove(section)
        self._open.clear()
        self._misindented = None
        self.root.append(section)
        self._current = self.root

    def _close(self, file: str, line: int, col: int) -> None:
        if self._ignored_depth:
            self._ignored_depth -= 1
            if not self._ignored_depth:
                self._current = self._open[-1].block  # type: ignore[assignment]
                self._last = self._current[-1] if self._current else None
            return
        if not self._open:
            self.report.error(Where(file, line, col), None, "unexpected '}' with no block open")
            return
        closed = self._open.pop()
        if col < closed.col and file == closed.file and self._misindented is None:
            self._misindented = closed
        if not self._open:
            self._misindented = None
        self._current = self._open[-1].block if self._open else self.root  # type: ignore[assignment]
        self._last = self._current[-1] if self._current else None

    def _finish(self) -> None:
        if self._open:
            culprit = self._unclosed()
            self.report.error(
                culprit.where(), culprit.words[0], f"missing '}}': block '{' '.join(culprit.words)}' is never closed"
            )
            self._open.clear()
            self._misindented = None
            self._ignored_depth = 0
            self._current = self.root
