"""What classification derives from raw events: sessions, call legs, per-event
classifications and rollups. Everything here can be rebuilt from ``webhooks.RawEvent``
(``manage.py reclassify``), so none of it is the source of truth.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from django.db import connection, models
from django.db.models import Exists, Max, Min, OuterRef, Q
from django.utils import timezone

from classify import number_search


class Span(Protocol):
    """A stretch of time a read covers: a page's window (dashboard/timerange.py) or any object
    with a start and an end. The models take it as it is, so nothing here imports a page."""

    @property
    def start(self) -> datetime: ...

    @property
    def end(self) -> datetime: ...


class Product(models.TextChoices):
    IVR = "IVR", "IVR"
    VOICE_MESSAGING = "VOICE_MESSAGING", "Voice Messaging"
    NUMBER_MASKING = "NUMBER_MASKING", "Number Masking"
    UNKNOWN = "UNKNOWN", "Unknown"


class OutcomeGroup(models.TextChoices):
    IN_PROGRESS = "in_progress", "In progress"
    ANSWERED = "answered", "Answered"
    NOT_ANSWERED = "not_answered", "Not answered"
    FAILED = "failed", "Failed"
    ERROR = "error", "Error"
    OPT_OUT = "opt_out", "Opt-out"
    UNKNOWN = "unknown", "Unknown"


class FaultSide(models.TextChoices):
    """Who has to act on a failure (docs/design.md §5.5): nobody but the callee/caller (customer behaviour),
    the carrier or 8x8 (network / platform), or whoever set up the request or account
    (configuration). classify/rules.py ``fault_side`` decides."""

    CUSTOMER = "customer", "Customer behaviour"
    NETWORK = "network", "Network / platform"
    CONFIGURATION = "configuration", "Configuration"
    NONE = "none", "No fault"


class SipClassLabel(models.TextChoices):
    PROVISIONAL = "1xx", "1xx Provisional"
    SUCCESS = "2xx", "2xx Success"
    REDIRECTION = "3xx", "3xx Redirection"
    CLIENT_ERROR = "4xx", "4xx Client error"
    SERVER_ERROR = "5xx", "5xx Server error"
    GLOBAL_FAILURE = "6xx", "6xx Global failure"
    INVALID = "invalid", "Invalid"
    NONE = "none", "No code"


class CauseKind(models.TextChoices):
    SIP = "sip", "SIP code"
    ERROR_CODE = "error_code", "8x8 error code"
    STATUS = "status", "Session status"
    NONE = "none", "None"


# Up to this many legs, a number search lists the matching sessions by id (SessionQuerySet.with_leg).
NUMBER_MATCH_LIMIT = 5000


class SessionQuerySet(models.QuerySet["Session"]):
    def started_in(self, span: Span) -> SessionQuerySet:
        """Sessions that started in [start, end)."""
        return self.filter(start_time__gte=span.start, start_time__lt=span.end)

    def filtered(
        self,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        status: str = "",
        outcome_group: str = "",
        product: str = "",
        fault_side: str = "",
        sip_code: int | None = None,
        sip_class: str = "",
        error_code: int | None = None,
        anomaly: str = "",
        direction: str = "",
        country: str = "",
        number: str = "",
        number_exact: bool = False,
    ) -> SessionQuerySet:
        """Started sessions matching every value given (an empty value does not filter): what the
        sessions list and its CSV show. ``sip_code`` is the primary SIP code; ``sip_class`` is
        "4xx"-style. With a number, direction and country are the matching leg's; without, the
        session's."""
        qs = self.filter(start_time__isnull=False)
        if start:
            qs = qs.filter(start_time__gte=start)
        if end:
            qs = qs.filter(start_time__lt=end)
        for lookup, value in (
            ("status", status),
            ("outcome_group", outcome_group),
            ("product", product),
            ("fault_side", fault_side),
        ):
            if value:
                qs = qs.filter(**{lookup: value})
        if sip_code is not None:
            qs = qs.filter(primary_sip_code=sip_code)
        if sip_class:
            digit = int(sip_class[0])
            qs = qs.filter(primary_sip_code__gte=digit * 100, primary_sip_code__lte=digit * 100 + 99)
        if error_code is not None:
            qs = qs.filter(error_code=error_code)
        if anomaly:
            qs = qs.filter(anomalies__contains=[anomaly])
        if not number:
            # The session's own direction and destination country: what KPIs, rollups and alerts
            # count by, so a KPI row's link lists the same sessions, and an index serves it
            # (probing every session's legs took 100+ ms for a week of a million sessions).
            if direction:
                qs = qs.filter(direction=direction)
            if country:
                qs = qs.filter(destination_country=country.upper())
            return qs
        return qs.with_leg(
            direction=direction, country=country, number=number, number_exact=number_exact, since=start, until=end
        )

    def with_leg(
        self,
        *,
        direction: str = "",
        country: str = "",
        number: str = "",
        number_exact: bool = False,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> SessionQuerySet:
        """Sessions with one leg matching all of these. ``number`` is a fragment of the source or
        destination, or with ``number_exact`` the whole number however it was typed. ``since``
        (and ``until``, else now): the caller wants only sessions started in that window, so the
        legs of a number search are looked for only in it (docs/design.md §8)."""
        leg_filter = Q()
        if direction:
            leg_filter &= Q(direction=direction)
        if country:
            leg_filter &= Q(destination_country=country.upper())
        if number and number_exact:
            whole = "".join(number.split())  # "+65 9123 4567" as stored: "+6591234567"
            variants = {whole, whole if whole.startswith("+") else f"+{whole}"}
            leg_filter &= Q(source__in=variants) | Q(destination__in=variants)
        elif number:
            fragment = number.strip()
            leg_filter &= Q(source__contains=fragment) | Q(destination__contains=fragment)
        if not leg_filter:
            return self
        legs = None
        if number and (since or not number_exact):
            bounds = self._leg_bounds(since, until)
            if bounds is None:
                return self.none()  # no session has started: none can match
            # Legs are looked for from an hour before the first session of the window until a
            # day after it ends (docs/design.md §8); a leg with no start time is always looked at.
            lower, upper = bounds
            leg_filter &= Q(initiated_at__gte=lower, initiated_at__lt=upper) | Q(initiated_at__isnull=True)
            if number_exact:
                legs = CallLeg.objects.filter(leg_filter)  # through the B-tree indexes on each number
            else:
                by_week = number_search.within_weeks(fragment, lower, upper)
                if by_week is not None:
                    legs = (
                        CallLeg.objects.filter(leg_filter)
                        .alias(number_keys=number_search.number_keys())
                        .filter(by_week)
                    )
        elif number:
            legs = CallLeg.objects.filter(leg_filter)
        if legs is not None:
            # A number usually belongs to a handful of legs: find them through an index first.
            # Left to itself the planner walks every session in the range and checks its legs one
            # by one. A number matching too many legs, or a fragment the index cannot serve (under
            # three characters, a span of more than number_search.MAX_WEEKS), takes the EXISTS
            # below: quick when matches are everywhere (a page fills at once), slow only for a
            # rare fragment over years.
            # .order_by(): any matches will do, so no sort of them (CallLeg's default ordering).
            session_ids = list(legs.order_by().values_list("session_id", flat=True)[:NUMBER_MATCH_LIMIT])
            if len(session_ids) < NUMBER_MATCH_LIMIT:
                return self.filter(pk__in=set(session_ids))
        # EXISTS, not a join: a session with two matching legs is still one row.
        return self.filter(Exists(CallLeg.objects.filter(leg_filter, session=OuterRef("pk"))))

    def _leg_bounds(self, since: datetime | None, until: datetime | None) -> tuple[datetime, datetime] | None:
        """When the legs of sessions started in [since, until) can have started, with the slacks
        of classify/number_search.py. Without ``since`` (all sessions), from the first session
        that started; without ``until``, until now (or the last session, if later). None when no
        session has started."""
        upper = until or timezone.now()
        if since is None:
            span = Session.objects.filter(start_time__isnull=False).aggregate(
                first=Min("start_time"), last=Max("start_time")
            )
            if span["first"] is None:
                return None
            since = span["first"]
            upper = until or max(upper, span["last"])
        return since - number_search.EARLY_SLACK, max(upper, since) + number_search.LATE_SLACK


class Session(models.Model):
    session_id = models.CharField(max_length=64, unique=True)
    sub_account_id = models.CharField(max_length=64, blank=True, db_index=True)
    product = models.CharField(max_length=20, choices=Product.choices, default=Product.UNKNOWN)
    # Why that product: "rule: sub-account acme_nm", "inferred: VSS version field (IVR only)",
    # "could be Voice Messaging or Number Masking" (classify/rules.py attribute_product).
    product_reason = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=32, default="IN_PROGRESS")  # VSS sessionStatus, normalised
    outcome_group = models.CharField(max_length=16, choices=OutcomeGroup.choices, default=OutcomeGroup.IN_PROGRESS)
    fault_side = models.CharField(max_length=16, choices=FaultSide.choices, default=FaultSide.NONE)
    start_time = models.DateTimeField(null=True, blank=True)
    end_time = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    last_action = models.CharField(max_length=40, blank=True)
    call_count = models.PositiveSmallIntegerField(null=True, blank=True)
    client_request_id = models.CharField(max_length=100, blank=True)
    client_batch_id = models.CharField(max_length=100, blank=True)
    error_code = models.IntegerField(null=True, blank=True)  # VSS errorDetails.errorCode
    error_message = models.TextField(blank=True)

    # The code that best explains a non-COMPLETED outcome: "486", "-2004" or a status name.
    primary_cause = models.CharField(max_length=32, blank=True)
    primary_cause_kind = models.CharField(max_length=12, choices=CauseKind.choices, default=CauseKind.NONE)
    primary_sip_code = models.SmallIntegerField(null=True, blank=True)
    destination_country = models.CharField(max_length=8, blank=True)  # the last leg's, for rollups
    direction = models.CharField(max_length=16, blank=True)  # the first leg's, for rollups
    retry_advice = models.CharField(max_length=24, blank=True)
    responsibility = models.CharField(max_length=24, blank=True)
    anomalies = models.JSONField(default=list, blank=True)  # list of anomaly slugs

    first_event_at = models.DateTimeField(null=True, blank=True)
    last_event_at = models.DateTimeField(null=True, blank=True)
    # When its first and last events were received (classify/rules.py SessionState says why);
    # unset on sessions classified before migration classify 0014.
    first_received_at = models.DateTimeField(null=True, blank=True)
    last_received_at = models.DateTimeField(null=True, blank=True)
    summary_received = models.BooleanField(default=False)
    # The time the session counts under in SessionRollup: start_time, else first_event_at.
    rollup_at = models.DateTimeField(null=True, blank=True)
    # When the row was last changed by the pipeline; the live feed's cursor.
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    objects = SessionQuerySet.as_manager()

    class Meta:
        ordering = ["-start_time", "-id"]
        indexes = [
            models.Index(fields=["-start_time", "-id"], name="session_start_idx"),
            models.Index(fields=["status", "-start_time"], name="session_status_idx"),
            models.Index(fields=["outcome_group", "-start_time"], name="session_outcome_idx"),
            models.Index(fields=["primary_sip_code", "-start_time"], name="session_cause_sip_idx"),
            models.Index(fields=["error_code", "-start_time"], name="session_error_code_idx"),
            models.Index(
                fields=["last_event_at"],
                condition=Q(summary_received=False),
                name="session_awaiting_summary_idx",
            ),
            models.Index(fields=["rollup_at"], name="session_rollup_at_idx"),
            models.Index(fields=["destination_country", "-start_time"], name="session_country_idx"),
            models.Index(fields=["fault_side", "-start_time"], name="session_fault_side_idx"),
            # The product signals (products/queries.py) count these few in any window.
            models.Index(fields=["rollup_at"], condition=Q(product="UNKNOWN"), name="session_unknown_product_idx"),
            models.Index(
                fields=["rollup_at"],
                condition=Q(anomalies__contains=["recording_failed"]),
                name="session_recording_failed_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.session_id


class CallLeg(models.Model):
    # No index of its own: callleg_session_idx (session, initiated_at) serves session lookups.
    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="legs", db_index=False)
    # Unique per session, not globally: a callId reused in another session (a quirk or an attack)
    # is another leg, and two such legs in one batch cannot collide in the pipeline's upsert.
    call_id = models.CharField(max_length=64)
    leg_key = models.CharField(max_length=16, blank=True)  # "callA", "callB" from VSS details
    direction = models.CharField(max_length=16, blank=True)  # INBOUND / OUTBOUND
    call_type = models.CharField(max_length=16, blank=True)  # PSTN / VOIP
    source = models.CharField(max_length=40, blank=True)
    destination = models.CharField(max_length=40, blank=True)
    source_country = models.CharField(max_length=8, blank=True)
    destination_country = models.CharField(max_length=8, blank=True)
    source_ref_id = models.CharField(max_length=100, blank=True)
    destination_ref_id = models.CharField(max_length=100, blank=True)

    # Latest VCS callStatus by *event* time (not arrival order), and that event's time.
    status = models.CharField(max_length=32, blank=True)
    status_at = models.DateTimeField(null=True, blank=True)
    final_status = models.CharField(max_length=32, blank=True)  # VSS leg callStatus
    last_sip_code = models.SmallIntegerField(null=True, blank=True)
    last_sip_code_at = models.DateTimeField(null=True, blank=True)
    final_sip_code = models.SmallIntegerField(null=True, blank=True)  # from CALL_DISCONNECTED

    initiated_at = models.DateTimeField(null=True, blank=True)
    connected_at = models.DateTimeField(null=True, blank=True)
    disconnected_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    mos = models.FloatField(null=True, blank=True)
    packet_loss_rate = models.FloatField(null=True, blank=True)
    jitter_ms = models.IntegerField(null=True, blank=True)

    class Meta:
        ordering = ["initiated_at", "leg_key", "id"]
        # Phone numbers are personal data: without this permission pages show them masked.
        permissions = [("view_full_numbers", "Can see full phone numbers")]
        constraints = [models.UniqueConstraint(fields=["session", "call_id"], name="unique_callleg_session_call")]
        indexes = [
            models.Index(fields=["session", "initiated_at"], name="callleg_session_idx"),
            models.Index(fields=["destination_country"], name="callleg_dest_country_idx"),
            # A whole number (users without the number permission search by it): equality on a
            # B-tree. A part of a number goes through the week index (classify/number_search.py).
            models.Index(fields=["source"], name="callleg_source_idx"),
            models.Index(fields=["destination"], name="callleg_destination_idx"),
        ]

    def __str__(self) -> str:
        return self.call_id


class EventClassification(models.Model):
    """The classifier's verdict on one raw event.

    Its foreign keys have no database constraints: these rows are derived, written only by the
    pipeline in the same transaction as the sessions and legs they point at, and rebuilt by
    ``reclassify``. Checking the three constraints on every COPY was the classifier's largest
    fixed cost per batch (bench/classify.py, batches of 2,000: 4,400–5,100 events/s with them,
    5,200–5,650 without). Deletes through the ORM still cascade / set null: Django does that
    itself, not the database.
    """

    event = models.OneToOneField("webhooks.RawEvent", on_delete=models.CASCADE, primary_key=True, db_constraint=False)
    # No index of its own: eventclass_session_idx (session, event_time) serves session lookups.
    session = models.ForeignKey(
        Session,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="events",
        db_index=False,
        db_constraint=False,
    )
    call_leg = models.ForeignKey(
        CallLeg, null=True, blank=True, on_delete=models.SET_NULL, related_name="events", db_constraint=False
    )
    event_time = models.DateTimeField(null=True, blank=True)  # the payload's timestamp
    call_status = models.CharField(max_length=32, blank=True)  # VCS/VCA callStatus or VSS sessionStatus
    sip_code = models.SmallIntegerField(null=True, blank=True)
    sip_code_raw = models.CharField(max_length=32, blank=True)  # as sent, for invalid codes
    sip_class = models.CharField(max_length=8, choices=SipClassLabel.choices, default=SipClassLabel.NONE)
    is_final = models.BooleanField(default=False)  # CALL_DISCONNECTED or VSS: the code is an outcome
    outcome_group = models.CharField(max_length=16, blank=True)
    retry_advice = models.CharField(max_length=24, blank=True)
    responsibility = models.CharField(max_length=24, blank=True)
    troubleshooting_ids = models.JSONField(default=list, blank=True)
    anomalies = models.JSONField(default=list, blank=True)
    classified_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["session", "event_time"], name="eventclass_session_idx"),
            models.Index(fields=["sip_code"], condition=Q(is_final=True), name="eventclass_final_code_idx"),
            # CodeRollup buckets are recomputed from final events by event time.
            models.Index(fields=["event_time"], condition=Q(is_final=True), name="eventclass_final_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} {self.sip_class}"


class BucketSize(models.TextChoices):
    MINUTE = "minute", "Minute"
    HOUR = "hour", "Hour"
    DAY = "day", "Day"


def _window_q(span: Span, resolution: timedelta | None) -> Q:
    from classify import rollups  # rollups owns bucket sizes; it imports these models

    return rollups.window_filter(span.start, span.end, resolution=resolution)[1]


class SessionRollupQuerySet(models.QuerySet["SessionRollup"]):
    def in_window(self, span: Span, *, resolution: timedelta | None = None) -> SessionRollupQuerySet:
        """The buckets that make up the window: minutes for the last day, hours beyond, and days
        for the whole days of a longer window unless grouped finer than a day (``resolution``,
        classify/rollups.py ``window_filter``)."""
        return self.filter(_window_q(span, resolution))

    def grouping_sets(self, sets: Mapping[str, Sequence[str]], sums: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """The rows summed (``sums``) over each named set of fields or annotations, in one scan:
        ``GROUP BY GROUPING SETS``, which Django cannot spell. A page reading a window several
        ways (the overview: KPI totals, chart bins, error causes, product signals) reads its
        buckets once instead of once per way (docs/design.md §7)."""
        fields = list(dict.fromkeys(name for names in sets.values() for name in names))
        inner, params = self.values(*fields, *sums).order_by().query.sql_with_params()
        quote = connection.ops.quote_name
        columns = ", ".join(map(quote, fields))
        totals = ", ".join(f"SUM({quote(name)})::bigint" for name in sums)  # not numeric: ints, as Sum gives
        groups = ", ".join("(" + ", ".join(map(quote, names)) + ")" for names in sets.values())
        # GROUPING(...) has a bit set for each field a row was not grouped by (the last field is
        # the lowest bit): it names the set the row belongs to.
        set_of = {
            sum(1 << (len(fields) - 1 - i) for i, field in enumerate(fields) if field not in names): name
            for name, names in sets.items()
        }
        assert len(set_of) == len(sets), "each set groups by fields of its own"
        sql = f"SELECT GROUPING({columns}), {columns}, {totals} FROM ({inner}) rows GROUP BY GROUPING SETS ({groups})"  # noqa: S608 - quoted names only
        found: dict[str, list[dict[str, Any]]] = {name: [] for name in sets}
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            for grouping, *values in cursor.fetchall():
                row = dict(zip(fields, values[: len(fields)], strict=True))
                name = set_of[grouping]
                found[name].append(
                    {field: row[field] for field in sets[name]} | dict(zip(sums, values[len(fields) :], strict=True))
                )
        return found


class CodeRollupQuerySet(models.QuerySet["CodeRollup"]):
    def in_window(self, span: Span, *, resolution: timedelta | None = None) -> CodeRollupQuerySet:
        """The buckets that make up the window (classify/rollups.py ``window_filter``)."""
        return self.filter(_window_q(span, resolution))


class SessionRollup(models.Model):
    """Sessions per time bucket (by session start) × sub-account × product × status × fault side
    × destination country × direction × primary SIP code × 8x8 error code, with the answered
    seconds and answer delay: what alert rules (alerts/) and KPIs (dashboard/kpis.py) read
    instead of the sessions themselves."""

    bucket_size = models.CharField(max_length=8, choices=BucketSize.choices)
    bucket_start = models.DateTimeField()
    sub_account_id = models.CharField(max_length=64, blank=True)
    product = models.CharField(max_length=20)
    status = models.CharField(max_length=32)
    outcome_group = models.CharField(max_length=16)
    fault_side = models.CharField(max_length=16, blank=True)
    destination_country = models.CharField(max_length=8, blank=True)
    direction = models.CharField(max_length=16, blank=True)
    primary_sip_code = models.SmallIntegerField(null=True, blank=True)
    error_code = models.IntegerField(null=True, blank=True)
    count = models.PositiveIntegerField(default=0)
    answered_seconds = models.BigIntegerField(default=0)  # talk time of the answered sessions
    # Answer delay (first leg connected − first leg initiated) of the answered sessions that have
    # both times: the sum in milliseconds and how many sessions it covers (dashboard/kpis.py).
    answer_delay_ms = models.BigIntegerField(default=0)
    answer_delay_count = models.PositiveIntegerField(default=0)

    objects = SessionRollupQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "bucket_size",
                    "bucket_start",
                    "sub_account_id",
                    "product",
                    "status",
                    "fault_side",
                    "destination_country",
                    "direction",
                    "primary_sip_code",
                    "error_code",
                ],
                name="unique_session_rollup",
                nulls_distinct=False,
            )
        ]
        indexes = [
            models.Index(fields=["bucket_size", "bucket_start"], name="sessionrollup_bucket_idx"),
            # Alert rules scoped to one sub-account read only its rows.
            models.Index(fields=["sub_account_id", "bucket_size", "bucket_start"], name="sessionrollup_sub_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.bucket_size} {self.bucket_start:%Y-%m-%d %H:%M} {self.status} ×{self.count}"


class CodeRollup(models.Model):
    """Final SIP codes per time bucket (by event time) × code × direction × country × sub-account."""

    bucket_size = models.CharField(max_length=8, choices=BucketSize.choices)
    bucket_start = models.DateTimeField()
    sip_code = models.CharField(max_length=32)  # as text so invalid codes ("abc") roll up too
    sip_class = models.CharField(max_length=8)
    direction = models.CharField(max_length=16, blank=True)
    destination_country = models.CharField(max_length=8, blank=True)
    sub_account_id = models.CharField(max_length=64, blank=True)
    count = models.PositiveIntegerField(default=0)

    objects = CodeRollupQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "bucket_size",
                    "bucket_start",
                    "sip_code",
                    "direction",
                    "destination_country",
                    "sub_account_id",
                ],
                name="unique_code_rollup",
            )
        ]
        indexes = [models.Index(fields=["bucket_size", "bucket_start"], name="coderollup_bucket_idx")]

    def __str__(self) -> str:
        return f"{self.bucket_size} {self.bucket_start:%Y-%m-%d %H:%M} {self.sip_code} ×{self.count}"
