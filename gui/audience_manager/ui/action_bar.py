"""The top bar: which action, on which targets, with which value; Preview and Run.

Actions the account cannot do stay in the list, disabled, with the platform's reason as tooltip,
so the user learns why rather than wondering where "Add to form" went.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QWidget,
)

from audience_manager.core.actions import Action, Target, TargetKind
from audience_manager.core.platforms import Capabilities
from audience_manager.ui.icons import themed

_PLURAL = {
    TargetKind.TAG: ("tag", "tags"),
    TargetKind.FORM: ("form", "forms"),
    TargetKind.FIELD: ("field", "fields"),
}


class ActionBar(QWidget):
    action_changed = Signal(object)  # Action
    preview_requested = Signal()
    run_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.action_box = QComboBox(self)
        for action in Action:
            self.action_box.addItem(self.tr(action.label), action)
        self.action_box.setToolTip(self.tr("What to do to every row of the audience"))
        self.action_box.setAccessibleName(self.tr("Action"))
        self.action_box.setAccessibleDescription(self.tr("What to do to every row of the audience"))
        self.action_box.currentIndexChanged.connect(self._action_chosen)

        self.targets_label = QLabel(self)
        self.targets_label.setTextFormat(Qt.TextFormat.PlainText)
        self.targets_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.targets_label.setMinimumWidth(160)

        self.value_label = QLabel(self.tr("Value:"), self)
        self.value_edit = QLineEdit(self)
        self.value_edit.setPlaceholderText(self.tr("new value (empty clears it)"))
        self.value_edit.setMinimumWidth(160)
        self.value_edit.setAccessibleName(self.tr("New value of the custom field"))
        self.value_label.setBuddy(self.value_edit)

        # HighLevel only (`Capabilities.can_remove_all_tags`): untag every tag each contact has.
        self.all_tags_box = QCheckBox(self.tr("all tags"), self)
        self.all_tags_box.setToolTip(
            self.tr(
                "Remove every tag each contact has (HighLevel). The undo gives each one back its own tags."
            )
        )
        self.all_tags_box.toggled.connect(lambda _on: self.action_changed.emit(self.action()))
        self._can_remove_all = False

        self.preview_button = themed(QPushButton(self.tr("Pre&view"), self), "preview")
        self.preview_button.setToolTip(
            self.tr("Show the counts and the requests that would be sent, without writing")
        )
        self.preview_button.clicked.connect(self.preview_requested)
        self.run_button = themed(QPushButton(self.tr("&Run…"), self), "run")
        self.run_button.setDefault(True)
        self.run_button.setMinimumWidth(96)
        self.run_button.clicked.connect(self.run_requested)

        do_label = QLabel(self.tr("Action:"), self)
        do_label.setBuddy(self.action_box)
        on_label = QLabel(self.tr("on"), self)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addWidget(do_label)
        layout.addWidget(self.action_box)
        layout.addWidget(on_label)
        layout.addWidget(self.all_tags_box)
        layout.addWidget(self.targets_label, 1)
        layout.addWidget(self.value_label)
        layout.addWidget(self.value_edit)
        layout.addSpacing(12)
        layout.addWidget(self.preview_button)
        layout.addWidget(self.run_button)
        self._targets: list[Target] = []
        self._action_chosen(self.action_box.currentIndex())

    # -- state the window pushes in ---------------------------------------------------------

    def action(self) -> Action:
        data = self.action_box.currentData()  # Qt hands the enum back as its str value
        return Action(data) if data else Action.TAG

    def set_action(self, action: Action) -> None:
        self.action_box.setCurrentIndex(self.action_box.findData(action))

    def remove_all_tags(self) -> bool:
        """Untag every tag each contact has: ticked, on an untag, on a platform that can."""
        return self.action() is Action.UNTAG and self._can_remove_all and self.all_tags_box.isChecked()

    def value(self) -> str | None:
        return self.value_edit.text() if self.action() is Action.SET_FIELD else None

    def set_capabilities(self, caps: Capabilities | None) -> None:
        """Enable the actions the account offers; the others say why in their tooltip."""
        model = self.action_box.model()
        assert isinstance(model, QStandardItemModel)
        for row in range(self.action_box.count()):
            action = Action(self.action_box.itemData(row))
            item = model.item(row)
            why = caps.why_not(action) if caps else self.tr("No account is open.")
            item.setEnabled(why is None)
            item.setToolTip(why or "")
        self._can_remove_all = bool(caps and caps.can_remove_all_tags)
        self._show_all_tags()
        current = self.action()
        if caps is not None and caps.why_not(current) is not None:
            for action in Action:
                if caps.why_not(action) is None:
                    self.set_action(action)
                    break

    def set_targets(self, targets: list[Target], *, from_columns: bool = False) -> None:
        """What the job acts on; `from_columns`: the fields the file's columns are mapped to, each
        row with its own value (so the one value box does not apply)."""
        self._targets = list(targets)
        kind = self.action().target_kind
        one, many = _PLURAL[kind]
        self.value_edit.setEnabled(not from_columns)
        self.value_edit.setToolTip(
            self.tr("Each row's own value comes from the file's columns") if from_columns else ""
        )
        if from_columns:
            names = ", ".join(str(t) for t in targets)
            text = self.tr("{0} from the file's columns: {1}").format(
                self.tr(one if len(targets) == 1 else many), names
            )
            self.targets_label.setEnabled(True)
        elif self.remove_all_tags():
            text = self.tr("every tag each contact has")
            self.targets_label.setEnabled(True)
        elif not targets and kind is TargetKind.FIELD:
            text = self.tr("(tick one custom field in the catalog: one field a job)")
            self.targets_label.setEnabled(False)
        elif not targets:
            text = self.tr("(tick one or more {0} in the catalog)").format(many)
            self.targets_label.setEnabled(False)
        else:
            names = ", ".join(str(t) for t in targets)
            noun = one if len(targets) == 1 else many
            text = f"{len(targets)} {self.tr(noun)}: {names}"
            self.targets_label.setEnabled(True)
        self.targets_label.setText(text)
        self.targets_label.setToolTip("\n".join(str(t) for t in targets))

    def set_run_blocker(self, reason: str | None) -> None:
        """Run and Preview are enabled only when nothing blocks them (a running job included: the
        window's session state says so); the tooltip says what does."""
        self.run_button.setEnabled(reason is None)
        self.preview_button.setEnabled(reason is None)
        self.run_button.setToolTip(reason or self.tr("Run the action on every valid row (Ctrl+Return)"))

    def _show_all_tags(self) -> None:
        self.all_tags_box.setVisible(self.action() is Action.UNTAG and self._can_remove_all)

    def _action_chosen(self, _index: int) -> None:
        self._show_all_tags()
        is_field = self.action() is Action.SET_FIELD
        self.value_label.setVisible(is_field)
        self.value_edit.setVisible(is_field)
        self.action_changed.emit(self.action())
