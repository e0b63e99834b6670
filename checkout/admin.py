from django.contrib import admin

from checkout.models import Category, InventoryLevel, Product, Warehouse


class InventoryLevelInline(admin.TabularInline):
    model = InventoryLevel
    extra = 0
    verbose_name_plural = "stock per warehouse (in the unit the product is sold in)"


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["sku", "name", "price", "currency", "category", "unit", "weight", "weight_unit", "active"]
    list_filter = ["currency", "active", "category"]
    search_fields = ["sku", "name"]
    list_select_related = ["category"]
    inlines = [InventoryLevelInline]
    fieldsets = [
        (None, {"fields": ["sku", "name", "price", "currency", "active", "category"]}),
        ("Unit", {"fields": ["unit", "unit_precision"]}),
        (
            "Shipping (per unit; payment rules can read it)",
            {"fields": ["weight", "weight_unit", "length", "width", "height", "dimension_unit"]},
        ),
    ]


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "id"]
    search_fields = ["name"]


@admin.register(Warehouse)
class WarehouseAdmin(admin.ModelAdmin):
    list_display = ["name", "id"]
    search_fields = ["name"]
