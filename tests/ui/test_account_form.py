"""The account form shows exactly the rows each account kind's description asks for, with its words."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QLabel

from audience_manager.core.accounts import Account
from audience_manager.core.platforms import ACCOUNT_KINDS, AccountKind
from audience_manager.ui.account_form import AccountForm


def _label(form: AccountForm, field: object) -> str:
    label = form.form.labelForField(field)  # type: ignore[arg-type]
    return label.text() if isinstance(label, QLabel) else ""


@pytest.mark.parametrize("index", range(len(ACCOUNT_KINDS)), ids=lambda i: ACCOUNT_KINDS[i].label)
def test_the_form_follows_the_kind_description(qtbot, index: int) -> None:
    kind: AccountKind = ACCOUNT_KINDS[index]
    form = AccountForm()
    qtbot.addWidget(form)
    assert form.kind_box.itemText(index) == kind.label
    form.kind_box.setCurrentIndex(index)
    assert form.kind is kind
    visible = form.form.isRowVisible
    assert visible(form.token_edit) is bool(kind.token_label)
    assert visible(form.secret_edit) is kind.needs_secret
    assert visible(form.location_edit) is kind.needs_location
    assert visible(form.client_id_edit) is kind.signs_in and visible(form.sign_in_row) is kind.signs_in
    assert form.token_help.text() == kind.help
    if kind.token_label:
        assert _label(form, form.token_edit) == kind.token_label
    if kind.needs_secret:
        assert _label(form, form.secret_edit) == kind.secret_label
    location = kind.info.location
    if location is not None:
        assert _label(form, form.location_edit) == location.label
        assert form.location_edit.placeholderText() == location.placeholder
    assert form.base_url_edit.placeholderText() == kind.info.base_url
    form.name_edit.setText("Shop")
    form.location_edit.setText("loc-1")
    account = form.account()
    assert account.kind is kind
    assert account.location_id == ("loc-1" if kind.needs_location else "")
    shown = Account(name="Saved", platform=kind.platform, auth=kind.auth, location_id="x")
    form.show_account(shown)
    assert form.kind is kind
