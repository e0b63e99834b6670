"""The InfinitePay sandbox: a SOAP endpoint simulating the German B2B invoice-guarantee API (providers.md §5).

Served under `/sandbox/infinitepay/` when `settings.SANDBOX_ENABLED`. Written from the documented DTOs, never from
the adapter:

* `GET ws/InfinitePayAPI?wsdl` publishes a document/literal SOAP 1.1 WSDL built here with lxml from the DTOs of
  §5.2 (the real namespace and WSDL are unknown, so this one is the sandbox's own); `POST ws/InfinitePayAPI` takes
  the envelopes. Every request body is validated against the WSDL's schema (an unknown or misplaced element is a
  SOAP fault), as a document/literal server does;
* WS-Security: a `UsernameToken` with a `PasswordText` password and a `wsu:Timestamp` that has not expired are
  required, or the reply is a `wsse:FailedAuthentication` fault (HTTP 500). Test accounts: any username with a
  password of 12 characters or more, whose "secret for the security code" is `account_secret(password)`;
* `CLIENT_DATA.SECURITY_CD` must be base64(lowercase hex HMAC-SHA256(secret, CLIENT_REF + ORDER_ID)), or
  STATUS 0 with ERROR_CD `SECURITY_CD_INVALID`;
* operations reserveOrder, captureOrder, activateOrder, applyTransactionOnActivatedOrder, cancelOrder and
  checkStatusOrder keep each order's state (reserved, captured, activated, canceled), its reserved, captured and
  open amounts, the guaranteed amount (GUAR_AMT) and the transactions applied to it;
* the credit check approves only the debtor e-mail `email_for_success_emulation@test.com` (as the reference's mock
  does; ERROR_CD `CREDIT_CHECK_DENIED` otherwise), and each debtor (by VAT id, else e-mail) has a credit limit of
  `CREDIT_LIMIT_CENTS` across its reserved, captured and activated orders (ERROR_CD `CREDIT_LIMIT_EXCEEDED`);
  canceling an order, capturing less than was reserved and credit notes release the limit again;
* rules: AUTO_ACTIVATE only with AUTO_CAPTURE and INVOICE_DATA; capture only of a reserved order and at most the
  reserved amount; activation only of a captured order (`ORDER_NOT_CAPTURED`); transactions only on an activated
  order and at most its open amount; cancel of a reserved or captured order only (an activated one takes credit
  notes); amounts in cents of EUR, CHF, GBP or USD (a cents-only wire cannot say JPY or KWD);
* InfinitePay has no idempotency header (§8): a repeat of an operation on the same ORDER_ID with the same TRS_ID
  (reserve, capture, activate, cancel) or DOC_ID (transactions) is answered with the first reply; the same ORDER_ID
  with other terms is refused (`ORDER_ID_IN_USE` / `ALREADY_CAPTURED` …);
* faults from `/sandbox/__sim/fault` (provider=infinitepay; the operation names above).

checkStatusOrder's reply carries the order's state in RESPONSE_DATA (ORDER_STATUS, TRS_AMT, CAPTURED_AMT,
OPEN_AMT, the TRS_IDs of the capture, activation and cancel, and one TRANSACTION per applied transaction): the
documented genericResponse has only ADD_INFO for it, so the sandbox's WSDL names these fields itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from lxml import etree
from lxml.builder import ElementMaker

from sandbox.models import SimObject
from sandbox.pipeline import Idempotency, serve, sim_account_id
from sandbox.services import KeyConflict, SimReply, sim_get, sim_now, sim_put
from sandbox.views import sandbox_view

PROVIDER = "infinitepay"
TNS = "http://infinitepay.de/ws/InfinitePayAPI"
XSD = "http://www.w3.org/2001/XMLSchema"
WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
SOAP_BINDING = "http://schemas.xmlsoap.org/wsdl/soap/"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
PASSWORD_TEXT = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText"  # noqa: S105
SUCCESS_EMAIL = "email_for_success_emulation@test.com"
CREDIT_LIMIT_CENTS = 5_000_000  # 50,000.00 per debtor
CURRENCIES = frozenset({"EUR", "CHF", "GBP", "USD"})
#: the timestamp's clock skew the endpoint forgives
SKEW = timedelta(minutes=5)

# --- the DTOs of §5.2 -----------------------------------------------------------------------------------------------

CLIENT_DATA = ["CLIENT_REF", "SECURITY_CD"]
ORDER_DATA = [
    "ORDER_ID",
    "REF_NO",
    "PAY_TYPE",
    "TERMS_ACCEPTED",
    "TRS_AMT_GROSS",
    "TRS_AMT_NET",
    "TRS_CURRENCY",
    "TRS_DT",
    "TRS_VAT_PERC",
    "TRS_ID",
    "PAY_ID",
    "RABATE_GROSS",
    "RABATE_NET",
    "SHIPPING_NAME",
    "SHIPPING_PRICE_GROSS",
    "SHIPPING_PRICE_NET",
    "TOTAL_GROSS_CALC_METHOD",
    "AUTO_CAPTURE",
    "AUTO_ACTIVATE",
]
COMPANY_DATA = ["COMPANY_NAME", "COM_ID_VAT", "COM_ID_NUM", "COM_ID_TYPE", "OWNER_FS_NAME", "OWNER_LS_NAME"]
DEBTOR_DATA = [
    "DB_ID_EXT",
    "DB_ID_INT",
    "DB_NEW",
    "COM_OR_PER",
    "BD_SALUT",
    "BD_TITLE",
    "BD_NAME_FS",
    "BD_NAME_LS",
    "BD_STREET",
    "BD_STREET_NR",
    "BD_ZIP",
    "BD_CITY",
    "BD_COUNTRY",
    "BD_EMAIL",
    "BD_TEL",
    "BD_MOBILE",
    "BD_BIRTH_DT",
    "IP_ADD",
    "ISP",
    "NEG_PAY_HIST",
    "SCORE",
]
SHIPPING_DATA = [
    "USE_BILL_DATA",
    "DD_SALUT",
    "DD_NAME_FS",
    "DD_NAME_LS",
    "DD_COMPANY",
    "DD_STREET",
    "DD_STREET_NR",
    "DD_ZIP",
    "DD_CITY",
    "DD_COUNTRY",
]
BANK_DATA = ["BNK_ACC_ID", "BNK_ACC_OWNER", "BNK_ACC_SWIFT"]
ARTICLE = [
    "ARTICLE_ID",
    "ARTICLE_NAME",
    "ARTICLE_DESCRIPTION",
    "ARTICLE_QUANTITY",
    "ARTICLE_PRICE_NET",
    "ARTICLE_PRICE_GROSS",
    "ARTICLE_VAT_PERC",
]
INVOICE_DATA = [
    "INVOICE_ID",
    "INVOICE_DATE",
    "DUE_DATE",
    "PAYMENT_TERMS",
    "DELAY_IN_DAYS",
    "DELIVERY_DATE",
    "DEBTOR_ACCOUNT",
    "COMMENT",
]
TRANSACTION_DATA = [
    "TRS_TYPE",
    "TRS_AMT",
    "TRS_CURRENCY",
    "TRS_REASON",
    "ACCOUNTING_DT",
    "VALUE_DT",
    "DOC_ID",
    "COMMENT",
]
RESPONSE_DATA = [
    "STATUS",
    "REF_NO",
    "ORDER_ID",
    "DB_ID",
    "GUAR_AMT",
    "ADD_INFO",
    # checkStatusOrder: the order's state (the sandbox's own names; see the module's docstring)
    "ORDER_STATUS",
    "TRS_AMT",
    "TRS_CURRENCY",
    "CAPTURED_AMT",
    "OPEN_AMT",
    "CAPTURE_TRS_ID",
    "ACTIVATE_TRS_ID",
    "CANCEL_TRS_ID",
]
#: operation -> (request type, its parts in order (name, type, required))
OPERATIONS: dict[str, tuple[str, list[tuple[str, str, bool]]]] = {
    "reserveOrder": (
        "REQUEST_RESERVATION",
        [
            ("CLIENT_DATA", "CLIENT_DATA", True),
            ("ORDER_DATA", "ORDER_DATA", True),
            ("DEBTOR_DATA", "DEBTOR_DATA", True),
            ("BANK_DATA", "BANK_DATA", False),
            ("SHIPPING_DATA", "SHIPPING_DATA", False),
            ("ARTICLES", "ARTICLES", False),
            ("INVOICE_DATA", "INVOICE_DATA", False),
        ],
    ),
    "captureOrder": (
        "REQUEST_CAPTURE",
        [
            ("CLIENT_DATA", "CLIENT_DATA", True),
            ("DEBTOR_DATA", "DEBTOR_DATA", False),
            ("ORDER_DATA", "ORDER_DATA", True),
        ],
    ),
    "activateOrder": (
        "REQUEST_ACTIVATION",
        [
            ("CLIENT_DATA", "CLIENT_DATA", True),
            ("ORDER_DATA", "ORDER_DATA", True),
            ("INVOICE_DATA", "INVOICE_DATA", True),
        ],
    ),
    "applyTransactionOnActivatedOrder": (
        "REQUEST_APPLY_TRANSACTION",
        [
            ("CLIENT_DATA", "CLIENT_DATA", True),
            ("ORDER_DATA", "ORDER_DATA", True),
            ("TRANSACTION_DATA", "TRANSACTION_DATA", True),
        ],
    ),
    "cancelOrder": (
        "REQUEST_CANCEL",
        [("CLIENT_DATA", "CLIENT_DATA", True), ("ORDER_DATA", "ORDER_DATA", True)],
    ),
    "checkStatusOrder": (
        "REQUEST_CHECK_STATUS",
        [("CLIENT_DATA", "CLIENT_DATA", True), ("ORDER_DATA", "ORDER_DATA", True)],
    ),
}
RESPONSE_TYPES = {
    "reserveOrder": "RESPONSE_RESERVATION",
    "captureOrder": "RESPONSE_CAPTURE",
    "activateOrder": "RESPONSE_ACTIVATION",
    "applyTransactionOnActivatedOrder": "RESPONSE_APPLY_TRANSACTION",
    "cancelOrder": "RESPONSE_CANCEL",
    "checkStatusOrder": "RESPONSE_CHECK_STATUS",
}


def _xs() -> ElementMaker:
    return ElementMaker(namespace=XSD, nsmap={"xs": XSD, "tns": TNS})


def _schema() -> etree._Element:
    """The XML schema of the messages, from the DTO lists above (all values are text, all fields optional but the
    ones §5 requires)."""
    xs = _xs()

    def strings(name: str, fields: list[str], *extra: etree._Element) -> etree._Element:
        elements = [xs.element(name=f, type="xs:string", minOccurs="0") for f in fields]
        return xs.complexType(xs.sequence(*elements, *extra), name=name)

    def part(name: str, type_: str, required: bool = False, many: bool = False) -> etree._Element:
        attrs = {"name": name, "type": f"tns:{type_}", "minOccurs": "1" if required else "0"}
        if many:
            attrs["maxOccurs"] = "unbounded"
        return xs.element(**attrs)

    types = [
        strings("CLIENT_DATA", CLIENT_DATA),
        strings("ORDER_DATA", ORDER_DATA),
        strings("COMPANY_DATA", COMPANY_DATA),
        strings("DEBTOR_DATA", DEBTOR_DATA, part("COMPANY_DATA", "COMPANY_DATA")),
        strings("SHIPPING_DATA", SHIPPING_DATA),
        strings("BANK_DATA", BANK_DATA),
        strings("ARTICLE", ARTICLE),
        xs.complexType(xs.sequence(part("ARTICLE", "ARTICLE", many=True)), name="ARTICLES"),
        strings("INVOICE_DATA", INVOICE_DATA),
        strings("TRANSACTION_DATA", TRANSACTION_DATA),
        strings("ERROR", ["ERROR_CD", "ERROR_MSG"]),
        strings("TRANSACTION", ["DOC_ID", "TRS_TYPE", "TRS_AMT"]),
        strings("RESPONSE_DATA", RESPONSE_DATA, part("TRANSACTION", "TRANSACTION", many=True)),
        strings("DEBTOR_CORRECTED_DATA", ["BD_NAME_FS", "BD_NAME_LS", "BD_STREET", "BD_ZIP", "BD_CITY"]),
        xs.complexType(
            xs.sequence(
                xs.element(name="REQUEST_ID", type="xs:string", minOccurs="0"),
                part("RESPONSE_DATA", "RESPONSE_DATA"),
                part("ERROR_DATA", "ERROR", many=True),
            ),
            name="genericResponse",
        ),
    ]
    for operation, (request_type, parts) in OPERATIONS.items():
        types.append(xs.complexType(xs.sequence(*(part(n, t, r) for n, t, r in parts)), name=request_type))
        extra = [part("DEBTOR_CORRECTED_DATA", "DEBTOR_CORRECTED_DATA")] if operation == "reserveOrder" else []
        response = xs.complexType(
            xs.complexContent(xs.extension(xs.sequence(*extra), base="tns:genericResponse")),
            name=RESPONSE_TYPES[operation],
        )
        types.append(response)
        types.append(xs.element(xs.complexType(xs.sequence(part("REQUEST", request_type, True))), name=operation))
        types.append(
            xs.element(
                xs.complexType(xs.sequence(part("RESPONSE", RESPONSE_TYPES[operation], True))),
                name=f"{operation}Response",
            )
        )
    return xs.schema(*types, targetNamespace=TNS, elementFormDefault="unqualified")


def wsdl(location: str) -> bytes:
    """The service description the adapter loads, pointing at `location`."""
    w = ElementMaker(namespace=WSDL_NS, nsmap={"wsdl": WSDL_NS, "soap": SOAP_BINDING, "tns": TNS, "xs": XSD})
    soap = ElementMaker(namespace=SOAP_BINDING)
    messages, port_ops, binding_ops = [], [], []
    for operation in OPERATIONS:
        for suffix, element in (("Request", operation), ("Response", f"{operation}Response")):
            messages.append(w.message(w.part(name="parameters", element=f"tns:{element}"), name=f"{operation}{suffix}"))
        port_ops.append(
            w.operation(
                w.input(message=f"tns:{operation}Request"), w.output(message=f"tns:{operation}Response"), name=operation
            )
        )
        binding_ops.append(
            w.operation(
                soap.operation(soapAction=""),
                w.input(soap.body(use="literal")),
                w.output(soap.body(use="literal")),
                name=operation,
            )
        )
    document = w.definitions(
        w.types(_schema()),
        *messages,
        w.portType(*port_ops, name="InfinitePayAPI"),
        w.binding(
            soap.binding(style="document", transport="http://schemas.xmlsoap.org/soap/http"),
            *binding_ops,
            name="InfinitePayAPIBinding",
            type="tns:InfinitePayAPI",
        ),
        w.service(
            w.port(soap.address(location=location), name="InfinitePayAPIPort", binding="tns:InfinitePayAPIBinding"),
            name="InfinitePayAPIService",
        ),
        name="InfinitePayAPI",
        targetNamespace=TNS,
    )
    return etree.tostring(document, xml_declaration=True, encoding="UTF-8")


_VALIDATOR: etree.XMLSchema | None = None


def _validator() -> etree.XMLSchema:
    global _VALIDATOR  # noqa: PLW0603 - built once per process from constants
    if _VALIDATOR is None:
        _VALIDATOR = etree.XMLSchema(_schema())
    return _VALIDATOR


# --- test accounts and the security code --------------------------------------------------------------------------


def account_secret(password: str) -> str:
    """The "secret for the security code" of the sandbox account whose web-service password is `password`."""
    return hmac.new(b"infinitepay-sandbox", password.encode(), hashlib.sha256).hexdigest()[:32]


def security_code(secret: str, client_ref: str, order_id: str) -> str:
    """§5.2: base64 of the lowercase hex HMAC-SHA256 of CLIENT_REF + ORDER_ID, keyed with the secret."""
    digest = hmac.new(secret.encode(), (client_ref + order_id).encode(), hashlib.sha256).hexdigest()
    return base64.b64encode(digest.encode()).decode()


def password_valid(username: str, password: str) -> bool:
    return bool(username) and len(password) >= 12


# --- the endpoint ---------------------------------------------------------------------------------------------------


class Refused(Exception):
    """An answer with STATUS 0 and one error."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname


def _child(element: etree._Element | None, name: str) -> etree._Element | None:
    if element is None:
        return None
    return next((c for c in element if isinstance(c.tag, str) and _local(c) == name), None)


def _text(element: etree._Element | None, *path: str) -> str:
    for name in path:
        element = _child(element, name)
    return (element.text or "").strip() if element is not None else ""


def _fields(element: etree._Element | None) -> dict[str, str]:
    if element is None:
        return {}
    return {_local(c): (c.text or "").strip() for c in element if isinstance(c.tag, str) and len(c) == 0}


def fault(code: str, message: str, status: int = 500) -> HttpResponse:
    """A SOAP 1.1 fault (HTTP 500), as a SOAP stack answers a request it cannot process."""
    env = ElementMaker(namespace=SOAP_ENV, nsmap={"soap": SOAP_ENV, "wsse": WSSE})
    e = ElementMaker()
    document = env.Envelope(env.Body(env.Fault(e.faultcode(code), e.faultstring(message))))
    return HttpResponse(
        etree.tostring(document, xml_declaration=True, encoding="UTF-8"), status=status, content_type="text/xml"
    )


def _response(operation: str, data: dict[str, Any], errors: Sequence[tuple[str, str]] = ()) -> bytes:
    env = ElementMaker(namespace=SOAP_ENV, nsmap={"soap": SOAP_ENV, "tns": TNS})
    tns = ElementMaker(namespace=TNS, nsmap={"tns": TNS})
    e = ElementMaker()
    response_data = e.RESPONSE_DATA(
        *(e(name, str(data[name])) for name in RESPONSE_DATA if data.get(name) not in (None, "")),
        *(
            e.TRANSACTION(e.DOC_ID(t["doc_id"]), e.TRS_TYPE(t["type"]), e.TRS_AMT(str(t["amount"])))
            for t in data.get("transactions", ())
        ),
    )
    parts = [e.REQUEST_ID(uuid.uuid4().hex), response_data]
    parts += [e.ERROR_DATA(e.ERROR_CD(code), e.ERROR_MSG(message)) for code, message in errors]
    document = env.Envelope(env.Body(getattr(tns, f"{operation}Response")(e.RESPONSE(*parts))))
    return etree.tostring(document, xml_declaration=True, encoding="UTF-8")


@sandbox_view
def wsdl_view(request: HttpRequest) -> HttpResponse:
    """`?wsdl`: the service description; a POST: one SOAP call."""
    if request.method == "POST":
        return soap_api(request)
    location = request.build_absolute_uri(request.path)
    return HttpResponse(wsdl(location), content_type="text/xml; charset=utf-8")


@csrf_exempt
def soap_api(request: HttpRequest) -> HttpResponse:
    try:
        envelope = etree.fromstring(request.body, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return fault("soap:Client", "The request is not XML.")
    body = _child(envelope, "Body")
    call = next((c for c in body if isinstance(c.tag, str)), None) if body is not None else None
    if call is None or etree.QName(call).namespace != TNS or _local(call) not in OPERATIONS:
        return fault("soap:Client", "Unknown operation.")
    operation = _local(call)
    if not _validator().validate(call):
        error = _validator().error_log.last_error
        return fault("soap:Client", f"The request does not follow the schema: {error.message if error else ''}")
    username = _authenticated(envelope)
    if username is None:
        return fault("wsse:FailedAuthentication", "The security token could not be authenticated or authorized.")
    payload = _child(call, "REQUEST")
    client_ref = _text(payload, "CLIENT_DATA", "CLIENT_REF")
    order_id = _text(payload, "ORDER_DATA", "ORDER_ID")
    password = _password(envelope)
    account = sim_account_id(client_ref, prefix="ip_")
    if not client_ref or not order_id:
        return _reply(operation, Refused("MISSING_FIELD", "CLIENT_REF and ORDER_ID are required."))
    if not hmac.compare_digest(
        _text(payload, "CLIENT_DATA", "SECURITY_CD"), security_code(account_secret(password), client_ref, order_id)
    ):
        return _reply(operation, Refused("SECURITY_CD_INVALID", "The security code does not match."))
    sim_put(PROVIDER, "request", f"req_{uuid.uuid4().hex}", {"operation": operation, "order_id": order_id})
    handler = HANDLERS[operation]
    key = _text(payload, "TRANSACTION_DATA", "DOC_ID") or _text(payload, "ORDER_DATA", "TRS_ID")
    idempotency = None
    if operation != "checkStatusOrder":
        canonical = etree.tostring(payload, method="c14n")
        idempotency = Idempotency(
            account=account,
            key=f"{operation}:{order_id}:{key}",
            request_hash=hashlib.sha256(canonical).hexdigest(),
            ttl=timedelta(days=365),
        )
    return serve(
        provider=PROVIDER,
        operation=operation,
        execute=lambda: _stored(operation, lambda: handler(payload, account, order_id)),
        respond=lambda reply, replayed: HttpResponse(reply.body, status=reply.status, content_type="text/xml"),
        idempotency=idempotency,
        conflict=lambda conflict: _conflict(operation, conflict),
    )


def _conflict(operation: str, conflict: KeyConflict) -> HttpResponse:
    if conflict.reason == "in_flight":
        return _reply(operation, Refused("REQUEST_IN_PROGRESS", "The same request is still being processed."))
    return _reply(operation, Refused("DUPLICATE_REQUEST", "This TRS_ID was used for another request on the order."))


def _stored(operation: str, handle: Callable[[], dict[str, Any]]) -> SimReply:
    try:
        data = handle()
    except Refused as refused:
        # a refusal is remembered too: the same request again gets the same answer
        return SimReply(200, _response(operation, {"STATUS": "0"}, [(refused.code, refused.message)]).decode())
    return SimReply(200, _response(operation, {"STATUS": "1", **data}).decode())


def _reply(operation: str, refused: Refused) -> HttpResponse:
    body = _response(operation, {"STATUS": "0"}, [(refused.code, refused.message)])
    return HttpResponse(body, content_type="text/xml")


def _security(envelope: etree._Element) -> etree._Element | None:
    header = _child(envelope, "Header")
    security = _child(header, "Security")
    return security if security is not None and etree.QName(security).namespace == WSSE else None


def _password(envelope: etree._Element) -> str:
    return _text(_security(envelope), "UsernameToken", "Password")


def _authenticated(envelope: etree._Element) -> str | None:
    """The username of a valid UsernameToken (PasswordText) with a live timestamp; None otherwise."""
    security = _security(envelope)
    token = _child(security, "UsernameToken")
    password = _child(token, "Password")
    timestamp = _child(security, "Timestamp")
    if token is None or password is None or timestamp is None:
        return None
    if password.get("Type", PASSWORD_TEXT) != PASSWORD_TEXT:
        return None
    username = _text(token, "Username")
    if not password_valid(username, (password.text or "").strip()):
        return None
    now = sim_now(PROVIDER)
    try:
        created = datetime.fromisoformat(_text(timestamp, "Created").replace("Z", "+00:00"))
        expires = datetime.fromisoformat(_text(timestamp, "Expires").replace("Z", "+00:00"))
    except ValueError:
        return None
    if created.tzinfo is None or expires.tzinfo is None or created > now + SKEW or expires < now - SKEW:
        return None
    return username


# --- operations ---------------------------------------------------------------------------------------------------


def _cents(value: str, name: str) -> int:
    if not value.isdigit():
        raise Refused("INVALID_AMOUNT", f"{name} must be a whole number of cents.")
    return int(value)


def _order(account: str, order_id: str) -> dict[str, Any]:
    found = sim_get(PROVIDER, "order", order_id, lock=True)
    if found is None or found.account != account:
        raise Refused("ORDER_NOT_FOUND", f"No order {order_id}.")
    return dict(found.data)


def _save(account: str, order: dict[str, Any]) -> None:
    sim_put(PROVIDER, "order", order["order_id"], order, account=account)


def _debtor_exposure(account: str, debtor: str) -> int:
    """What a debtor's orders hold of its limit: reserved or captured amounts, and what is open of activated ones."""
    held = 0
    for row in SimObject.objects.filter(provider=PROVIDER, kind="order", account=account, data__debtor=debtor):
        held += _held(row.data)
    return held


def _held(order: dict[str, Any]) -> int:
    status = order["status"]
    if status == "reserved":
        return int(order["amount"])
    if status == "captured":
        return int(order["captured"])
    if status == "activated":
        return int(order["open"])
    return 0


def _answer(order: dict[str, Any]) -> dict[str, Any]:
    return {
        "REF_NO": order["ref_no"],
        "ORDER_ID": order["order_id"],
        "DB_ID": order["db_id"],
        "GUAR_AMT": _held(order),
    }


def reserve(payload: etree._Element, account: str, order_id: str) -> dict[str, Any]:
    order_data = _fields(_child(payload, "ORDER_DATA"))
    debtor = _child(payload, "DEBTOR_DATA")
    if sim_get(PROVIDER, "order", order_id) is not None:
        raise Refused("ORDER_ID_IN_USE", f"Order {order_id} was reserved before.")
    currency = order_data.get("TRS_CURRENCY", "")
    if currency not in CURRENCIES:
        raise Refused("INVALID_CURRENCY", f"Currency {currency or '(none)'} is not supported.")
    gross = _cents(order_data.get("TRS_AMT_GROSS", ""), "TRS_AMT_GROSS")
    net = _cents(order_data.get("TRS_AMT_NET", "") or str(gross), "TRS_AMT_NET")
    if gross <= 0 or net > gross:
        raise Refused("INVALID_AMOUNT", "TRS_AMT_GROSS must be positive and not below TRS_AMT_NET.")
    if order_data.get("PAY_TYPE", "1") != "1" or order_data.get("TERMS_ACCEPTED") != "1":
        raise Refused("INVALID_REQUEST", "PAY_TYPE must be 1 (invoice) and TERMS_ACCEPTED 1.")
    auto_capture = order_data.get("AUTO_CAPTURE", "0") == "1"
    auto_activate = order_data.get("AUTO_ACTIVATE", "0") == "1"
    invoice = _fields(_child(payload, "INVOICE_DATA"))
    if auto_activate and not auto_capture:
        raise Refused("INVALID_REQUEST", "AUTO_ACTIVATE requires AUTO_CAPTURE.")
    if auto_activate:
        _check_invoice(invoice)
    email = _text(debtor, "BD_EMAIL").lower()
    vat_id = _text(debtor, "COMPANY_DATA", "COM_ID_VAT").upper().replace(" ", "")
    if not email:
        raise Refused("MISSING_FIELD", "BD_EMAIL is required.")
    debtor_key = vat_id or email
    if email != SUCCESS_EMAIL:
        raise Refused("CREDIT_CHECK_DENIED", "The debtor did not pass the credit check.")
    if _debtor_exposure(account, debtor_key) + gross > CREDIT_LIMIT_CENTS:
        raise Refused("CREDIT_LIMIT_EXCEEDED", "The order exceeds the debtor's credit limit.")
    order = {
        "order_id": order_id,
        "ref_no": f"IP{uuid.uuid4().int % 10**12:012d}",
        "db_id": f"DB{hashlib.sha256(debtor_key.encode()).hexdigest()[:10].upper()}",
        "debtor": debtor_key,
        "currency": currency,
        "amount": gross,
        "captured": 0,
        "open": 0,
        "status": "reserved",
        "reserve_trs_id": order_data.get("TRS_ID", ""),
        "capture_trs_id": "",
        "activate_trs_id": "",
        "cancel_trs_id": "",
        "invoice": {},
        "transactions": [],
    }
    if auto_capture:
        order.update(status="captured", captured=gross, capture_trs_id=order_data.get("TRS_ID", ""))
    if auto_activate:
        order.update(status="activated", open=gross, invoice=invoice, activate_trs_id=order_data.get("TRS_ID", ""))
    _save(account, order)
    return _answer(order)


def _check_invoice(invoice: dict[str, str]) -> None:
    for name in ("INVOICE_ID", "INVOICE_DATE", "DUE_DATE"):
        if not invoice.get(name):
            raise Refused("MISSING_FIELD", f"INVOICE_DATA.{name} is required.")
    for name in ("INVOICE_DATE", "DUE_DATE"):
        try:
            datetime.strptime(invoice[name], "%Y%m%d")  # noqa: DTZ007 - a calendar date, no time
        except ValueError as exc:
            raise Refused("INVALID_DATE", f"INVOICE_DATA.{name} must be Ymd.") from exc
    if invoice["DUE_DATE"] < invoice["INVOICE_DATE"]:
        raise Refused("INVALID_DATE", "DUE_DATE is before INVOICE_DATE.")


def _same_ref(order: dict[str, Any], payload: etree._Element) -> None:
    ref_no = _text(payload, "ORDER_DATA", "REF_NO")
    if ref_no and ref_no != order["ref_no"]:
        raise Refused("REF_NO_MISMATCH", "REF_NO does not belong to ORDER_ID.")


def capture(payload: etree._Element, account: str, order_id: str) -> dict[str, Any]:
    order = _order(account, order_id)
    _same_ref(order, payload)
    if order["status"] == "canceled":
        raise Refused("ORDER_CANCELED", "The order was canceled.")
    if order["status"] != "reserved":
        raise Refused("ALREADY_CAPTURED", "The order was captured before.")
    amount_text = _text(payload, "ORDER_DATA", "TRS_AMT_GROSS")
    amount = _cents(amount_text, "TRS_AMT_GROSS") if amount_text else int(order["amount"])
    if amount <= 0 or amount > int(order["amount"]):
        raise Refused("AMOUNT_EXCEEDS_RESERVATION", "The capture is more than the reserved amount.")
    order.update(status="captured", captured=amount, capture_trs_id=_text(payload, "ORDER_DATA", "TRS_ID"))
    _save(account, order)
    return _answer(order)


def activate(payload: etree._Element, account: str, order_id: str) -> dict[str, Any]:
    order = _order(account, order_id)
    _same_ref(order, payload)
    if order["status"] == "reserved":
        raise Refused("ORDER_NOT_CAPTURED", "The order must be captured (shipped) before it is activated.")
    if order["status"] != "captured":
        raise Refused("INVALID_STATE", f"The order is {order['status']}.")
    invoice = _fields(_child(payload, "INVOICE_DATA"))
    _check_invoice(invoice)
    order.update(
        status="activated",
        open=order["captured"],
        invoice=invoice,
        activate_trs_id=_text(payload, "ORDER_DATA", "TRS_ID"),
    )
    _save(account, order)
    return _answer(order)


def apply_transaction(payload: etree._Element, account: str, order_id: str) -> dict[str, Any]:
    order = _order(account, order_id)
    _same_ref(order, payload)
    if order["status"] != "activated":
        raise Refused("ORDER_NOT_ACTIVATED", "Transactions apply to activated orders only.")
    data = _fields(_child(payload, "TRANSACTION_DATA"))
    if data.get("TRS_TYPE") not in ("CREDIT_NOTE", "PAYMENT"):
        raise Refused("INVALID_REQUEST", "TRS_TYPE must be CREDIT_NOTE or PAYMENT.")
    if data.get("TRS_CURRENCY", order["currency"]) != order["currency"]:
        raise Refused("INVALID_CURRENCY", "The transaction's currency is not the order's.")
    amount = _cents(data.get("TRS_AMT", ""), "TRS_AMT")
    if not data.get("DOC_ID"):
        raise Refused("MISSING_FIELD", "TRANSACTION_DATA.DOC_ID is required.")
    if any(t["doc_id"] == data["DOC_ID"] for t in order["transactions"]):
        raise Refused("DUPLICATE_DOC_ID", "A transaction with this DOC_ID was applied before.")
    if amount <= 0 or amount > int(order["open"]):
        raise Refused("AMOUNT_EXCEEDS_OPEN", "The transaction is more than is open on the order.")
    order["transactions"] = [
        *order["transactions"],
        {"doc_id": data["DOC_ID"], "type": data["TRS_TYPE"], "amount": amount},
    ]
    order["open"] = int(order["open"]) - amount
    _save(account, order)
    return _answer(order)


def cancel(payload: etree._Element, account: str, order_id: str) -> dict[str, Any]:
    order = _order(account, order_id)
    _same_ref(order, payload)
    if order["status"] == "canceled":
        raise Refused("ORDER_CANCELED", "The order was canceled before.")
    if order["status"] == "activated":
        raise Refused("ORDER_ACTIVATED", "An activated order is reduced by credit notes, not canceled.")
    order.update(status="canceled", cancel_trs_id=_text(payload, "ORDER_DATA", "TRS_ID"))
    _save(account, order)
    return _answer(order)


def check_status(payload: etree._Element, account: str, order_id: str) -> dict[str, Any]:
    found = sim_get(PROVIDER, "order", order_id)
    if found is None or found.account != account:
        raise Refused("ORDER_NOT_FOUND", f"No order {order_id}.")
    order = found.data
    return {
        **_answer(order),
        "ORDER_STATUS": order["status"].upper(),
        "TRS_AMT": order["amount"],
        "TRS_CURRENCY": order["currency"],
        "CAPTURED_AMT": order["captured"],
        "OPEN_AMT": order["open"],
        "CAPTURE_TRS_ID": order["capture_trs_id"],
        "ACTIVATE_TRS_ID": order["activate_trs_id"],
        "CANCEL_TRS_ID": order["cancel_trs_id"],
        "transactions": order["transactions"],
    }


HANDLERS: dict[str, Callable[[etree._Element, str, str], dict[str, Any]]] = {
    "reserveOrder": reserve,
    "captureOrder": capture,
    "activateOrder": activate,
    "applyTransactionOnActivatedOrder": apply_transaction,
    "cancelOrder": cancel,
    "checkStatusOrder": check_status,
}


def order_state(order_id: str) -> dict[str, Any] | None:
    """What the sandbox holds for an order (tests)."""
    found = sim_get(PROVIDER, "order", order_id)
    return dict(found.data) if found is not None else None


def debtor_exposure(client_ref: str, debtor: str) -> int:
    """How much of a debtor's limit its orders hold, in cents (tests)."""
    return _debtor_exposure(sim_account_id(client_ref, prefix="ip_"), debtor)
