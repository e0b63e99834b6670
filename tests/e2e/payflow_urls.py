"""The site's addresses plus two minimal stand-ins for the storefront's payment pages (the checkout is built on
another branch): a page rendering Payflow's card form for an open payment, and a return page completing it."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template import engines
from django.urls import path

from config.urls import urlpatterns as site_urlpatterns
from payments import services
from payments.models import PaymentTransaction

PAGE = engines["django"].from_string(
    "<!doctype html><html lang=en><head><meta charset=utf-8><title>Pay</title></head><body>"
    "<h1>Pay order {{ txn.order.number }}</h1>{% include next_action.template %}</body></html>"
)


def pay_page(request: HttpRequest, txn_id: int) -> HttpResponse:
    txn = get_object_or_404(PaymentTransaction, pk=txn_id)
    next_action = txn.response["next_action"]
    return HttpResponse(PAGE.render({"txn": txn, "next_action": next_action}, request))


def return_page(request: HttpRequest, order_id: int) -> HttpResponse:
    txn = PaymentTransaction.objects.filter(order_id=order_id, source__isnull=True).order_by("-pk").first()
    if txn is None:
        return HttpResponse(status=404)
    done = services.payment_complete(transaction_id=txn.pk)
    return HttpResponse(f"<!doctype html><html lang=en><body><h1>Payment {done.state}</h1></body></html>")


urlpatterns = [
    *site_urlpatterns,
    path("e2e/payflow/pay/<int:txn_id>/", pay_page),
    path("e2e/payflow/return/<int:order_id>/", return_page),
]
