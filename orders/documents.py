"""Documents for buyers: the invoice as a PDF, rendered from an HTML template by xhtml2pdf (pure Python)."""

from __future__ import annotations

from io import BytesIO

from django.template.loader import render_to_string
from xhtml2pdf import pisa

from orders.models import Invoice


class DocumentError(Exception):
    """The PDF could not be rendered; the caller shows a plain error, never the renderer's words."""


def _no_links(uri: str, rel: str) -> str:
    """The template links nothing; refuse anything a rendered value might name, so no file or URL is fetched."""
    return ""


def invoice_pdf(*, invoice: Invoice) -> bytes:
    """The invoice with its order's lines, totals, PO number and due date, as a PDF document."""
    html = render_to_string("documents/invoice.html", {"invoice": invoice, "lines": list(invoice.order.lines.all())})
    out = BytesIO()
    status = pisa.CreatePDF(html, dest=out, encoding="utf-8", link_callback=_no_links)
    if status.err:
        raise DocumentError(f"invoice {invoice.number}: {status.err} rendering error(s)")
    return out.getvalue()
