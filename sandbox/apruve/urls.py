"""The Apruve sandbox's addresses, included under `/sandbox/apruve/` by sandbox/urls.py."""

from django.urls import path

from sandbox.apruve import simulator as sandbox

urlpatterns = [
    path("api/v4/orders", sandbox.orders),
    path("api/v4/orders/<str:order_id>", sandbox.order_detail),
    path("api/v4/orders/<str:order_id>/cancel", sandbox.order_cancel),
    path("api/v4/orders/<str:order_id>/invoices", sandbox.order_invoices),
    path("api/v4/invoices/<str:invoice_id>", sandbox.invoice_detail),
    path("api/v4/invoices/<str:invoice_id>/invoice_returns", sandbox.invoice_returns),
    path("api/v4/invoices/<str:invoice_id>/shipments", sandbox.invoice_shipments),
    path("api/v4/merchants/<str:merchant_id>", sandbox.merchant_detail),
    path("js/v4/apruve.js", sandbox.apruve_js, name="apruve-sandbox-js"),
    path("lightbox/", sandbox.lightbox, name="apruve-sandbox-lightbox"),
    path("__sim/close_invoice", sandbox.sim_close_invoice),
    path("__sim/cancel_invoice", sandbox.sim_cancel_invoice),
    path("__sim/public_key", sandbox.sim_public_key),
]
