"""``fastalived genhash`` against keepalived's own ``genhash`` and a real HTTP server on loopback."""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from fastalived.check.genhash import genhash_main

PAGE = b"hello fastalived\n" * 40


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def server() -> Iterator[int]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()


def _ours(*argv: str) -> str:
    out = io.StringIO()
    assert genhash_main(list(argv), out) == 0
    return out.getvalue()


def test_prints_the_md5_of_the_body(server: int) -> None:
    assert _ours("-s", "127.0.0.1", "-p", str(server), "-u", "/x").strip() == hashlib.md5(PAGE).hexdigest()


@pytest.mark.skipif(shutil.which("genhash") is None, reason="keepalived's genhash is not installed")
def test_output_matches_keepalived_s_genhash(server: int) -> None:
    argv = ["-v", "-s", "127.0.0.1", "-p", str(server), "-u", "/page", "-V", "example.org", "-P", "1.1"]
    theirs = subprocess.run(["genhash", *argv], capture_output=True, text=True, timeout=30, check=True).stdout

    def sections(text: str) -> dict[str, list[str]]:
        """Banner -> its lines; the header sections carry a Date and the timing line differs by nature."""
        found: dict[str, list[str]] = {}
        current = found.setdefault("", [])
        for line in text.splitlines():
            if line.startswith("-----"):
                current = found.setdefault(line, [])
            elif not line.startswith("Global response time"):
                current.append(line.rstrip())
        return found

    ours, reference = sections(_ours(*argv)), sections(theirs)
    # keepalived dumps the body only for reads after the header's: it may skip that section.
    assert [b for b in ours if b in reference] == list(reference)  # banners padded alike, in order
    hash_sections = [banner for banner in reference if "hash" in banner]
    assert len(hash_sections) == 2
    for banner in hash_sections:  # the digest in hex-dump form and as the final line
        assert [line for line in ours[banner] if line] == [line for line in reference[banner] if line], banner
    assert hashlib.md5(PAGE).hexdigest() in ours[list(ours)[-1]]


def test_refuses_a_host_name() -> None:
    assert genhash_main(["-s", "localhost", "-u", "/"], io.StringIO()) == 1
