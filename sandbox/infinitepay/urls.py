"""The InfinitePay sandbox's addresses, included under `/sandbox/infinitepay/` by sandbox/urls.py."""

from django.urls import path

from sandbox.infinitepay import simulator as sandbox

urlpatterns = [
    # the WSDL (GET …?wsdl) and the SOAP endpoint (POST) share one address, as at InfinitePay
    path("ws/InfinitePayAPI", sandbox.wsdl_view, name="infinitepay-sandbox-api"),
]
