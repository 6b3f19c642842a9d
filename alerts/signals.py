"""Signals for other apps (issue 15's incidents open one when an alert fires).

Both are sent by ``alerts.evaluate.evaluate_all`` inside the evaluation's transaction, once per
state change, with ``event`` (the ``AlertEvent`` row: rule, key, value, window, top causes).
A receiver that writes rows commits or rolls back with the evaluation; it must not send anything
itself (write a row and let a task send it, as alerts.notify does).
"""

from __future__ import annotations

from django.dispatch import Signal

alert_fired = Signal()  # sender=AlertRule, event=AlertEvent
alert_resolved = Signal()  # sender=AlertRule, event=AlertEvent
