"""/api/v1/: the REST API. The schema and its documentation pages are served beside it, from this site."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from api import admin_views, auth_views, notification_views, store_views, terms_views, views

app_name = "api"

router = SimpleRouter()
router.register("orders", views.OrderViewSet, basename="order")
router.register("transactions", views.TransactionViewSet, basename="transaction")
router.register("invoices", views.InvoiceViewSet, basename="invoice")
router.register("webhook-events", views.WebhookEventViewSet, basename="webhook-event")
router.register("integrations", admin_views.IntegrationViewSet, basename="integration")
router.register("payment-rules", admin_views.PaymentRuleViewSet, basename="payment-rule")
router.register("payment-terms", terms_views.PaymentTermViewSet, basename="payment-term")
router.register("customers", terms_views.CustomerViewSet, basename="customer")
router.register("customer-groups", terms_views.CustomerGroupViewSet, basename="customer-group")
router.register("notification-endpoints", notification_views.EndpointViewSet, basename="notification-endpoint")
router.register("notification-deliveries", notification_views.DeliveryViewSet, basename="notification-delivery")
router.register("store/orders", store_views.MyOrderViewSet, basename="my-order")
router.register("store/invoices", store_views.MyInvoiceViewSet, basename="my-invoice")

store = [
    path("products/", store_views.ProductListView.as_view(), name="products"),
    path("cart/", store_views.CartView.as_view(), name="cart"),
    path("cart/lines/", store_views.CartLinesView.as_view(), name="cart-lines"),
    path("cart/lines/<int:line_id>/", store_views.CartLineView.as_view(), name="cart-line"),
    path("checkout/", store_views.CheckoutView.as_view(), name="checkout"),
    path("checkout/payment-methods/", store_views.PaymentMethodsView.as_view(), name="checkout-methods"),
    path("checkout/payment/", store_views.PaymentChoiceView.as_view(), name="checkout-payment"),
    path("checkout/submit/", store_views.SubmitView.as_view(), name="checkout-submit"),
    path("checkout/complete/", store_views.CompleteView.as_view(), name="checkout-complete"),
]

urlpatterns = [
    path("v1/", include(router.urls)),
    path("v1/store/", include(store)),
    path("v1/auth/token/", auth_views.TokenCreateView.as_view(), name="token-create"),
    path("v1/me/", auth_views.MeView.as_view(), name="me"),
    re_path(r"^v1/", auth_views.not_found),  # anything else under the API answers in its error body, not HTML
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="swagger-ui"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api:schema", template_name="api/redoc.html"), name="redoc"),
]
