"""The storefront, mounted at the site root (the back-office stays at /admin/)."""

from django.urls import path

from checkout import views

app_name = "storefront"

urlpatterns = [
    path("", views.catalog, name="catalog"),
    path("login/", views.BuyerLoginView.as_view(), name="login"),
    path("logout/", views.BuyerLogoutView.as_view(), name="logout"),
    path("cart/", views.cart, name="cart"),
    path("cart/add/", views.cart_add, name="cart_add"),
    path("cart/lines/<int:line_id>/", views.cart_line, name="cart_line"),
    path("checkout/", views.checkout_start, name="checkout"),
    path("checkout/regions/", views.regions, name="regions"),
    path("checkout/billing/", views.checkout_billing, name="checkout_billing"),
    path("checkout/shipping/", views.checkout_shipping, name="checkout_shipping"),
    path("checkout/shipping-method/", views.checkout_shipping_method, name="checkout_shipping_method"),
    path("checkout/payment/", views.checkout_payment, name="checkout_payment"),
    path("checkout/review/", views.checkout_review, name="checkout_review"),
    path("checkout/return/<str:token>/", views.checkout_return, name="checkout_return"),
    path("checkout/processing/<int:attempt_id>/", views.checkout_processing, name="checkout_processing"),
    path("checkout/confirmation/<str:number>/", views.order_confirmation, name="order_confirmation"),
    path("account/orders/", views.orders, name="orders"),
    path("account/orders/<str:number>/", views.order_detail, name="order_detail"),
    path("account/invoices/", views.invoices, name="invoices"),
    path("account/invoices/<str:number>/", views.invoice_detail, name="invoice_detail"),
    path("account/invoices/<str:number>/pdf/", views.invoice_pdf, name="invoice_pdf"),
    path("account/invoices/<str:number>/pay/", views.invoice_pay, name="invoice_pay"),
]
