"""The Payflow sandbox's addresses. config/urls.py includes them twice, under `/sandbox/payflow/` and
`/sandbox/payflow_pro/`, passing the integration type as `provider`; each keeps its own simulated state."""

from django.urls import path

from sandbox.payflow import simulator as sandbox

urlpatterns = [
    path("", sandbox.nvp_endpoint),
    path("link/", sandbox.link),
    path("express/approve", sandbox.express_approve),
    path("__sim/settle", sandbox.sim_settle),
    path("__sim/review", sandbox.sim_review),
]
