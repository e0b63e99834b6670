"""A re-authorization refused for the provider's rate limit (HTTP 429: nothing was done) is tried again by the
next sweep, before the hold lapses; it is not "failed" with an alert, and never tried again, so that the
authorization lapses and the order's money is not taken."""

from __future__ import annotations

import pytest
from django.core import mail

from notifications.models import Notice
from payments import sweeps
from payments.models import Action, PaymentTransaction, State
from providers.base import ErrorCode, ProviderResult
from providers.stripe.adapter import StripeAdapter
from tests.payments.test_reauthorization import old_authorization, renewing  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db


def test_a_rate_limited_renewal_is_tried_again_by_the_next_sweep(renewing, monkeypatch) -> None:  # noqa: ANN001, F811
    auth = old_authorization(renewing)
    real = StripeAdapter.reauthorize
    refused: list[str] = []

    def busy_once(self, request):  # noqa: ANN001, ANN202
        if not refused:
            refused.append(request.idempotency_key)
            return ProviderResult.declined(
                ErrorCode.RATE_LIMITED, "Rate limited; nothing was done.", amount=request.amount
            )
        return real(self, request)

    monkeypatch.setattr(StripeAdapter, "reauthorize", busy_once)

    first = sweeps.reauthorizations_sweep()
    second = sweeps.reauthorizations_sweep()

    assert (first, second) == ((0, 0), (1, 0))
    assert not mail.outbox
    assert not Notice.objects.filter(key=f"reauthorization-failed:{auth.pk}").exists()
    links = PaymentTransaction.objects.filter(action=Action.RE_AUTHORIZE, source=auth).order_by("pk")
    assert [link.state for link in links] == [State.DECLINED, State.SUCCEEDED]
    assert links[0].idempotency_key != links[1].idempotency_key
