from __future__ import annotations

from typing import Any


class Response:
    """An HTTP answer, with Twilio's attribute names."""

    def __init__(self, status_code: int, text: str, headers: Any | None = None) -> None:
        self.content = text
        self.headers = headers
        self.cached = False
        self.status_code = status_code
        self.ok = self.status_code < 400

    @property
    def text(self) -> str:
        return self.content

    def __repr__(self) -> str:
        return f"HTTP {self.status_code} {self.content}"
