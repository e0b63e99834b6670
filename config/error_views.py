"""Branded 403 and 404 pages: the back-office look for staff under /admin/, the storefront look for buyers. Machine
callers (the API, webhooks, the sandboxes) keep Django's plain answers; no page shows an exception's text."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views import defaults

MACHINE_PREFIXES = ("/api/", "/webhooks/", "/sandbox/")

MESSAGES = {
    403: (
        "You may not open this page",
        "Your account has no access to it. If you need it, ask an administrator.",
    ),
    404: (
        "Page not found",
        "The page you asked for does not exist, or it is not yours to see. Check the address, or start again from "
        "the links above.",
    ),
}


def _page(request: HttpRequest, status: int) -> HttpResponse:
    title, text = MESSAGES[status]
    context = {"status": status, "error_title": title, "error_text": text}
    if request.path.startswith("/admin/"):
        context |= {**admin.site.each_context(request), "title": title}
        return render(request, "errors/staff.html", context, status=status)
    return render(request, "errors/buyer.html", context, status=status)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith(MACHINE_PREFIXES):
        return defaults.permission_denied(request, exception or Exception())
    return _page(request, 403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith(MACHINE_PREFIXES):
        return defaults.page_not_found(request, exception or Exception())
    return _page(request, 404)
