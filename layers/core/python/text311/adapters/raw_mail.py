"""Raw mail that SES's S3 action stored, read with a size limit in one request."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_TOTAL = re.compile(r"/(\d+)$")


@dataclass
class S3RawMail:
    client: Any  # boto3 "s3"

    def read(self, bucket: str, key: str, max_bytes: int) -> bytes | None:
        """The message, or None when it is larger than ``max_bytes`` (read no further)."""
        response = self.client.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{max_bytes}")
        total = _TOTAL.search(response.get("ContentRange", "") or "")
        size = int(total.group(1)) if total else int(response.get("ContentLength", 0))
        if size > max_bytes:
            response["Body"].close()
            return None
        return response["Body"].read()
