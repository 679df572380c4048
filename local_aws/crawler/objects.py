"""Ranged reads of objects in the local S3 store, so a crawl reads a CSV's first megabyte or a Parquet footer, not
whole objects (a crawl of a big day stays fast)."""

from __future__ import annotations

import io

from local_aws import s3io


class ObjectReader(io.RawIOBase):
    """A read-only, seekable file over one stored object's bytes (moto keeps them in a spooled temporary file)."""

    def __init__(self, bucket: str, key: str):
        super().__init__()
        obj = s3io._backend().get_object(bucket, key)  # noqa: SLF001 - in-process store access
        if obj is None:
            raise KeyError(f"s3://{bucket}/{key}")
        self._obj = obj
        self._size = obj.size
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer) -> int:
        wanted = min(len(buffer), max(0, self._size - self._position))
        if wanted == 0:
            return 0
        with self._obj.lock:  # the object's buffer is shared with every other reader of the key
            self._obj._value_buffer.seek(self._position)  # noqa: SLF001
            data = self._obj._value_buffer.read(wanted)  # noqa: SLF001
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)


def read_head(bucket: str, key: str, length: int) -> bytes:
    with ObjectReader(bucket, key) as reader:
        return reader.read(length)
