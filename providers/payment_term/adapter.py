"""Payment Terms: the buyer pays later on the customer's term ("Net 30"); staff mark the order paid.

Applicable only when the customer resolves to a term (its own, else its group's). Purchase copies that term
onto the order (the service does it, seeing `Capability.ON_ACCOUNT`) and records a pending transaction.
"""

from typing import Any, ClassVar

from providers.base import (
    Adapter,
    Capability,
    CheckoutContext,
    ErrorCode,
    FollowUpRequest,
    MethodInfo,
    PaymentRequest,
    ProviderResult,
)


class PaymentTermAdapter(Adapter):
    key = "payment_term"
    label = "Payment Terms"
    capabilities: ClassVar = frozenset({Capability.PENDING, Capability.ON_ACCOUNT, Capability.CAPTURE})

    def is_applicable(self, context: CheckoutContext) -> bool:
        return context.customer is not None and context.customer.resolved_payment_term is not None

    def widget_context(self, method: MethodInfo, context: CheckoutContext) -> dict[str, Any]:
        """Shows "Terms: Net 30": the term the customer resolves to (its own, else its group's)."""
        term = context.customer.resolved_payment_term if context.customer else None
        return {"term": term.label if term else ""}

    def pending(self, request: PaymentRequest) -> ProviderResult:
        """The term the customer resolves to is recorded; without one the buyer cannot pay this way."""
        term = request.context.customer.resolved_payment_term if request.context and request.context.customer else None
        if term is None:
            return ProviderResult.declined(
                ErrorCode.NO_PAYMENT_TERM, "This customer has no payment term.", amount=request.amount
            )
        return ProviderResult.succeeded(request.amount, raw={"payment_term": term.label})

    def capture(self, request: FollowUpRequest) -> ProviderResult:
        """The invoice was paid: nothing to call, the capture row records it."""
        return ProviderResult.succeeded(request.amount)
