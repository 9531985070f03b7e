"""Outgoing mail: SMTP when SMTP_URL is set, otherwise files in DATA_DIR/outbox.

The fallback writes each message to a file (not to the log), so one-time links never land
in a log line.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import time
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlparse

from server.text import forbidden_characters

log = logging.getLogger("formula_pm.mail")


class MailHeaderError(ValueError):
    """A header value holds a control character or line break (a header-injection attempt
    or a bad stored address): the message is refused instead of being mangled or split."""

    def __init__(self, header: str, found: list[str]) -> None:
        super().__init__(f"mail header {header} must not contain {', '.join(found)}")
        self.header = header


def check_header(header: str, value: str) -> None:
    found = forbidden_characters(value)
    if found:
        raise MailHeaderError(header, found)


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    body: str
    html: str | None = None  # an HTML alternative to the plain-text body

    def __post_init__(self) -> None:
        # Refused when built, before any mailer sees it (SMTP, the outbox or a test's fake).
        check_header("To", self.to)
        check_header("Subject", self.subject)


class Mailer(Protocol):
    async def send(self, mail: Mail) -> None: ...


class OutboxMailer:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def send(self, mail: Mail) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}.eml"
        path.write_text(_message(mail, "Formula PM <no-reply@localhost>").as_string())
        path.chmod(0o600)
        log.info("mail written to the outbox", extra={"file": str(path), "subject": mail.subject})


class SmtpMailer:
    """smtp://user:pass@host:port or smtps://…; sent in a thread, never on the event loop."""

    def __init__(self, url: str, sender: str) -> None:
        self.url = urlparse(url)
        self.sender = sender

    def _send(self, mail: Mail) -> None:
        secure = self.url.scheme == "smtps"
        port = self.url.port or (465 if secure else 25)
        cls = smtplib.SMTP_SSL if secure else smtplib.SMTP
        with cls(self.url.hostname or "localhost", port, timeout=10) as smtp:
            if self.url.username:
                smtp.login(unquote(self.url.username), unquote(self.url.password or ""))
            smtp.send_message(_message(mail, self.sender))

    async def send(self, mail: Mail) -> None:
        await asyncio.to_thread(self._send, mail)
        log.info("mail sent", extra={"subject": mail.subject})


def _message(mail: Mail, sender: str) -> EmailMessage:
    check_header("From", sender)
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message.set_content(mail.body)
    if mail.html is not None:
        message.add_alternative(mail.html, subtype="html")
    return message
