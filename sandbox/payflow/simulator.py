"""The Payflow sandbox: a stateful simulator of the Payflow Pro NVP API, Payflow Link and Express Checkout.

Served under `/sandbox/payflow/` and, for the Payments Pro integration type, `/sandbox/payflow_pro/` (the same code;
each address keeps its own state, keys, faults and clock, named after the integration type). When
`settings.SANDBOX_ENABLED`:

* `POST /` is the NVP endpoint (pilot-payflowpro.paypal.com): `text/namevalue` bodies, not URL-encoded, with length
  tags `NAME[n]=value` read byte-exactly (providers.md §3.1); replies in the same syntax, always HTTP 200 unless a
  fault is switched on. TRXTYPE A, S (with the card, or a reference transaction with ORIGID), D (partial allowed;
  CAPTURECOMPLETE=N keeps the authorization open, anything else closes it), V (before settlement), C (partial,
  repeated, never more than is left; an authorization is not creditable: RESULT 3), I (by ORIGID, SECURETOKEN or
  CUSTREF: as the guide says, the last transaction carrying it, searched between STARTTIME and ENDTIME
  (yyyymmddhhmmss, UTC here, at most 30 days apart; one alone sets the other 30 days away) or else over the last
  30 days), secure tokens (CREATESECURETOKEN=Y), and TENDER=P Express Checkout (ACTION=S set, G get details,
  D do payment).
* Reference transactions (A or S with ORIGID and no card): only an approved card transaction of the same merchant
  account, at most 12 months old; anything else is RESULT 19, original transaction not found.
* Billing fields as the Payflow Pro developer's guide limits them (`FIELD_LIMITS`: FIRSTNAME, LASTNAME, COMPANYNAME
  and STREET 30, CITY 20, INVNUM 9, EMAIL 60 …); a US ZIP is 5 or 9 digits with no space or dash (other postal codes
  letters and digits, at most 9), a US STATE its 2-letter code; anything else is RESULT 7 naming the field, on the
  API, at token creation and on Payflow Link.
* Inquiries answer in the VERBOSITY asked for, else in that of the original transaction (LOW by default): LOW says
  ORIGRESULT, ORIGPNREF and AUTHCODE; MEDIUM adds TRANSSTATE; HIGH adds AMT, TRXTYPE, ACCT (last four) and EXPDATE.
* Currencies: those on PayPal's currency codes page (RESULT 6 otherwise); HUF, JPY and TWD take whole amounts.
* Credentials: any PARTNER, VENDOR and USER with a PWD of at least 4 characters is an account (derived from partner
  and vendor); PWD `invalid` (or a shorter one) gets RESULT 1.
* `X-VPS-REQUEST-ID` (1–32 printable characters, required): a repeated id is not run again; the first reply comes
  back with `DUPLICATE=1`, whatever the new body says. Ids are kept 30 days of simulated time.
* The pilot server's amount triggers (providers.md §3.4), for card authorizations and sales in USD: up to $1000.99
  approves; $1001–$2000 gives RESULT = dollars − 1000 when that code exists, otherwise 12; from $2001 on, 12.
  Credits, captures and voids are not triggered. Other currencies approve (the triggers are documented in dollars).
  The card 000000000000000 (or any number failing the Luhn check) gives 23, an expiry in the past 24; CVV2
  000 → CVV2MATCH X… as on pilot (001–300 Y, 301–600 N, ≥601 X).
* Payflow Link (`/link/`): the browser posts SECURETOKEN, SECURETOKENID and the card (ACCT, EXPDATE, CVV2) here —
  the transparent redirect — or opens it with only the token to get the hosted card page. The token's transaction
  runs and the browser is sent (303, GET) to RETURNURL, or ERRORURL when not approved, with the result fields
  (RESULT, PNREF, RESPMSG, AUTHCODE, AVSADDR, AVSZIP, CVV2MATCH, SECURETOKEN, SECURETOKENID, AMT; never the card).
  Tokens last 30 minutes on the sandbox clock ("Secure Token Expired", RESULT 7) and serve one attempt.
* Express Checkout approval page (`/express/approve?token=EC-…`): the buyer approves (back to RETURNURL with
  `token` and `PayerID`) or cancels (back to CANCELURL); tokens last 3 hours.
* Faults from `/sandbox/__sim/fault` (provider=payflow or payflow_pro) by operation: `authorization`, `sale`,
  `delayed_capture`, `void`, `credit`, `inquiry`, `secure_token`, `express_set`, `express_get`, `express_do`.
* `POST /__sim/settle` settles every unsettled transaction (or `pnref=`): a void is then refused (RESULT 108).

Simplifications: no silent post, no recurring billing or line items, a token serves a single attempt (the guide
allows three), an unused or unknown secure token in an inquiry gives RESULT 19.
"""

from __future__ import annotations

import base64
import re
import secrets
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string
from django.views.decorators.http import require_http_methods, require_POST

from core.cards import card_brand, luhn_valid
from providers.payflow import nvp
from sandbox.pipeline import Idempotency, serve, sim_account_id
from sandbox.services import (
    SimReply,
    sim_get,
    sim_list,
    sim_now,
    sim_put,
)
from sandbox.views import sandbox_view

REQUEST_ID_TTL = timedelta(days=30)
#: an inquiry by CUSTREF searches at most 30 days (the last 30 without STARTTIME and ENDTIME)
INQUIRY_WINDOW = timedelta(days=30)
TOKEN_TTL = timedelta(minutes=30)
EXPRESS_TTL = timedelta(hours=3)
#: a PNREF can be referenced (ORIGID of a reference sale or authorization) for 12 months
REFERENCE_TTL = timedelta(days=365)
#: PayPal's currency codes page: the currencies PayPal processes; HUF, JPY and TWD take no decimals
PAYPAL_CURRENCIES = frozenset(
    "AUD BRL CAD CHF CZK DKK EUR GBP HKD HUF ILS JPY MXN MYR NOK NZD PHP PLN SEK SGD THB TWD USD".split()
)
WHOLE_UNITS = frozenset({"HUF", "JPY", "TWD"})
#: the Payflow Pro developer's guide (credit card transaction parameters, additional reporting parameters):
#: maximum lengths of the billing fields; longer values are a field format error (RESULT 7)
FIELD_LIMITS = {
    "FIRSTNAME": 30,
    "LASTNAME": 30,
    "COMPANYNAME": 30,
    "STREET": 30,
    "CITY": 20,
    "STATE": 10,  # US: the 2-letter code; elsewhere the name (ship-to: 10)
    "ZIP": 9,
    "BILLTOCOUNTRY": 3,
    "EMAIL": 60,
    "PHONENUM": 20,
    "INVNUM": 9,
    "PONUM": 15,
    "COMMENT1": 128,
    "COMMENT2": 128,
    "CUSTREF": 12,
}

MESSAGES: dict[int, str] = {
    0: "Approved",
    1: "User authentication failed",
    2: "Invalid tender type",
    3: "Invalid transaction type for this transaction",
    4: "Invalid amount format",
    5: "Invalid merchant information",
    6: "Invalid or unsupported currency code",
    7: "Field format error",
    8: "Not a transaction server",
    9: "Too many parameters or invalid stream",
    10: "Too many line items",
    11: "Client time-out waiting for response",
    12: "Declined",
    13: "Referral",
    14: "Invalid Client Certification ID",
    19: "Original transaction ID not found",
    20: "Cannot find the customer reference number",
    22: "Invalid ABA number",
    23: "Invalid account number",
    24: "Invalid expiration date",
    25: "Invalid Host Mapping",
    26: "Invalid vendor account",
    27: "Insufficient partner permissions",
    28: "Insufficient user permissions",
    29: "Invalid XML document",
    30: "Duplicate transaction",
    50: "Insufficient funds available in account",
    51: "Exceeds per transaction limit",
    99: "General error",
    100: "Transaction type not supported by host",
    104: "Timeout waiting for processor response. Try your transaction again.",
    105: "Credit error",
    108: "Void error",
    111: "Capture error",
    112: "Failed AVS check",
    114: "Card Security Code (CSC) Mismatch",
    125: "Fraud Protection Services Filter - Declined by filters",
    126: "Fraud Protection Services Filter - Flagged for review by filters",
    127: "Fraud Protection Services Filter - Not processed by filters",
    128: "Fraud Protection Services Filter - Declined by merchant after being flagged for review by filters",
}
#: TRANSSTATE of the inquiry reply
STATE_APPROVED, STATE_CAPTURED, STATE_PARTIAL, STATE_SETTLED, STATE_VOIDED, STATE_FAILED = 3, 9, 4, 8, 16, 1


def pilot_result(amount: Decimal, currency: str) -> int:
    """RESULT the pilot server gives a card authorization or sale of this amount (providers.md §3.4)."""
    if currency != "USD" or amount < 1001:
        return 0
    if amount < 2001:
        code = int(amount) - 1000
        return code if code in MESSAGES else 12
    return 12


def cvv2_match(cvv: str) -> str:
    if not cvv:
        return ""
    value = int(cvv) if cvv.isdigit() else -1
    if value == 0:
        return "X"  # "000: null" on pilot
    return "Y" if 1 <= value <= 300 else "N" if 301 <= value <= 600 else "X"


def _new_pnref() -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
    return "V" + "".join(secrets.choice(alphabet) for _ in range(11))


def _account(params: Mapping[str, str]) -> str | None:
    vendor, user, password = params.get("VENDOR", ""), params.get("USER", ""), params.get("PWD", "")
    partner = params.get("PARTNER", "")
    if not (partner and vendor and user) or len(password) < 4 or password == "invalid":  # noqa: S105
        return None
    return sim_account_id(f"{partner}|{vendor}")


def _amount(value: str | None, currency: str) -> Decimal | None:
    """AMT as Payflow reads it: digits with at most two decimals (none in HUF, JPY, TWD)."""
    pattern = r"\d{1,10}" if currency in WHOLE_UNITS else r"\d{1,10}(\.\d{1,2})?"
    if value is None or not re.fullmatch(pattern, value):
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        return None


def _fmt(amount: Decimal, currency: str) -> str:
    return f"{amount:.0f}" if currency in WHOLE_UNITS else f"{amount:.2f}"


def _reply(result: int, message: str = "", **fields: Any) -> SimReply:
    pairs: dict[str, Any] = {"RESULT": result}
    pairs.update({k: v for k, v in fields.items() if k in ("PNREF",)})
    pairs["RESPMSG"] = message or MESSAGES.get(result, "Error")
    pairs.update({k: v for k, v in fields.items() if k != "PNREF" and v not in (None, "")})
    return SimReply(200, nvp.encode(pairs).decode())


def _error(result: int, detail: str = "") -> SimReply:
    message = MESSAGES.get(result, "Error") + (f": {detail}" if detail else "")
    return _reply(result, message)


def _field_error(params: Mapping[str, str]) -> SimReply | None:
    """RESULT 7 (field format error, the field named in RESPMSG) for billing fields Payflow does not take: longer
    than documented, a US ZIP that is not 5 or 9 digits (no spaces or dashes), a postal code with anything but
    letters and digits, a US state that is not its 2-letter code."""
    for name, limit in FIELD_LIMITS.items():
        value = params.get(name)
        if value is not None and len(value) > limit:
            return _error(7, f"{name} is longer than {limit} characters")
    domestic = params.get("BILLTOCOUNTRY", "US").upper() in ("US", "USA", "840")
    zip_code = params.get("ZIP", "")
    if zip_code and not re.fullmatch(r"\d{5}(\d{4})?" if domestic else r"[A-Za-z0-9]{1,9}", zip_code):
        return _error(7, "ZIP must be 5 or 9 digits, without spaces or dashes")
    state = params.get("STATE", "")
    if state and domestic and not re.fullmatch(r"[A-Za-z]{2}", state):
        return _error(7, "STATE must be the 2-letter state code")
    return None


class Ctx:
    """One NVP call: which simulated Payflow (payflow / payflow_pro), which merchant account."""

    def __init__(self, provider: str, account: str) -> None:
        self.provider = provider
        self.account = account

    def load(self, kind: str, object_id: str) -> dict[str, Any] | None:
        obj = sim_get(self.provider, kind, object_id, lock=True)
        if obj is None or obj.account != self.account:
            return None
        return dict(obj.data)

    def save(self, kind: str, object_id: str, data: dict[str, Any]) -> None:
        sim_put(self.provider, kind, object_id, data, account=self.account)

    def now(self) -> float:
        return sim_now(self.provider).timestamp()


# --- transactions --------------------------------------------------------------------------------------------

BILLING = (
    "FIRSTNAME",
    "LASTNAME",
    "COMPANYNAME",
    "STREET",
    "CITY",
    "STATE",
    "ZIP",
    "BILLTOCOUNTRY",
    "EMAIL",
    "INVNUM",
    "COMMENT1",
    "COMMENT2",
    "PONUM",
)


def _card(params: Mapping[str, str], now: float) -> dict[str, Any] | int:
    """The card of a request, as the sandbox keeps it (never the number), or the RESULT refusing it."""
    number = re.sub(r"[\s-]", "", params.get("ACCT", ""))
    if number == "000000000000000" or not luhn_valid(number):
        return 23
    expdate = params.get("EXPDATE", "")
    if not re.fullmatch(r"(0[1-9]|1[0-2])\d\d", expdate):
        return 24
    today = time.gmtime(now)
    if (2000 + int(expdate[2:]), int(expdate[:2])) < (today.tm_year, today.tm_mon):
        return 24
    return {
        "last4": number[-4:],
        "brand": card_brand(number),
        "expdate": expdate,
        "cvv2match": cvv2_match(params.get("CVV2", "")),
    }


def _record(ctx: Ctx, data: dict[str, Any], params: Mapping[str, str] | None = None) -> dict[str, Any]:
    pnref = _new_pnref()
    data = {
        "pnref": pnref,
        "created": ctx.now(),
        "verbosity": (params or {}).get("VERBOSITY", "LOW").upper(),
        "captured": "0",
        "refunded": "0",
        "closed": False,
        "voided": False,
        "settled": False,
        **data,
    }
    ctx.save("transaction", pnref, data)
    return data


def _transaction_reply(txn: Mapping[str, Any]) -> SimReply:
    card = txn.get("card") or {}
    approved = txn["result"] == 0
    return _reply(
        txn["result"],
        txn["respmsg"],
        PNREF=txn["pnref"],
        AUTHCODE=txn.get("authcode") if approved else None,
        AVSADDR="Y" if approved and txn.get("tender") == "C" and txn["trxtype"] in "AS" else None,
        AVSZIP="Y" if approved and txn.get("tender") == "C" and txn["trxtype"] in "AS" else None,
        CVV2MATCH=card.get("cvv2match") if txn["trxtype"] in "AS" else None,
        PPREF=txn.get("ppref"),
        CORRELATIONID=txn.get("correlationid"),
        PENDINGREASON=txn.get("pendingreason"),
        PAYMENTTYPE=txn.get("paymenttype"),
    )


def _purchase(ctx: Ctx, params: Mapping[str, str], card: dict[str, Any], *, token: str = "") -> dict[str, Any]:
    """Run a card authorization or sale and keep it."""
    currency = params.get("CURRENCY", "USD")
    amount = _amount(params.get("AMT"), currency) or Decimal(0)
    trxtype = params["TRXTYPE"]
    result = pilot_result(amount, currency) if amount > 0 else 0
    return _record(
        ctx,
        {
            "trxtype": trxtype,
            "tender": "C",
            "amt": _fmt(amount, currency),
            "currency": currency,
            "result": result,
            "respmsg": MESSAGES[result],
            "authcode": f"{secrets.randbelow(10**6):06d}" if result == 0 else "",
            "origid": params.get("ORIGID", ""),
            "custref": params.get("CUSTREF", ""),
            "securetoken": token,
            "card": card,
            "billing": {k: params[k] for k in BILLING if k in params},
            "captured": _fmt(amount, currency) if trxtype == "S" and result == 0 else "0",
        },
        params,
    )


def _check_amount(params: Mapping[str, str], *, required: bool = True) -> tuple[Decimal | None, str] | SimReply:
    currency = params.get("CURRENCY", "USD")
    if currency not in PAYPAL_CURRENCIES:
        return _error(6)
    if "AMT" not in params and not required:
        return None, currency
    amount = _amount(params.get("AMT"), currency)
    if amount is None or amount >= Decimal("100000"):
        return _error(4)
    return amount, currency


def handle_card_purchase(ctx: Ctx, params: Mapping[str, str]) -> SimReply:
    """A or S: with the card (ACCT), or a reference transaction on the card of ORIGID."""
    checked = _check_amount(params)
    if isinstance(checked, SimReply):
        return checked
    if (refused := _field_error(params)) is not None:
        return refused
    if params.get("ORIGID"):
        # a reference transaction: only an approved card transaction of this merchant account, made within
        # the last 12 months (another account's PNREF, a declined one or an old one: not found)
        original = ctx.load("transaction", params["ORIGID"])
        if original is None or not original.get("card") or original["result"] != 0:
            return _error(19)
        if ctx.now() - original["created"] > REFERENCE_TTL.total_seconds():
            return _error(19, "the original transaction is too old to be referenced")
        card: dict[str, Any] | int = dict(original["card"])
    elif params.get("ACCT"):
        card = _card(params, ctx.now())
    else:
        return _error(7, "ACCT or ORIGID is required")
    if isinstance(card, int):
        return _error(card)
    return _transaction_reply(_purchase(ctx, params, card))


def handle_delayed_capture(ctx: Ctx, params: Mapping[str, str]) -> SimReply:
    auth = ctx.load("transaction", params.get("ORIGID", ""))
    if auth is None:
        return _error(19)
    if auth["trxtype"] != "A" or auth["result"] != 0:
        return _error(3)
    if auth["voided"] or auth["closed"]:
        return _error(111, "the authorization is " + ("voided" if auth["voided"] else "already captured"))
    left = Decimal(auth["amt"]) - Decimal(auth["captured"])
    checked = _check_amount({**params, "CURRENCY": auth["currency"]}, required=False)
    if isinstance(checked, SimReply):
        return checked
    amount = checked[0] if checked[0] is not None else left
    if amount <= 0 or amount > left:
        return _error(4, f"the capture exceeds the {_fmt(left, auth['currency'])} left")
    auth["captured"] = _fmt(Decimal(auth["captured"]) + amount, auth["currency"])
    auth["closed"] = params.get("CAPTURECOMPLETE", "Y").upper() != "N" or Decimal(auth["captured"]) >= Decimal(
        auth["amt"]
    )
    ctx.save("transaction", auth["pnref"], auth)
    capture = _record(
        ctx,
        {
            "trxtype": "D",
            "tender": auth.get("tender", "C"),
            "amt": _fmt(amount, auth["currency"]),
            "currency": auth["currency"],
            "result": 0,
            "respmsg": MESSAGES[0],
            "origid": auth["pnref"],
            "custref": params.get("CUSTREF", ""),
            "captured": _fmt(amount, auth["currency"]),
        },
    )
    return _transaction_reply(capture)


def handle_void(ctx: Ctx, params: Mapping[str, str]) -> SimReply:
    original = ctx.load("transaction", params.get("ORIGID", ""))
    if original is None:
        return _error(19)
    if original["result"] != 0 or original["voided"] or original["settled"] or original["trxtype"] not in "ASDC":
        return _error(108, "the transaction is settled, voided or not voidable")
    if original["trxtype"] == "A" and original["closed"]:
        return _error(108, "the authorization was captured; void or credit the capture")
    original["voided"] = True
    original["closed"] = True
    ctx.save("transaction", original["pnref"], original)
    left = Decimal(original["amt"]) - Decimal(original["captured"] if original["trxtype"] == "A" else "0")
    void = _record(
        ctx,
        {
            "trxtype": "V",
            "tender": original.get("tender", "C"),
            "amt": _fmt(left, original["currency"]),
            "currency": original["currency"],
            "result": 0,
            "respmsg": MESSAGES[0],
            "origid": original["pnref"],
            "custref": params.get("CUSTREF", ""),
        },
    )
    return _transaction_reply(void)


def handle_credit(ctx: Ctx, params: Mapping[str, str]) -> SimReply:
    original = ctx.load("transaction", params.get("ORIGID", ""))
    if original is None:
        return _error(19)
    if original["trxtype"] not in ("S", "D") or original["result"] != 0:
        return _error(3, "only a sale or a delayed capture can be credited")
    if original["voided"]:
        return _error(105, "the transaction was voided")
    left = Decimal(original["captured"]) - Decimal(original["refunded"])
    checked = _check_amount({**params, "CURRENCY": original["currency"]}, required=False)
    if isinstance(checked, SimReply):
        return checked
    amount = checked[0] if checked[0] is not None else left
    if amount <= 0 or amount > left:
        return _error(105, f"the credit exceeds the {_fmt(left, original['currency'])} left")
    original["refunded"] = _fmt(Decimal(original["refunded"]) + amount, original["currency"])
    ctx.save("transaction", original["pnref"], original)
    credit = _record(
        ctx,
        {
            "trxtype": "C",
            "tender": original.get("tender", "C"),
            "amt": _fmt(amount, original["currency"]),
            "currency": original["currency"],
            "result": 0,  # credits are always approved on pilot
            "respmsg": MESSAGES[0],
            "origid": original["pnref"],
            "custref": params.get("CUSTREF", ""),
        },
    )
    return _transaction_reply(credit)


def _state(txn: Mapping[str, Any]) -> int:
    if txn["result"] != 0:
        return STATE_FAILED
    if txn["voided"]:
        return STATE_VOIDED
    if txn["settled"]:
        return STATE_SETTLED
    if txn["trxtype"] == "A" and Decimal(txn["captured"]) > 0:
        return STATE_CAPTURED if txn["closed"] else STATE_PARTIAL
    return STATE_APPROVED if txn["trxtype"] == "A" else 6  # 6: settlement pending


def handle_inquiry(ctx: Ctx, params: Mapping[str, str]) -> SimReply:
    txn: dict[str, Any] | None = None
    if params.get("ORIGID"):
        txn = ctx.load("transaction", params["ORIGID"])
    elif params.get("SECURETOKEN"):
        token = ctx.load("secure_token", params["SECURETOKEN"])
        if token is not None and token.get("pnref"):
            txn = ctx.load("transaction", token["pnref"])
        elif token is not None and ctx.now() - token["created"] > TOKEN_TTL.total_seconds():
            return _reply(7, "Secure Token Expired")
    elif params.get("CUSTREF"):
        window = _inquiry_window(params, ctx.now())
        if window is None:
            return _error(7, "STARTTIME and ENDTIME must be yyyymmddhhmmss, at most 30 days apart")
        start, end = window
        found = [o.data for o in sim_list(ctx.provider, "transaction", account=ctx.account)]
        found = [t for t in found if t.get("custref") == params["CUSTREF"] and start <= t["created"] <= end]
        txn = found[-1] if found else None  # "returns only the last transaction with the specified CUSTREF"
    if txn is None:
        return _error(19)
    card = txn.get("card") or {}
    # Inquiries answer in the verbosity asked for, else in that of the original transaction: LOW says only
    # whether it was approved; MEDIUM adds its state; HIGH its amount, type and card
    verbosity = (params.get("VERBOSITY") or txn.get("verbosity") or "LOW").upper()
    fields: dict[str, Any] = {
        "ORIGRESULT": txn["result"],
        "ORIGPNREF": txn["pnref"],
        "AUTHCODE": txn.get("authcode"),
    }
    if verbosity in ("MEDIUM", "HIGH"):
        fields["TRANSSTATE"] = _state(txn)
    if verbosity == "HIGH":
        fields.update(
            AMT=txn["amt"],
            TRXTYPE=txn["trxtype"],
            ACCT=card.get("last4"),
            EXPDATE=card.get("expdate"),
            PPREF=txn.get("ppref"),
            PENDINGREASON=txn.get("pendingreason"),
        )
    return _reply(0, txn["respmsg"], PNREF=_new_pnref(), **fields)


def _inquiry_window(params: Mapping[str, str], now: float) -> tuple[float, float] | None:
    """(start, end) timestamps an inquiry by CUSTREF searches, or None for a malformed or too wide window."""

    def moment(name: str) -> float | None:
        value = params.get(name)
        return datetime.strptime(value, "%Y%m%d%H%M%S").replace(tzinfo=UTC).timestamp() if value else None

    span = INQUIRY_WINDOW.total_seconds()
    try:
        start, end = moment("STARTTIME"), moment("ENDTIME")
    except ValueError:
        return None
    if end is None:
        end = start + span if start is not None else now
    if start is None:
        start = end - span
    return (start, end) if 0 <= end - start <= span else None


def handle_secure_token(ctx: Ctx, params: Mapping[str, str], link_url: str) -> SimReply:
    if params.get("TRXTYPE") not in ("A", "S"):
        return _error(3)
    checked = _check_amount(params)
    if isinstance(checked, SimReply):
        return checked
    if (refused := _field_error(params)) is not None:
        return refused
    token_id = params.get("SECURETOKENID", "")
    if not re.fullmatch(r"[A-Za-z0-9]{1,36}", token_id):
        return _error(7, "SECURETOKENID must be 1-36 alphanumeric characters")
    for existing in sim_list(ctx.provider, "secure_token", account=ctx.account):
        if existing.data["id"] == token_id:
            return _error(7, "Secure Token ID already used")
    token = base64.b64encode(secrets.token_bytes(17)).decode()  # 24 characters; may hold + / and =
    kept = {k: v for k, v in params.items() if k not in ("PARTNER", "VENDOR", "USER", "PWD", "CREATESECURETOKEN")}
    ctx.save("secure_token", token, {"token": token, "id": token_id, "params": kept, "created": ctx.now()})
    return _reply(0, "Approved", SECURETOKEN=token, SECURETOKENID=token_id)


def handle_express(ctx: Ctx, params: Mapping[str, str]) -> SimReply:
    action = params.get("ACTION", "")
    if action == "S":
        if params.get("TRXTYPE") not in ("A", "S"):
            return _error(3)
        checked = _check_amount(params)
        if isinstance(checked, SimReply):
            return checked
        if (refused := _field_error(params)) is not None:
            return refused
        if not params.get("RETURNURL") or not params.get("CANCELURL"):
            return _error(7, "RETURNURL and CANCELURL are required")
        token = "EC-" + "".join(secrets.choice("ABCDEFGHJKLMNPRSTUVWXYZ0123456789") for _ in range(17))
        kept = {k: v for k, v in params.items() if k not in ("PARTNER", "VENDOR", "USER", "PWD")}
        ctx.save("express", token, {"token": token, "params": kept, "created": ctx.now(), "payerid": ""})
        return _reply(0, "Approved", TOKEN=token, CORRELATIONID=secrets.token_hex(6))
    express = ctx.load("express", params.get("TOKEN", ""))
    if express is None:
        return _error(7, "10410-Invalid token")
    if ctx.now() - express["created"] > EXPRESS_TTL.total_seconds():
        return _error(7, "10411-This Express Checkout session has expired")
    if action == "G":
        fields: dict[str, Any] = {"TOKEN": express["token"], "CORRELATIONID": secrets.token_hex(6)}
        if express["payerid"]:
            fields.update(
                PAYERID=express["payerid"], PAYERSTATUS="verified", EMAIL="buyer@paypal.example", FIRSTNAME="Pat"
            )
        return _reply(0, "Approved", **fields)
    if action == "D":
        if not express["payerid"] or params.get("PAYERID") != express["payerid"]:
            return _error(7, "10419-PayerID is missing or does not match")
        if express.get("pnref"):
            return _error(7, "10415-A successful transaction has already been completed for this token")
        currency = express["params"].get("CURRENCY", "USD")
        checked = _check_amount({**params, "CURRENCY": currency})
        if isinstance(checked, SimReply):
            return checked
        amount = checked[0] or Decimal(0)
        trxtype = params.get("TRXTYPE", express["params"]["TRXTYPE"])
        txn = _record(
            ctx,
            {
                "trxtype": trxtype,
                "tender": "P",
                "amt": _fmt(amount, currency),
                "currency": currency,
                "result": 0,
                "respmsg": MESSAGES[0],
                "custref": params.get("CUSTREF", ""),
                "ppref": secrets.token_hex(8).upper(),
                "correlationid": secrets.token_hex(6),
                "pendingreason": "authorization" if trxtype == "A" else "none",
                "paymenttype": "instant",
                "captured": _fmt(amount, currency) if trxtype == "S" else "0",
                "billing": {k: express["params"][k] for k in BILLING if k in express["params"]},
            },
        )
        express["pnref"] = txn["pnref"]
        ctx.save("express", express["token"], express)
        return _transaction_reply(txn)
    return _error(7, "ACTION must be S, G or D")


def _operation(params: Mapping[str, str]) -> str:
    if params.get("TENDER") == "P" and params.get("ACTION") in ("S", "G", "D"):
        return {"S": "express_set", "G": "express_get", "D": "express_do"}[params["ACTION"]]
    if params.get("CREATESECURETOKEN", "").upper() == "Y":
        return "secure_token"
    names = {"A": "authorization", "S": "sale", "D": "delayed_capture", "V": "void", "C": "credit", "I": "inquiry"}
    return names.get(params.get("TRXTYPE", ""), "other")


def _dispatch(ctx: Ctx, params: Mapping[str, str], operation: str, link_url: str) -> SimReply:
    handlers: dict[str, Callable[[], SimReply]] = {
        "express_set": lambda: handle_express(ctx, params),
        "express_get": lambda: handle_express(ctx, params),
        "express_do": lambda: handle_express(ctx, params),
        "secure_token": lambda: handle_secure_token(ctx, params, link_url),
        "authorization": lambda: handle_card_purchase(ctx, params),
        "sale": lambda: handle_card_purchase(ctx, params),
        "delayed_capture": lambda: handle_delayed_capture(ctx, params),
        "void": lambda: handle_void(ctx, params),
        "credit": lambda: handle_credit(ctx, params),
        "inquiry": lambda: handle_inquiry(ctx, params),
    }
    handler = handlers.get(operation)
    if handler is None:
        return _error(3)
    if params.get("TENDER") not in ("C", "P"):
        return _error(2)
    return handler()


def _nvp_response(reply: SimReply, *, duplicate: bool = False) -> HttpResponse:
    body = reply.body + ("&DUPLICATE=1" if duplicate else "")
    return HttpResponse(body.encode(), status=reply.status, content_type="text/namevalue")


@sandbox_view
@require_POST
def nvp_endpoint(request: HttpRequest, provider: str) -> HttpResponse:
    """The Payflow Pro server: one address for every transaction."""
    try:
        params = nvp.decode(request.body)
    except nvp.NVPError as exc:
        return _nvp_response(_error(9, str(exc)))
    account = _account(params)
    if account is None:
        return _nvp_response(_error(1))
    request_id = request.headers.get("X-VPS-REQUEST-ID", "")
    if not (1 <= len(request_id) <= 32 and all(33 <= ord(c) <= 126 for c in request_id)):
        return _nvp_response(_error(7, "X-VPS-REQUEST-ID must be 1-32 printable characters"))
    operation = _operation(params)
    ctx = Ctx(provider, account)
    link_url = request.build_absolute_uri(request.path.rstrip("/") + "/link/")
    return serve(
        provider=provider,
        operation=operation,
        execute=lambda: _dispatch(ctx, params, operation, link_url),
        respond=lambda reply, replayed: _nvp_response(reply, duplicate=replayed),
        # Payflow ignores the body of a repeated id (the first answer stands); a repeat of a request still running
        # waits for it and answers as it will
        idempotency=Idempotency(account=account, key=request_id, request_hash="payflow", ttl=REQUEST_ID_TTL, wait=5),
        conflict=lambda refusal: _nvp_response(_error(11)),
    )


# --- the browser side: Payflow Link (transparent redirect, hosted card page) and Express approval ----------------


def _back(url: str, fields: Mapping[str, Any]) -> HttpResponse:
    if not url:
        text = "\n".join(f"{k}={v}" for k, v in fields.items())
        return HttpResponse(f"Payment finished. You may close this window.\n{text}", content_type="text/plain")
    separator = "&" if "?" in url else "?"
    return HttpResponseRedirect(f"{url}{separator}{urlencode(fields)}", status=303)


def _find_token(provider: str, token: str, token_id: str) -> Any:
    obj = sim_get(provider, "secure_token", token, lock=True)
    if obj is None or obj.data["id"] != token_id:
        return None
    return obj


@sandbox_view
@require_http_methods(["GET", "POST"])
def link(request: HttpRequest, provider: str) -> HttpResponse:
    """Payflow Link: with the card, the transparent redirect; with only the token, the hosted card page."""
    data = request.POST if request.method == "POST" else request.GET
    token, token_id = data.get("SECURETOKEN", ""), data.get("SECURETOKENID", "")
    with transaction.atomic():
        obj = _find_token(provider, token, token_id)
        if obj is None:
            return HttpResponse("Invalid secure token.", status=400, content_type="text/plain")
        stored = dict(obj.data)
        params = stored["params"]
        ctx = Ctx(provider, obj.account)
        base = {"SECURETOKEN": token, "SECURETOKENID": token_id}
        if ctx.now() - stored["created"] > TOKEN_TTL.total_seconds():
            return _back(params.get("ERRORURL", ""), {"RESULT": 7, "RESPMSG": "Secure Token Expired", **base})
        if stored.get("pnref"):
            return _back(params.get("ERRORURL", ""), {"RESULT": 7, "RESPMSG": "Secure Token already used", **base})
        if "ACCT" not in data:
            currency = params.get("CURRENCY", "USD")
            context = {"token": token, "token_id": token_id, "amount": params.get("AMT"), "currency": currency}
            return HttpResponse(render_to_string("sandbox/payflow/link.html", context, request=request))
        card_fields = {k: data.get(k, "") for k in ("ACCT", "EXPDATE", "CVV2")}
        card = _card(card_fields, ctx.now())
        overrides = {k: data[k] for k in BILLING if data.get(k)}
        if (refused := _field_error({**params, **overrides})) is not None:
            reply = nvp.decode(refused.body)
            return _back(params.get("ERRORURL", ""), {"RESULT": 7, "RESPMSG": reply["RESPMSG"], **base})
        if isinstance(card, int):
            txn = _record(
                ctx,
                {
                    "trxtype": params["TRXTYPE"],
                    "tender": "C",
                    "amt": params.get("AMT", "0"),
                    "currency": params.get("CURRENCY", "USD"),
                    "result": card,
                    "respmsg": MESSAGES[card],
                    "custref": params.get("CUSTREF", ""),
                    "securetoken": token,
                },
            )
        else:
            txn = _purchase(ctx, {**params, **overrides}, card, token=token)
        stored["pnref"] = txn["pnref"]
        obj.data = stored
        obj.save(update_fields=["data", "updated_at"])
    fields = {
        "RESULT": txn["result"],
        "PNREF": txn["pnref"],
        "RESPMSG": txn["respmsg"],
        "AUTHCODE": txn.get("authcode", ""),
        "AVSADDR": "Y" if txn["result"] == 0 else "",
        "AVSZIP": "Y" if txn["result"] == 0 else "",
        "CVV2MATCH": (txn.get("card") or {}).get("cvv2match", ""),
        "AMT": txn["amt"],
        "TRXTYPE": txn["trxtype"],
        **base,
    }
    url = params.get("RETURNURL", "") if txn["result"] == 0 else params.get("ERRORURL") or params.get("RETURNURL", "")
    return _back(url, fields)


@sandbox_view
@require_http_methods(["GET", "POST"])
def express_approve(request: HttpRequest, provider: str) -> HttpResponse:
    """PayPal's approval page for an Express Checkout token: log in and agree, or cancel."""
    token = request.GET.get("token", "") or request.POST.get("token", "")
    with transaction.atomic():
        obj = sim_get(provider, "express", token, lock=True)
        if obj is None:
            return HttpResponse("This PayPal session is not valid.", status=404, content_type="text/plain")
        express = dict(obj.data)
        params = express["params"]
        if sim_now(provider).timestamp() - express["created"] > EXPRESS_TTL.total_seconds():
            return HttpResponse("This PayPal session has expired.", status=410, content_type="text/plain")
        if request.method == "GET":
            context = {
                "token": token,
                "amount": params.get("AMT"),
                "currency": params.get("CURRENCY", "USD"),
                "brand": params.get("BRANDNAME") or "the merchant",
                "action": "Pay now" if params.get("TRXTYPE") == "S" else "Continue",
            }
            return HttpResponse(render_to_string("sandbox/payflow/express.html", context, request=request))
        if request.POST.get("decision") != "approve":
            return _back(params.get("CANCELURL", ""), {"token": token})
        if not express["payerid"]:
            express["payerid"] = "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(13))
            obj.data = express
            obj.save(update_fields=["data", "updated_at"])
    return _back(params.get("RETURNURL", ""), {"token": token, "PayerID": express["payerid"]})


@sandbox_view
@require_POST
def sim_settle(request: HttpRequest, provider: str) -> HttpResponse:
    """POST (pnref=…): settle one transaction or every unsettled one; settled ones can no longer be voided."""
    count = settle(request.POST.get("pnref", ""), provider)
    return HttpResponse(f"settled={count}", content_type="text/plain")


def settle(pnref: str = "", provider: str = "payflow") -> int:
    """Settle one transaction (or every unsettled one): a void is then refused. Returns how many settled."""
    count = 0
    with transaction.atomic():
        for obj in sim_list(provider, "transaction"):
            if (pnref and obj.object_id != pnref) or obj.data.get("settled"):
                continue
            obj.data = {**obj.data, "settled": True}
            obj.save(update_fields=["data", "updated_at"])
            count += 1
    return count


def review(pnref: str, decision: str, provider: str = "payflow") -> dict[str, Any]:
    """The merchant's decision in PayPal Manager on a transaction the fraud filters flagged for review (RESULT
    126): accepted, it is approved (RESULT 0); rejected, it is declined (RESULT 128)."""
    with transaction.atomic():
        obj = sim_get(provider, "transaction", pnref, lock=True)
        if obj is None or obj.data["result"] != 126:
            raise LookupError(f"no transaction flagged for review with PNREF {pnref}")
        result = 0 if decision == "approve" else 128
        data = {**obj.data, "result": result, "respmsg": MESSAGES[result]}
        if result == 0:
            data["authcode"] = f"{secrets.randbelow(10**6):06d}"
            if data["trxtype"] == "S":
                data["captured"] = data["amt"]
        obj.data = data
        obj.save(update_fields=["data", "updated_at"])
        return data


@sandbox_view
@require_POST
def sim_review(request: HttpRequest, provider: str) -> HttpResponse:
    """POST pnref, decision=approve|reject: PayPal Manager's fraud review of a flagged transaction."""
    decision = request.POST.get("decision", "")
    if decision not in ("approve", "reject"):
        return HttpResponse("decision must be approve or reject", status=400, content_type="text/plain")
    try:
        data = review(request.POST.get("pnref", ""), decision, provider)
    except LookupError as exc:
        return HttpResponse(str(exc), status=404, content_type="text/plain")
    return HttpResponse(f"RESULT={data['result']}", content_type="text/plain")


def transactions(provider: str = "payflow") -> list[dict[str, Any]]:
    """Every transaction a simulated Payflow keeps, oldest first (for tests)."""
    return [o.data for o in sim_list(provider, "transaction")]
