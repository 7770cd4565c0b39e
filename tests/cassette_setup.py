"""Cassette discipline shared by the replay tests and the recording script (PRAW's habits).

- JSON, key-sorted and indented, so that a review can read a cassette's diff;
- secrets as placeholders: the Authorization header, secret form fields, and
  the tokens inside token responses;
- recorded against the fake Reddit on 127.0.0.1, then written with Reddit's
  own hosts, so replay runs the collector with its default endpoints.
"""

from __future__ import annotations

import json
import re
from typing import Any

PLACEHOLDERS = {"access_token": "<ACCESS_TOKEN>", "refresh_token": "<REFRESH_TOKEN>"}
MATCH_ON = ["method", "scheme", "host", "port", "path", "query"]
_LOCAL = re.compile(r"^http://127\.0\.0\.1:\d+")


class PrettyJSON:
    """vcrpy serializer: sorted keys, two-space indent."""

    @staticmethod
    def serialize(cassette: dict[str, Any]) -> str:
        return json.dumps(cassette, indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    @staticmethod
    def deserialize(text: str) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(text)
        return result


def to_reddit_hosts(request: Any) -> Any:
    """Rewrite a loopback URL to the Reddit host the real client would have used."""
    if _LOCAL.match(request.uri):
        host = "https://www.reddit.com" if "/api/v1/access_token" in request.uri else "https://oauth.reddit.com"
        request.uri = _LOCAL.sub(host, request.uri)
    return request


def mask_tokens(response: dict[str, Any]) -> dict[str, Any]:
    """Replace tokens in token-endpoint bodies with placeholders."""
    # vcrpy runs this hook on loading a cassette too: keep the body's type.
    raw = response.get("body", {}).get("string")
    body = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    if isinstance(body, str) and '"access_token"' in body:
        payload = json.loads(body)
        for key, placeholder in PLACEHOLDERS.items():
            if key in payload:
                payload[key] = placeholder
        masked = json.dumps(payload)
        response["body"]["string"] = masked.encode() if isinstance(raw, bytes) else masked
    response["headers"] = {k: v for k, v in response.get("headers", {}).items() if k.lower() != "set-cookie"}
    return response


def vcr_kwargs() -> dict[str, Any]:
    """Keyword arguments for ``vcr.VCR`` / pytest-recording's ``vcr_config``."""
    return {
        "serializer": "json",  # our PrettyJSON, registered under the name that gives .json files
        "match_on": MATCH_ON,
        "decode_compressed_response": True,
        "filter_headers": [("authorization", "<AUTHORIZATION>")],
        "filter_post_data_parameters": [(k, "<REDACTED>") for k in ("password", "refresh_token", "otp", "code")],
        "before_record_request": to_reddit_hosts,
        "before_record_response": mask_tokens,
    }
