"""The Wirecard Checkout Seamless sandbox's addresses, included under `/sandbox/wirecard/`."""

from django.urls import path

from sandbox.wirecard import simulator as sandbox

urlpatterns = [
    path("seamless/dataStorage/init", sandbox.storage_init, name="wirecard-sandbox-storage-init"),
    path("seamless/dataStorage/read", sandbox.storage_read, name="wirecard-sandbox-storage-read"),
    path("seamless/dataStorage/js/<str:storage_id>.js", sandbox.storage_js, name="wirecard-sandbox-storage-js"),
    path("seamless/dataStorage/store/<str:storage_id>", sandbox.storage_store, name="wirecard-sandbox-storage-store"),
    path("seamless/frontend/init", sandbox.frontend_init, name="wirecard-sandbox-frontend-init"),
    path("seamless/backend/<str:operation>", sandbox.backend, name="wirecard-sandbox-backend"),
    path("pay/<str:token>", sandbox.pay_page, name="wirecard-sandbox-pay"),
    path("__sim/settle", sandbox.sim_settle),
    path("__sim/closing", sandbox.sim_closing),
    path("__sim/plain_sha", sandbox.sim_plain_sha),
]
