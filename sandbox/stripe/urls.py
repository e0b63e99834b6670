"""The Stripe sandbox's addresses, included under `/sandbox/stripe/` by config/urls.py."""

from django.urls import path, re_path

from sandbox.stripe import simulator as sandbox

urlpatterns = [
    path("", sandbox.not_found, {"rest": ""}, name="stripe-sandbox-root"),
    path("v1/payment_methods", sandbox.payment_methods_create),
    path("v1/payment_methods/<str:pm_id>", sandbox.payment_methods_retrieve),
    path("v1/payment_intents", sandbox.payment_intents_list_or_create),
    path("v1/payment_intents/<str:pi_id>", sandbox.payment_intents_retrieve),
    path("v1/payment_intents/<str:pi_id>/confirm", sandbox.payment_intents_confirm),
    path("v1/payment_intents/<str:pi_id>/capture", sandbox.payment_intents_capture),
    path("v1/payment_intents/<str:pi_id>/cancel", sandbox.payment_intents_cancel),
    path("v1/refunds", sandbox.refunds_list_or_create),
    path("v1/refunds/<str:re_id>", sandbox.refunds_retrieve),
    path("v1/charges/<str:ch_id>", sandbox.charges_retrieve),
    path("v1/charges/<str:ch_id>/refunds", sandbox.charges_refunds_list),
    path("v1/customers", sandbox.customers_create),
    path("v1/customers/<str:cus_id>", sandbox.customers_retrieve),
    path("v1/webhook_endpoints", sandbox.webhook_endpoints_create),
    re_path(r"^v1/(?P<rest>.*)$", sandbox.not_found),
    path("js/v3.js", sandbox.stripe_js, name="stripe-sandbox-js"),
    path("3ds/<str:pi_id>", sandbox.three_d_secure, name="stripe-sandbox-3ds"),
    path("__sim/webhook_endpoint", sandbox.sim_webhook_endpoint),
    path("__sim/account", sandbox.sim_account),
    path("__sim/emit_webhook", sandbox.sim_emit_webhook),
]
