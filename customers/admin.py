from django.contrib import admin

from customers.models import Customer, CustomerGroup, CustomerUser, PaymentTerm


@admin.register(PaymentTerm)
class PaymentTermAdmin(admin.ModelAdmin):
    list_display = ["label"]
    search_fields = ["label"]


@admin.register(CustomerGroup)
class CustomerGroupAdmin(admin.ModelAdmin):
    list_display = ["name", "payment_term"]
    list_select_related = ["payment_term"]
    search_fields = ["name"]


class CustomerUserInline(admin.TabularInline):
    model = CustomerUser
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["name", "vat_id", "group", "payment_term"]
    list_filter = ["group", "payment_term"]
    list_select_related = ["group", "payment_term"]
    search_fields = ["name", "vat_id"]
    inlines = [CustomerUserInline]


@admin.register(CustomerUser)
class CustomerUserAdmin(admin.ModelAdmin):
    list_display = ["user", "customer"]
    list_select_related = ["user", "customer"]
    search_fields = ["user__email", "user__username", "customer__name"]
    raw_id_fields = ["user"]
