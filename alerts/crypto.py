"""Channel URLs carry credentials (Slack tokens, SMTP passwords): they are stored encrypted.

Fernet (``cryptography``) with the key from ``SIPDESK_ALERTS_KEY``; unset, a key derived from
``SECRET_KEY``, so rotating the secret key makes stored channel URLs unreadable (re-enter them,
or set ``SIPDESK_ALERTS_KEY`` to keep them across rotations).
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


def _fernet() -> Fernet:
    key = settings.SIPDESK_ALERTS_KEY
    if not key:
        digest = hashlib.sha256(b"sipdesk.alerts.channel-url:" + settings.SECRET_KEY.encode()).digest()
        key = base64.urlsafe_b64encode(digest).decode()
    return Fernet(key.encode())


def encrypt(text: str) -> str:
    return _fernet().encrypt(text.encode()).decode()


def decrypt(token: str) -> str:
    """The plain text, or "" when the token was made with another key (or is not a token)."""
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except (InvalidToken, ValueError):
        return ""
