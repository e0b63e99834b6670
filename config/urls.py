from django.contrib import admin
from django.urls import include, path

from config.views import favicon, health
from payments.webhooks import webhook_receive

admin.site.site_header = "Paydesk back-office"
admin.site.site_title = "Paydesk"
admin.site.index_title = "Payments"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("api.urls")),
    path("health/", health, name="health"),
    path("favicon.ico", favicon, name="favicon"),
    path("webhooks/<uuid:integration_uuid>/", webhook_receive, name="webhook-receive"),
    # provider simulators: every view answers 404 unless settings.SANDBOX_ENABLED
    path("sandbox/", include("sandbox.urls")),
    path("sandbox/stripe/", include("providers.stripe.urls")),
    path("sandbox/payflow/", include("providers.payflow.urls"), {"provider": "payflow"}),
    path("sandbox/payflow_pro/", include("providers.payflow.urls"), {"provider": "payflow_pro"}),
    path("sandbox/authorizenet/", include("providers.authorizenet.urls")),
    path("", include("checkout.urls")),  # the storefront, last: it owns the site root
]
