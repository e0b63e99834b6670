"""Payment terms ("Net 30") and their assignment to customers and customer groups, for administrators.

A term in use cannot be deleted (the models protect it); a customer's own term wins over its group's
(`Customer.resolved_payment_term`), which the customer's answer shows.
"""

from __future__ import annotations

from django.db.models import ProtectedError, QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from api.errors import ApiError
from api.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from api.views import ERROR, StaffViewSet
from customers.models import Customer, CustomerGroup, PaymentTerm


class PaymentTermSerializer(serializers.ModelSerializer):
    class Meta:
        model = PaymentTerm
        fields = ["id", "label"]


class CustomerSerializer(serializers.ModelSerializer):
    payment_term = serializers.PrimaryKeyRelatedField(
        queryset=PaymentTerm.objects.all(), allow_null=True, required=False, help_text="Overrides the group's term."
    )
    group = serializers.IntegerField(source="group_id", read_only=True, allow_null=True)
    resolved_payment_term = PaymentTermSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Customer
        fields = ["id", "name", "vat_id", "group", "payment_term", "resolved_payment_term", "created_at"]
        read_only_fields = ["name", "vat_id", "created_at"]


class CustomerGroupSerializer(serializers.ModelSerializer):
    payment_term = serializers.PrimaryKeyRelatedField(
        queryset=PaymentTerm.objects.all(), allow_null=True, required=False
    )

    class Meta:
        model = CustomerGroup
        fields = ["id", "name", "payment_term"]
        read_only_fields = ["name"]


@extend_schema_view(
    list=extend_schema(summary="List payment terms"),
    retrieve=extend_schema(summary="A payment term"),
    create=extend_schema(summary="Create a payment term"),
    partial_update=extend_schema(summary="Rename a payment term"),
    destroy=extend_schema(summary="Delete a payment term that nobody uses", responses={204: None, 409: ERROR}),
)
class PaymentTermViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    StaffViewSet,
):
    serializer_class = PaymentTermSerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    required_permissions = {
        "list": ("customers.view_paymentterm",),
        "retrieve": ("customers.view_paymentterm",),
        "create": ("customers.add_paymentterm",),
        "partial_update": ("customers.change_paymentterm",),
        "destroy": ("customers.delete_paymentterm",),
    }

    def get_queryset(self) -> QuerySet[PaymentTerm]:
        return PaymentTerm.objects.order_by("label", "id")

    @extend_schema(
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: PaymentTermSerializer, 400: ERROR, 409: ERROR, 422: ERROR},
    )
    @idempotent
    def create(self, request: Request, *args: object, **kwargs: object) -> Response:
        """A retry with the same Idempotency-Key answers the first creation, not "label already exists"."""
        return super().create(request, *args, **kwargs)

    def destroy(self, request: Request, *args: object, **kwargs: object) -> Response:
        term = self.get_object()
        try:
            term.delete()
        except ProtectedError as exc:
            raise ApiError(
                "term_in_use",
                f"{term.label} is assigned to customers, groups or orders; unassign it first.",
                status_code=status.HTTP_409_CONFLICT,
            ) from exc
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(summary="List customers (companies)"),
    retrieve=extend_schema(summary="A customer with its payment term"),
    partial_update=extend_schema(summary="Assign a payment term to a customer (null: the group's)"),
)
class CustomerViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin, StaffViewSet):
    serializer_class = CustomerSerializer
    http_method_names = ["get", "patch", "head", "options"]
    required_permissions = {
        "list": ("customers.view_customer",),
        "retrieve": ("customers.view_customer",),
        "partial_update": ("customers.change_customer",),
    }

    def get_queryset(self) -> QuerySet[Customer]:
        return Customer.objects.select_related("payment_term", "group__payment_term").order_by("name", "id")


@extend_schema_view(
    list=extend_schema(summary="List customer groups"),
    retrieve=extend_schema(summary="A customer group"),
    partial_update=extend_schema(summary="Assign a payment term to a customer group"),
)
class CustomerGroupViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin, StaffViewSet):
    serializer_class = CustomerGroupSerializer
    http_method_names = ["get", "patch", "head", "options"]
    required_permissions = {
        "list": ("customers.view_customergroup",),
        "retrieve": ("customers.view_customergroup",),
        "partial_update": ("customers.change_customergroup",),
    }

    def get_queryset(self) -> QuerySet[CustomerGroup]:
        return CustomerGroup.objects.select_related("payment_term").order_by("name", "id")
