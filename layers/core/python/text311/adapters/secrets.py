"""Keys held in Secrets Manager, read once per container."""

from __future__ import annotations

import json
from typing import Any


def read_json_secret(client: Any, secret_id: str) -> dict[str, str]:
    value = client.get_secret_value(SecretId=secret_id)["SecretString"]
    data = json.loads(value)
    if not isinstance(data, dict) or not data:
        raise ValueError(f"secret {secret_id} must be a non-empty JSON object of key id → key")
    return {str(k): str(v) for k, v in data.items()}
