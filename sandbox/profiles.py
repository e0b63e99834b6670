"""One profile per simulated provider: how a merchant uses its test account there.

Credentials the simulator accepts, registering an integration's webhook URL (the provider dashboard's job), the
browser's tokenization step, settling and a fraud review's decision. The demo seed, the contract suite and the
tests' fixtures all take these from here, so a change of what a simulator accepts is made once.

A profile speaks to the simulator as a merchant would, never through an adapter.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import requests

from sandbox.apruve import simulator as apruve
from sandbox.apruve.keys import PUBLIC_KEY_PEM as APRUVE_PUBLIC_KEY
from sandbox.authorizenet import simulator as authorizenet
from sandbox.infinitepay import simulator as infinitepay
from sandbox.oropay import simulator as oropay
from sandbox.payflow import simulator as payflow
from sandbox.stripe import simulator as stripe
from sandbox.wirecard import simulator as wirecard

Credentials = tuple[dict[str, Any], dict[str, str]]


@dataclass(frozen=True)
class SandboxProfile:
    key: str
    #: (account, secret) -> (settings, secrets) of an integration the simulator accepts as that merchant account;
    #: `secret` seeds the secret values (tests pass nothing: the account name, so their values are stable)
    credentials: Callable[[str, str], Credentials]
    #: (integration's settings and secrets together, webhook URL, events, API version) -> None
    register_webhooks: Callable[[Mapping[str, Any], str, Sequence[str], str], None] | None = None
    #: (the simulator's base URL, settings and secrets together, card number) -> payment data as the provider's
    #: browser script posts it to the shop (a token, never the number)
    tokenize: Callable[[str, Mapping[str, Any], str], dict[str, str]] | None = None
    #: provider reference -> None: settle now (providers that refund or void differently once settled)
    settle: Callable[[str], None] | None = None
    #: (provider reference, "approve" | "decline") -> None: the merchant's decision on a payment held for review
    review: Callable[[str, str], None] | None = None


def derived(secret: str, purpose: str, length: int) -> str:
    """A hexadecimal value for one purpose, derived from a secret (stable for tests, random for the seed)."""
    return hashlib.sha512(f"{purpose}:{secret}".encode()).hexdigest()[:length]


# --- Stripe -----------------------------------------------------------------------------------------------------


def _stripe_credentials(account: str, secret: str = "") -> Credentials:
    """Any `sk_test_` key of 8 or more letters is an account; its `pk_test_` twin tokenizes for it."""
    return (
        {"public_key": f"pk_test_{account}"},
        {"secret_key": f"sk_test_{account}", "webhook_secret": f"whsec_{secret or account}"},
    )


def _stripe_register(credentials: Mapping[str, Any], url: str, events: Sequence[str], api_version: str) -> None:
    stripe.webhook_endpoint_register(
        secret_key=credentials["secret_key"],
        url=url,
        secret=credentials["webhook_secret"],
        enabled_events=list(events),
        api_version=api_version,
    )


def _stripe_tokenize(base_url: str, credentials: Mapping[str, Any], number: str) -> dict[str, str]:
    """What Stripe.js does: create a PaymentMethod with the publishable key."""
    reply = requests.post(
        f"{base_url}/v1/payment_methods",
        data={
            "type": "card",
            "card[number]": number,
            "card[exp_month]": "12",
            "card[exp_year]": "2034",
            "card[cvc]": "123",
        },
        headers={"Authorization": f"Bearer {credentials['public_key']}"},
        timeout=10,
    )
    reply.raise_for_status()
    return {"payment_method": reply.json()["id"]}


# --- Authorize.Net ----------------------------------------------------------------------------------------------


#: the card fields besides the number that Accept.js sends (an expiry in the future, a matching code and ZIP)
AUTHORIZENET_CARD = {"cardNumber": "4111111111111111", "expirationDate": "12/34", "cardCode": "123", "zip": "98004"}


def _authorizenet_credentials(account: str, secret: str = "") -> Credentials:
    """Any API login ID with a 16-character transaction key is an account; the signature key is 128 hex digits."""
    secret = secret or account
    return (
        {"api_login_id": account, "client_key": derived(secret, "client_key", 24), "account_currency": "USD"},
        {
            "transaction_key": derived(secret, "transaction_key", 16),
            "signature_key": derived(secret, "signature_key", 128).upper(),
        },
    )


def _authorizenet_register(credentials: Mapping[str, Any], url: str, events: Sequence[str], api_version: str) -> None:
    authorizenet.webhook_register(
        api_login_id=credentials["api_login_id"], url=url, signature_key=credentials["signature_key"]
    )


def _authorizenet_tokenize(base_url: str, credentials: Mapping[str, Any], number: str) -> dict[str, str]:
    """What Accept.js does: the API's JSON securePaymentContainerRequest, with the public client key."""
    body = {
        "securePaymentContainerRequest": {
            "merchantAuthentication": {"name": credentials["api_login_id"], "clientKey": credentials["client_key"]},
            "data": {"type": "TOKEN", "id": "1", "token": {**AUTHORIZENET_CARD, "cardNumber": number}},
        }
    }
    reply = requests.post(f"{base_url}/xml/v1/request.api", json=body, timeout=10)
    reply.raise_for_status()
    opaque = json.loads(reply.content.decode("utf-8-sig"))["opaqueData"]
    return {"data_descriptor": opaque["dataDescriptor"], "data_value": opaque["dataValue"]}


def _authorizenet_settle(reference: str) -> None:
    authorizenet.settle(reference)


def _authorizenet_review(reference: str, decision: str) -> None:
    authorizenet.review(reference, decision)


# --- Payflow (Gateway and Payments Pro: one simulator, two addresses) ---------------------------------------------


def _payflow_credentials(account: str, secret: str = "") -> Credentials:
    """Any partner, vendor and user with a password of four characters or more; the account is partner + vendor."""
    return (
        {"partner": "PayPal", "vendor": account, "user": account},
        {"password": f"pw-{derived(secret or account, 'password', 12)}"},
    )


def _payflow_profile(key: str) -> SandboxProfile:
    return SandboxProfile(
        key=key,
        credentials=_payflow_credentials,
        settle=lambda pnref: _payflow_settle(key, pnref),
        review=lambda pnref, decision: _payflow_review(key, pnref, decision),
    )


def _payflow_settle(key: str, pnref: str) -> None:
    payflow.settle(pnref, key)


def _payflow_review(key: str, pnref: str, decision: str) -> None:
    payflow.review(pnref, "approve" if decision == "approve" else "reject", key)


# --- InfinitePay -------------------------------------------------------------------------------------------------


def _infinitepay_credentials(account: str, secret: str = "") -> Credentials:
    """Any username with a password of 12 characters or more; the account's security-code secret is derived from
    the password as the sandbox's account sheet says (`account_secret`)."""
    password = f"pw-{derived(secret or account, 'password', 16)}"
    return (
        {"client_ref": account, "username": f"{account}-ws"},
        {"password": password, "secret": infinitepay.account_secret(password)},
    )


# --- OroPay (GP-API) ---------------------------------------------------------------------------------------------


def _oropay_credentials(account: str, secret: str = "") -> Credentials:
    """Any app id of 8 to 40 letters or digits is a sandbox app; the sandbox provisions its app key."""
    app_id = re.sub(r"[^A-Za-z0-9]", "", account)[:40]
    return (
        {"app_id": app_id, "merchant_country": "US", "merchant_name": "Paydesk Demo Shop", "ach_enabled": True},
        {"app_key": oropay.app_key_of(app_id)},
    )


def _oropay_register(credentials: Mapping[str, Any], url: str, events: Sequence[str], api_version: str) -> None:
    oropay.status_url_register(app_id=credentials["app_id"], url=url)


def _oropay_tokenize(base_url: str, credentials: Mapping[str, Any], number: str) -> dict[str, str]:
    """What the hosted fields do: a restricted access token, then the card posted to `/ucp/payment-methods`."""
    nonce = f"tokenize-{number[-4:]}-{hashlib.sha256(number.encode()).hexdigest()[:8]}"
    headers = {"X-GP-Version": "2021-03-22", "Content-Type": "application/json"}
    token = requests.post(
        f"{base_url}/ucp/accesstoken",
        json={
            "app_id": credentials["app_id"],
            "nonce": nonce,
            "secret": hashlib.sha512((nonce + credentials["app_key"]).encode()).hexdigest(),
            "grant_type": "client_credentials",
            "permissions": ["PMT_POST_Create_Single"],
            "seconds_to_expire": 600,
        },
        headers=headers,
        timeout=10,
    )
    token.raise_for_status()
    card = {"number": number, "expiry_month": "12", "expiry_year": "34", "cvv": "123"}
    reply = requests.post(
        f"{base_url}/ucp/payment-methods",
        json={"usage_mode": "SINGLE", "card": card},
        headers={**headers, "Authorization": f"Bearer {token.json()['token']}"},
        timeout=10,
    )
    reply.raise_for_status()
    return {"payment_reference": reply.json()["id"]}


def _oropay_settle(reference: str) -> None:
    oropay.settle(reference)


# --- Apruve ---------------------------------------------------------------------------------------------------------


def _apruve_credentials(account: str, secret: str = "") -> Credentials:
    """A merchant id is an account, with the sandbox's API key for it; webhooks are checked with the sandbox's
    public key and a URL token."""
    merchant_id = derived(secret or account, "apruve_merchant", 32)
    return (
        {"merchant_id": merchant_id, "webhook_public_key": APRUVE_PUBLIC_KEY},
        {"api_key": apruve.api_key_of(merchant_id), "webhook_token": derived(secret or account, "apruve_token", 32)},
    )


def apruve_webhook_url(url: str, token: str) -> str:
    """The integration's webhook URL with its secret token as the last path segment."""
    return f"{url.rstrip('/')}/{token}/"


def _apruve_register(credentials: Mapping[str, Any], url: str, events: Sequence[str], api_version: str) -> None:
    apruve.webhook_register(api_key=credentials["api_key"], url=apruve_webhook_url(url, credentials["webhook_token"]))


def apruve_buyer_accepts(base_url: str, order: str, secure_hash: str, *, email: str = "buyer@example.com") -> str:
    """What the buyer does in the lightbox: log in and accept. Returns the Apruve order id the page reports
    (COMPLETE), or "" when Apruve refused the offer."""
    reply = requests.post(
        f"{base_url}/lightbox/",
        data={"order": order, "secure_hash": secure_hash, "outcome": "accept", "email": email},
        timeout=10,
    )
    found = re.search(r'order_id: "([0-9a-f]{32})"', reply.text)
    return found.group(1) if found else ""


def apruve_close_invoice(base_url: str, invoice_id: str) -> None:
    """The buyer's company paid the invoice: Apruve closes it and sends invoice.closed."""
    reply = requests.post(f"{base_url}/__sim/close_invoice", data={"invoice_id": invoice_id}, timeout=10)
    reply.raise_for_status()


# --- Wirecard Checkout Seamless ------------------------------------------------------------------------------------


def _wirecard_credentials(account: str, secret: str = "") -> Credentials:
    """Wirecard's published demo merchant (providers.md §9.6): the only account its sandbox keeps."""
    return (
        {"customer_id": wirecard.DEMO_CUSTOMER, "shop_id": "seamless", "language": "en", "confirm_ip_allowlist": ""},
        {"secret": wirecard.DEMO_SECRET, "backend_password": wirecard.DEMO_PASSWORD},
    )


def wirecard_store(
    base_url: str, credentials: Mapping[str, Any], fields: Mapping[str, str], *, payment_type: str = "CCARD"
) -> dict[str, str]:
    """What the payment step and the data-storage script do: open a storage (dataStorage/init, signed as the
    merchant signs it) and store the card or account in it from the browser. Returns the storage's ids."""
    order_ident = uuid.uuid4().hex
    init = {
        "customerId": credentials["customer_id"],
        "shopId": credentials.get("shop_id", ""),
        "orderIdent": order_ident,
        "returnUrl": "",
        "language": "en",
        "javascriptScriptVersion": "",
    }
    names = ["customerId", "shopId", "orderIdent", "returnUrl", "language", "javascriptScriptVersion", "secret"]
    init["requestFingerprint"] = wirecard.fingerprint(names, init, credentials["secret"])
    reply = requests.post(f"{base_url}/seamless/dataStorage/init", data=init, timeout=10)
    storage_id = dict(parse_qsl(reply.text))["storageId"]
    stored = requests.post(
        f"{base_url}/seamless/dataStorage/store/{storage_id}", data={"paymentType": payment_type, **fields}, timeout=10
    )
    assert stored.json()["status"] == 0, stored.text  # noqa: S101 - a profile helper for tests and the seed
    return {"storage_id": storage_id, "order_ident": order_ident}


#: the card fields besides the number that the data-storage script takes (§9.4)
WIRECARD_CARD = {"expirationMonth": "12", "expirationYear": "2031", "cardverifycode": "123", "cardholdername": "Demo"}


def _wirecard_tokenize(base_url: str, credentials: Mapping[str, Any], number: str) -> dict[str, str]:
    return wirecard_store(base_url, credentials, {**WIRECARD_CARD, "pan": number})


PROFILES: dict[str, SandboxProfile] = {
    "stripe": SandboxProfile(
        key="stripe",
        credentials=_stripe_credentials,
        register_webhooks=_stripe_register,
        tokenize=_stripe_tokenize,
    ),
    "authorizenet": SandboxProfile(
        key="authorizenet",
        credentials=_authorizenet_credentials,
        register_webhooks=_authorizenet_register,
        tokenize=_authorizenet_tokenize,
        settle=_authorizenet_settle,
        review=_authorizenet_review,
    ),
    "payflow": _payflow_profile("payflow"),
    "payflow_pro": _payflow_profile("payflow_pro"),
    "infinitepay": SandboxProfile(key="infinitepay", credentials=_infinitepay_credentials),
    "oropay": SandboxProfile(
        key="oropay",
        credentials=_oropay_credentials,
        register_webhooks=_oropay_register,
        tokenize=_oropay_tokenize,
        settle=_oropay_settle,
    ),
    "apruve": SandboxProfile(key="apruve", credentials=_apruve_credentials, register_webhooks=_apruve_register),
    "wirecard": SandboxProfile(key="wirecard", credentials=_wirecard_credentials, tokenize=_wirecard_tokenize),
}


def profile(key: str) -> SandboxProfile:
    return PROFILES[key]
