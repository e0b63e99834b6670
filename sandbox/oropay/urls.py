"""The OroPay (GP-API) sandbox's addresses, included under `/sandbox/oropay/` by sandbox/urls.py."""

from django.urls import path

from sandbox.oropay import simulator as sandbox

urlpatterns = [
    path("ucp/accesstoken", sandbox.accesstoken, name="oropay-sandbox-accesstoken"),
    path("ucp/payment-methods", sandbox.payment_methods),
    path("ucp/transactions", sandbox.transactions_root),
    path("ucp/transactions/<str:txn_id>", sandbox.transactions_retrieve),
    path("ucp/transactions/<str:txn_id>/capture", sandbox.transactions_capture),
    path("ucp/transactions/<str:txn_id>/reversal", sandbox.transactions_reversal),
    path("ucp/transactions/<str:txn_id>/refund", sandbox.transactions_refund),
    path("3ds/<str:txn_id>", sandbox.three_d_secure, name="oropay-sandbox-3ds"),
    path("js/globalpayments.js", sandbox.hosted_fields_js, name="oropay-sandbox-js"),
    path("__sim/status_url", sandbox.sim_status_url),
    path("__sim/settle", sandbox.sim_settle),
    path("__sim/ach_return", sandbox.sim_ach_return),
]
