from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from config.views import favicon, health
from payments.webhooks import webhook_receive

#: the provider simulators, mounted only where they are enabled (production never imports `sandbox`)
sandbox_urls = [path("sandbox/", include("sandbox.urls"))] if settings.SANDBOX_ENABLED else []

admin.site.site_header = "Paydesk back-office"
admin.site.site_title = "Paydesk"
admin.site.index_title = "Payments"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("api.urls")),
    path("health/", health, name="health"),
    path("favicon.ico", favicon, name="favicon"),
    path("webhooks/<uuid:integration_uuid>/", webhook_receive, name="webhook-receive"),
    path("webhooks/<uuid:integration_uuid>/<str:url_token>/", webhook_receive, name="webhook-receive-token"),
    *sandbox_urls,
    path("", include("checkout.urls")),  # the storefront, last: it owns the site root
]

# Branded error pages: the back-office look under /admin/, the storefront look elsewhere (config/error_views.py)
handler403 = "config.error_views.permission_denied"
handler404 = "config.error_views.page_not_found"
