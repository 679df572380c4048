"""Compressed raw files as the crawler's built-in classifiers read them (no server).

AWS source: "Adding classifiers to a crawler in AWS Glue" / "Built-in classifiers" (AWS Glue developer guide):
"Files in the following compressed formats can be classified: ZIP (supported for archives containing only a single
file) ..., BZIP, GZIP, LZ4, Snappy (supported for both standard and Hadoop native Snappy formats)"; the table
parameter compressionType names the whole-file codec ("How crawlers work").
"""

import bz2
import gzip
import io
import struct
import zipfile

import pyarrow as pa
import pytest

from local_aws.crawler import compression, table_input
from local_aws.crawler import schema as schemas

CSV = b"id,price\n1,2.5\n2,3.5\n"


def _zip(*members: tuple[str, bytes]) -> bytes:
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return sink.getvalue()


def _hadoop_blocks(codec: str, data: bytes, block: int = 16) -> bytes:
    """Hadoop's BlockCompressorStream layout (SnappyCodec, Lz4Codec): per block its uncompressed length, then the
    length of each compressed chunk before the chunk (one chunk per block here, as Hadoop writes a small block)."""
    out = b""
    for start in range(0, len(data), block):
        piece = data[start : start + block]
        packed = pa.compress(piece, codec=codec, asbytes=True)
        out += struct.pack(">I", len(piece)) + struct.pack(">I", len(packed)) + packed
    return out


def _snappy_framed(data: bytes) -> bytes:
    """The Snappy framing format: stream identifier, then compressed-data chunks (type 0, length, CRC, block)."""
    body = b"\x00\x00\x00\x00" + pa.compress(data, codec="snappy", asbytes=True)  # CRC not checked locally
    return compression.SNAPPY_STREAM_IDENTIFIER + b"\x00" + len(body).to_bytes(3, "little") + body


PACKED = [
    ("part-1.csv.gz", "gzip", gzip.compress(CSV)),
    ("part-1.csv.bz2", "bzip2", bz2.compress(CSV)),
    ("part-1.csv.zip", "zip", _zip(("part-1.csv", CSV))),
    ("part-1.csv.lz4", "lz4", pa.compress(CSV, codec="lz4", asbytes=True)),  # LZ4 frame (the lz4 tool)
    ("part-2.csv.lz4", "lz4", _hadoop_blocks("lz4_raw", CSV)),  # Hadoop Lz4Codec
    ("part-1.csv.snappy", "snappy", pa.compress(CSV, codec="snappy", asbytes=True)),  # one raw block
    ("part-2.csv.snappy", "snappy", _snappy_framed(CSV)),  # framing format
    ("part-3.csv.snappy", "snappy", _hadoop_blocks("snappy", CSV)),  # Hadoop native SnappyCodec
]


@pytest.mark.parametrize(("key", "codec", "packed"), PACKED, ids=[p[0] for p in PACKED])
def test_every_documented_codec_is_classified_like_its_plain_form(key, codec, packed):
    assert compression.codec_of(key) == codec
    head, truncated = compression.read_compressed_head(key, codec, io.BytesIO(packed), schemas.SAMPLE_BYTES)
    assert (head, truncated) == (CSV, False)
    short, more = compression.read_compressed_head(key, codec, io.BytesIO(packed), 5)
    assert (short, more) == (CSV[:5], True)
    inferred = schemas.infer(key, head, truncated, open_file=lambda: io.BytesIO())
    plain = schemas.infer("part-0.csv", CSV, False, open_file=lambda: io.BytesIO())
    assert (inferred.classification, inferred.columns) == (plain.classification, plain.columns) == (
        "csv", [("id", "bigint"), ("price", "double")])


def test_codec_suffixes_are_lower_case_and_parquet_keeps_its_internal_codec():
    assert compression.codec_of("x.csv.GZ") is None  # Hadoop's codec lookup is case-sensitive
    assert compression.codec_of("part-00000.snappy.parquet") is None  # compression inside the Parquet file


def test_streams_a_classifier_cannot_read_are_named():
    """A ZIP of several files ("supported for archives containing only a single file") and corrupt streams are
    not classified (the crawl classifies them UNKNOWN); the error names the object and the codec."""
    with pytest.raises(schemas.UnreadableFileError, match=r"x.zip: a ZIP archive of 2 files"):
        compression.read_compressed_head("x.zip", "zip", io.BytesIO(_zip(("a.csv", CSV), ("b.csv", CSV))), 100)
    for key, codec in (("x.csv.gz", "gzip"), ("x.csv.zip", "zip"), ("x.csv.lz4", "lz4"), ("x.csv.snappy", "snappy")):
        with pytest.raises(schemas.UnreadableFileError, match=f"{key}: not a valid {codec} file"):
            compression.read_compressed_head(key, codec, io.BytesIO(b"\x00\x01 not compressed data \xff" * 3), 100)


def test_a_codec_this_installation_cannot_decode_fails_by_name(monkeypatch):
    monkeypatch.setattr(compression, "codec_available", lambda name: name != "snappy")
    with pytest.raises(compression.CodecUnavailableError, match=r"x.csv.snappy: .* cannot read snappy files"):
        compression.read_compressed_head("x.csv.snappy", "snappy", io.BytesIO(_snappy_framed(CSV)), 100)


def test_the_table_names_the_codec_in_compressionType():
    *_, extra = table_input._format("csv", [("id", "bigint")], {"compression": "gzip", "delimiter": ","})  # noqa: SLF001
    assert extra["compressionType"] == "gzip"
    *_, extra = table_input._format("json", [("id", "bigint")], {"compression": "bzip2"})  # noqa: SLF001
    assert extra["compressionType"] == "bzip2"
