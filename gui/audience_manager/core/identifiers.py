"""Recognising what one cell of an audience is: a subscriber id, a contact id or an email."""

from __future__ import annotations

import enum
import re


class IdentifierKind(enum.StrEnum):
    SUBSCRIBER_ID = "subscriber-id"  # Kit: a positive integer
    CONTACT_ID = "contact-id"  # HighLevel: 20 alphanumerics in every documented example
    EMAIL = "email"


# Deliberately permissive: the platform is the authority on deliverability; we only catch
# what is obviously not an address (no @, spaces, no dot in the domain).
EMAIL_RE = re.compile(r"^[^@\s<>(),;:\"\[\]]+@[^@\s<>(),;:\"\[\]]+\.[^@\s<>(),;:\"\[\]]+$")
SUBSCRIBER_ID_RE = re.compile(r"^[1-9][0-9]{0,18}$")
CONTACT_ID_RE = re.compile(r"^[A-Za-z0-9]{20}$")


def normalise_email(text: str) -> str:
    """Emails compare case-insensitively in practice; the platforms store them lower-cased."""
    return text.strip().lower()
