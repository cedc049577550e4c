"""``fastalived genhash`` (and keepalived's ``-T``/``--genhash``): the digest an HTTP_GET wants.

Operators run keepalived's ``genhash -s IP -p PORT -u URL`` to learn the ``digest`` to put in an
``HTTP_GET``/``SSL_GET`` url block. This is the same tool with the same options and output, and it
sends exactly the request the checker sends (``check.http.request_bytes``), so the digest it
prints is the one the checker will compute.
"""

from __future__ import annotations

import argparse
import hashlib
import ipaddress
import socket
import ssl
import sys
import time
from collections.abc import Sequence
from typing import TextIO

from fastalived.check.http import client_ssl_context, request_bytes
from fastalived.check.tcp import prepare, target_of
from fastalived.config.model import CheckerCommon, HttpCheck, UrlSpec

PROTOCOLS = {"1.0": "1.0", "1.0c": "1.0C", "1.1": "1.1"}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fastalived genhash", description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("-S", "--use-ssl", action="store_true", help="use SSL to connect to the server")
    p.add_argument("-I", "--use-sni", action="store_true", help="send the virtual host as SNI (with -V)")
    p.add_argument("-s", "--server", required=True, help="the server's IP address")
    p.add_argument("-p", "--port", type=int, help="the server's port (default 80, 443 with -S)")
    p.add_argument("-u", "--url", required=True, help="the path to fetch")
    p.add_argument("-V", "--use-virtualhost", dest="virtualhost", help="the Host header to send")
    p.add_argument("-P", "--protocol", choices=sorted(PROTOCOLS), default="1.0",
                   help="HTTP version; 1.0c is 1.0 with 'Connection: close'")
    p.add_argument("-t", "--timeout", type=float, default=5.0, help="connection timeout in seconds")
    p.add_argument("-m", "--fwmark", type=int, help="firewall mark on the socket")
    p.add_argument("-v", "--verbose", action="store_true", help="show the header, the body and the digest in hex")
    return p


def hex_dump(data: bytes) -> str:
    """keepalived's dump: decimal offset, 8 + 8 hex bytes split by ``-``, then the printable text."""
    lines = []
    for offset in range(0, len(data), 16):
        chunk = data[offset : offset + 16]
        left = " ".join(f"{b:02x}" for b in chunk[:8])
        right = " ".join(f"{b:02x}" for b in chunk[8:])
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{offset:04d}  {left:<23} - {right:<23}   {text:<16}")
    return "\n".join(lines)


BANNERS = {  # keepalived's section titles, padded exactly as it prints them
    "header": "    HTTP Header Buffer    ",
    "header text": " HTTP Header Ascii Buffer ",
    "body": "        HTML Buffer        ",
    "hash": "    HTML hash resulting    ",
    "digest": " HTML hash final resulting ",
}


def _banner(section: str) -> str:
    return f"-----------------------[{BANNERS[section]}]-----------------------"


def fetch(args: argparse.Namespace) -> bytes:
    """The raw response to the checker's GET for ``args.url``."""
    address = ipaddress.ip_address(args.server)
    port = args.port or (443 if args.use_ssl else 80)
    check = HttpCheck(
        "SSL_GET" if args.use_ssl else "HTTP_GET",
        CheckerCommon(address, port, fwmark=args.fwmark, connect_timeout=args.timeout),
        (UrlSpec(args.url),),
        virtualhost=args.virtualhost,
        http_protocol=PROTOCOLS[args.protocol],
    )
    target = target_of(check.common)
    with socket.socket(target.family, socket.SOCK_STREAM) as sock:
        prepare(sock, target)  # the checker's own socket set-up: fwmark, bind_if, bindto
        sock.settimeout(args.timeout)
        sock.connect(target.address)
        stream: socket.socket = sock
        if args.use_ssl:
            sni = args.virtualhost if args.use_sni else None
            stream = client_ssl_context(None).wrap_socket(sock, server_hostname=sni)
        stream.sendall(request_bytes(check, check.urls[0]))
        chunks = []
        while chunk := stream.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


def genhash_main(argv: Sequence[str], out: TextIO = sys.stdout) -> int:
    """Print the MD5 of the page body (with ``-v`` the whole exchange, as keepalived does)."""
    args = _parser().parse_args(argv)
    try:
        ipaddress.ip_address(args.server)
    except ValueError:
        print(f"server should be an IP, not {args.server}", file=sys.stderr)
        return 1
    started = time.monotonic()
    try:
        response = fetch(args)
    except (OSError, ssl.SSLError) as exc:
        print(f"Cannot fetch {args.url} from {args.server}: {exc}", file=sys.stderr)
        return 1
    header, separator, body = response.partition(b"\r\n\r\n")
    if not separator:
        print("Malformed HTTP response: no end of header", file=sys.stderr)
        return 1
    digest = hashlib.md5(body, usedforsecurity=False)
    if args.verbose:
        print(_banner("header"), hex_dump(header + separator), sep="\n", file=out)
        print(_banner("header text"), (header + separator).decode("latin-1"), sep="\n", file=out)
        print(_banner("body"), hex_dump(body), "", sep="\n", file=out)
        print(_banner("hash"), hex_dump(digest.digest()), sep="\n", file=out)
        print(_banner("digest"), file=out)
    print(digest.hexdigest(), file=out)
    if args.verbose:
        elapsed = int((time.monotonic() - started) * 1_000_000)
        print(f"\nGlobal response time for [{args.url}] = {elapsed} usecs", file=out)
    return 0
