"""Compressed data files as the crawler's built-in classifiers read them: the first bytes of the decompressed
stream, classified like the plain form.

AWS source: "Adding classifiers to a crawler in AWS Glue" / "Built-in classifiers" (AWS Glue developer guide):
"Files in the following compressed formats can be classified: ZIP (supported for archives containing only a single
file) ..., BZIP, GZIP, LZ4, Snappy (supported for both standard and Hadoop native Snappy formats)".

The codec is chosen by the key's suffix, matched in lower case only as Hadoop's codec lookup does: ``.gz`` gzip,
``.bz2`` bzip2, ``.zip`` ZIP, ``.lz4`` LZ4, ``.snappy`` Snappy. Decoders (Python's stdlib and pyarrow, already
installed for Parquet):

- ZIP: the archive's only file (``zipfile``); an archive of several files is not classified (UnreadableFileError).
- LZ4: the LZ4 frame format (magic ``04 22 4D 18``, what the ``lz4`` tool writes) or Hadoop's block format
  (``Lz4Codec``: per block a 4-byte big-endian uncompressed length, then 4-byte big-endian lengths each followed by
  a raw LZ4 block).
- Snappy: the framing format (stream identifier ``ff 06 00 00 sNaPpY``; chunk checksums are not verified), Hadoop's
  block format (``SnappyCodec``, framed like Hadoop's LZ4), or one raw Snappy block.

A stream that is not valid for its codec raises UnreadableFileError (the file is then not classified); a codec whose
decoder is missing from this installation raises CodecUnavailableError, which fails the crawl naming the file and
the codec (it is never skipped silently).
"""

from __future__ import annotations

import bz2
import gzip
import struct
import zipfile
from typing import BinaryIO

import pyarrow as pa

from local_aws.crawler.schema import UnreadableFileError

# The table parameter compressionType of each codec ("How crawlers work": it names the whole-file codec).
CODECS = {".gz": "gzip", ".bz2": "bzip2", ".zip": "zip", ".lz4": "lz4", ".snappy": "snappy"}

LZ4_FRAME_MAGIC = b"\x04\x22\x4d\x18"
SNAPPY_STREAM_IDENTIFIER = b"\xff\x06\x00\x00sNaPpY"
_PYARROW_CODEC = {"lz4": ("lz4", "lz4_raw"), "snappy": ("snappy",)}


class CodecUnavailableError(RuntimeError):
    """The crawler has no decoder for a codec the built-in classifiers read; the crawl fails with this message."""


def codec_available(name: str) -> bool:
    """Whether pyarrow here decodes ``name`` (a pyarrow build can leave out LZ4 or Snappy)."""
    return pa.Codec.is_available(name)


def codec_of(key: str) -> str | None:
    """The codec of a key by its suffix ('gzip', 'bzip2', 'zip', 'lz4', 'snappy'), else None. ``part.snappy.parquet``
    is Parquet (its compression is internal), not a Snappy stream."""
    for suffix, codec in CODECS.items():
        if key.endswith(suffix):
            return codec
    return None


def read_compressed_head(key: str, codec: str, raw: BinaryIO, length: int) -> tuple[bytes, bool]:
    """The first ``length`` decompressed bytes of the object ``key`` (read from the seekable ``raw``, which is
    closed) and whether the decompressed stream is longer. UnreadableFileError names the object and what is wrong;
    CodecUnavailableError when this installation cannot decode ``codec``."""
    for name in _PYARROW_CODEC.get(codec, ()):
        if not codec_available(name):
            raise CodecUnavailableError(f"{key}: the local crawler cannot read {codec} files (pyarrow was built "
                                        f"without the {name} codec)")
    try:
        with raw:
            if codec == "gzip":
                with gzip.GzipFile(fileobj=raw) as stream:
                    return _head(stream, length)
            if codec == "bzip2":
                with bz2.BZ2File(raw) as stream:
                    return _head(stream, length)
            if codec == "zip":
                return _zip_head(key, raw, length)
            if codec == "lz4":
                return _lz4_head(raw, length)
            if codec == "snappy":
                return _snappy_head(raw, length)
    except UnreadableFileError:
        raise
    except (OSError, EOFError, ValueError, zipfile.BadZipFile, struct.error, pa.ArrowException) as exc:
        raise UnreadableFileError(f"{key}: not a valid {codec} file: {exc}") from exc
    raise ValueError(f"unknown codec {codec!r}")


def _head(stream: BinaryIO, length: int) -> tuple[bytes, bool]:
    head = stream.read(length)
    return head, bool(stream.read(1))


def _zip_head(key: str, raw: BinaryIO, length: int) -> tuple[bytes, bool]:
    with zipfile.ZipFile(raw) as archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        if len(members) != 1:
            raise UnreadableFileError(
                f"{key}: a ZIP archive of {len(members)} files (the built-in classifiers read ZIP archives "
                "containing only a single file)")
        with archive.open(members[0]) as stream:
            return _head(stream, length)


def _read_exactly(raw: BinaryIO, size: int) -> bytes:
    data = raw.read(size)
    if len(data) != size:
        raise EOFError(f"truncated stream: {len(data)} of {size} bytes")
    return data


def _next_header(raw: BinaryIO, what: str) -> bytes:
    """The next 4-byte header of ``what``, or b"" at the end of the stream."""
    header = raw.read(4)
    if 0 < len(header) < 4:
        raise EOFError(f"truncated {what} header")
    return header


def _hadoop_blocks(raw: BinaryIO, length: int, decode_chunk) -> tuple[bytes, bool]:
    """Hadoop's BlockCompressorStream format, decoded until ``length`` bytes are out (or the stream ends)."""
    out = bytearray()
    while len(out) <= length and (header := _next_header(raw, "Hadoop block")):
        (block_size,) = struct.unpack(">I", header)
        block = bytearray()
        while len(block) < block_size:
            (chunk_size,) = struct.unpack(">I", _read_exactly(raw, 4))
            block += decode_chunk(_read_exactly(raw, chunk_size), block_size - len(block))
        if len(block) != block_size:
            raise ValueError(f"a Hadoop block holds {len(block)} bytes, its header says {block_size}")
        out += block
    return _head_of(bytes(out), length)


def _looks_like_hadoop_blocks(prefix: bytes, total: int) -> bool:
    """A plausible Hadoop block header: a non-zero block size, then a chunk that fits in the object."""
    if len(prefix) < 8:
        return False
    block_size, chunk_size = struct.unpack(">II", prefix[:8])
    return 0 < block_size and 0 < chunk_size <= total - 8


def _size(raw: BinaryIO) -> int:
    position = raw.tell()
    end = raw.seek(0, 2)
    raw.seek(position)
    return end


def _lz4_head(raw: BinaryIO, length: int) -> tuple[bytes, bool]:
    prefix = raw.read(8)
    raw.seek(0)
    if prefix.startswith(LZ4_FRAME_MAGIC):
        with pa.input_stream(raw, compression="lz4") as stream:
            return _head(stream, length)
    if not _looks_like_hadoop_blocks(prefix, _size(raw)):
        raise ValueError("neither an LZ4 frame nor Hadoop's LZ4 block format")
    return _hadoop_blocks(raw, length, lambda chunk, room: pa.decompress(
        chunk, decompressed_size=room, codec="lz4_raw", asbytes=True))


def _snappy_length(block: bytes) -> int:
    """The uncompressed length a raw Snappy block starts with (a little-endian base-128 varint)."""
    result = shift = 0
    for index, byte in enumerate(block[:5]):
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result
        shift += 7
        if index == 4:
            break
    raise ValueError("a Snappy block without a valid length")


def _snappy_block(block: bytes) -> bytes:
    return pa.decompress(block, decompressed_size=_snappy_length(block), codec="snappy", asbytes=True)


def _snappy_head(raw: BinaryIO, length: int) -> tuple[bytes, bool]:
    prefix = raw.read(len(SNAPPY_STREAM_IDENTIFIER))
    if prefix == SNAPPY_STREAM_IDENTIFIER:
        return _snappy_frames(raw, length)
    raw.seek(0)
    if _looks_like_hadoop_blocks(prefix, _size(raw)):
        try:
            return _hadoop_blocks(raw, length, lambda chunk, room: _snappy_block(chunk))
        except (OSError, EOFError, ValueError, struct.error, pa.ArrowException):
            raw.seek(0)  # not Hadoop's framing after all: a raw block
    return _head_of(_snappy_block(raw.read()), length)


def _head_of(data: bytes, length: int) -> tuple[bytes, bool]:
    return data[:length], len(data) > length


def _snappy_frames(raw: BinaryIO, length: int) -> tuple[bytes, bool]:
    """The Snappy framing format: chunks of a type byte and a 3-byte little-endian length."""
    out = bytearray()
    while len(out) <= length and (header := _next_header(raw, "Snappy chunk")):
        kind, size = header[0], int.from_bytes(header[1:], "little")
        body = _read_exactly(raw, size)
        if kind == 0x00:  # compressed data: a 4-byte masked CRC-32C, then a raw Snappy block
            out += _snappy_block(body[4:])
        elif kind == 0x01:  # uncompressed data after the checksum
            out += body[4:]
        elif kind == 0xFF:
            if body != SNAPPY_STREAM_IDENTIFIER[4:]:
                raise ValueError("a bad Snappy stream identifier")
        elif 0x02 <= kind <= 0x7F:
            raise ValueError(f"reserved unskippable Snappy chunk type {kind:#04x}")
        # 0x80-0xFE: skippable (padding and reserved) chunks
    return _head_of(bytes(out), length)
