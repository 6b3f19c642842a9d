"""Whole-number searches by users who see numbers masked: counted per user per minute, audited.

A masked number (``+65 6•••• 8532``) leaves a few digits unknown; without a limit, trying every
candidate through the whole-number search recovers it in seconds. Each user may search this many
*different* numbers per clock minute (SIPDESK_NUMBER_SEARCHES_PER_MINUTE); repeating a number in
the same minute (paging, changing another filter) is not counted again. The counters live in
Django's cache, Redis in production, so every web process counts against the same limit: each
number is claimed with an atomic ``add`` and the count grows with an atomic ``incr``.
"""

from __future__ import annotations

import hashlib
import logging
import time

from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import cache

from audit.models import NumberSearch

log = logging.getLogger(__name__)
WINDOW_SECONDS = 60
clock = time.time  # tests pin it, so a run that straddles a minute boundary counts one window


def allow_number_search(user: User, number: str, *, via: str) -> bool:
    """True if this user may run this whole-number search now; records it either way.

    If the cache cannot be reached the search is refused: a limit that fails open is no limit.
    """
    limit = settings.SIPDESK_NUMBER_SEARCHES_PER_MINUTE
    window = int(clock() // WINDOW_SECONDS)
    # The number is hashed: personal data stays out of the cache's keys.
    digest = hashlib.sha256(number.encode()).hexdigest()[:32]
    count_key = f"numsearch:{user.pk}:{window}"
    verdict_key = f"{count_key}:{digest}"
    try:
        if cache.add(verdict_key, "pending", timeout=WINDOW_SECONDS * 2):
            cache.add(count_key, 0, timeout=WINDOW_SECONDS * 2)
            allowed = cache.incr(count_key) <= limit
            cache.set(verdict_key, "allowed" if allowed else "refused", timeout=WINDOW_SECONDS * 2)
            fresh = True
        else:
            # Already searched this minute: the same answer again, and no new audit row.
            allowed, fresh = cache.get(verdict_key) == "allowed", False
    except Exception:  # the cache is Redis: any failure to reach it refuses the search
        log.exception("number search limit unavailable; refusing the search")
        allowed, fresh = False, True
    if fresh:
        # Cut to the column: a hostile search string is still recorded, never a 500.
        number_field = NumberSearch._meta.get_field("number")
        NumberSearch.objects.create(user=user, number=number[: number_field.max_length], allowed=allowed, via=via)
        if not allowed:
            log.warning("user %s over the whole-number search limit (%s/min)", user.pk, limit)
    return allowed
