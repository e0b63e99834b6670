"""How drf-spectacular documents the token scheme (registered when the app is ready)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "A per-user API token (`pd_…`)."}


ERROR_STATUSES = {
    "400": "The input is invalid (`field` names it).",
    "401": "Missing, wrong or revoked credentials.",
    "403": "The caller may not do this.",
    "404": "No such object (or one of another company).",
    "429": "Too many requests; retry later.",
}


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """Every operation may answer these, always with the one error body: say so in the schema."""
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    if "Error" not in result.get("components", {}).get("schemas", {}):
        return result
    for path in result.get("paths", {}).values():
        for operation in path.values():
            responses = operation.setdefault("responses", {})
            for code, description in ERROR_STATUSES.items():
                responses.setdefault(code, {"description": description, "content": error})
    return result
