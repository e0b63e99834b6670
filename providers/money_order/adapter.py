"""Check / Money Order: the buyer promises to send a check; staff mark it paid when it arrives.

No network: purchase records a successful, active `pending` transaction and capture marks the order paid.
"""

from typing import Any, ClassVar

from providers.base import (
    Adapter,
    Capability,
    CheckoutContext,
    FollowUpRequest,
    MethodInfo,
    PaymentRequest,
    ProviderResult,
)


class MoneyOrderAdapter(Adapter):
    key = "money_order"
    label = "Check / Money Order"
    capabilities: ClassVar = frozenset({Capability.PENDING, Capability.CAPTURE})

    def widget_context(self, method: MethodInfo, context: CheckoutContext) -> dict[str, Any]:
        """Shows "Make Check Payable To" and "Send Check To": two settings, neither of them secret."""
        return {"pay_to": self.options.text("pay_to"), "send_to": self.options.text("send_to")}

    def pending(self, request: PaymentRequest) -> ProviderResult:
        """The promise is recorded with where the check goes; nothing is called."""
        return ProviderResult.succeeded(
            request.amount, raw={"pay_to": self.options.text("pay_to"), "send_to": self.options.text("send_to")}
        )

    def capture(self, request: FollowUpRequest) -> ProviderResult:
        """Staff received the check: nothing to call, the capture row records it."""
        return ProviderResult.succeeded(request.amount)
