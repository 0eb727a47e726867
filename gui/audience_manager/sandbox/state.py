"""The sandbox's data: one Kit account (shared by API v4 and v3, like the real Kit) and HighLevel locations.

Plain dataclasses and dicts, indexed both ways (tag -> subscribers and subscriber -> tags) so every
handler is O(items in the request), never O(account size).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ----------------------------------------------------------------------------------------------- Kit


@dataclass
class Subscriber:
    id: int
    email_address: str
    first_name: str | None
    state: str  # active | inactive | bounced | complained | cancelled
    created_at: str
    fields: dict[str, str | None]

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "first_name": self.first_name,
            "email_address": self.email_address,
            "state": self.state,
            "created_at": self.created_at,
            "fields": dict(self.fields),
        }


@dataclass
class Tag:
    id: int
    name: str
    created_at: str

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "name": self.name, "created_at": self.created_at}


@dataclass
class Form:
    id: int
    name: str
    created_at: str
    type: str  # embed | hosted
    uid: str
    archived: bool = False
    # Not part of Kit's form object (the v4 spec has no such field); kept on the sandbox side only.
    double_opt_in: bool = False

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "created_at": self.created_at,
            "type": self.type,
            "format": None if self.type == "hosted" else "inline",
            "embed_js": f"https://sandbox-demo.ck.page/{self.uid}/index.js",
            "embed_url": f"https://sandbox-demo.ck.page/{self.uid}",
            "archived": self.archived,
            "uid": self.uid,
        }


@dataclass
class CustomField:
    id: int
    key: str
    label: str

    @property
    def name(self) -> str:
        return f"ck_field_{self.id}_{self.key}"

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "name": self.name, "key": self.key, "label": self.label}


@dataclass
class FormMembership:
    added_at: str
    referrer: str | None = None


@dataclass
class KitAccount:
    name: str = "Sandbox Demo Co."
    primary_email: str = "owner@sandbox-demo.example"
    created_at: str = "2021-03-04T09:00:00Z"
    account_id: int = 4_200_017
    subscribers: dict[int, Subscriber] = field(default_factory=dict)
    by_email: dict[str, int] = field(default_factory=dict)  # lower-cased email -> id
    tags: dict[int, Tag] = field(default_factory=dict)
    taggings: dict[int, dict[int, str]] = field(default_factory=dict)  # tag id -> subscriber id -> tagged_at
    tags_of: dict[int, dict[int, str]] = field(default_factory=dict)  # subscriber id -> tag id -> tagged_at
    forms: dict[int, Form] = field(default_factory=dict)
    form_members: dict[int, dict[int, FormMembership]] = field(default_factory=dict)
    custom_fields: dict[int, CustomField] = field(default_factory=dict)
    next_subscriber_id: int = 1
    next_tag_id: int = 1
    # v3 calls every tagging and form sign-up a "subscription" with its own id.
    next_subscription_id: int = 900_000_001
    v3_subscription_ids: dict[tuple[str, int, int], int] = field(default_factory=dict)  # (kind, parent, sub)

    # -- lookups
    def find_email(self, email: str) -> Subscriber | None:
        sid = self.by_email.get(email.strip().lower())
        return None if sid is None else self.subscribers[sid]

    def find_tag_by_name(self, name: str) -> Tag | None:
        wanted = name.strip().lower()
        for tag in self.tags.values():
            if tag.name.lower() == wanted:
                return tag
        return None

    def field_by_key_or_label(self, name: str) -> CustomField | None:
        for cf in self.custom_fields.values():
            if name in (cf.key, cf.label, cf.name):
                return cf
        return None

    def double_opt_in_form_ids(self) -> set[int]:
        return {f.id for f in self.forms.values() if f.double_opt_in}

    # -- writes
    def add_subscriber(self, email: str, first_name: str | None, state: str, created_at: str) -> Subscriber:
        sid = self.next_subscriber_id
        self.next_subscriber_id += 1
        sub = Subscriber(sid, email, first_name, state, created_at, dict.fromkeys(self._field_keys()))
        self.subscribers[sid] = sub
        self.by_email[email.lower()] = sid
        return sub

    def _field_keys(self) -> list[str]:
        return [cf.key for cf in self.custom_fields.values()]

    def create_tag(self, name: str, created_at: str | None = None) -> tuple[Tag, bool]:
        existing = self.find_tag_by_name(name)
        if existing is not None:
            return existing, False
        tag = Tag(self.next_tag_id, name.strip(), created_at or now_iso())
        self.next_tag_id += 1
        self.tags[tag.id] = tag
        self.taggings[tag.id] = {}
        return tag, True

    def tag(self, subscriber_id: int, tag_id: int, at: str) -> tuple[str, bool]:
        """Returns (tagged_at, newly tagged)."""
        members = self.taggings[tag_id]
        existing = members.get(subscriber_id)
        if existing is not None:
            return existing, False
        members[subscriber_id] = at
        self.tags_of.setdefault(subscriber_id, {})[tag_id] = at
        return at, True

    def untag(self, subscriber_id: int, tag_id: int) -> bool:
        if self.taggings[tag_id].pop(subscriber_id, None) is None:
            return False
        self.tags_of.get(subscriber_id, {}).pop(tag_id, None)
        return True

    def add_to_form(
        self, subscriber_id: int, form_id: int, at: str, referrer: str | None
    ) -> tuple[FormMembership, bool]:
        members = self.form_members[form_id]
        existing = members.get(subscriber_id)
        if existing is not None:
            return existing, False
        membership = members[subscriber_id] = FormMembership(at, referrer)
        return membership, True


# ------------------------------------------------------------------------------------------ HighLevel


@dataclass
class Contact:
    id: str
    location_id: str
    first_name: str
    last_name: str
    email: str
    date_added: str
    tags: list[str] = field(default_factory=list)  # tag names, lower-cased like HighLevel shows them
    deleted: bool = False
    custom: dict[str, str] = field(default_factory=dict)  # custom field id -> value

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "locationId": self.location_id,
            "firstName": self.first_name,
            "lastName": self.last_name,
            "name": f"{self.first_name} {self.last_name}".strip(),
            "email": self.email,
            "emailLowerCase": self.email.lower(),
            "tags": list(self.tags),
            "dateAdded": self.date_added,
            "dateUpdated": self.date_added,
            "customFields": [{"id": k, "value": v} for k, v in self.custom.items()],
            "type": "lead",
            "source": "sandbox",
            "dnd": False,
        }


@dataclass
class HLTag:
    id: str
    name: str
    location_id: str

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "name": self.name, "locationId": self.location_id}


@dataclass
class Location:
    id: str
    name: str
    email: str
    tags: dict[str, HLTag] = field(default_factory=dict)  # tag id -> tag
    # custom field id -> (name, fieldKey): HighLevel's contact custom fields of the location
    custom_fields: dict[str, tuple[str, str]] = field(
        default_factory=lambda: {
            "cf0company000000000a": ("Company", "contact.company"),
            "cf0plan000000000000b": ("Plan", "contact.plan"),
        }
    )

    def find_tag(self, name: str) -> HLTag | None:
        wanted = name.strip().lower()
        for tag in self.tags.values():
            if tag.name.lower() == wanted:
                return tag
        return None


@dataclass
class HighLevelState:
    locations: dict[str, Location] = field(default_factory=dict)
    contacts: dict[str, Contact] = field(default_factory=dict)  # every location's, deleted ones too
    by_email: dict[tuple[str, str], str] = field(default_factory=dict)  # (location, lower email) -> id


@dataclass
class SandboxState:
    kit: KitAccount
    highlevel: HighLevelState
