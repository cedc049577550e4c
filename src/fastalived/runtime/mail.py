"""Alert e-mail (``smtp_alert``) through the standard library's SMTP client.

``smtplib`` blocks, so each message is delivered on a worker thread: a slow or dead mail server
costs a thread for at most ``smtp_connect_timeout``, never an advert or a check.
"""

from __future__ import annotations

import asyncio
import smtplib
import socket
from collections.abc import Iterable
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate

from fastalived.config.model import GlobalDefs

SmtpError = smtplib.SMTPException  # what the callers catch besides OSError / TimeoutError
_UNFOLDED = SMTP.clone(max_line_length=998)  # RFC 5322's limit: keepalived never folds a Subject


def _deliver(
    server: str, port: int, helo: str, sender: str, recipients: list[str], message: EmailMessage, timeout: float
) -> None:
    with smtplib.SMTP(server, port, local_hostname=helo, timeout=timeout) as client:
        client.helo(helo)  # keepalived speaks plain HELO; smtplib would otherwise try EHLO first
        client.send_message(message, sender, recipients)


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
    recipients = list(recipients)
    message = EmailMessage(policy=_UNFOLDED)
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
