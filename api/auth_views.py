"""Who am I, and tokens for scripts: a token from a username and password, rate-limited."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate
from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from api.errors import ApiError
from api.services import api_token_create
from checkout.selectors import buyer_of


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, style={"input_type": "password"})
    name = serializers.CharField(max_length=100, required=False, default="API")


TOKEN = inline_serializer(
    "NewToken",
    {
        "token": serializers.CharField(help_text="Shown this once; only its hash is kept."),
        "name": serializers.CharField(),
        "prefix": serializers.CharField(),
        "created_at": serializers.DateTimeField(),
    },
)


class TokenCreateView(APIView):
    """Rate-limited (settings: REST_FRAMEWORK DEFAULT_THROTTLE_RATES["auth"]): guessing passwords here is slow."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"

    @extend_schema(
        summary="Make an API token",
        description="With a username and password; the token is shown once. Tokens are also made in the back-office.",
        request=TokenRequestSerializer,
        responses={201: TOKEN},
        examples=[OpenApiExample("Token", value={"username": "erp", "password": "…", "name": "ERP"})],
        auth=[],
    )
    def post(self, request: Request) -> Response:
        serializer = TokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = authenticate(request, username=data["username"], password=data["password"])
        if user is None or not user.is_active:
            raise ApiError("authentication_failed", "Wrong username or password.", status_code=401)
        token, raw = api_token_create(user=user, name=data["name"])  # type: ignore[arg-type]
        return Response(
            {"token": raw, "name": token.name, "prefix": token.prefix, "created_at": token.created_at},
            status=status.HTTP_201_CREATED,
        )


ME = inline_serializer(
    "Me",
    {
        "id": serializers.IntegerField(),
        "username": serializers.CharField(),
        "staff": serializers.BooleanField(),
        "groups": serializers.ListField(child=serializers.CharField()),
        "customer": inline_serializer(
            "MeCustomer", {"id": serializers.IntegerField(), "name": serializers.CharField()}, allow_null=True
        ),
    },
)


class MeView(APIView):
    permission_classes = [IsAuthenticated]
    throttle_scope = "auth"

    @extend_schema(summary="The caller", responses={200: ME})
    def get(self, request: Request) -> Response:
        user = request.user
        buyer = buyer_of(user)
        return Response(
            {
                "id": user.pk,
                "username": user.get_username(),
                "staff": user.is_staff,
                "groups": sorted(user.groups.values_list("name", flat=True)),  # type: ignore[union-attr]
                "customer": {"id": buyer.customer_id, "name": buyer.customer.name} if buyer else None,
            }
        )


@extend_schema(exclude=True)
@api_view(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
@authentication_classes([])
@permission_classes([AllowAny])
def not_found(request: Request) -> Response:
    """A path under /api/v1/ that names no endpoint."""
    raise NotFound()
