"""import_events and simulate_traffic, end to end through ingest() and the real view."""

from __future__ import annotations

import io
import json
import re
import sys

import pytest
from django.core.management import CommandError, call_command

from webhooks.models import RawEvent, ReceiverTally
from webhooks.tests.conftest import fixture_body, fixture_json


def run(*args, stdin: bytes | None = None, **kwargs) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    if stdin is not None:
        real = sys.stdin
        sys.stdin = io.TextIOWrapper(io.BytesIO(stdin))
        try:
            call_command(*args, stdout=out, stderr=err, **kwargs)
        finally:
            sys.stdin = real
    else:
        call_command(*args, stdout=out, stderr=err, **kwargs)
    return out.getvalue(), err.getvalue()


def jsonl(*bodies: bytes) -> bytes:
    return b"\n".join(bodies) + b"\n"


@pytest.mark.django_db
def test_import_events_stores_dedupes_and_reports_bad_lines(tmp_path):
    vcs = json.dumps(fixture_json("vcs_2026")).encode()
    path = tmp_path / "events.jsonl"
    path.write_bytes(
        jsonl(vcs, json.dumps(fixture_json("vss_ivr_busy")).encode(), b"", vcs, b"{broken", b"[1]", b"\xff")
    )

    out, err = run("import_events", str(path))

    assert out.strip() == "stored 2, duplicate 1, rejected 3 (invalid_json 1, not_an_object 1, invalid_utf8 1)"
    assert "line 5: invalid_json" in err
    assert "line 6: not_an_object" in err
    assert "line 7: invalid_utf8" in err
    assert set(RawEvent.objects.values_list("event_type", flat=True)) == {"CALL_STATUS", "SESSION_SUMMARY"}
    assert RawEvent.objects.get(event_type="CALL_STATUS").user_agent == "import_events"
    assert not ReceiverTally.objects.exists()  # a replay is not receiver traffic


@pytest.mark.django_db
def test_import_events_reads_stdin_and_shares_dedupe_with_the_view(client):
    from webhooks.tests.conftest import post

    post(client, fixture_body("vca_ivr_flat_dtmf"))
    lines = jsonl(*(fixture_body(name).replace(b"\n", b"") for name in ["vca_ivr_flat_dtmf", "vru_upload_completed"]))
    out, _ = run("import_events", "-", stdin=lines)

    assert out.strip() == "stored 1, duplicate 1, rejected 0"
    assert RawEvent.objects.count() == 2


def test_import_events_names_a_missing_file():
    with pytest.raises(CommandError, match="cannot open"):
        run("import_events", "/nonexistent/events.jsonl")


def summary_numbers(out: str) -> dict[str, int]:
    first = out.splitlines()[0]
    return {key: int(value) for key, value in re.findall(r"(stored|duplicate|refused) (\d+)", first)} | {
        "sent": int(re.findall(r"sent (\d+)", first)[0])
    }


@pytest.mark.django_db(transaction=True)
def test_simulate_traffic_posts_realistic_traffic_to_a_live_server(live_server):
    url = f"{live_server.url}/webhooks/8x8/"
    out, _ = run("simulate_traffic", url=url, rate=15, duration=2, seed=5, duplicates=0.2, threads=3)

    numbers = summary_numbers(out)
    assert numbers["sent"] == 30
    assert numbers["refused"] == 0
    assert numbers["stored"] + numbers["duplicate"] == 30
    assert numbers["duplicate"] >= 1
    assert RawEvent.objects.count() == numbers["stored"]
    assert "CALL_STATUS" in out  # the by-kind line
    assert RawEvent.objects.filter(event_type="CALL_STATUS").exists()


@pytest.mark.django_db(transaction=True)
def test_simulate_traffic_reports_refusals_by_status(live_server):
    out, _ = run(
        "simulate_traffic", url=f"{live_server.url}/webhooks/8x8/", rate=10, duration=1, secret="wrong", seed=1
    )

    assert summary_numbers(out)["refused"] == 10
    assert "refused 401 unauthorized: 10" in out
    assert not RawEvent.objects.exists()
