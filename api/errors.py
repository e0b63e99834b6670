"""One error body for every API failure: `{"error": {"code", "message", "field"}}`.

Codes are the project's own where there is one (a `PaymentRefused` code such as `nothing_to_capture`), otherwise
DRF's (`not_authenticated`, `permission_denied`, `not_found`, `invalid`, `throttled` …). `field` names the
offending input (dotted for nested fields) or is null.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from payments.exceptions import PaymentRefused
from payments.money import MoneyError


class ApiError(exceptions.APIException):
    """A refusal with our own code, status and (optionally) field."""

    def __init__(self, code: str, message: str, *, status_code: int = 400, field: str | None = None) -> None:
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.code = code
        self.field = field


def error_body(code: str, message: str, field: str | None = None) -> dict[str, dict[str, str | None]]:
    return {"error": {"code": code, "message": message, "field": field}}


def _first_error(detail: Any, path: str = "") -> tuple[str | None, exceptions.ErrorDetail | str]:
    """The first leaf of a validation error, with the dotted path of the field it belongs to."""
    if isinstance(detail, Mapping):
        for name, value in detail.items():
            field = name if name != "non_field_errors" else ""
            return _first_error(value, f"{path}.{field}" if path and field else path or field)
    if isinstance(detail, Sequence) and not isinstance(detail, str):
        for index, value in enumerate(detail):
            if isinstance(value, Mapping | list):
                return _first_error(value, f"{path}.{index}" if path else str(index))
            return _first_error(value, path)
    return (path or None), detail


def api_exception_handler(exc: Exception, context: Mapping[str, Any]) -> Response | None:
    """DRF's handler, with our refusals mapped and every body in one shape."""
    if isinstance(exc, PaymentRefused):
        exc = ApiError(exc.code, exc.message, status_code=status.HTTP_409_CONFLICT)
    elif isinstance(exc, MoneyError):
        exc = ApiError("invalid_amount", str(exc), field="amount")
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):  # Django's own answer would be an HTML page
        exc = ApiError(
            "request_too_large", "The request body is too large.", status_code=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
        )
    response = exception_handler(exc, dict(context))
    if response is None:
        return None
    if isinstance(exc, ApiError):
        response.data = error_body(exc.code, str(exc.detail), exc.field)
    elif isinstance(exc, exceptions.ValidationError):
        field, detail = _first_error(exc.detail)
        code = getattr(detail, "code", None) or "invalid"
        response.data = error_body(str(code), str(detail), field)
    elif isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else "error"
        response.data = error_body(code, str(exc.detail))
    return response
