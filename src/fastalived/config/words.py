"""The line-level grammar of keepalived.conf: comments, quoting and escapes, words, brace globs.

Pure functions of one line of text, kept apart from the :mod:`lexer`'s state (includes,
definitions, ``~SEQ`` replication, blocks) so each is small enough to read and test on its own.
"""

from __future__ import annotations

SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "E": "\x1b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def split_lines(text: str) -> list[str]:
    """Lines as editors and keepalived count them: split at ``\\n`` only, a CRLF's ``\\r`` dropped.

    (``str.splitlines`` also splits at form feeds, ``\\x1c``-``\\x1e`` and Unicode separators, which
    would put every later diagnostic on the wrong line.)
    """
    lines = text.split("\n")
    if "\r" in text:
        lines = [line.removesuffix("\r") for line in lines]
    return lines


def strip_comment(line: str) -> str:
    """Cut a ``#`` or ``!`` comment (they may start anywhere outside quotes)."""
    if '"' not in line and "'" not in line:
        cut = len(line)
        for marker in ("#", "!"):
            at = line.find(marker)
            if 0 <= at < cut:
                cut = at
        return line[:cut]
    quote = ""
    escaped = False
    for i, ch in enumerate(line):
        if escaped:
            escaped = False
        elif ch == "\\" and quote:
            escaped = True
        elif quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch in "#!":
            return line[:i]
    return line


def split_words(text: str) -> tuple[list[str], list[int], set[int]]:
    """Split a line with quotes: words, 0-based columns, and indices of structural braces.

    Quote characters are removed and adjacent quoted/unquoted text joins into one word, as in
    keepalived (``abcd" efg "h`` is one word); escapes are only interpreted inside quotes.
    """
    words: list[str] = []
    cols: list[int] = []
    braces: set[int] = set()
    current: list[str] = []
    start = -1
    quote = ""
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if quote:
            if ch == quote:
                quote = ""
            elif ch == "\\" and i + 1 < n:
                decoded, i = _escape(text, i + 1)
                current.append(decoded)
                continue
            else:
                current.append(ch)
        elif ch in "\"'":
            quote = ch
            if start < 0:
                start = i
        elif ch == "$" and text.startswith("{", i + 1) and (end := text.find("}", i)) > 0:
            current.append(text[i : end + 1])  # an undefined ${NAME} is kept whole
            if start < 0:
                start = i
            i = end + 1
            continue
        elif ch.isspace() or ch in "{}":
            if start >= 0:
                words.append("".join(current))
                cols.append(start)
                current = []
                start = -1
            if ch in "{}":
                braces.add(len(words))
                words.append(ch)
                cols.append(i)
        else:
            current.append(ch)
            if start < 0:
                start = i
        i += 1
    if start >= 0:
        words.append("".join(current))
        cols.append(start)
    return words, cols, braces


def _escape(text: str, i: int) -> tuple[str, int]:
    """Decode the escape whose letter is at ``text[i]``; return it and the index after it."""
    ch = text[i]
    if ch in SIMPLE_ESCAPES:
        return SIMPLE_ESCAPES[ch], i + 1
    if ch in "01234567":
        j = i
        while j < len(text) and j < i + 3 and text[j] in "01234567":
            j += 1
        return chr(int(text[i:j], 8) & 0xFF), j
    if ch == "x":
        j = i + 1
        while j < len(text) and text[j] in "0123456789abcdefABCDEF":
            j += 1
        if j == i + 1:
            return "x", i + 1
        return chr(int(text[i + 1 : j], 16) & 0xFF), j
    if ch == "c" and i + 1 < len(text):
        return chr(ord(text[i + 1].upper()) ^ 0x40), i + 2
    return ch, i + 1


def expand_braces(pattern: str) -> list[str]:
    """csh-style ``{a,b}`` expansion for include patterns (``glob`` does not do it)."""
    open_at = pattern.find("{")
    if open_at < 0:
        return [pattern]
    depth = 0
    parts: list[str] = []
    part_start = open_at + 1
    for i in range(open_at, len(pattern)):
        ch = pattern[i]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                parts.append(pattern[part_start:i])
                head, tail = pattern[:open_at], pattern[i + 1 :]
                return [x for p in parts for x in expand_braces(head + p + tail)]
        elif ch == "," and depth == 1:
            parts.append(pattern[part_start:i])
            part_start = i + 1
    return [pattern]
