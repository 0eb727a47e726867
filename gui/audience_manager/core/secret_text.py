"""What a secret (token, key, API secret) may look like, checked once wherever one is read.

HTTP headers and query strings take printable ASCII only; a token copied with a line break, a tab
or a non-breaking space would otherwise reach httpx, whose error ("Illegal header value b'...'")
quotes the value. So every secret is checked when it is read (the environment, the keyring, the
account form, a refresh answer), by `Credentials` itself: spaces and line breaks around it are
removed (`surrounding_note` says so where someone can read it), anything else that cannot be sent
is refused with a message that says where the problem is and never contains the value or a part
of it.
"""

from __future__ import annotations


class InvalidSecretError(ValueError):
    """A secret that cannot be sent as it is; the message holds no part of it."""


def clean_secret(value: str, what: str = "The token") -> str:
    """`value` without surrounding whitespace; `InvalidSecretError` when what is left holds a control
    character or a non-ASCII one."""
    text = value.strip()
    for position, char in enumerate(text, 1):
        if ord(char) < 0x20 or ord(char) == 0x7F:
            kind = "a line break" if char in "\r\n" else "a tab" if char == "\t" else "a control character"
            raise InvalidSecretError(
                f"{what} contains {kind} (character {position} of {len(text)}): copy it again, on one line."
            )
        if ord(char) > 0x7E:
            raise InvalidSecretError(
                f"{what} contains a character that is not plain ASCII (character {position} of {len(text)},"
                f" {_name(char)}): copy it again from the platform's page, not from a document."
            )
    return text


def surrounding_note(value: str, what: str = "the token") -> str | None:
    """A note for the user when `clean_secret` will remove spaces or line breaks around `value`."""
    if value and value != value.strip() and value.strip():
        return f"Spaces or line breaks around {what} were removed."
    return None


def _name(char: str) -> str:
    import unicodedata

    return unicodedata.name(char, f"U+{ord(char):04X}").lower()
