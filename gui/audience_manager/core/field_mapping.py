"""Which file column goes to which custom field: guessed from matching names, for the user to change.

"Company" and "company", "First name" and "first_name" match; a column with no field of its name is
"not used", and the identifier column is never mapped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from audience_manager.core.actions import Target

_FIRST_NAMES = {"firstname", "first", "fname", "givenname", "prenom", "vorname"}


def name_key(text: str) -> str:
    """ "First name", "first_name" and "FIRST-NAME" are one name: lower case, letters and digits."""
    return re.sub(r"[^0-9a-z]", "", text.casefold())


def guess_mapping(
    columns: Sequence[str], fields: Sequence[Target], identifier_column: str | None = None
) -> dict[str, Target | None]:
    """Each column (but the identifier one) -> the field whose name, key or label matches it, or
    None ("not used"). A field goes to one column at most: the first that matches."""
    by_name: dict[str, Target] = {}
    for f in fields:
        for text in (f.name, f.key, f.key.rpartition(".")[2]):  # HighLevel keys: "contact.company"
            if text:
                by_name.setdefault(name_key(text), f)
    taken: set[str] = set()
    out: dict[str, Target | None] = {}
    for column in columns:
        if column == identifier_column:
            continue
        found = by_name.get(name_key(column))
        if found is not None and found.id not in taken:
            taken.add(found.id)
            out[column] = found
        else:
            out[column] = None
    return out


def guess_first_name_column(columns: Sequence[str], identifier_column: str | None = None) -> str | None:
    """The column that holds first names ("First name", "first_name", "fname"), if one does."""
    for column in columns:
        if column != identifier_column and name_key(column) in _FIRST_NAMES:
            return column
    return None
