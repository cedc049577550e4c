"""Alert e-mail (``smtp_alert``) through the standard library's SMTP client.

``smtplib`` blocks, so each message is delivered on a worker thread: a slow or dead mail server
costs a thread for at most ``smtp_connect_timeout``, never an advert or a check. ``smtplib`` and
``email`` (some 20 modules) are imported at the first alert, not by every child at start.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterable
from typing import TYPE_CHECKING

from fastalived.config.model import GlobalDefs

if TYPE_CHECKING:
    from email.message import EmailMessage


class SmtpError(Exception):
    """The mail server refused the message (what the callers catch besides OSError / TimeoutError)."""


def _deliver(
    server: str, port: int, helo: str, sender: str, recipients: list[str], message: EmailMessage, timeout: float
) -> None:
    import smtplib

    try:
        with smtplib.SMTP(server, port, local_hostname=helo, timeout=timeout) as client:
            client.helo(helo)  # keepalived speaks plain HELO; smtplib would otherwise try EHLO first
            client.send_message(message, sender, recipients)
    except smtplib.SMTPException as exc:
        raise SmtpError(str(exc) or type(exc).__name__) from exc


async def send_mail(
    server: str,
    port: int,
    helo: str,
    sender: str,
    recipients: Iterable[str],
    subject: str,
    body: str,
    timeout: float,
) -> None:
    """Deliver one plain-text message (what keepalived's ``smtp_alert`` sends).

    Raises OSError / TimeoutError / SmtpError; the caller logs and carries on.
    """
    from email.message import EmailMessage
    from email.policy import SMTP
    from email.utils import formatdate

    recipients = list(recipients)
    message = EmailMessage(policy=SMTP.clone(max_line_length=998))  # RFC 5322's limit: no folded Subject
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = subject
    message["X-Mailer"] = "fastalived"
    message["Date"] = formatdate(localtime=True)
    message.set_content(body)
    await asyncio.to_thread(_deliver, server, port, helo, sender, recipients, message, timeout)


async def send_alert(g: GlobalDefs, subject: str, body: str) -> None:
    """Mail ``[router_id] subject`` to global_defs' ``notification_email`` through its ``smtp_server``.

    The sender and HELO name default the way keepalived's do. The caller checks that SMTP is
    configured, and logs the OSError / TimeoutError / SmtpError this raises.
    """
    assert g.smtp_server, "callers check smtp_server and notification_email first"
    host = socket.gethostname()
    await send_mail(
        g.smtp_server,
        g.smtp_port,
        g.smtp_helo_name or host,
        g.notification_email_from or f"keepalived@{host}",
        g.notification_email,
        f"[{g.router_id or host}] {subject}",
        body,
        g.smtp_connect_timeout,
    )
