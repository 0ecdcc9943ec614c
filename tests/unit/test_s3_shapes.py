"""S3 answer shapes that are pure functions."""

from urllib.parse import quote

from hypothesis import given
from hypothesis import strategies as st

from simsage.s3.shapes import url_encode


@given(st.text())
def test_url_encoding_is_quote_with_slash_kept(value):
    # The fast path for keys quote() leaves alone must give what quote() gives.
    assert url_encode(value) == quote(value, safe="/")


def test_url_encoding_of_keys_with_and_without_characters_to_encode():
    assert url_encode("data/2024/part-0001.csv") == "data/2024/part-0001.csv"
    assert url_encode("a b+c\n/é") == "a%20b%2Bc%0A/%C3%A9"
