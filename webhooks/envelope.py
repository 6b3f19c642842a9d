"""Reading an 8x8 webhook body's envelope and ids: the one set of rules for every reader.

Pure: no Django, no I/O. The receiver (``webhooks/ingest.py:describe``) stores the ids it reads
here on ``RawEvent``; the classifier (``classify/normalise.py``) reads the same body with the same
rules and finds a session's earlier events by that stored ``session_id``, so the two must agree
(they once did not, and a session lost its events). docs/8x8-webhooks.md §1 and §10.

The rules:

- keys are compared without case (8x8's examples have ``CallA``, ``SourceRefId``);
- fields under ``payload`` win over fields of the same name at the root (legacy Wavecell
  callbacks are flat: everything is at the root);
- a value is *empty* when it is absent, ``None``, a JSON object or array, or a string that is
  blank or, trimmed and compared without case, one of ``null``, ``none``, ``nil``, ``undefined``
  (placeholders some 8x8 integrations send for "no value"); numbers become their text;
- an id is a string or an integer (anything else, ``true`` included, is no id); the session id is
  ``sessionId``, else the legacy DTMF callback's ``uid``. Each reader cuts ids to the width of
  the column it writes (``ID_MAX`` for the ``RawEvent`` and session/leg id columns).
"""

from __future__ import annotations

from typing import Any

NULL_STRINGS = frozenset({"", "null", "none", "nil", "undefined"})
ID_MAX = 64  # RawEvent.session_id / call_id / sub_account_id column width


def lower_keys(data: dict) -> dict[str, Any]:
    """Keys compared case-insensitively (``CallA``, ``SourceRefId``, ``Timestamp``)."""
    try:
        return {k.lower(): v for k, v in data.items()}  # JSON keys are strings
    except AttributeError:
        return {str(k).lower(): v for k, v in data.items()}


def text(value: Any) -> str:
    """A string field, trimmed; ``""`` for an empty value (see the module's rules)."""
    if type(value) is str:  # by far the most common case: skip the checks below
        value = value.strip()
        return "" if value.lower() in NULL_STRINGS else value
    if value is None or isinstance(value, (dict, list)):
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    value = str(value).strip()
    return "" if value.lower() in NULL_STRINGS else value


def envelope_fields(body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The body's fields with lower-cased keys, ``payload`` over root, and whether it had one."""
    root = lower_keys(body)
    payload = root.get("payload")
    if isinstance(payload, dict):
        return {**root, **lower_keys(payload)}, True
    return root, False


def id_text(value: Any) -> str:
    """An id: a string or an integer, as text, empty by the rules above."""
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return text(value)
    return ""


def session_id(fields: dict[str, Any]) -> str:
    return id_text(fields.get("sessionid"))[:ID_MAX] or id_text(fields.get("uid"))


def call_id(fields: dict[str, Any]) -> str:
    return id_text(fields.get("callid"))


def sub_account_id(fields: dict[str, Any]) -> str:
    return id_text(fields.get("subaccountid"))
