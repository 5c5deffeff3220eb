"""
Refuse oversized uploads while they arrive, not after they are stored.

Django's stock upload handlers write a whole file to memory or a temporary file
before any form sees it, so a 200 MB "photo" cost 200 MB of disk before the 10 MB
check refused it. `UploadSizeLimitHandler` runs first (FILE_UPLOAD_HANDLERS): once
a file passes MAX_UPLOAD_SIZE it passes no more bytes to the handlers that store
them, and hands the form a stand-in that carries only the file's name and full
size, so the form says "at most 10 MB" and Pillow never sees a byte. The rest of
the request is still read, as it must be for the form to re-render with the other
fields intact; a proxy's body limit (docs/deployment.md) caps what that costs.
"""

import io

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler


class OversizedUpload(UploadedFile):
    """An upload refused for its size: its name and size, and no content."""

    def __init__(self, *, name, content_type, size, charset, content_type_extra):
        super().__init__(
            io.BytesIO(), name, content_type, size, charset, content_type_extra
        )


class UploadSizeLimitHandler(FileUploadHandler):
    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.too_large = False

    def receive_data_chunk(self, raw_data, start):
        if start + len(raw_data) > settings.MAX_UPLOAD_SIZE:
            self.too_large = True
        # None: the handlers after this one (which store the file) get nothing.
        return None if self.too_large else raw_data

    def file_complete(self, file_size):
        if not self.too_large:
            return None  # The next handler's stored file is the upload.
        return OversizedUpload(
            name=self.file_name,
            content_type=self.content_type,
            size=file_size,
            charset=self.charset,
            content_type_extra=self.content_type_extra,
        )
