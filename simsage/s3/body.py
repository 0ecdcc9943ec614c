"""GetObject's ``Body``: botocore's StreamingBody over an object's stored bytes.

Layer: S3 service (the answer's side). Kept apart from :mod:`simsage.s3.streams`, which
the job runners import through the backend: ``botocore.response`` pulls in urllib3
(~0.15 s), which a runner staging files never needs.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from botocore.response import StreamingBody

from simsage.s3.streams import COPY_PIECE, SegmentReader


class ObjectBody(StreamingBody):
    """GetObject's ``Body``: botocore's StreamingBody (the same reads and length check)
    over an object's bytes, which can also copy the rest of them into a file without
    them passing through Python (:meth:`copy_into`): simsage's transfer manager writes
    ``download_file``'s target that way."""

    def copy_into(
        self,
        fd: int,
        progress: Callable[[int], object] | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> bool:
        """Write the rest of the body into the file open at ``fd`` (from its position
        on); see :meth:`SegmentReader.copy_into`. Returns False when ``cancelled()``
        stopped it before the end, True once every byte was written.

        Raises:
            DamagedObjectError: the stored bytes are damaged.
            IncompleteReadError: fewer bytes than the body's length.
            OSError: writing to ``fd`` failed.
        """
        raw = self._raw_stream
        if isinstance(raw, SegmentReader):
            self._amount_read += raw.copy_into(fd, progress, cancelled)
        else:  # bytes held in memory (small objects): one write
            while chunk := raw.read(COPY_PIECE):
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view) :]
                self._amount_read += len(chunk)
                if progress is not None:
                    progress(len(chunk))
        if cancelled is not None and cancelled():
            return False
        self._verify_content_length()
        return True
