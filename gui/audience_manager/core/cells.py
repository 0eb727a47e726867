"""Recognising one cell or pasted token: which identifier it is, or why it cannot be sent.

Pasted text and files share this, so a cell gets the same verdict and the same reason wherever it
came from. Reasons are written for a marketer: they say what is wrong and what to do about it.

Rules (the same for paste and files):
- Surrounding spaces (also non-breaking and zero-width ones), a leading `'` (Excel's "keep as text"
  mark), Excel's `="..."` wrapper, surrounding quotes or angle brackets and a `mailto:` prefix are
  removed before anything else.
- Emails are lower-cased. Subscriber ids are whole positive numbers without leading zeros. A number
  written as `12345.0` (a spreadsheet that stored the id as a decimal) is read as `12345`, because
  it is unambiguous; `1.23E+05` and `1,234` are never guessed at, because a guessed id tags the
  wrong person: they are reported with a reason that says how to export the column again.
- HighLevel contact ids are 20 letters and digits in every documented example. Other
  letter-and-digit shapes of 10 to 64 characters (with at least one digit) are accepted with a
  warning (`odd_contact_id`), not rejected, because the 20-character length is not a documented
  rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from audience_manager.core.identifiers import (
    CONTACT_ID_RE,
    EMAIL_RE,
    SUBSCRIBER_ID_RE,
    IdentifierKind,
    normalise_email,
)

ALL_KINDS: frozenset[IdentifierKind] = frozenset(IdentifierKind)

# Characters a spreadsheet or a web page leaves around a value: spaces, NBSP, zero-width, BOM.
_JUNK = " \t\r\n\u00a0\u200b\u200c\u200d\u2060\ufeff"
_SCIENTIFIC_RE = re.compile(r"^[+-]?\d+(?:[.,]\d+)?[eE][+-]?\d+$")
_WHOLE_DECIMAL_RE = re.compile(r"^([1-9]\d{0,18})\.0+$")
_DECIMAL_RE = re.compile(r"^[+-]?\d+[.,]\d+$")
_GROUPED_RE = re.compile(r"^\d{1,3}(?:([,.\u00a0\u202f' ])\d{3})(?:\1\d{3})*$")
_DIGITS_RE = re.compile(r"^\d+$")
# Letters and digits, with at least one digit, so that words ("unsubscribed") are not taken for ids.
_ODD_CONTACT_ID_RE = re.compile(r"^(?=[A-Za-z]*\d)[A-Za-z0-9]{10,64}$")
_SEVERAL_RE = re.compile(r"[,;\s|]+")
_SPACE_RE = re.compile(r"\s")
_SEVERAL = "Holds more than one identifier; put one email or id per row and load the list again."

# Column headings people paste along with the column; recognised to give a kinder reason.
HEADING_WORDS = frozenset(
    {
        "id",
        "ids",
        "subscriberid",
        "subscriber",
        "subscribers",
        "contactid",
        "contact",
        "contacts",
        "email",
        "emails",
        "emailaddress",
        "e-mail",
        "mail",
    }
)


def heading_key(text: str) -> str:
    """How headings compare: `Email Address`, `email_address` and `EmailAddress` are the same."""
    return re.sub(r"[\s_.\-]+", "", text.strip(_JUNK).lower())


@dataclass(frozen=True, slots=True)
class Verdict:
    """What one cell is. Exactly one of `kind` (send it) or `reason` (do not) is set."""

    text: str  # the cell as given, trimmed, for reports
    identifier: str = ""  # normalised: what is sent and what duplicates are compared on
    kind: IdentifierKind | None = None
    reason: str = ""
    # Warnings that do not stop the row (odd-length contact id, `.0` decimal read as a whole id).
    odd_contact_id: bool = False
    was_decimal: bool = False


def _describe(accepted: frozenset[IdentifierKind]) -> str:
    names = []
    if IdentifierKind.SUBSCRIBER_ID in accepted:
        names.append("a subscriber id (a whole number)")
    if IdentifierKind.CONTACT_ID in accepted:
        names.append("a contact id (20 letters and digits)")
    if IdentifierKind.EMAIL in accepted:
        names.append("an email address")
    if len(names) <= 1:
        return "".join(names) or "no identifiers"
    return ", ".join(names[:-1]) + " or " + names[-1]


def _unwrap(text: str) -> str:
    text = text.strip(_JUNK)
    if text.startswith('="') and text.endswith('"') and len(text) >= 3:
        text = text[2:-1].strip(_JUNK)
    while text[:1] == "'":
        text = text[1:].strip(_JUNK)
    if len(text) >= 2 and (text[0], text[-1]) in {('"', '"'), ("'", "'"), ("<", ">")}:
        text = text[1:-1].strip(_JUNK)
    if text[:7].lower() == "mailto:":
        text = text[7:].strip(_JUNK)
    return text


class CellReader:
    """Classifies cells for one set of accepted identifier kinds (made once, used per cell)."""

    def __init__(self, accepted: frozenset[IdentifierKind] = ALL_KINDS) -> None:
        self.accepted = accepted
        self._ids = IdentifierKind.SUBSCRIBER_ID in accepted
        self._contacts = IdentifierKind.CONTACT_ID in accepted
        self._emails = IdentifierKind.EMAIL in accepted
        self._what = _describe(accepted)

    def read(self, raw: str, *, first: bool = False) -> Verdict:
        """`first` is true for the first token of a paste, where a column heading is likely."""
        # The fast path: a plain id or a plain email, as in almost every row of a real list.
        if self._ids and SUBSCRIBER_ID_RE.match(raw):
            return Verdict(raw, raw, IdentifierKind.SUBSCRIBER_ID)
        text = _unwrap(raw)
        if not text:
            return Verdict(text, reason="Empty: there is no identifier in this row.")
        if not self.accepted:
            return Verdict(text, reason="This account takes no identifiers; pick another account.")
        if "@" in text:
            return self._email(text)
        if SUBSCRIBER_ID_RE.match(text):
            if self._ids:
                return Verdict(text, text, IdentifierKind.SUBSCRIBER_ID)
            if self._contacts and CONTACT_ID_RE.match(text):
                return Verdict(text, text, IdentifierKind.CONTACT_ID)
            return self._wrong_kind(text, "a Kit subscriber id")
        if self._contacts and CONTACT_ID_RE.match(text):
            return Verdict(text, text, IdentifierKind.CONTACT_ID)
        return self._unusual(text, first)

    def _email(self, text: str) -> Verdict:
        email = normalise_email(text)
        if EMAIL_RE.match(email):
            if self._emails:
                return Verdict(text, email, IdentifierKind.EMAIL)
            return self._wrong_kind(text, "an email address")
        if self._several(email):
            return Verdict(text, reason=_SEVERAL)
        if _SPACE_RE.search(email):
            return Verdict(text, reason="Has a space inside; remove it and load the list again.")
        if email.count("@") > 1:
            return Verdict(text, reason="Has more than one @; an email address has exactly one. Fix it.")
        local, _, domain = email.partition("@")
        if not local:
            return Verdict(text, reason="Nothing before the @; this is not a complete email address.")
        if "." not in domain:
            return Verdict(
                text, reason="The part after @ has no dot (like example.com); check the address for typos."
            )
        return Verdict(text, reason="Not a valid email address (it has a character emails cannot hold).")

    def _several(self, text: str) -> bool:
        """Several usable identifiers in one cell ("a@b.co; c@d.co"), not one broken value."""
        if not _SEVERAL_RE.search(text):
            return False
        parts = [part for part in _SEVERAL_RE.split(text) if part]
        return len(parts) > 1 and sum(1 for part in parts if self.read(part).kind is not None) >= 2

    def _wrong_kind(self, text: str, what: str) -> Verdict:
        return Verdict(
            text,
            reason=f"Looks like {what}, but this account takes {self._what}; "
            "use the matching column or account.",
        )

    def _unusual(self, text: str, first: bool) -> Verdict:
        if any(c.isdigit() and not c.isascii() for c in text):
            return Verdict(
                text,
                reason="Has digits that are not 0-9 (Arabic-Indic, full-width or another script); "
                "type the id with the digits 0-9, or export the column again.",
            )
        if _SCIENTIFIC_RE.match(text):
            return Verdict(
                text,
                reason="Looks like Excel scientific notation, which loses digits; format the column "
                "as Text and export again.",
            )
        decimal = _WHOLE_DECIMAL_RE.match(text)
        if decimal and self._ids:
            whole = decimal.group(1)
            return Verdict(text, whole, IdentifierKind.SUBSCRIBER_ID, was_decimal=True)
        if _GROUPED_RE.match(text):
            return Verdict(
                text,
                reason="Looks like a number with thousands separators; if it is one id, format the "
                "column as Text (or Number without separators) and export again. If these are "
                "several ids, put a space after each comma.",
            )
        if _DECIMAL_RE.match(text):
            return Verdict(text, reason="Has a decimal part; ids are whole numbers. Check the column.")
        if _DIGITS_RE.match(text):
            if text.strip("0") == "":
                return Verdict(text, reason="Zero is not an id; ids start at 1. Check the column.")
            if text.startswith("0"):
                return Verdict(
                    text, reason="Starts with 0; subscriber ids never do. Check this is the id column."
                )
            return Verdict(text, reason="Too long for a subscriber id (more than 19 digits).")
        if first and heading_key(text) in HEADING_WORDS:
            return Verdict(text, reason="Looks like a column heading, not an identifier; skipped.")
        if self._contacts and _ODD_CONTACT_ID_RE.match(text):
            return Verdict(text, text, IdentifierKind.CONTACT_ID, odd_contact_id=True)
        if not self._contacts and CONTACT_ID_RE.match(text):
            return self._wrong_kind(text, "a HighLevel contact id")
        if self._several(text):
            return Verdict(text, reason=_SEVERAL)
        return Verdict(text, reason=f"Not {self._what}; check the value or remove it.")
