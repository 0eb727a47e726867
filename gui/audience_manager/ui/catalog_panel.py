"""The left column: the account switcher and the account's tags, forms and custom fields.

Ticking items here picks the action's targets (several tags at once). The panel only shows what
the workspace loaded; loading, errors and creating a tag are the workspace's job.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import (
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from audience_manager.core.actions import Target, TargetKind
from audience_manager.ui.icons import icon, themed
from audience_manager.ui.workspace import Workspace

TARGET_ROLE = Qt.ItemDataRole.UserRole + 1

_ICONS = {TargetKind.TAG: "tag", TargetKind.FORM: "form", TargetKind.FIELD: "field"}


def kind_title(kind: TargetKind) -> str:
    return {TargetKind.TAG: "Tags", TargetKind.FORM: "Forms", TargetKind.FIELD: "Fields"}[kind]


class NewTagDialog(QDialog):
    """Asks for a tag name; shown with `open()`, the panel reacts to `accepted`."""

    def __init__(self, existing: set[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("New tag"))
        self._existing = {name.casefold() for name in existing}
        self.name_edit = QLineEdit(self)
        self.name_edit.setPlaceholderText(self.tr("e.g. Webinar attendees"))
        self.name_edit.setMaxLength(255)
        self.hint = QLabel(self)
        self.hint.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.create_button = self.buttons.addButton(
            self.tr("Create tag"), QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(self.tr("Name of the new tag:"), self))
        layout.addWidget(self.name_edit)
        layout.addWidget(self.hint)
        layout.addWidget(self.buttons)
        self.name_edit.textChanged.connect(self._validate)
        self._validate("")
        self.setMinimumWidth(340)

    def name(self) -> str:
        return self.name_edit.text().strip()

    def _validate(self, _text: str) -> None:
        name = self.name()
        exists = name.casefold() in self._existing
        self.create_button.setEnabled(bool(name) and not exists)
        self.hint.setText(self.tr("A tag with this name already exists.") if exists else "")
        self.hint.setVisible(exists)


class _TickingSelection(QItemSelectionModel):
    """The catalog's selection model: a plain "select this one item" ticks it instead.

    Screen readers act on a list item through its accessible "Toggle" action, and Qt's item
    accessibility implements that as selecting the item (`QItemSelectionModel.Select` on exactly
    that index, and `Deselect` when it was selected). In the catalog a selection means nothing,
    the tick is what counts, so those two requests tick or untick the item. Clicks, arrows and
    Shift/Ctrl ranges use other flags (ClearAndSelect, Toggle, Current) and select as usual;
    Space ticks the current item through the item delegate.
    """

    def __init__(self, view: _TargetList) -> None:
        super().__init__(view.model(), view)
        self._view = view

    def select(self, selection: Any, command: Any) -> None:
        flags = QItemSelectionModel.SelectionFlag(command)
        single = isinstance(selection, QModelIndex | QPersistentModelIndex) and selection.isValid()
        if single and flags == QItemSelectionModel.SelectionFlag.Select:
            self._view.toggle(QModelIndex(selection))
            return
        if single and flags == QItemSelectionModel.SelectionFlag.Deselect:
            self._view.toggle(QModelIndex(selection))
        if isinstance(selection, QItemSelection):
            super().select(selection, flags)
        else:
            super().select(QModelIndex(selection), flags)


class _TargetList(QListView):
    def __init__(self, kind: TargetKind, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = kind
        self.source = QStandardItemModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.source)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setModel(self.proxy)
        old = self.selectionModel()
        self.setSelectionModel(_TickingSelection(self))
        old.deleteLater()
        self.setUniformItemSizes(True)
        self.setSelectionMode(QListView.SelectionMode.ExtendedSelection)
        self.setAlternatingRowColors(True)
        self.doubleClicked.connect(self.toggle)

    def toggle(self, index: QModelIndex) -> None:
        """Tick the item at `index` (of the view's model), or untick it."""
        item = self.source.itemFromIndex(self.proxy.mapToSource(index))
        if item is not None:
            checked = item.checkState() == Qt.CheckState.Checked
            item.setCheckState(Qt.CheckState.Unchecked if checked else Qt.CheckState.Checked)


class CatalogPanel(QWidget):
    """Account switcher, search, and one checkable list per target kind with counts."""

    targets_changed = Signal()
    accounts_requested = Signal()

    def __init__(self, workspace: Workspace, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.workspace = workspace
        self._checked: dict[TargetKind, set[str]] = {kind: set() for kind in TargetKind}
        self._filling = False
        self.new_tag_dialog: NewTagDialog | None = None

        self.account_box = QComboBox(self)
        self.account_box.setToolTip(self.tr("The account the action runs on"))
        self.account_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.account_box.setMinimumContentsLength(16)
        self.account_box.setAccessibleName(self.tr("Account"))
        self.account_box.setAccessibleDescription(self.tr("The account the action runs on"))
        self.accounts_button = QToolButton(self)
        themed(self.accounts_button, "account")
        self.accounts_button.setToolTip(self.tr("Manage accounts…"))
        self.accounts_button.setAccessibleName(self.tr("Manage accounts"))
        self.accounts_button.setAccessibleDescription(
            self.tr("Add, edit, test or remove Kit and HighLevel accounts")
        )
        self.accounts_button.clicked.connect(self.accounts_requested)

        self.search = QLineEdit(self)
        self.search.setPlaceholderText(self.tr("Search the catalog"))
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName(self.tr("Search the catalog"))
        self.search.setAccessibleDescription(
            self.tr("Shows only the tags, forms and fields whose name matches")
        )
        themed(self.search.addAction(icon("search"), QLineEdit.ActionPosition.LeadingPosition), "search")
        self.search.textChanged.connect(self._filter)

        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        self.tabs.setUsesScrollButtons(False)
        self.tabs.tabBar().setExpanding(True)
        self.tabs.setAccessibleName(self.tr("Catalog"))
        self.lists: dict[TargetKind, _TargetList] = {}
        for kind in TargetKind:
            view = _TargetList(kind, self)
            view.source.itemChanged.connect(self._item_changed)
            view.setAccessibleName(self.tr(kind_title(kind)))
            view.setAccessibleDescription(self.tr("Tick the targets to act on: Space ticks the current one"))
            self.lists[kind] = view
        self.lists[TargetKind.FIELD].setToolTip(
            self.tr("Set custom field writes one field at a time: ticking a field unticks the other one")
        )

        self.busy_label = QLabel(self.tr("Loading the catalog…"), self)
        self.busy_bar = QProgressBar(self)
        self.busy_bar.setRange(0, 0)
        self.busy_bar.setTextVisible(False)
        busy = QWidget(self)
        busy_layout = QVBoxLayout(busy)
        busy_layout.addStretch(1)
        busy_layout.addWidget(self.busy_label, alignment=Qt.AlignmentFlag.AlignHCenter)
        busy_layout.addWidget(self.busy_bar)
        busy_layout.addStretch(2)

        self.error_label = QLabel(self)
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.retry_button = themed(QPushButton(self.tr("Retr&y"), self), "retry")
        self.retry_button.clicked.connect(self.refresh_action)
        error = QWidget(self)
        error_layout = QVBoxLayout(error)
        error_layout.addStretch(1)
        error_layout.addWidget(self.error_label)
        error_layout.addWidget(self.retry_button, alignment=Qt.AlignmentFlag.AlignHCenter)
        error_layout.addStretch(2)

        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.tabs)
        self.stack.addWidget(busy)
        self.stack.addWidget(error)

        self.refresh_button = themed(QPushButton(self.tr("R&efresh"), self), "refresh")
        self.refresh_button.setToolTip(self.tr("Load the tags, forms and custom fields again"))
        self.refresh_button.clicked.connect(self.refresh_action)
        self.new_tag_button = themed(QPushButton(self.tr("&New tag…"), self), "add")
        self.new_tag_button.clicked.connect(self.new_tag_action)
        self.hint = QLabel(self.tr("Tick the tags, forms or fields to act on."), self)
        self.hint.setWordWrap(True)
        self.hint.setForegroundRole(self.hint.foregroundRole())
        self.hint.setEnabled(False)  # the palette's dimmed text, legible in light and dark themes

        top = QHBoxLayout()
        top.addWidget(self.account_box, 1)
        top.addWidget(self.accounts_button)
        buttons = QHBoxLayout()
        buttons.addWidget(self.refresh_button)
        buttons.addWidget(self.new_tag_button)
        buttons.addStretch(1)
        self.setMinimumWidth(300)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        title = QLabel(self.tr("Account"), self)
        title.setBuddy(self.account_box)
        font = title.font()
        font.setBold(True)
        title.setFont(font)
        layout.addWidget(title)
        layout.addLayout(top)
        layout.addSpacing(6)
        layout.addWidget(self.search)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.hint)
        layout.addLayout(buttons)

        self.account_box.currentIndexChanged.connect(self._account_chosen)
        workspace.accounts_changed.connect(self._fill_accounts)
        workspace.catalog_started.connect(self._show_busy)
        workspace.catalog_loaded.connect(self._show_catalog)
        workspace.catalog_failed.connect(self._show_error)
        workspace.tag_created.connect(self._tag_created)
        workspace.tag_creation_failed.connect(self._show_tag_error)
        self._fill_accounts()
        if workspace.catalog_busy:
            self._show_busy()
        elif workspace.catalog_error:
            self._show_error(workspace.catalog_error)
        else:
            self._show_catalog()

    # -- what the action bar reads ----------------------------------------------------------

    def checked_targets(self, kind: TargetKind) -> list[Target]:
        wanted = self._checked[kind]
        return [t for t in self.workspace.catalog.get(kind, []) if t.id in wanted]

    def set_checked(self, kind: TargetKind, ids: set[str]) -> None:
        self._checked[kind] = set(ids)
        self._fill_list(kind)
        self.targets_changed.emit()

    def show_kind(self, kind: TargetKind) -> None:
        view = self.lists[kind]
        index = self.tabs.indexOf(view)
        if index >= 0:
            self.tabs.setCurrentIndex(index)

    def refresh_view(self) -> None:
        """Draw the catalog again from what the workspace holds (after a theme change)."""
        self._show_catalog()

    # -- user actions -----------------------------------------------------------------------

    def refresh_action(self) -> None:
        self.workspace.refresh_catalog()

    def new_tag_action(self) -> None:
        existing = {t.name for t in self.workspace.catalog.get(TargetKind.TAG, [])}
        dialog = NewTagDialog(existing, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self.workspace.create_tag(dialog.name()))
        self.new_tag_dialog = dialog
        dialog.open()

    # -- reacting to the workspace ----------------------------------------------------------

    def _fill_accounts(self) -> None:
        self._filling = True
        self.account_box.clear()
        for entry in self.workspace.entries:
            self.account_box.addItem(icon("sandbox") if entry.account.demo else icon("account"), entry.label)
        self.account_box.setCurrentIndex(self.workspace.current_index)
        self._filling = False

    def _account_chosen(self, index: int) -> None:
        if self._filling or index < 0:
            return
        if self.workspace.switch_account(index) is None and index != self.workspace.current_index:
            # Refused (a job is running): show the account that is really open.
            self._filling = True
            self.account_box.setCurrentIndex(self.workspace.current_index)
            self._filling = False

    def _show_busy(self) -> None:
        self.stack.setCurrentIndex(1)
        self.refresh_button.setEnabled(False)
        self.new_tag_button.setEnabled(False)
        self._sync_account_box()

    def _show_error(self, message: str) -> None:
        self.error_label.setText(self.tr("The catalog could not be loaded:\n{0}").format(message))
        self.stack.setCurrentIndex(2)
        self.refresh_button.setEnabled(True)
        self.new_tag_button.setEnabled(False)

    def _show_catalog(self) -> None:
        caps = self.workspace.capabilities
        kinds = self.workspace.catalog_kinds()
        current = self.tabs.currentWidget()
        self.tabs.clear()
        for kind in kinds:
            self._fill_list(kind)
            count = len(self.workspace.catalog.get(kind, []))
            self.tabs.addTab(self.lists[kind], icon(_ICONS[kind]), f"{self.tr(kind_title(kind))} ({count:,})")
        if current is not None and self.tabs.indexOf(current) >= 0:
            self.tabs.setCurrentWidget(current)
        self.stack.setCurrentIndex(0)
        self.refresh_button.setEnabled(self.workspace.platform is not None)
        self.new_tag_button.setEnabled(bool(caps and caps.can_create_tags))
        if caps is not None and not caps.can_create_tags:
            self.new_tag_button.setToolTip(self.tr("This account cannot create tags"))
        self._filter(self.search.text())
        self._sync_account_box()
        self.targets_changed.emit()

    def _sync_account_box(self) -> None:
        if self.account_box.currentIndex() != self.workspace.current_index:
            self._filling = True
            self.account_box.setCurrentIndex(self.workspace.current_index)
            self._filling = False

    def _fill_list(self, kind: TargetKind) -> None:
        view = self.lists[kind]
        self._filling = True
        view.source.clear()
        for target in self.workspace.catalog.get(kind, []):
            item = QStandardItem(target.name or target.id)
            item.setData(target, TARGET_ROLE)
            item.setCheckable(True)
            item.setEditable(False)
            item.setCheckState(
                Qt.CheckState.Checked if target.id in self._checked[kind] else Qt.CheckState.Unchecked
            )
            tip = [target.name, self.tr("id {0}").format(target.id)]
            if target.key:
                tip.append(self.tr("key {0}").format(target.key))
            if target.subscriber_count is not None:
                tip.append(self.tr("{0:,} subscribers").format(target.subscriber_count))
            if target.double_opt_in:
                item.setText(self.tr("{0}  (double opt-in)").format(item.text()))
                tip.append(self.tr("Double opt-in: adding someone sends the incentive email"))
            item.setToolTip("\n".join(tip))
            view.source.appendRow(item)
        # Targets that vanished from the account (deleted elsewhere) are no longer picked.
        self._checked[kind] &= {t.id for t in self.workspace.catalog.get(kind, [])}
        self._filling = False

    def _item_changed(self, item: QStandardItem) -> None:
        if self._filling:
            return
        target = item.data(TARGET_ROLE)
        if not isinstance(target, Target):
            return
        if item.checkState() == Qt.CheckState.Checked:
            if target.kind is TargetKind.FIELD:
                # Set custom field writes one field a job: ticking another one moves the tick. The
                # other items are unticked in place (rebuilding the list here would delete the
                # item whose change is being handled).
                self._checked[target.kind] = {target.id}
                self._untick_others(self.lists[target.kind], item)
            else:
                self._checked[target.kind].add(target.id)
        else:
            self._checked[target.kind].discard(target.id)
        self.targets_changed.emit()

    def _untick_others(self, view: _TargetList, keep: QStandardItem) -> None:
        self._filling = True
        try:
            for row in range(view.source.rowCount()):
                other = view.source.item(row)
                if other is not keep and other.checkState() == Qt.CheckState.Checked:
                    other.setCheckState(Qt.CheckState.Unchecked)
        finally:
            self._filling = False

    def _filter(self, text: str) -> None:
        for view in self.lists.values():
            view.proxy.setFilterFixedString(text.strip())
        for kind in self.workspace.catalog_kinds():
            view = self.lists[kind]
            index = self.tabs.indexOf(view)
            if index < 0:
                continue
            total = view.source.rowCount()
            shown = view.proxy.rowCount()
            count = f"{total:,}" if shown == total else f"{shown:,}/{total:,}"
            self.tabs.setTabText(index, f"{self.tr(kind_title(kind))} ({count})")

    def _tag_created(self, tag: Target) -> None:
        self._checked[TargetKind.TAG].add(tag.id)  # a new tag is made to be used: pick it

    def _show_tag_error(self, message: str) -> None:
        self.error_label.setText(self.tr("The tag could not be created:\n{0}").format(message))
        self.hint.setText(self.tr("The tag could not be created: {0}").format(message))
