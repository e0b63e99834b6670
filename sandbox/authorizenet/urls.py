"""The Authorize.Net sandbox's addresses, included under `/sandbox/authorizenet/` by config/urls.py."""

from django.urls import path

from sandbox.authorizenet import simulator as sandbox

urlpatterns = [
    path("xml/v1/request.api", sandbox.request_api, name="authorizenet-sandbox-api"),
    path("v1/Accept.js", sandbox.accept_js, name="authorizenet-sandbox-accept-js"),
    path("__sim/settle", sandbox.sim_settle),
    path("__sim/review", sandbox.sim_review),
    path("__sim/webhook_endpoint", sandbox.sim_webhook_endpoint),
]
