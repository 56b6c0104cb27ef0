"""SREM/SSEM through pycrate's ETSI ITS modules: exact bytes both ways, clear errors for anything else."""

from __future__ import annotations

import calendar

import pytest

from app.feeds.errors import FeedError
from app.feeds.signal_priority import (
    MAX_MESSAGE_BYTES,
    PriorityRequest,
    PriorityStatus,
    SignalRequest,
    SignalStatus,
    decode_srem,
    decode_ssem,
    encode_srem,
    encode_ssem,
    from_its_time,
    its_time,
)

# Engine E31 (station 3100031, fire, importance 14) asks intersection 17 for its approach 2 from 8:00:30 for
# 20 s on day 334, and cancels at intersection 18.
REQUEST = SignalRequest(
    station=3100031, minute=480000, millisecond=12345, sequence=3, role="fire", importance=14, name="E31",
    requests=(PriorityRequest(17, 5, "request", 2, 480001, 30000, 20000),
              PriorityRequest(18, 6, "cancel", 1, 480001, 45000, 15000)),
)
REQUEST_BYTES = bytes.fromhex(
    "0209002f4d7f73a980181c830b80004414927530175304e2070000903322ea6035f907530a08017a6bf906f05159b1"
)
STATUS = SignalStatus(
    station=17, minute=480000, millisecond=13000, sequence=9,
    statuses=(PriorityStatus(17, 3100031, 5, 3, "fire", 2, "granted", 480001, 30000, 20000),
              PriorityStatus(18, 3100031, 6, 3, "fire", 1, "rejected")),
)
STATUS_BYTES = bytes.fromhex(
    "020a0000001167530032c812104800440b9400bd35fc1419a49d4c05d4c1388101200120205002f4d7f060669150"
)


def test_srem_encodes_to_the_fixed_bytes_and_decodes_back() -> None:
    assert encode_srem(REQUEST) == REQUEST_BYTES
    assert decode_srem(REQUEST_BYTES) == REQUEST
    # header: protocol version 2, messageID 9 (srem), the station id
    assert REQUEST_BYTES[:2] == b"\x02\x09" and int.from_bytes(REQUEST_BYTES[2:6]) == 3100031


def test_ssem_encodes_to_the_fixed_bytes_and_decodes_back() -> None:
    assert encode_ssem(STATUS) == STATUS_BYTES
    assert decode_ssem(STATUS_BYTES) == STATUS
    assert STATUS_BYTES[:2] == b"\x02\x0a"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "malformed_srem"),
        (REQUEST_BYTES[:10], "malformed_srem"),  # cut short
        (b"\xff" * 40, "malformed_srem"),
        (STATUS_BYTES, "malformed_srem"),  # an SSEM is not a request
        (b"\x02\x0a" + REQUEST_BYTES[2:], "wrong_message"),  # a request's body under the SSEM message id
        (REQUEST_BYTES + b"\x00" * MAX_MESSAGE_BYTES, "too_large"),
    ],
)
def test_bad_bytes_are_refused_with_a_clear_code(data: bytes, code: str) -> None:
    with pytest.raises(FeedError) as refused:
        decode_srem(data)
    assert refused.value.code == code and refused.value.reason


def test_a_request_is_not_read_as_a_status() -> None:
    with pytest.raises(FeedError) as refused:
        decode_ssem(REQUEST_BYTES)
    assert refused.value.code == "malformed_ssem"


def test_out_of_range_fields_are_refused_before_encoding() -> None:
    with pytest.raises(ValueError, match="approach"):
        encode_srem(SignalRequest(1, 0, 0, 0, "fire", 14, "E1", (PriorityRequest(1, 1, "request", 16, 0, 0, 0),)))
    with pytest.raises(ValueError, match="role"):
        encode_srem(SignalRequest(1, 0, 0, 0, "taxi", 14, "E1", (PriorityRequest(1, 1, "request", 1, 0, 0, 0),)))
    with pytest.raises(ValueError, match="importance"):
        encode_srem(SignalRequest(1, 0, 0, 0, "fire", 15, "E1", (PriorityRequest(1, 1, "request", 1, 0, 0, 0),)))


def test_its_time_is_the_minute_of_the_utc_year_and_the_millisecond_in_it() -> None:
    new_year = calendar.timegm((2026, 1, 1, 0, 0, 0))
    assert its_time(new_year + 61.25) == (1, 1250)
    assert from_its_time(1, 1250, near=new_year + 100) == new_year + 61.25
    # sent a second before midnight on New Year's Eve, read just after: still the old year
    minute, ms = its_time(new_year - 1)
    assert from_its_time(minute, ms, near=new_year + 0.5) == new_year - 1
