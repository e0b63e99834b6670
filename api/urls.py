"""/api/v1/: the REST API. The schema and its documentation pages are served beside it, from this site."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from api import auth_views, views

app_name = "api"

router = SimpleRouter()
router.register("orders", views.OrderViewSet, basename="order")
router.register("transactions", views.TransactionViewSet, basename="transaction")
router.register("invoices", views.InvoiceViewSet, basename="invoice")
router.register("webhook-events", views.WebhookEventViewSet, basename="webhook-event")

urlpatterns = [
    path("v1/", include(router.urls)),
    path("v1/auth/token/", auth_views.TokenCreateView.as_view(), name="token-create"),
    path("v1/me/", auth_views.MeView.as_view(), name="me"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="swagger-ui"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api:schema"), name="redoc"),
]
