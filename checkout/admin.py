from django.contrib import admin

from checkout.models import Product


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["sku", "name", "price", "currency", "active"]
    list_filter = ["currency", "active"]
    search_fields = ["sku", "name"]
