"""InfinitePay: guaranteed invoice payment for business buyers over SOAP (domain.md §3.9, providers.md §5).

How the reference's guarantee actions map onto the ledger:

* purchase = **reserveOrder** (credit check and guarantee). Without auto capture it is an authorization (the
  guarantee is reserved against the buyer's limit); with auto capture (and, if set, auto activation, which is
  sent with the invoice data) it is a charge. The reference flags a reserve successful only with auto activation;
  here a granted reserve is a successful authorization, so the order page shows "authorized" and offers Capture.
* **captureOrder** (the order shipped) is our capture: the amount is fixed, what was reserved beyond it is released.
* **activateOrder** (the invoice was issued; the payment term starts) is its own operation, `activate`, on the
  capture or charge; activating before the capture is refused by InfinitePay.
* **cancelOrder** releases the buyer's limit (our cancel of the authorization, before activation).
* **applyTransactionOnActivatedOrder** with a credit note is our refund (partial and repeated, on activated orders).
* **checkStatusOrder** answers `fetch_status`, by the ORDER_ID our key stands for (see client.py).

The provider reference is InfinitePay's REF_NO and the ORDER_ID, `REF_NO/ORDER_ID`, since every later call needs
the ORDER_ID for its security code; a credit note's reference adds its DOC_ID after `#`.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar

from providers.base import (
    NOT_FOUND,
    Adapter,
    Capability,
    CheckoutContext,
    ErrorCode,
    FollowUpRequest,
    IntegrationInfo,
    MethodInfo,
    Money,
    Outcome,
    PaymentAction,
    PaymentRequest,
    ProviderResult,
    StatusRequest,
    currency_exponent,
    from_minor,
    street_lines,
    to_minor,
)
from providers.infinitepay import results
from providers.infinitepay.client import (
    WSDL_PATH,
    InfinitePayClient,
    UnreadableReply,
    order_id_for,
    reference_of,
    split_reference,
    trs_id_for,
)

#: the legal forms the debtor-data form offers (COM_OR_PER); InfinitePay guarantees businesses only
LEGAL_FORMS: dict[str, str] = {
    "GmbH": "GmbH",
    "AG": "AG",
    "UG": "UG (haftungsbeschränkt)",
    "KG": "KG",
    "OHG": "OHG",
    "GbR": "GbR",
    "eK": "eingetragener Kaufmann (e.K.)",
    "other": "Other business",
}
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
DUE_PERIOD_DAYS = 30
#: the currencies the storefront offers InfinitePay in
INVOICE_CURRENCIES = frozenset({"EUR"})
#: operation -> the ledger action fetch_status is asked about
ACTIONS = {
    "captureOrder": "capture",
    "activateOrder": "activate",
    "cancelOrder": "cancel",
    "applyTransactionOnActivatedOrder": "refund",
}
SHIPPING_DURATION_DAYS = 21


def _error_codes(raw: Any) -> set[str]:
    """The ERROR_CDs of a scrubbed reply."""
    return {str((e or {}).get("ERROR_CD") or "") for e in (raw or {}).get("ERROR_DATA") or []}


class InfinitePayAdapter(Adapter):
    key = "infinitepay"
    label = "InfinitePay"
    capabilities: ClassVar = frozenset(
        {
            Capability.AUTHORIZE,
            Capability.CHARGE,
            Capability.CAPTURE,
            Capability.PARTIAL_CAPTURE,
            Capability.CANCEL,
            Capability.REFUND,
            Capability.PARTIAL_REFUND,
            Capability.FETCH_STATUS,
            Capability.ACTIVATE,
        }
    )
    test_base_url = "https://test.infinitepay.de"
    live_base_url = "https://app.infinitepay.de"
    read_timeout: float = 30.0

    # --- settings -------------------------------------------------------------------------------------------------

    @property
    def wsdl_url(self) -> str:
        """The WSDL to load: the integration's own setting, else the provider's address for the environment."""
        return self.options.text("wsdl_url") or f"{self.base_url}{WSDL_PATH}"

    @property
    def auto_capture(self) -> bool:
        return self.options.flag("auto_capture")

    @property
    def auto_activate(self) -> bool:
        """Auto activation works only together with auto capture (the reference's rule)."""
        return self.auto_capture and self.options.flag("auto_activate")

    def _days(self, name: str, default: int) -> int:
        text = self.options.text(name)
        return int(text) if text.isdigit() else default

    @property
    def due_period(self) -> int:
        return self._days("invoice_due_period", DUE_PERIOD_DAYS)

    @property
    def shipping_duration(self) -> int:
        return self._days("invoice_shipping_duration", SHIPPING_DURATION_DAYS)

    def _client(self) -> InfinitePayClient:
        return InfinitePayClient(
            wsdl_url=self.wsdl_url,
            client_ref=self.options.text("client_ref"),
            username=self.options.text("username"),
            password=self.options.text("password"),
            secret=self.options.text("secret"),
            read_timeout=self.read_timeout,
            debug=self.options.flag("debug_mode"),
        )

    # --- storefront -----------------------------------------------------------------------------------------------

    def methods(self, integration: IntegrationInfo) -> list[MethodInfo]:
        """One method; with auto capture its purchase is a charge, whatever the integration's payment action."""
        method = self.card_method(integration)
        action = PaymentAction.CHARGE if self.auto_capture else PaymentAction.AUTHORIZE
        return [
            MethodInfo(
                identifier=method.identifier,
                integration_id=method.integration_id,
                provider_key=method.provider_key,
                labels=method.labels,
                short_labels=method.short_labels,
                widget=method.widget,
                payment_action=action,
            )
        ]

    def is_applicable(self, context: CheckoutContext) -> bool:
        """Only a company with a VAT id, paying in euros (InfinitePay guarantees German B2B invoices)."""
        has_vat_id = context.customer is not None and bool(context.customer.vat_id.strip())
        return has_vat_id and context.currency in INVOICE_CURRENCIES

    def widget_context(self, method: MethodInfo, context: CheckoutContext) -> dict[str, Any]:
        """The debtor-data form, prefilled from the buyer: e-mail and legal form."""
        return {
            "email": context.customer_user.email if context.customer_user else "",
            "legal_forms": list(LEGAL_FORMS.items()),
            "company": context.customer.name if context.customer else "",
            "vat_id": context.customer.vat_id if context.customer else "",
        }

    # --- purchase ---------------------------------------------------------------------------------------------------

    def authorize(self, request: PaymentRequest) -> ProviderResult:
        """Reserve: the credit check and the guarantee, nothing captured."""
        return self._reserve(request, auto_capture=False, auto_activate=False)

    def charge(self, request: PaymentRequest) -> ProviderResult:
        """Reserve with auto capture (and auto activation when it is set, sending the invoice data with it)."""
        return self._reserve(request, auto_capture=True, auto_activate=self.auto_activate)

    def _debtor_refusal(self, request: PaymentRequest) -> ProviderResult | None:
        email = request.payment_data.get("email", "").strip()
        legal_form = request.payment_data.get("legal_form", "")
        if not EMAIL.match(email) or len(email) > 254:
            return ProviderResult.declined(
                ErrorCode.MISSING_PAYMENT_DATA, "Please give the invoice e-mail address.", amount=request.amount
            )
        if legal_form not in LEGAL_FORMS:
            return ProviderResult.declined(
                ErrorCode.MISSING_PAYMENT_DATA, "Please choose the company's legal form.", amount=request.amount
            )
        customer = request.context.customer if request.context else None
        if customer is not None and not customer.vat_id.strip():
            return ProviderResult.declined(
                ErrorCode.INVALID_REQUEST,
                "InfinitePay needs the company's VAT id. Please contact us to add it.",
                amount=request.amount,
            )
        if currency_exponent(request.amount.currency) != 2:
            return ProviderResult.declined(
                ErrorCode.UNSUPPORTED_CURRENCY, "InfinitePay does not take this currency.", amount=request.amount
            )
        return None

    def _reserve(self, request: PaymentRequest, *, auto_capture: bool, auto_activate: bool) -> ProviderResult:
        refused = self._debtor_refusal(request)
        if refused is not None:
            return refused
        order_id = order_id_for(request.idempotency_key)
        cents = to_minor(request.amount)
        now = datetime.now(UTC)
        order_data = {
            "ORDER_ID": order_id,
            "PAY_TYPE": "1",  # invoice
            "TERMS_ACCEPTED": "1",
            "TRS_AMT_GROSS": str(cents),
            "TRS_AMT_NET": str(cents),
            "TRS_CURRENCY": request.amount.currency,
            "TRS_DT": now.strftime("%Y%m%d %H%M%S"),
            "TRS_ID": trs_id_for(request.idempotency_key),
            "PAY_ID": request.reference[:50],  # our order or invoice number, shown in InfinitePay's portal
            "TOTAL_GROSS_CALC_METHOD": "3",  # B2B: tax per item
            "AUTO_CAPTURE": "1" if auto_capture else "0",
            "AUTO_ACTIVATE": "1" if auto_activate else "0",
        }
        body: dict[str, Any] = {
            "CLIENT_DATA": None,  # set by _send, which knows the secret
            "ORDER_DATA": order_data,
            "DEBTOR_DATA": self._debtor(request),
            "SHIPPING_DATA": self._shipping(request.context),
        }
        articles = self._articles(request.context)
        if articles:
            body["ARTICLES"] = {"ARTICLE": articles}
        if auto_activate:
            today = now.date()
            delivery = today + timedelta(days=self.shipping_duration)
            body["INVOICE_DATA"] = self._invoice(request.reference, today, due_from=delivery, delivery=delivery)
        amount = request.amount
        reply, raw = self._send("reserveOrder", order_id, body, amount)
        if isinstance(reply, ProviderResult):
            return reply
        raw = {**raw, "amount": cents}
        if not reply.ok and reply.error_code in results.SEEN_BEFORE:
            return self._seen_before(request.idempotency_key, None, "charge" if auto_capture else "authorize", amount)
        if not reply.ok:
            return results.refusal(reply, amount, reference=None, raw=raw)
        ref_no = str(reply.data.get("REF_NO") or "")
        if not ref_no:
            return ProviderResult.error(
                ErrorCode.INCOMPLETE_REPLY, "InfinitePay's answer has no REF_NO.", amount=amount, raw=raw
            )
        guaranteed = reply.money("GUAR_AMT", amount.currency)
        raw = {
            **raw,
            "guaranteed_amount": str(guaranteed.amount) if guaranteed else "",
            "captured": auto_capture,
            "activated": auto_activate,
        }
        # the guarantee is what InfinitePay holds for us: one for less than the order is reported as such, so the
        # ledger flags the difference for staff instead of taking the order as fully guaranteed
        held = guaranteed if guaranteed is not None and guaranteed.amount > 0 else amount
        return ProviderResult.succeeded(held, reference=reference_of(ref_no, order_id), raw=raw)

    def _debtor(self, request: PaymentRequest) -> dict[str, Any]:
        context = request.context
        address = context.billing_address if context else None
        user = context.customer_user if context else None
        customer = context.customer if context else None
        debtor: dict[str, Any] = {
            "DB_ID_EXT": str(customer.id) if customer else "",
            "DB_NEW": "0" if customer else "1",
            "COM_OR_PER": request.payment_data.get("legal_form", ""),
            "BD_NAME_FS": (user.first_name if user else "") or (address.first_name if address else ""),
            "BD_NAME_LS": (user.last_name if user else "") or (address.last_name if address else ""),
            "BD_STREET": street_lines(address) if address else "",
            "BD_ZIP": address.postal_code if address else "",
            "BD_CITY": address.city if address else "",
            "BD_COUNTRY": address.country_iso2 if address else "",
            "BD_EMAIL": request.payment_data.get("email", "").strip(),
        }
        if customer is not None:
            debtor["COMPANY_DATA"] = {
                "COMPANY_NAME": customer.name or (address.organization if address else ""),
                "COM_ID_VAT": customer.vat_id.strip(),
            }
        return {k: v for k, v in debtor.items() if v not in ("", None)}

    @staticmethod
    def _shipping(context: CheckoutContext | None) -> dict[str, str]:
        address = context.shipping_address if context else None
        if address is None or (context is not None and address == context.billing_address):
            return {"USE_BILL_DATA": "1"}
        fields = {
            "USE_BILL_DATA": "0",
            "DD_NAME_FS": address.first_name,
            "DD_NAME_LS": address.last_name,
            "DD_COMPANY": address.organization,
            "DD_STREET": street_lines(address),
            "DD_ZIP": address.postal_code,
            "DD_CITY": address.city,
            "DD_COUNTRY": address.country_iso2,
        }
        return {k: v for k, v in fields.items() if v}

    @staticmethod
    def _articles(context: CheckoutContext | None) -> list[dict[str, str]]:
        if context is None:
            return []
        articles = []
        for line in context.line_items:
            try:
                price = str(to_minor(line.unit_price))
            except ValueError:
                continue  # a unit price finer than cents; the order total is what is guaranteed
            articles.append(
                {
                    "ARTICLE_ID": line.sku[:50],
                    "ARTICLE_NAME": line.name[:100],
                    "ARTICLE_QUANTITY": str(line.quantity),
                    "ARTICLE_PRICE_NET": price,
                    "ARTICLE_PRICE_GROSS": price,
                }
            )
        return articles

    def _invoice(self, invoice_id: str, invoice_date: date, *, due_from: date, delivery: date | None) -> dict[str, str]:
        """INVOICE_DATA: the payment term runs `invoice_due_period` days from `due_from`."""
        invoice = {
            "INVOICE_ID": invoice_id[:50],
            "INVOICE_DATE": invoice_date.strftime("%Y%m%d"),
            "DUE_DATE": (due_from + timedelta(days=self.due_period)).strftime("%Y%m%d"),
            "PAYMENT_TERMS": f"{self.due_period} days net",
            "DELAY_IN_DAYS": str(self.due_period),
        }
        if delivery is not None:
            invoice["DELIVERY_DATE"] = delivery.strftime("%Y%m%d")
        return invoice

    # --- follow-ups -----------------------------------------------------------------------------------------------

    def capture(self, request: FollowUpRequest) -> ProviderResult:
        """captureOrder: the order shipped; `amount` may be less than reserved (the rest is released)."""
        ref_no, order_id = split_reference(request.provider_reference)
        order_data = {
            "ORDER_ID": order_id,
            "REF_NO": ref_no,
            "TRS_AMT_GROSS": str(to_minor(request.amount)),
            "TRS_AMT_NET": str(to_minor(request.amount)),
            "TRS_CURRENCY": request.amount.currency,
            "TRS_ID": trs_id_for(request.idempotency_key),
        }
        return self._follow_up("captureOrder", request, {"ORDER_DATA": order_data})

    def activate(self, request: FollowUpRequest) -> ProviderResult:
        """activateOrder: the invoice was issued (options: `invoice_id`, `invoice_date` as a date); InfinitePay
        grants the guarantee and the payment term of `invoice_due_period` days starts at the invoice date."""
        ref_no, order_id = split_reference(request.provider_reference)
        given = request.options.get("invoice_date")
        invoice_date = date.fromisoformat(given) if isinstance(given, str) else given or datetime.now(UTC).date()
        invoice_id = str(request.options.get("invoice_id") or "")
        if not invoice_id:
            return ProviderResult.declined(
                ErrorCode.INVALID_REQUEST, "The invoice number is required.", amount=request.amount
            )
        body = {
            "ORDER_DATA": {"ORDER_ID": order_id, "REF_NO": ref_no, "TRS_ID": trs_id_for(request.idempotency_key)},
            "INVOICE_DATA": self._invoice(invoice_id, invoice_date, due_from=invoice_date, delivery=None),
        }
        return self._follow_up("activateOrder", request, body)

    def cancel(self, request: FollowUpRequest) -> ProviderResult:
        """cancelOrder: the guarantee ends and the buyer's limit is released."""
        ref_no, order_id = split_reference(request.provider_reference)
        body = {"ORDER_DATA": {"ORDER_ID": order_id, "REF_NO": ref_no, "TRS_ID": trs_id_for(request.idempotency_key)}}
        return self._follow_up("cancelOrder", request, body)

    def refund(self, request: FollowUpRequest) -> ProviderResult:
        """A credit note on the activated order (applyTransactionOnActivatedOrder): partial and repeated."""
        ref_no, order_id = split_reference(request.provider_reference)
        doc_id = trs_id_for(request.idempotency_key)
        body = {
            "ORDER_DATA": {"ORDER_ID": order_id, "REF_NO": ref_no},
            "TRANSACTION_DATA": {
                "TRS_TYPE": "CREDIT_NOTE",
                "TRS_AMT": str(to_minor(request.amount)),
                "TRS_CURRENCY": request.amount.currency,
                "TRS_REASON": request.reason[:100],
                "VALUE_DT": datetime.now(UTC).strftime("%Y%m%d"),
                "DOC_ID": doc_id,
            },
        }
        body["TRANSACTION_DATA"] = {k: v for k, v in body["TRANSACTION_DATA"].items() if v}
        result = self._follow_up("applyTransactionOnActivatedOrder", request, body)
        whole = request.source_amount is None or request.amount == request.source_amount
        if result.outcome == Outcome.DECLINED and "ORDER_NOT_ACTIVATED" in _error_codes(result.raw) and whole:
            # no invoice was issued yet, so no credit note: giving all of it back ends the order (cancelOrder of a
            # captured order), which releases the buyer's limit; the cancel carries this refund's TRS_ID
            cancel = {"ORDER_DATA": {"ORDER_ID": order_id, "REF_NO": ref_no, "TRS_ID": doc_id}}
            result = self._follow_up("cancelOrder", request, cancel)
        if result.provider_reference:
            return replace(result, provider_reference=f"{reference_of(ref_no, order_id)}#{doc_id}")
        return result

    def _follow_up(self, operation: str, request: FollowUpRequest, body: dict[str, Any]) -> ProviderResult:
        ref_no, order_id = split_reference(request.provider_reference)
        if not ref_no or not order_id:
            return ProviderResult.declined(
                ErrorCode.UNKNOWN_REFERENCE, "This payment has no InfinitePay reference.", amount=request.amount
            )
        reply, raw = self._send(operation, order_id, {"CLIENT_DATA": None, **body}, request.amount)
        if isinstance(reply, ProviderResult):
            return reply
        raw = {**raw, "amount": to_minor(request.amount)}
        reference = reference_of(ref_no, order_id)
        if not reply.ok and reply.error_code in results.SEEN_BEFORE:
            return self._seen_before(request.idempotency_key, reference, ACTIONS[operation], request.amount)
        if not reply.ok:
            return results.refusal(reply, request.amount, reference=reference, raw=raw)
        guaranteed = reply.money("GUAR_AMT", request.amount.currency)
        raw = {**raw, "guaranteed_amount": str(guaranteed.amount) if guaranteed else ""}
        return ProviderResult.succeeded(request.amount, reference=reference, raw=raw)

    def _seen_before(self, key: str, reference: str | None, action: str, amount: Money) -> ProviderResult:
        """InfinitePay refused a repeat of an operation it carried out (a retry after a lost reply is sent anew,
        with a new timestamp): its outcome, read back by checkStatusOrder; a duplicate when it was not ours."""
        found = self.fetch_status(StatusRequest(key, reference, action, amount, self._status_method()))
        if found.outcome == Outcome.SUCCEEDED:
            return found
        return ProviderResult.declined(
            ErrorCode.DUPLICATE_TRANSACTION, "InfinitePay has this order already.", amount=amount, reference=reference
        )

    def _status_method(self) -> MethodInfo:
        return MethodInfo(identifier=self.key, integration_id=0, provider_key=self.key)

    # --- status ---------------------------------------------------------------------------------------------------

    def fetch_status(self, request: StatusRequest) -> ProviderResult:
        """checkStatusOrder by the purchase's ORDER_ID (from the reference, or from the key of a purchase whose
        reply was lost); the operation keyed `idempotency_key` happened when the order carries its TRS_ID."""
        base, _, _doc = (request.provider_reference or "").partition("#")
        ref_no, order_id = split_reference(base)
        if not order_id:
            order_id = order_id_for(request.idempotency_key)
        reply, raw = self._send(
            "checkStatusOrder",
            order_id,
            {"CLIENT_DATA": None, "ORDER_DATA": {"ORDER_ID": order_id, **({"REF_NO": ref_no} if ref_no else {})}},
            request.amount,
        )
        if isinstance(reply, ProviderResult):
            return reply.read_back_failure()
        if not reply.ok:
            if reply.error_code == "ORDER_NOT_FOUND":
                return ProviderResult.error(
                    NOT_FOUND, "InfinitePay has no trace of this order.", amount=request.amount, raw=raw
                )
            return results.refusal(reply, request.amount, reference=None, raw=raw).read_back_failure()
        return self._status_result(request, reply, raw)

    def _status_result(self, request: StatusRequest, reply: results.Reply, raw: dict[str, Any]) -> ProviderResult:
        currency = request.amount.currency
        data = reply.data
        state = str(data.get("ORDER_STATUS") or "").lower()
        reference = reference_of(str(data.get("REF_NO") or ""), str(data.get("ORDER_ID") or ""))
        trs_id = trs_id_for(request.idempotency_key)
        reserved = reply.money("TRS_AMT", currency)
        captured = reply.money("CAPTURED_AMT", currency)
        raw = {**raw, "order_status": state}
        not_found = ProviderResult.error(
            NOT_FOUND, "InfinitePay has no trace of this operation.", amount=request.amount, raw=raw
        )
        action = request.action
        if action in ("authorize", "purchase", "charge") and not self._same_terms(request, data, reserved):
            # the ORDER_ID (from our key) names an order with other terms: one of another installation or of a
            # restored database that made the same key. Ours was refused as a used ORDER_ID, or never sent.
            return not_found
        if action in ("authorize", "purchase") and state == "canceled":
            return ProviderResult.declined(
                ErrorCode.ALREADY_VOIDED,
                "The reservation was canceled at InfinitePay: no guarantee is held.",
                amount=request.amount,
                reference=reference,
                raw=raw,
            )
        if action in ("authorize", "purchase") and reserved is not None:
            return ProviderResult.succeeded(reserved, reference=reference, raw={**raw, "amount": to_minor(reserved)})
        if action == "charge" and captured is not None:
            if state in ("captured", "activated") and captured.amount > 0:
                # what the reserve's reply would have said: captured, and activated with auto activation
                done = {"amount": to_minor(captured), "captured": True, "activated": state == "activated"}
                return ProviderResult.succeeded(captured, reference=reference, raw={**raw, **done})
            return ProviderResult.pending(request.amount, reference=reference, raw=raw)
        fields = {"capture": "CAPTURE_TRS_ID", "activate": "ACTIVATE_TRS_ID", "cancel": "CANCEL_TRS_ID"}
        if action in fields:
            if str(data.get(fields[action]) or "") != trs_id:
                return not_found
            amount = captured if action == "capture" and captured is not None else request.amount
            return ProviderResult.succeeded(amount, reference=reference, raw={**raw, "amount": to_minor(amount)})
        if action == "refund":
            if str(data.get("CANCEL_TRS_ID") or "") == trs_id:  # a refund in full before activation: the cancel
                return ProviderResult.succeeded(request.amount, reference=f"{reference}#{trs_id}", raw=raw)
            for item in data.get("TRANSACTION") or []:
                if str(item.get("DOC_ID")) == trs_id:
                    cents = str(item.get("TRS_AMT") or "")
                    amount = from_minor(int(cents), currency) if cents.isdigit() else request.amount
                    return ProviderResult.succeeded(amount, reference=f"{reference}#{trs_id}", raw=raw)
            return not_found
        return not_found

    @staticmethod
    def _same_terms(request: StatusRequest, data: Any, reserved: Money | None) -> bool:
        """Whether the order InfinitePay holds under our ORDER_ID is the one our purchase asked for: the amount
        and currency reserved (checkStatusOrder's TRS_AMT, TRS_CURRENCY) are what the purchase asked."""
        currency = str(data.get("TRS_CURRENCY") or "")
        if currency and currency != request.amount.currency:
            return False
        return reserved is None or reserved.amount == request.amount.amount

    # --- the wire -------------------------------------------------------------------------------------------------

    def _send(
        self, operation: str, order_id: str, body: dict[str, Any], amount: Money
    ) -> tuple[results.Reply | ProviderResult, dict[str, Any]]:
        """Send with the security code of `order_id`; (reply, scrubbed raw), or (ERROR result, raw) for an answer
        that cannot be read. `ProviderUnavailable` and `ProviderMisconfigured` pass through."""
        client = self._client()
        body = {**body, "CLIENT_DATA": client.client_data(order_id)}
        try:
            response = client.call(operation, body)
        except UnreadableReply as exc:
            result = ProviderResult.error(ErrorCode.UNREADABLE_REPLY, str(exc), amount=amount)
            return result, {}
        raw = dict(client.scrubbed(response))
        reply = results.read(response)
        if reply is None:
            result = ProviderResult.error(
                ErrorCode.INCOMPLETE_REPLY, "InfinitePay's answer has no status.", amount=amount, raw=raw
            )
            return result, raw
        if not reply.ok and reply.error_code in results.MISCONFIGURED:
            results.refusal(reply, amount, reference=None, raw=raw)  # raises ProviderMisconfigured
        return reply, raw
