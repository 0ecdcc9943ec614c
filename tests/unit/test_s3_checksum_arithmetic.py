"""S3's checksum arithmetic (simsage.s3.checksums) against published vectors, and the
upgrade of a store made before parts had checksums."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from simsage.s3 import checksums, errors
from simsage.s3.backend import LISTING_COLUMNS, LISTING_FILL
from simsage.s3.uploads import ensure_part_checksums
from simsage.store import Database

MIB = 1024 * 1024
# Three 5 MiB parts of A, B and C, with the values ceph's s3-tests expect from S3.
PARTS = [b"A" * 5 * MIB, b"B" * 5 * MIB, b"C" * 5 * MIB]


@pytest.mark.parametrize(
    ("algorithm", "whole", "one_part"),
    [
        ("CRC32", "y/Q5Jg==", "7kxlUA==-1"),
        ("CRC32C", "4waSgw==", "pzJFoA==-1"),
        ("SHA1", "98O8HYCOBHMq32eZZczDTKeuNEE=", "zGcEPHvP9e6lVmvZsfPHT9mlz10=-1"),
        (
            "SHA256",
            "FeKw08M4keuw8e9gnsQZQgwg4yDOlMZfvIwzEkSOsiU=",
            "KSsNAHVmgy25S/rmic1w0at3KBH9RLn0nYVQ7p6mpJQ=-1",
        ),
    ],
)
def test_single_and_composite_values(algorithm, whole, one_part):
    assert checksums.compute(algorithm, b"123456789") == whole
    assert checksums.composite(algorithm, [whole]) == one_part


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [("CRC32", "WgDhBQ=="), ("CRC32C", "xU+Krw=="), ("CRC64NVME", "i+6LR0y3eFo=")],
)
def test_full_object_crcs_combine_the_parts(algorithm, expected):
    parts = [(checksums.compute(algorithm, part), len(part)) for part in PARTS]
    assert checksums.full_object(algorithm, parts) == expected


def test_composite_of_three_parts():
    values = [checksums.compute("SHA256", part) for part in PARTS]
    assert checksums.composite("SHA256", values) == "uWBwpe1dxI4Vw8Gf0X9ynOdw/SS6VBzfWm9giiv1sf4=-3"


@pytest.mark.parametrize(
    "value", ["y/Q5Jh==", "short===", "shrt", "toolong=", "^^^^^^==", "y^/Q5Jg=="]
)
def test_only_canonical_base64_of_the_right_size_is_a_value(value):
    assert checksums.decode("CRC32", value) is None


def test_requested_follows_s3s_header_rules():
    assert checksums.requested({}, "crc32") == checksums.Requested("CRC32")
    assert checksums.requested({}, None) == checksums.Requested(None)
    given = checksums.requested({"ChecksumSHA1": "98O8HYCOBHMq32eZZczDTKeuNEE="}, None)
    assert given == checksums.Requested("SHA1", "98O8HYCOBHMq32eZZczDTKeuNEE=")
    with pytest.raises(errors.InvalidRequest):
        checksums.requested({"ChecksumAlgorithm": "SHA512"}, "sha512")


def test_a_store_made_before_part_checksums_is_upgraded_in_place(tmp_path: Path):
    path = tmp_path / "state.db"
    old = sqlite3.connect(path)
    old.executescript(
        """
        CREATE TABLE s3_parts (
            upload_id TEXT NOT NULL, part_number INTEGER NOT NULL, size INTEGER NOT NULL,
            etag TEXT NOT NULL, modified REAL NOT NULL, blob TEXT NOT NULL,
            PRIMARY KEY (upload_id, part_number)) WITHOUT ROWID;
        INSERT INTO s3_parts VALUES ('u', 1, 3, 'e', 0.0, 'blob0001');
        """
    )
    old.close()
    database = Database(path)
    try:
        ensure_part_checksums(database)
        ensure_part_checksums(database)  # a second opener finds it done
        columns = [row[1] for row in database.query("PRAGMA table_info(s3_parts)")]
        assert columns[-1] == "checksums"
        assert database.query("SELECT part_number, blob, checksums FROM s3_parts") == [
            (1, "blob0001", None)
        ]
    finally:
        database.close()


def test_a_store_made_before_listing_columns_gets_them_filled_from_attrs(tmp_path: Path):
    """Objects of an older store keep showing their checksum in listings once the
    s3_objects table has the columns a listing reads."""
    path = tmp_path / "state.db"
    old = sqlite3.connect(path)
    old.executescript(
        """
        CREATE TABLE s3_objects (
            bucket TEXT NOT NULL, key TEXT NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,
            modified REAL NOT NULL, storage_class TEXT NOT NULL, attrs TEXT NOT NULL,
            segments TEXT NOT NULL, inline_id INTEGER,
            PRIMARY KEY (bucket, key)) WITHOUT ROWID;
        INSERT INTO s3_objects VALUES ('b', 'with', 1, 'e', 0.0, 'STANDARD',
            '{"checksum": {"algorithm": "CRC32", "type": "FULL_OBJECT", "value": "AAAAAA=="}}',
            '[]', NULL);
        INSERT INTO s3_objects VALUES ('b', 'without', 1, 'e', 0.0, 'STANDARD', '{}', '[]', NULL);
        """
    )
    old.close()
    database = Database(path)
    try:
        database.add_columns("s3_objects", LISTING_COLUMNS, LISTING_FILL)
        database.add_columns("s3_objects", LISTING_COLUMNS, LISTING_FILL)  # done already
        rows = database.query(
            "SELECT key, checksum_algorithm, checksum_type FROM s3_objects ORDER BY key"
        )
        assert rows == [("with", "CRC32", "FULL_OBJECT"), ("without", None, None)]
    finally:
        database.close()
