"""The one error of the workflow store: what was refused, the field at fault, an HTTP status."""

from __future__ import annotations

from typing import Any


class WorkflowError(ValueError):
    """An action the store refuses (nothing of it is written): a message naming the field,
    the field, and the HTTP status the API answers (4xx)."""

    def __init__(self, message: str, field: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.status = status

    def body(self) -> dict[str, Any]:
        """The API's JSON error body: `{"error", "field"}`."""
        return {"error": self.message, "field": self.field}
