"""Which row of a file is its heading, and which column holds the identifiers.

The platforms' exports and hand-made sheets name the column in many ways (`id`, `subscriber_id`,
`Email Address`, HighLevel's `Contact Id`...). A heading alone can lie (an `id` column from another
tool), so the guess is checked against the cells below it: a column is only guessed by its heading
when most of its cells are usable, and otherwise the column whose cells are most often usable wins.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from audience_manager.core.cells import ALL_KINDS, CellReader, heading_key
from audience_manager.core.identifiers import IdentifierKind

# Heading keys (see `heading_key`) in order of preference within each kind.
SUBSCRIBER_ID_HEADINGS = ("subscriberid", "kitsubscriberid", "kitid", "convertkitid", "id", "subscriber")
CONTACT_ID_HEADINGS = ("contactid", "ghlcontactid", "highlevelid", "ghlid", "id", "contact")
EMAIL_HEADINGS = (
    "emailaddress",
    "email",
    "subscriberemail",
    "contactemail",
    "primaryemail",
    "mail",
    "emails",
    "useremail",
)
# Other headings seen in exports; they say "this row is a heading" but never name our column.
OTHER_HEADINGS = frozenset(
    {
        "firstname",
        "lastname",
        "name",
        "fullname",
        "phone",
        "tags",
        "tag",
        "state",
        "status",
        "createdat",
        "created",
        "source",
        "company",
        "companyname",
        "dateadded",
        "lastactivity",
        "businessname",
        "country",
        "city",
    }
)
KNOWN_HEADINGS = frozenset(SUBSCRIBER_ID_HEADINGS + CONTACT_ID_HEADINGS + EMAIL_HEADINGS) | OTHER_HEADINGS

_MOSTLY = 0.5
_WORDS_RE = re.compile(r"^[^\W\d_][\w .,:/()#&'+-]*$")


def _usable(reader: CellReader, cell: str) -> bool:
    return reader.read(cell).kind is not None


def is_heading_row(first: Sequence[str], following: Sequence[Sequence[str]]) -> bool:
    """A first row is a heading if it names a known column, or if nothing in it is an identifier
    while the rows below hold some."""
    if any(heading_key(cell) in KNOWN_HEADINGS for cell in first):
        return True
    reader = CellReader(ALL_KINDS)
    if any(_usable(reader, cell) for cell in first):
        return False
    # Only words can be headings: a first row like "#N/A" or "1.23E+05" is a broken value, and must
    # be reported as a row rather than silently taken for a heading.
    named = [cell.strip() for cell in first if cell.strip()]
    if not named or not all(_WORDS_RE.match(cell) for cell in named):
        return False
    if not following:
        # One row with nothing usable: a heading with no rows under it, most likely.
        return any(cell.strip() for cell in first)
    return any(_usable(reader, cell) for row in following for cell in row)


def _heading_rank(heading: str, accepted: frozenset[IdentifierKind]) -> int | None:
    """Lower is better: ids before emails (no lookup needed), then the order in the lists above."""
    key = heading_key(heading)
    ranked: list[str] = []
    if IdentifierKind.SUBSCRIBER_ID in accepted:
        ranked.extend(SUBSCRIBER_ID_HEADINGS)
    if IdentifierKind.CONTACT_ID in accepted:
        ranked.extend(CONTACT_ID_HEADINGS)
    if IdentifierKind.EMAIL in accepted:
        ranked.extend(EMAIL_HEADINGS)
    return ranked.index(key) if key in ranked else None


def guess_column(
    headings: Sequence[str] | None,
    rows: Sequence[Sequence[str]],
    accepted: frozenset[IdentifierKind] = ALL_KINDS,
) -> tuple[int | None, str]:
    """The column to read and how it was chosen ("heading", "contents", "only column", "")."""
    width = max([len(headings or ())] + [len(row) for row in rows])
    if width == 0:
        return None, ""
    if width == 1:
        return 0, "only column"
    reader = CellReader(accepted)
    share: list[float] = []
    for index in range(width):
        cells = [row[index] for row in rows if index < len(row) and row[index].strip()]
        usable = sum(1 for cell in cells if _usable(reader, cell))
        share.append(usable / len(cells) if cells else 0.0)
    if headings:
        named = [
            (rank, index)
            for index, heading in enumerate(headings)
            if (rank := _heading_rank(heading, accepted)) is not None
        ]
        confirmed = [(rank, index) for rank, index in named if share[index] >= _MOSTLY or not rows]
        if confirmed:
            return min(confirmed)[1], "heading"
    best = max(range(width), key=lambda index: share[index])
    if share[best] >= _MOSTLY:
        return best, "contents"
    if headings:
        named = [
            (rank, index)
            for index, heading in enumerate(headings)
            if (rank := _heading_rank(heading, accepted)) is not None
        ]
        if named:
            return min(named)[1], "heading"
    return None, ""
