"""A realistic, seeded account: the same seed always gives the same people, tags and memberships.

Fast on purpose (the demo workspace builds one at start-up): plain loops over `random.Random`.
"""

from __future__ import annotations

import random
import string
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from audience_manager.sandbox.state import (
    Contact,
    CustomField,
    Form,
    HighLevelState,
    HLTag,
    KitAccount,
    Location,
    SandboxState,
)

FIRST_NAMES = [
    "Anna",
    "Ben",
    "Carla",
    "David",
    "Elena",
    "Felix",
    "Grace",
    "Hugo",
    "Ines",
    "Jonas",
    "Kara",
    "Liam",
    "Maya",
    "Noah",
    "Olivia",
    "Pablo",
    "Quinn",
    "Rosa",
    "Samir",
    "Tara",
    "Umar",
    "Vera",
    "Wes",
    "Xenia",
    "Yara",
    "Zane",
    "Aisha",
    "Bruno",
    "Chloe",
    "Dmitri",
    "Emma",
    "Farid",
    "Greta",
    "Hana",
    "Ivan",
    "Julia",
    "Kenji",
    "Lena",
    "Marco",
    "Nadia",
    "Oscar",
    "Priya",
    "Rafael",
    "Sofia",
    "Tomas",
    "Uma",
    "Victor",
    "Wanda",
    "Yusuf",
    "Zoe",
]
LAST_NAMES = [
    "Smith",
    "Müller",
    "Garcia",
    "Rossi",
    "Novak",
    "Kim",
    "Nguyen",
    "Silva",
    "Cohen",
    "Dubois",
    "Jensen",
    "Kowalski",
    "Okafor",
    "Patel",
    "Haddad",
    "Larsen",
    "Moreau",
    "Tanaka",
    "Fischer",
    "Costa",
    "Ivanova",
    "Brown",
    "Wilson",
    "Schmidt",
    "Lopez",
    "Martin",
    "Weber",
    "Dias",
    "Berg",
    "Romano",
]
DOMAINS = [
    "example.com",
    "example.org",
    "example.net",
    "mail.example.com",
    "inbox.example.org",
    "post.example.net",
    "studio.example",
    "company.example",
    "shop.example",
]
KIT_TAGS = [
    "Newsletter",
    "VIP",
    "Customer",
    "Lead",
    "Webinar 2026-03 attendee",
    "Webinar 2026-03 registrant",
    "Webinar 2025-11 attendee",
    "Black Friday 2025",
    "Cyber Monday 2025",
    "Course: Email Basics",
    "Course: Advanced Funnels",
    "Ebook download",
    "Podcast listener",
    "Cold lead",
    "Warm lead",
    "Hot lead",
    "Affiliate",
    "Beta tester",
    "Churned",
    "Re-engaged",
    "Purchased: Starter",
    "Purchased: Pro",
    "Purchased: Lifetime",
    "Interested: Coaching",
    "Interested: Templates",
    "Survey 2026 respondent",
    "Summit 2026 speaker",
    "Summit 2026 attendee",
    "Community member",
    "Workshop waitlist",
    "Masterclass replay",
    "Giveaway entrant",
    "Referral partner",
    "Sponsor",
    "Press",
    "Inactive 90 days",
    "Bounced once",
    "Welcome sequence done",
    "Onboarding",
    "Free trial",
]
KIT_FORMS = [
    ("Newsletter sign-up", "embed", False),
    ("Free ebook: 10 subject lines", "hosted", True),
    ("Webinar registration", "hosted", False),
    ("Course waitlist", "embed", True),
    ("Exit-intent popup", "embed", False),
    ("Summit 2026 landing page", "hosted", True),
    ("Template library opt-in", "embed", False),
    ("Old sidebar form", "embed", False),
]
KIT_FIELDS = [
    ("last_name", "Last name"),
    ("company", "Company"),
    ("city", "City"),
    ("plan", "Plan"),
    ("source", "Source"),
    ("birthday", "Birthday"),
]
HL_TAGS = [
    "new lead",
    "customer",
    "vip",
    "webinar 2026-03",
    "newsletter",
    "facebook ad",
    "google ad",
    "appointment booked",
    "no show",
    "follow up",
    "hot",
    "warm",
    "cold",
    "referral",
    "reviewed",
    "invoice sent",
    "paid",
    "refund",
    "trial",
    "onboarding",
    "churn risk",
    "upsell",
    "event 2026",
    "podcast",
    "ebook",
    "quiz taker",
    "waitlist",
    "partner",
    "press",
    "do not call",
]
ID_ALPHABET = string.ascii_letters + string.digits
T = TypeVar("T")
STATES = ["active"] * 90 + ["cancelled"] * 6 + ["inactive"] * 2 + ["bounced", "complained"]
BASE_TIME = datetime(2022, 1, 3, 8, 0, tzinfo=UTC)
FIRST_SUBSCRIBER_ID = 1_204_801
FIRST_TAG_ID = 5_210_001


def _pick(rng: random.Random, seq: Sequence[T]) -> T:
    """`rng.choice` without its per-call overhead (seeding runs it ~100,000 times at start-up)."""
    return seq[int(rng.random() * len(seq))]


def _stamp(rng: random.Random, start_days: int = 0, span_days: int = 1_400) -> str:
    moment = BASE_TIME + timedelta(days=start_days + rng.random() * span_days)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _email(rng: random.Random, first: str, last: str, n: int) -> str:
    local = _pick(rng, (f"{first}.{last}", f"{first[0]}{last}", f"{first}{n}", f"{last}.{first}{n % 97}"))
    local = local.replace("ü", "ue").replace(" ", "")
    if rng.random() < 0.08:  # people type their address with capitals; Kit keeps what they typed
        return f"{local}@{_pick(rng, DOMAINS).capitalize()}"
    return f"{local.lower()}@{_pick(rng, DOMAINS)}"


def contact_id(rng: random.Random) -> str:
    return "".join(rng.choices(ID_ALPHABET, k=20))


def seed_kit(rng: random.Random, subscribers: int) -> KitAccount:
    kit = KitAccount(next_subscriber_id=FIRST_SUBSCRIBER_ID, next_tag_id=FIRST_TAG_ID)
    for fid, (key, label) in enumerate(KIT_FIELDS, start=88_001):
        kit.custom_fields[fid] = CustomField(fid, key, label)
    for name in KIT_TAGS:
        kit.create_tag(name, _stamp(rng, 0, 900))
        kit.next_tag_id += rng.randint(0, 3)  # real ids are not contiguous
    for i, (name, kind, double_opt_in) in enumerate(KIT_FORMS):
        fid = 7_340_001 + i * 17
        uid = "".join(rng.choices("0123456789abcdef", k=10))
        kit.forms[fid] = Form(
            fid, name, _stamp(rng, 0, 900), kind, uid, archived=(i == 7), double_opt_in=double_opt_in
        )
        kit.form_members[fid] = {}
    tag_ids = list(kit.tags)
    form_ids = list(kit.forms)
    weights = [1.0 / (1 + i * 0.35) for i in range(len(tag_ids))]  # "Newsletter" is common, "Press" rare
    field_keys = [cf.key for cf in kit.custom_fields.values()]
    seen: set[str] = set()
    for n in range(subscribers):
        first, last = _pick(rng, FIRST_NAMES), _pick(rng, LAST_NAMES)
        email = _email(rng, first, last, n)
        while email.lower() in seen:
            email = f"{first.lower()}.{n}.{rng.randint(1, 999)}@{_pick(rng, DOMAINS)}"
        seen.add(email.lower())
        created = _stamp(rng)
        sub = kit.add_subscriber(email, first if rng.random() > 0.05 else None, _pick(rng, STATES), created)
        kit.next_subscriber_id += rng.randint(0, 2)  # gaps: ids that exist nowhere
        if rng.random() < 0.6:
            sub.fields[field_keys[0]] = last
        if rng.random() < 0.2:
            sub.fields["company"] = f"{_pick(rng, LAST_NAMES)} & Co."
        for tag_id in rng.choices(tag_ids, weights, k=_pick(rng, (0, 0, 1, 1, 2, 3))):
            kit.tag(sub.id, tag_id, created)
        if rng.random() < 0.3:
            fid = _pick(rng, form_ids)
            kit.add_to_form(sub.id, fid, created, None)
    return kit


def seed_highlevel(rng: random.Random, contacts: int) -> HighLevelState:
    hl = HighLevelState()
    main = Location(contact_id(rng), "Sandbox Demo Studio", "studio@sandbox-demo.example")
    other = Location(contact_id(rng), "Another Sub-account", "other@sandbox-demo.example")
    for loc in (main, other):
        hl.locations[loc.id] = loc
        for name in HL_TAGS:
            tag = HLTag(contact_id(rng), name, loc.id)
            loc.tags[tag.id] = tag
    names = [t.name for t in main.tags.values()]
    for n in range(contacts + contacts // 50 + contacts // 100):
        first, last = _pick(rng, FIRST_NAMES), _pick(rng, LAST_NAMES)
        loc = main if n < contacts + contacts // 100 else other
        c = Contact(
            contact_id(rng),
            loc.id,
            first,
            last,
            _email(rng, first, last, n).lower(),
            _stamp(rng),
            rng.sample(names, k=_pick(rng, (0, 1, 1, 2, 3))),
        )
        c.deleted = loc is main and n >= contacts  # a few deleted ones in the main location
        hl.contacts[c.id] = c
        if not c.deleted:
            hl.by_email.setdefault((loc.id, c.email), c.id)
    return hl


def seed_state(subscribers: int, contacts: int, seed: int) -> SandboxState:
    rng = random.Random(seed)
    return SandboxState(seed_kit(rng, subscribers), seed_highlevel(rng, contacts))
