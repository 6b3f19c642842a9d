from __future__ import annotations

import pytest

from webhooks.masking import mask_number, mask_payload


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("+6591234567", "+65 9•••• 4567"),
        ("+14155551234", "+1 4•••• 1234"),
        ("+94771234567", "+94 7•••• 4567"),
        ("+351912345678", "+351 9•••• 5678"),
        ("12345", "••••45"),
        ("anonymous", "••••us"),
        ("", ""),
    ],
)
def test_mask_number(number, masked):
    assert mask_number(number) == masked


def test_mask_payload_masks_number_keys_at_any_depth_and_any_case():
    body = {"payload": {"source": "+6591234567", "details": {"CallA": {"Destination": "+6591234567", "mos": 4.5}}}}
    assert mask_payload(body) == {
        "payload": {"source": "+65 9•••• 4567", "details": {"CallA": {"Destination": "+65 9•••• 4567", "mos": 4.5}}}
    }


def test_mask_payload_masks_legacy_wavecell_number_fields():
    body = {"sourceMsisdn": "6512345678", "targetMsisdn": "6598765432", "details": {"callA": {"target": "+6591234567"}}}
    masked = mask_payload(body)
    assert "6512345678" not in str(masked)
    assert "6598765432" not in str(masked)
    assert masked["details"]["callA"]["target"] == "+65 9•••• 4567"
