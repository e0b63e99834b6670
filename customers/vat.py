"""VAT ids of customer companies: one normal form, and the check the back-office applies when one is entered.

InfinitePay guarantees invoices only for companies with a VAT id, and refuses a malformed one; so an id of an EU
member state is checked for its country's format and check digits (python-stdnum), and anything else must at
least look like a VAT id (a country prefix, then letters and digits), since other countries' ids are not checked.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError as StdnumError

OTHER = re.compile(r"^[A-Z]{2}[A-Z0-9]{2,13}$")
#: EU member states by VAT prefix (Greece's prefix is EL; Northern Ireland's XI)
EU_PREFIXES = {code.upper() for code in eu_vat.MEMBER_STATES} | {"EL"}


def vat_id_clean(value: str) -> str:
    """`value` in normal form ("de 136 695 976" -> "DE136695976"), "" for none; ValidationError when it cannot be a
    VAT id of its country."""
    compact = re.sub(r"[\s.\-/]", "", value or "").upper()
    if not compact:
        return ""
    if compact[:2] in EU_PREFIXES:
        try:
            return str(eu_vat.validate(compact))
        except StdnumError as exc:
            raise ValidationError(
                f"{compact} is not a valid VAT id of {compact[:2]}: check the number and its country prefix."
            ) from exc
    if not OTHER.match(compact):
        raise ValidationError("A VAT id starts with its two-letter country prefix, followed by letters and digits.")
    return compact
