"""InfinitePay's SOAP API on the wire (providers.md §5): zeep, WS-Security, the security code, the order ids.

The WSDL is loaded from a configurable URL (no public WSDL is known; the sandbox serves its own). Each call carries
a WS-Security UsernameToken with the password as text and a fresh `wsu:Timestamp` (600 s), and `CLIENT_DATA` with
the security code of its ORDER_ID.

InfinitePay has no idempotency header (§8). Our key travels instead as identifiers the provider keeps: a purchase's
ORDER_ID is derived from its key (so a lost reply is found again by `checkStatusOrder` with the key alone), and
each operation's TRS_ID (credit notes: DOC_ID) is derived from that operation's key, so a repeat is recognised.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import requests
import zeep
import zeep.exceptions
import zeep.wsdl
from lxml import etree
from zeep.helpers import serialize_object
from zeep.transports import Transport
from zeep.wsse import utils as wsse_utils
from zeep.wsse.username import UsernameToken

from providers.base import ProviderMisconfigured, ProviderUnavailable, scrub

logger = logging.getLogger(__name__)

#: how long a request's WS-Security timestamp is valid (the reference's 600 s TTL)
TIMESTAMP_TTL = timedelta(seconds=600)
WSDL_PATH = "/ws/InfinitePayAPI?wsdl"


def security_code(secret: str, client_ref: str, order_id: str) -> str:
    """§5.2: base64 of the *lowercase hex* HMAC-SHA256 of CLIENT_REF + ORDER_ID keyed with the secret (PHP's
    `base64_encode(hash_hmac('sha256', …))`: the hex string is encoded, not the raw digest)."""
    digest = hmac.new(secret.encode(), (client_ref + order_id).encode(), hashlib.sha256).hexdigest()
    return base64.b64encode(digest.encode()).decode()


def order_id_for(idempotency_key: str) -> str:
    """The ORDER_ID of the purchase keyed `idempotency_key`: stable, so reconcile can ask for it by key alone."""
    return "PD" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:22].upper()


def trs_id_for(idempotency_key: str) -> str:
    """The TRS_ID (or DOC_ID) of the operation keyed `idempotency_key`."""
    return "T" + hashlib.sha256(f"trs:{idempotency_key}".encode()).hexdigest()[:23].upper()


def reference_of(ref_no: str, order_id: str) -> str:
    """Our provider reference: InfinitePay's REF_NO, then the ORDER_ID every later call needs for its security
    code (FollowUpRequest carries the reference alone)."""
    return f"{ref_no}/{order_id}"


def split_reference(reference: str | None) -> tuple[str, str]:
    """(REF_NO, ORDER_ID) of a provider reference made by `reference_of`."""
    ref_no, _, order_id = (reference or "").partition("/")
    return ref_no, order_id


class _TimestampedToken(UsernameToken):
    """A UsernameToken (PasswordText) with a new wsu:Timestamp on every call, not one fixed at construction."""

    def apply(self, envelope: Any, headers: Any) -> Any:
        now = datetime.now(UTC)
        self.timestamp_token = wsse_utils.WSU.Timestamp(
            wsse_utils.WSU.Created(now.strftime("%Y-%m-%dT%H:%M:%SZ")),
            wsse_utils.WSU.Expires((now + TIMESTAMP_TTL).strftime("%Y-%m-%dT%H:%M:%SZ")),
        )
        return super().apply(envelope, headers)


@cache
def _wsdl(url: str) -> Any:
    """The parsed service description, loaded once per process and URL (it changes with a release of the API,
    not per call); a failed load is not kept, so the next call tries again."""
    return zeep.wsdl.Document(url, Transport(timeout=10), settings=zeep.Settings(strict=True))  # type: ignore[arg-type]


class InfinitePayClient:
    """One integration's account: credentials, timeouts and the SOAP service."""

    def __init__(
        self,
        *,
        wsdl_url: str,
        client_ref: str,
        username: str,
        password: str,
        secret: str,
        read_timeout: float,
        debug: bool = False,
    ) -> None:
        self.wsdl_url = wsdl_url
        self.client_ref = client_ref
        self._username = username
        self._password = password
        self._secret = secret
        self.read_timeout = read_timeout
        self.debug = debug

    def client_data(self, order_id: str) -> dict[str, str]:
        return {"CLIENT_REF": self.client_ref, "SECURITY_CD": security_code(self._secret, self.client_ref, order_id)}

    def _service(self) -> Any:
        try:
            document = _wsdl(self.wsdl_url)
        except (requests.RequestException, etree.XMLSyntaxError, zeep.exceptions.Error) as exc:
            raise ProviderUnavailable("InfinitePay's service description could not be loaded") from exc
        transport = Transport(timeout=10, operation_timeout=self.read_timeout)
        client = zeep.Client(document, transport=transport, wsse=_TimestampedToken(self._username, self._password))
        return client.service

    def call(self, operation: str, request: Mapping[str, Any]) -> dict[str, Any]:
        """Send one operation; the reply's RESPONSE as plain data.

        Raises `ProviderUnavailable` when it cannot know what happened (no answer, 5xx, a fault of the server),
        `ProviderMisconfigured` when the credentials were refused, `UnreadableReply` for a reply that is no SOAP.
        """
        if self.debug:
            logger.info("InfinitePay %s request: %s", operation, self.scrubbed(request))
        try:
            reply = getattr(self._service(), operation)(REQUEST=dict(request))
        except zeep.exceptions.Fault as exc:
            if "FailedAuthentication" in str(exc.code or "") or "authenticat" in str(exc.message or "").lower():
                raise ProviderMisconfigured("InfinitePay refused the web-service username or password") from exc
            if "Client" in str(exc.code or ""):
                raise UnreadableReply(f"InfinitePay refused the request as malformed: {exc.message}") from exc
            raise ProviderUnavailable(f"InfinitePay answered {operation} with a server fault") from exc
        except zeep.exceptions.TransportError as exc:
            if exc.status_code >= 500:
                raise ProviderUnavailable(f"InfinitePay answered {operation} with HTTP {exc.status_code}") from exc
            if exc.status_code in (401, 403):
                raise ProviderMisconfigured("InfinitePay refused the credentials") from exc
            raise UnreadableReply(f"InfinitePay answered {operation} with HTTP {exc.status_code}") from exc
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise ProviderUnavailable(f"{operation} sent, no answer") from exc
        except (zeep.exceptions.XMLSyntaxError, zeep.exceptions.XMLParseError, etree.XMLSyntaxError) as exc:
            raise UnreadableReply(f"InfinitePay's answer to {operation} is not SOAP") from exc
        except zeep.exceptions.Error as exc:
            raise UnreadableReply(f"InfinitePay's answer to {operation} could not be read") from exc
        data = serialize_object(reply, dict) or {}
        if self.debug:
            logger.info("InfinitePay %s response: %s", operation, self.scrubbed(data))
        return dict(data)

    def scrubbed(self, data: Any) -> Any:
        """`data` without the security code, password or secret, for `raw` and logs."""
        return scrub(data, secrets=[self._password, self._secret], keys=["SECURITY_CD"])


class UnreadableReply(Exception):
    """The provider answered something that is not a readable reply: the outcome is open (an ERROR result)."""
