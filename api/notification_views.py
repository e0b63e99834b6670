"""Outbound notification endpoints (signed POSTs on payment status changes) and their deliveries."""

from __future__ import annotations

from django.db.models import QuerySet
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from api.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from api.views import ERROR, StaffViewSet, validated
from notifications.models import Delivery, Endpoint
from notifications.services import endpoint_create


class EndpointSerializer(serializers.ModelSerializer):
    class Meta:
        model = Endpoint
        fields = ["id", "name", "url", "active", "created_at"]
        read_only_fields = ["created_at"]


class EndpointCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    url = serializers.URLField(max_length=500)


class NewEndpointSerializer(EndpointSerializer):
    signing_secret = serializers.CharField(help_text="Shown this once: verify each delivery's signature with it.")

    class Meta(EndpointSerializer.Meta):
        fields = [*EndpointSerializer.Meta.fields, "signing_secret"]


class DeliverySerializer(serializers.ModelSerializer):
    endpoint = serializers.IntegerField(source="endpoint_id")
    order = serializers.IntegerField(source="order_id")

    class Meta:
        model = Delivery
        fields = [
            "id",
            "uuid",
            "endpoint",
            "order",
            "topic",
            "payload",
            "status",
            "attempts",
            "last_status_code",
            "last_error",
            "created_at",
            "delivered_at",
        ]


class DeliveryFilter(filters.FilterSet):
    endpoint = filters.NumberFilter(field_name="endpoint_id")
    order = filters.NumberFilter(field_name="order_id")

    class Meta:
        model = Delivery
        fields = ["endpoint", "order", "status", "topic"]


@extend_schema_view(
    list=extend_schema(summary="List notification endpoints"),
    retrieve=extend_schema(summary="A notification endpoint (its signing secret is never shown again)"),
    partial_update=extend_schema(summary="Change an endpoint (name, URL, active)"),
    destroy=extend_schema(summary="Delete an endpoint and its deliveries"),
)
class EndpointViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    StaffViewSet,
):
    serializer_class = EndpointSerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    required_permissions = {
        "list": ("notifications.view_endpoint",),
        "retrieve": ("notifications.view_endpoint",),
        "create": ("notifications.add_endpoint",),
        "partial_update": ("notifications.change_endpoint",),
        "destroy": ("notifications.delete_endpoint",),
    }

    def get_queryset(self) -> QuerySet[Endpoint]:
        return Endpoint.objects.order_by("name", "id")

    @extend_schema(
        summary="Add a notification endpoint",
        description="Answers its signing secret, once.",
        request=EndpointCreateSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: NewEndpointSerializer, 400: ERROR, 409: ERROR, 422: ERROR},
        examples=[OpenApiExample("ERP", value={"name": "ERP", "url": "https://erp.example/paydesk"})],
    )
    @idempotent
    def create(self, request: Request) -> Response:
        data = validated(EndpointCreateSerializer, request)
        endpoint = endpoint_create(name=data["name"], url=data["url"])
        body = {**EndpointSerializer(endpoint).data, "signing_secret": endpoint.signing_secret}
        return Response(body, status=status.HTTP_201_CREATED)


@extend_schema_view(
    list=extend_schema(summary="List notification deliveries"),
    retrieve=extend_schema(summary="A notification delivery"),
)
class DeliveryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, StaffViewSet):
    serializer_class = DeliverySerializer
    filterset_class = DeliveryFilter
    required_permissions = {
        "list": ("notifications.view_delivery",),
        "retrieve": ("notifications.view_delivery",),
    }

    def get_queryset(self) -> QuerySet[Delivery]:
        return Delivery.objects.all()
