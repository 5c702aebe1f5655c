"""Dead letters within the DLQ topic's size: a letter that would not fit keeps the first bytes
of its original, the whole record's size and SHA-256, and short versions of its texts."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dataflows.dead_letters import dead_letter_message
from dataflows.kafka_io import RawRecord
from twin.errors import FieldError
from twin.wire import DeadLetter, dead_letter_decoder

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
SOURCE = RawRecord(None, None, "feeds.3pl.v1", 4, 1234)
_enc = msgspec.json.Encoder()


def letter_of(original: bytes, max_bytes: int, **kw) -> tuple[bytes, DeadLetter]:
    key, value = dead_letter_message(
        _enc,
        error_code=kw.pop("error_code", "bad_header"),
        message=kw.pop("message", "the header has no UOM column"),
        original=original,
        source=SOURCE,
        now=NOW,
        max_bytes=max_bytes,
        **kw,
    )
    assert key == b"feeds.3pl.v1:4"
    assert len(key) + len(value) <= max_bytes
    return value, dead_letter_decoder.decode(value)


def test_a_letter_that_fits_is_written_whole_without_size_or_digest() -> None:
    value, letter = letter_of(b"TXN_ID,WHSE\n1,2\n", 10_000)
    assert bytes(letter.original) == b"TXN_ID,WHSE\n1,2\n"
    assert letter.original_size is None and letter.original_sha256 is None
    assert b"original_size" not in value  # old readers see the letter they always saw


def test_a_988_kb_original_is_cut_to_fit_990_kb_with_its_size_and_digest() -> None:
    original = b"T1,TPL01,SKU-00001,REC,5,EA,11/16/2026 06:00:00\n" * 20_000
    _value, letter = letter_of(original, 990_000)
    assert letter.original_size == len(original)
    assert letter.original_sha256 == hashlib.sha256(original).hexdigest()
    assert original.startswith(bytes(letter.original))
    assert len(letter.original) > 700_000  # as much as fits, not a token prefix
    assert (letter.source_topic, letter.partition, letter.offset) == ("feeds.3pl.v1", 4, 1234)
    assert letter.error_code == "bad_header"


def test_long_texts_and_many_field_errors_are_shortened_too() -> None:
    errors = [
        FieldError(field=f"records[{i}].qty", value="9" * 50_000, code="bad_qty", message="x")
        for i in range(500)
    ]
    _value, letter = letter_of(b"z" * 1000, 50_000, message="m" * 100_000, errors=errors)
    assert len(letter.message) <= 2_000
    assert len(letter.errors) == 20
    assert all(len(str(e.value)) <= 200 for e in letter.errors)
    assert letter.original_size == 1000


def test_under_a_small_limit_the_texts_give_way_to_fit() -> None:
    errors = [FieldError(field="f", value=None, code="c", message="why " * 500) for _ in range(500)]
    _value, letter = letter_of(b"z" * 10_000, 4_096, message="m" * 100_000, errors=errors)
    assert letter.errors == [] and len(letter.message) <= 200
    assert letter.original_size == 10_000 and len(letter.original) > 1_000


def test_an_old_letter_without_the_new_fields_still_decodes() -> None:
    old = (
        b'{"error_code":"bad_header","message":"m","original":"YWJj","source_topic":"t",'
        b'"partition":0,"offset":1,"rejected_at":"2026-11-26T10:00:00Z"}'
    )
    letter = dead_letter_decoder.decode(old)
    assert bytes(letter.original) == b"abc"
    assert letter.original_size is None


@settings(max_examples=60, deadline=None)
@given(size=st.integers(0, 300_000), max_bytes=st.integers(4_096, 200_000))
def test_any_original_under_any_limit_gives_a_letter_within_the_limit(
    size: int, max_bytes: int
) -> None:
    original = bytes(i % 251 for i in range(size))
    _value, letter = letter_of(original, max_bytes)
    if letter.original_size is None:
        assert bytes(letter.original) == original
    else:
        assert letter.original_size == size
        assert original.startswith(bytes(letter.original))


@pytest.mark.parametrize("value", [10**30, float("inf"), object()])
def test_a_field_error_value_of_any_kind_does_not_stop_the_letter(value) -> None:
    errors = [FieldError(field="qty", value=value, code="bad_qty", message="not a quantity")]
    _value, letter = letter_of(b"{}", 10_000, errors=errors)
    assert letter.errors[0].field == "qty"
