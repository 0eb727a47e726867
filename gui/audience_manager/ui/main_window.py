"""The one window: catalog on the left, audience in the centre, action bar on top, results below.

The window wires panels to the workspace and turns the user's clicks into job specs; it holds no
platform or parsing logic of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Coroutine
from typing import Any

import shiboken6
from PySide6.QtCore import QByteArray, QEvent, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QGuiApplication,
    QKeySequence,
    QPalette,
)
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QSplitter,
    QSystemTrayIcon,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from audience_manager.core.actions import Action, Target, TargetKind
from audience_manager.core.identifiers import IdentifierKind
from audience_manager.core.job_spec import JobSpec
from audience_manager.core.outcomes import Outcome, RowOutcome
from audience_manager.jobs import workflows
from audience_manager.jobs.preview import PreviewReport
from audience_manager.jobs.resume import CannotResumeError, ResumePlan
from audience_manager.jobs.session import (
    Controls,
    Session,
    SessionState,
    ShownJob,
    can_create_missing,
    controls,
    spec_of,
    values_from_columns,
)
from audience_manager.jobs.undo import UndoPlan
from audience_manager.ui.about_dialog import AboutDialog
from audience_manager.ui.accounts_dialog import (
    AccountsDialog,
    KeyringBanner,
    keyring_trouble,
    offer_saved_accounts,
)
from audience_manager.ui.action_bar import ActionBar
from audience_manager.ui.audience_panel import AudiencePanel
from audience_manager.ui.background import Background, in_worker
from audience_manager.ui.catalog_panel import CatalogPanel
from audience_manager.ui.confirm_dialog import ConfirmDialog, JobSummary, PreviewDialog
from audience_manager.ui.history_panel import HistoryPanel
from audience_manager.ui.icons import app_icon, icon, retint, themed
from audience_manager.ui.results_panel import ResultsPanel
from audience_manager.ui.workspace import Workspace

log = logging.getLogger(__name__)

# A job shorter than this finishing in the background is not worth a notification.
NOTIFY_AFTER_SECONDS = 10.0
DEMO_BANNER = "Demo workspace: simulated Kit and HighLevel accounts, nothing leaves this computer."


class Banner(QFrame):
    """A strip with an icon and a line of text, tinted from the palette so it reads in any theme.

    `restyle()` again when the palette changes: the tint and the icon are painted from it."""

    def __init__(self, object_name: str, icon_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(object_name)
        self.icon_name = icon_name
        self.icon_label = QLabel(self)
        self.text_label = QLabel(self)
        self.text_label.setWordWrap(True)
        self.row = QHBoxLayout(self)
        self.row.setContentsMargins(10, 6, 10, 6)
        self.row.addWidget(self.icon_label)
        self.row.addWidget(self.text_label, 1)

    def restyle(self) -> None:
        tint = self.palette().color(QPalette.ColorRole.Highlight)
        self.icon_label.setPixmap(icon(self.icon_name, tint).pixmap(20, 20))
        rgb = f"{tint.red()}, {tint.green()}, {tint.blue()}"
        self.setStyleSheet(
            f"#{self.objectName()} {{ background: rgba({rgb}, 40); border: 1px solid rgba({rgb}, 110);"
            " border-radius: 6px; }"
        )


class DemoBanner(Banner):
    """Says the data is simulated."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("demoBanner", "sandbox", parent)
        self.text_label.setText(self.tr(DEMO_BANNER))
        self.restyle()


class ResumeBanner(Banner):
    """Offers to finish jobs the app was stopped in the middle of (a crash, a kill, a power cut).

    A strip in the window rather than a dialog: the user may want to look first (Show), do
    something else, or leave it (Dismiss); nothing waits on an answer."""

    resume_requested = Signal(str)  # job id
    show_requested = Signal(str)  # job id

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("resumeBanner", "warning", parent)
        self.job_id = ""
        self.resume_button = QPushButton(self.tr("Resu&me"), self)
        self.resume_button.setToolTip(self.tr("Send the rows that have no outcome yet, on the same account"))
        self.show_button = QPushButton(self.tr("Sho&w"), self)
        self.show_button.setToolTip(self.tr("Show the job in History"))
        self.dismiss_button = QPushButton(self.tr("&Dismiss"), self)
        self.dismiss_button.setToolTip(self.tr("Hide this; the job stays in History, to resume later"))
        self.resume_button.clicked.connect(lambda: self.resume_requested.emit(self.job_id))
        self.show_button.clicked.connect(lambda: self.show_requested.emit(self.job_id))
        self.dismiss_button.clicked.connect(self.hide)
        for button in (self.resume_button, self.show_button, self.dismiss_button):
            self.row.addWidget(button)
        self.restyle()
        self.hide()

    def offer(self, jobs: list[Any]) -> None:
        """Show the newest interrupted job (`JobRecord`), and how many more History holds."""
        if not jobs:
            self.hide()
            return
        job = jobs[0]
        self.job_id = job.id
        done, total = job.done, job.total
        text = self.tr(
            "A job was interrupted when the app stopped: {action} {targets} on {account},"
            " {done:,} of {total:,} done."
        ).format(
            action=self.tr(job.action.label),
            targets=job.target_names,
            account=job.account,
            done=done,
            total=total,
        )
        if len(jobs) > 1:
            text += " " + self.tr("{0} more in History.").format(len(jobs) - 1)
        self.text_label.setText(text)
        self.resume_button.show()
        self.show_button.show()
        self.show()

    def refuse(self, message: str) -> None:
        """The job cannot be resumed (its account is gone, say): say why, offer only Dismiss."""
        self.text_label.setText(message)
        self.resume_button.hide()
        self.show_button.hide()
        self.show()


class MainWindow(QMainWindow):
    """Signals report what happened so tests and `--smoke` can wait on them."""

    job_started = Signal(object)  # JobSpec
    job_finished = Signal(str, str, str)  # job id, state, reason
    preview_shown = Signal(str)
    job_reopened = Signal(str)  # job id: its outcomes are in the Results now

    def __init__(self, workspace: Workspace, settings: QSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.workspace = workspace
        self.settings = settings
        # The one state of the session; every control below is derived from it (`_render`).
        self.session = Session()
        self.confirm_dialog: ConfirmDialog | None = None
        self.preview_dialog: PreviewDialog | None = None
        self.about_dialog: AboutDialog | None = None
        self.notified: list[str] = []  # messages shown by `notify`, for tests
        self._tray: QSystemTrayIcon | None = None
        self._preview_task: asyncio.Task[Any] | None = None

        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)

        self.action_bar = ActionBar(self)
        self.catalog_panel = CatalogPanel(workspace, self)
        self.audience_panel = AudiencePanel(self)
        self.results_panel = ResultsPanel(self)
        self.banner = DemoBanner(self)
        self.banner.setVisible(workspace.demo)
        self.accounts_dialog: AccountsDialog | None = None
        self.keyring_banner = KeyringBanner(self, with_checkbox=False)
        self.resume_banner = ResumeBanner(self)
        self.interrupted: list[Any] = []  # JobRecords found interrupted at start
        self._resuming = ""  # job id asked to resume, until it starts or is refused
        self._last_finished: tuple[str, str, str] | None = None  # the last run's end, for job_finished
        # The last preview and the job it was made for: it counts only while that is still the job.
        self._last_preview: tuple[tuple[object, ...], PreviewReport] | None = None

        self.bottom_tabs = QTabWidget(self)
        self.bottom_tabs.setDocumentMode(True)
        self.bottom_tabs.setAccessibleName(self.tr("Results and History"))
        self.bottom_tabs.addTab(self.results_panel, icon("list"), self.tr("Results"))
        self.history_panel = HistoryPanel(workspace.journal, self)
        self.bottom_tabs.addTab(self.history_panel, icon("history"), self.tr("History"))
        self.background = Background(on_error=lambda text: self.statusBar().showMessage(text, 15000))

        self.centre_splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.centre_splitter.setObjectName("centreSplitter")
        self.centre_splitter.addWidget(_padded(self.audience_panel))
        self.centre_splitter.addWidget(_padded(self.bottom_tabs))
        self.centre_splitter.setStretchFactor(0, 2)
        self.centre_splitter.setStretchFactor(1, 3)
        self.centre_splitter.setChildrenCollapsible(False)
        self.main_splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.main_splitter.setObjectName("mainSplitter")
        self.main_splitter.addWidget(_padded(self.catalog_panel))
        self.main_splitter.addWidget(self.centre_splitter)
        self.main_splitter.setStretchFactor(0, 0)
        self.main_splitter.setStretchFactor(1, 1)
        self.main_splitter.setChildrenCollapsible(False)
        self.main_splitter.setSizes([330, 900])
        self.centre_splitter.setSizes([330, 420])

        top = QWidget(self)
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(10, 8, 10, 4)
        top_layout.setSpacing(8)
        top_layout.addWidget(self.banner)
        top_layout.addWidget(self.keyring_banner)
        top_layout.addWidget(self.resume_banner)
        top_layout.addWidget(self.action_bar)
        line = QFrame(self)
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        central = QWidget(self)
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(top)
        layout.addWidget(line)
        layout.addWidget(self.main_splitter, 1)
        self.setCentralWidget(central)

        self.account_status = QLabel(self)
        self.budget_status = QLabel(self)
        self.budget_status.setToolTip(self.tr("Requests left in the platform's rate limit right now"))
        self.statusBar().addPermanentWidget(self.account_status)
        self.statusBar().addPermanentWidget(self.budget_status)
        self._budget_timer = QTimer(self)
        self._budget_timer.setInterval(1000)
        self._budget_timer.timeout.connect(self._show_status)
        self._budget_timer.start()

        self._make_actions()
        self._set_focus_order()
        self._wire()
        self.restore_layout()
        self.session.subscribe(self._render)
        self._sync()
        self._show_status()

    # -- construction -----------------------------------------------------------------------

    def _make_actions(self) -> None:
        def act(
            text: str,
            slot: Any,
            shortcut: QKeySequence | QKeySequence.StandardKey | str | None = None,
            icon_name: str = "",
        ) -> QAction:
            action = themed(QAction(text, self), icon_name) if icon_name else QAction(text, self)
            if shortcut is not None:
                action.setShortcut(QKeySequence(shortcut))
                action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            action.triggered.connect(slot)
            self.addAction(action)
            return action

        self.import_file_action = act(
            self.tr("&Import file…"), self.audience_panel.import_action, "Ctrl+O", "import"
        )
        self.quit_action = act(self.tr("&Quit"), self.close, QKeySequence.StandardKey.Quit)
        self.accounts_action = act(self.tr("&Accounts…"), self.open_accounts_action, None, "account")
        self.refresh_action = act(
            self.tr("&Refresh catalog"), self.catalog_panel.refresh_action, "F5", "refresh"
        )
        self.new_tag_action = act(self.tr("&New tag…"), self.catalog_panel.new_tag_action, None, "add")
        self.forget_looked_up_action = act(self.tr("&Forget looked-up emails"), self.forget_emails_action)
        self.paste_shortcut = act(
            self.tr("&Paste into the audience"), self.paste_action, QKeySequence.StandardKey.Paste, "paste"
        )
        self.preview_job_action = act(
            self.tr("Pre&view"), self.preview_action, "Ctrl+Shift+Return", "preview"
        )
        self.run_job_action = act(self.tr("&Run…"), self.run_action, "Ctrl+Return", "run")
        self.cancel_menu_action = act(self.tr("&Cancel"), self.cancel_action, "Esc", "cancel")
        self.about_action = act(self.tr("&About Audience Manager"), self.about_action_triggered, None, "info")

        menu = self.menuBar()
        file_menu = menu.addMenu(self.tr("&File"))
        file_menu.addAction(self.import_file_action)
        file_menu.addAction(self.paste_shortcut)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        account_menu = menu.addMenu(self.tr("&Account"))
        account_menu.addAction(self.accounts_action)
        account_menu.addAction(self.refresh_action)
        account_menu.addAction(self.new_tag_action)
        account_menu.addAction(self.forget_looked_up_action)
        job_menu = menu.addMenu(self.tr("&Job"))
        job_menu.addAction(self.preview_job_action)
        job_menu.addAction(self.run_job_action)
        job_menu.addAction(self.cancel_menu_action)
        help_menu = menu.addMenu(self.tr("&Help"))
        help_menu.addAction(self.about_action)

    def _set_focus_order(self) -> None:
        """Tab walks the window as it reads: account, catalog, action, audience, results, history.

        Hidden widgets (the catalog lists of other tabs, History while Results shows, the banners
        when there is nothing to say) are skipped by Qt."""
        catalog, bar, audience = self.catalog_panel, self.action_bar, self.audience_panel
        results, history = self.results_panel, self.history_panel
        chain: list[QWidget] = [
            catalog.account_box,
            catalog.accounts_button,
            catalog.search,
            catalog.tabs.tabBar(),
            *catalog.lists.values(),
            catalog.retry_button,
            catalog.refresh_button,
            catalog.new_tag_button,
            bar.action_box,
            bar.value_edit,
            bar.preview_button,
            bar.run_button,
            audience.paste_box,
            audience.column_box,
            audience.back_button,
            audience.preview_table,
            audience.import_button,
            audience.clear_button,
            audience.cancel_button,
            self.bottom_tabs.tabBar(),
            results.cancel_button,
            results.outcome_bar,
            results.outcome_combo,
            results.reason_combo,
            results.table,
            results.copy_button,
            results.export_button,
            results.retry_button,
            results.undo_button,
            history.account_combo,
            history.action_combo,
            history.period_combo,
            history.state_combo,
            history.refresh_button,
            history.table,
            history.open_button,
            history.export_button,
            history.resume_button,
            history.retry_button,
            history.undo_button,
            history.delete_button,
            history.delete_old_button,
            history.older_spin,
            self.resume_banner.resume_button,
            self.resume_banner.show_button,
            self.resume_banner.dismiss_button,
        ]
        for first, second in itertools.pairwise(chain):
            QWidget.setTabOrder(first, second)

    def _wire(self) -> None:
        ws = self.workspace
        ws.account_switched.connect(self._account_switched)
        ws.accounts_changed.connect(self._accounts_changed)
        ws.catalog_loaded.connect(self._catalog_loaded)
        self.audience_panel.set_platform(lambda: ws.platform)
        ws.catalog_started.connect(self._sync)
        ws.catalog_failed.connect(self._sync)
        ws.job_running_changed.connect(self._job_running_changed)
        ws.job_shown.connect(self._job_shown)
        ws.tag_creation_failed.connect(lambda msg: self.statusBar().showMessage(msg, 8000))
        self.catalog_panel.targets_changed.connect(self._targets_changed)
        self.catalog_panel.accounts_requested.connect(self.open_accounts_action)
        self.keyring_banner.session_requested.connect(
            lambda: self.open_accounts_action().banner.session_box.setChecked(True)
        )
        self.action_bar.action_changed.connect(self._action_changed)
        self.action_bar.value_edit.textChanged.connect(self._sync)
        self.action_bar.preview_requested.connect(self.preview_action)
        self.action_bar.run_requested.connect(self.run_action)
        self.audience_panel.audience_changed.connect(self._sync)
        self.audience_panel.parse_started.connect(self._sync)
        self.audience_panel.mapping_changed.connect(self._sync)
        adapter = ws.job
        panel = self.results_panel
        adapter.job_started.connect(panel.job_started_event)
        adapter.outcomes_ready.connect(panel.outcomes_event)
        adapter.progressed.connect(panel.progress_event)
        adapter.job_finished.connect(panel.job_finished_event)
        adapter.job_finished.connect(self._run_finished)
        ws.job_refused.connect(lambda msg: self.statusBar().showMessage(msg, 15000))
        self.results_panel.cancel_requested.connect(self.cancel_job_action)
        self.results_panel.retry_failed_requested.connect(self.retry_failed_action)
        self.results_panel.report_exported.connect(
            lambda path, n: self.statusBar().showMessage(
                self.tr("Saved {0:,} rows to {1}").format(n, path), 8000
            )
        )
        self.results_panel.export_failed.connect(lambda msg: self.statusBar().showMessage(msg, 10000))
        self.results_panel.undo_requested.connect(self.history_panel.undo_action)
        history = self.history_panel
        history.retry_requested.connect(lambda job_id: self.retry_job_action(job_id))
        history.undo_accepted.connect(self.undo_plan_accepted)
        history.open_requested.connect(self.open_job_action)
        history.job_selected.connect(lambda job_id: self.session.update(history_job=job_id))
        history.jobs_deleted.connect(self._jobs_deleted)
        history.error_event.connect(lambda msg: self.statusBar().showMessage(msg, 10000))
        history.report_exported.connect(
            lambda path, n: self.statusBar().showMessage(
                self.tr("Saved {0:,} rows to {1}").format(n, path), 8000
            )
        )
        self.bottom_tabs.currentChanged.connect(self._tab_changed)
        self.resume_banner.resume_requested.connect(self.resume_job_action)
        self.resume_banner.show_requested.connect(self.show_job_in_history)
        history.resume_requested.connect(self.resume_job_action)
        ws.job_resumed.connect(self._job_resumed)
        ws.job_refused.connect(self._resume_refused)

    # -- what the user asked for ------------------------------------------------------------

    def open_accounts_action(self) -> AccountsDialog:
        """Account › Accounts…: add, edit, test, remove; the switcher follows what was saved."""
        dialog = AccountsDialog(self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accounts_changed.connect(lambda name: self._spawn(self._accounts_saved(name)))
        entry = self.workspace.current
        if entry is not None and not entry.account.demo:
            dialog.select_account(entry.account.name)
        self.accounts_dialog = dialog
        dialog.open()
        return dialog

    async def _accounts_saved(self, name: str) -> None:
        """The Accounts dialog saved or removed one: the switcher lists what is saved now and stays
        on the account in use (its targets, audience and results stay); a new one is one click away."""
        await offer_saved_accounts(self.workspace, always=True)
        current = self.workspace.current
        if name and (current is None or current.account.name != name):
            self.statusBar().showMessage(
                self.tr("{0} is saved. Choose it in the account list to work on it.").format(name), 10000
            )

    async def _check_keyring(self) -> None:
        """Saved accounts with no keyring to read their tokens from: say so and offer the way out."""
        self.session.update(keyring_problem=await keyring_trouble(self.workspace))

    def about_action_triggered(self) -> None:
        self.about_dialog = AboutDialog(self)
        self.about_dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.about_dialog.open()

    def paste_action(self) -> None:
        text = QGuiApplication.clipboard().text()
        if text:
            self.audience_panel.paste_action(text)

    def cancel_action(self) -> None:
        """Esc: stop the running job, else stop reading a file."""
        if self.workspace.job_running:
            self.cancel_job_action()
        elif self.audience_panel.cancel_parse_action():
            self.statusBar().showMessage(self.tr("Stopped reading the file."), 4000)

    def cancel_job_action(self) -> None:
        """Cancel (Esc or the button): sending stops; the status says how long the rest may take."""
        job = self.session.state.job
        if not self.workspace.cancel_job() or job is None:
            return
        self.session.update_job(job.job_id, cancelling=True)
        self.statusBar().showMessage(controls(self.session.state).cancel_hint, 8000)

    def current_spec(self) -> JobSpec | None:
        """The job the window is set up for now, from the session state; None until it can run."""
        return spec_of(self.session.state)

    def run_blocker(self) -> str | None:
        """Why Run cannot be pressed now, in the user's words; None when it can."""
        blocker = controls(self.session.state).run_blocker
        return self.tr(blocker) if blocker else None

    def current_preview(self) -> PreviewReport | None:
        """The preview made for exactly the job set up now, if any (a change of audience, target,
        action, value or account makes it stale)."""
        if self._last_preview is None or self._last_preview[0] != _spec_key(self.session.state):
            return None
        return self._last_preview[1]

    def run_action(self) -> ConfirmDialog | None:
        """Ctrl+Return / Run…: confirm, then start the job. Returns the dialog (open, not exec'd)."""
        blocker = self.run_blocker()
        spec = self.current_spec()
        if blocker or spec is None:
            self.statusBar().showMessage(blocker or self.tr("A job is already running"), 5000)
            return None
        preview = self.current_preview()
        spec = workflows.with_preview(spec, preview)
        dialog = self._confirm_and_start(spec, mode="run", preview=preview)
        caps = self.session.state.capabilities
        if preview is None and caps is not None and workflows.resolves_emails(spec, caps):
            # The confirmation also says how the emails will be looked up and what it costs.
            dialog.pricing_started()
            self._spawn(self._price_resolution(dialog, spec))
        return dialog

    async def _price_resolution(self, dialog: ConfirmDialog, spec: JobSpec) -> None:
        try:
            resolution = await self.workspace.resolution_cost(spec)
        except Exception as exc:  # advisory: the run itself reports a refused or unreachable account
            log.info("pricing the email lookups failed: %s", type(exc).__name__)
            resolution = None
        if shiboken6.isValid(dialog) and dialog.isVisible():
            dialog.set_resolution(resolution)

    def retry_failed_action(self, failed: list[RowOutcome]) -> asyncio.Task[ConfirmDialog | None] | None:
        """Results › Retry failed: the failed rows shown (all of them when none is shown) of the
        job in the results, as a new job linked to it."""
        job = self.session.state.job
        if job is None:
            return None
        return self.retry_job_action(job.job_id, {o.row for o in failed} or None)

    def retry_job_action(
        self, job_id: str, rows: set[int] | None = None
    ) -> asyncio.Task[ConfirmDialog | None] | None:
        """Retry a job's failed rows (from the Results or History): `jobs.workflows.retry_plan`
        plans it from the journal, off the GUI thread; the confirmation names what is left out."""
        journal = self.workspace.journal()
        if journal is None or self.workspace.job_running:
            return None
        return self._spawn(self._retry(journal, job_id, rows))

    async def _retry(self, journal: Any, job_id: str, rows: set[int] | None) -> ConfirmDialog | None:
        try:
            plan = await in_worker(workflows.retry_plan, journal, job_id, rows=rows)
        except workflows.NothingToRetryError as exc:
            self.statusBar().showMessage(str(exc), 10000)
            return None
        except Exception as exc:  # an old or damaged journal entry: say so, do not crash
            self.statusBar().showMessage(self.tr("This job cannot be retried: {0}").format(exc), 10000)
            return None
        if plan.spec.account != self.session.state.account:
            self.statusBar().showMessage(
                self.tr("Switch to the account {0} to retry this job.").format(plan.spec.account), 10000
            )
            return None
        return self._confirm_and_start(
            plan.spec, mode="retry", parent_id=job_id, kind=plan.kind, notes=plan.notes
        )

    def undo_plan_accepted(self, plan: UndoPlan) -> None:
        """The Undo dialog was confirmed: run its jobs one after another on the job's account."""
        specs = list(plan.specs)
        account = specs[0].account if specs else ""
        if not specs or self.workspace.job_running:
            return
        if account != self.session.state.account:
            self.statusBar().showMessage(
                self.tr("Switch to the account {0} to undo this job.").format(account), 10000
            )
            return
        self.workspace.undo_job(plan)

    # -- resuming interrupted jobs ------------------------------------------------------------

    def offer_resume(self) -> asyncio.Task[list[Any]]:
        """Look for jobs a crash or kill cut off (journal read off the GUI thread) and offer them."""
        return self._spawn(self._offer_resume())

    async def _offer_resume(self) -> list[Any]:
        journal = self.workspace.journal()
        if journal is None:
            return []
        try:
            jobs: list[Any] = await in_worker(journal.interrupted_jobs)
        except Exception as exc:  # a damaged journal must not stop the window from starting
            self.statusBar().showMessage(self.tr("Could not read the job history: {0}").format(exc), 10000)
            return []
        self.interrupted = jobs
        self.resume_banner.offer(jobs)
        return jobs

    def resume_job_action(self, job_id: str) -> asyncio.Task[ConfirmDialog | None] | None:
        """Resume (banner or History): read what is left (off the GUI thread), confirm like Run,
        then finish the job on the account it ran on, results below."""
        journal = self.workspace.journal()
        if not job_id or journal is None:
            return None
        if self.workspace.job_running:
            self.statusBar().showMessage(self.tr("A job is already running; resume when it ends."), 8000)
            return None
        self._resuming = job_id
        return self._spawn(self._confirm_resume(journal, job_id))

    async def _confirm_resume(self, journal: Any, job_id: str) -> ConfirmDialog | None:
        try:
            plan, earlier = await in_worker(workflows.prepare_resume, journal, job_id)
        except Exception as exc:  # CannotResumeError says why in the user's words; others likewise
            message = str(exc) if isinstance(exc, CannotResumeError) else f"{type(exc).__name__}: {exc}"
            self.workspace.job_refused.emit(message)  # the banner and the status bar say why
            return None
        return self._confirm_and_start(plan.spec, mode="resume", resume=(plan, earlier))

    def _resume_refused(self, message: str) -> None:
        if self._resuming:
            self._resuming = ""
            self.resume_banner.refuse(message)

    def show_job_in_history(self, job_id: str) -> None:
        self.bottom_tabs.setCurrentWidget(self.history_panel)
        self._spawn(self.history_panel.show_job_action(job_id))

    def _job_resumed(self, plan: Any) -> None:
        self._resuming = ""
        self.bottom_tabs.setCurrentWidget(self.results_panel)
        self.statusBar().showMessage(plan.summary())
        self.job_started.emit(plan.spec)

    def preview_action(self) -> asyncio.Task[Any] | None:
        blocker = self.run_blocker()
        spec = self.current_spec()
        if blocker or spec is None:
            self.statusBar().showMessage(blocker or "", 5000)
            return None
        if spec.action is Action.MOVE_TAG:
            self.statusBar().showMessage(
                self.tr("Preview does not cover Move tag yet; its undo restores both tags"), 8000
            )
            return None
        self.statusBar().showMessage(self.tr("Preparing the preview…"))
        self._preview_task = asyncio.ensure_future(self._preview(spec))
        return self._preview_task

    async def _preview(self, spec: JobSpec) -> None:
        key = _spec_key(self.session.state)
        try:
            result = await self.workspace.preview(spec)
        except Exception as exc:  # the preview is advisory: say why it failed, keep the window usable
            self.statusBar().showMessage(self.tr("Preview failed: {0}").format(exc), 10000)
            return
        self._last_preview = (key, result)
        text = result.summary()
        self.statusBar().clearMessage()
        self.preview_dialog = PreviewDialog(self.tr("Preview: nothing has been sent"), text, self)
        self.preview_dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.preview_dialog.open()
        self.preview_shown.emit(text)

    # -- running ----------------------------------------------------------------------------

    def _confirm_and_start(
        self,
        spec: JobSpec,
        *,
        mode: str,
        parent_id: str | None = None,
        kind: str = "run",
        preview: PreviewReport | None = None,
        notes: tuple[str, ...] = (),
        resume: tuple[ResumePlan, list[RowOutcome]] | None = None,
    ) -> ConfirmDialog:
        """The confirmation every job goes through (run, retry, resume), then the start."""
        state = self.session.state
        summary = JobSummary.of(
            spec,
            state.account_label or spec.account,
            demo=state.demo,
            mode=mode,
            preview=preview,
            notes=notes,
            remaining=resume[0].remaining if resume else None,
        )
        dialog = ConfirmDialog(summary, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        if resume is not None:
            plan, earlier = resume
            dialog.accepted.connect(lambda: self._start_resume(plan, earlier))
            dialog.rejected.connect(lambda: setattr(self, "_resuming", ""))
        else:
            dialog.accepted.connect(lambda: self.start_job(spec, parent_id=parent_id, kind=kind))
        self.confirm_dialog = dialog
        dialog.open()
        return dialog

    def _start_resume(self, plan: ResumePlan, earlier: list[RowOutcome]) -> None:
        self.confirm_dialog = None
        self.resume_banner.hide()
        self.statusBar().showMessage(self.tr("Resuming job {0}…").format(plan.job_id))
        self.workspace.resume_job(plan, earlier)

    def start_job(
        self, spec: JobSpec, *, parent_id: str | None = None, kind: str = "run"
    ) -> asyncio.Task[None] | None:
        """Start `spec` now (after confirmation); the results panel follows the job's signals."""
        self.confirm_dialog = None
        if self.workspace.job_running or self.workspace.platform is None:
            # Confirmed just as the account was reopening (or another job began): nothing is sent.
            why = self.run_blocker() or self.tr("A job is already running")
            self.statusBar().showMessage(self.tr("Not started: {0}").format(why), 8000)
            return None
        task = self.workspace.start_job(spec, parent_id=parent_id, kind=kind)
        self.bottom_tabs.setCurrentWidget(self.results_panel)
        self.statusBar().showMessage(
            self.tr("Running: {0} on {1:,} rows").format(self.tr(spec.action.label), len(spec.audience.rows))
        )
        self.job_started.emit(spec)
        return task

    def _job_shown(self, run: workflows.JobRun) -> None:
        """A job was recorded and starts: it is the job the Results show from now on."""
        self.session.update(
            job=ShownJob(
                run.job_id,
                run.spec,
                account=run.spec.account,
                kind=run.kind,
                parent_id=run.parent_id,
                running=True,
            )
        )
        self.bottom_tabs.setCurrentWidget(self.results_panel)

    def _run_finished(self, job_id: str, state: str, reason: str) -> None:
        """One run ended (an undo may have more to come): its counts, then whether it can be undone."""
        failed = self.results_panel.model.failed()
        retryable = sum(1 for o in failed if not workflows.never_succeeds(o.reason))
        self.session.update_job(
            job_id, running=False, cancelling=False, state=state, failed=len(failed), retryable=retryable
        )
        self._last_finished = (job_id, state, reason)
        self._spawn(self._after_job(job_id))

    def _job_running_changed(self, running: bool) -> None:
        self._sync()
        if running or self._last_finished is None:
            return
        job_id, state, reason = self._last_finished
        self._last_finished = None
        self.statusBar().showMessage(self.tr("Job finished."), 5000)
        took = time.monotonic() - self.workspace.job_started_at
        if took >= NOTIFY_AFTER_SECONDS and not self.isActiveWindow():
            self.notify(self.tr("Job finished"), self.results_panel.summary_text(reason))
        self.job_finished.emit(job_id, state, reason)

    async def _after_job(self, job_id: str) -> None:
        """Ask the journal (off the GUI thread) whether the job can be undone; refresh History."""
        journal = self.workspace.journal()
        if journal is None or not job_id:
            self.session.update_job(job_id, undo_blocker=self.tr("This job was not recorded"))
            return
        await self._check_undo(journal, job_id)
        if self.bottom_tabs.currentWidget() is self.history_panel:
            self.history_panel.refresh_action()

    async def _check_undo(self, journal: Any, job_id: str) -> None:
        try:
            plan = await in_worker(workflows.undo_plan, journal, job_id)
        except Exception as exc:  # undo is an extra: without it the results still stand
            self.session.update_job(job_id, undo_blocker=self.tr("Undo is not available: {0}").format(exc))
            return
        blocker = None if plan.possible else (plan.impossible_reason or plan.summary())
        self.session.update_job(job_id, undo_blocker=blocker)

    def open_job_action(self, job_id: str) -> asyncio.Task[None] | None:
        """History › Show rows: the job's outcomes in the Results tab, read off the GUI thread."""
        journal = self.workspace.journal()
        if journal is None or self.workspace.job_running:
            if self.workspace.job_running:
                self.statusBar().showMessage(self.tr("A job is running; its rows are in Results."), 8000)
            return None
        return self._spawn(self._open_job(journal, job_id))

    async def _open_job(self, journal: Any, job_id: str) -> None:
        from audience_manager.jobs.history import job_outcomes

        try:
            record = await in_worker(journal.job, job_id)
            spec = await in_worker(journal.spec_header, job_id)
            outcomes = await in_worker(job_outcomes, journal, job_id)
        except Exception as exc:
            self.statusBar().showMessage(self.tr("Could not read job {0}: {1}").format(job_id, exc), 10000)
            return
        failed = [o for o in outcomes if o.outcome is Outcome.FAILED]
        self.session.update(
            job=ShownJob(
                job_id,
                spec,
                account=record.account,
                kind=record.kind,
                parent_id=record.parent_id,
                state=record.state.value,
                failed=len(failed),
                retryable=sum(1 for o in failed if not workflows.never_succeeds(o.reason)),
            )
        )
        self.bottom_tabs.setCurrentWidget(self.results_panel)
        elapsed = record.ended_at - record.started_at if record.ended_at and record.started_at else None
        await self.results_panel.show_job_in_steps(
            job_id, outcomes, record.state.value, record.reason, elapsed=elapsed
        )
        await self._check_undo(journal, job_id)
        self.job_reopened.emit(job_id)

    def _jobs_deleted(self, _count: int, ids: list[str]) -> None:
        job = self.session.state.job
        if job is not None and not job.running and (job.job_id in ids or not ids):
            self.session.update(job=None)
            self.results_panel.clear_results()

    def forget_emails_action(self) -> asyncio.Task[None]:
        """Account › Forget looked-up emails: the current account's answers (off the GUI thread)."""
        return self._spawn(self._forget_emails())

    async def _forget_emails(self) -> None:
        from audience_manager.jobs.directory import clear_directory

        journal, entry = self.workspace.journal(), self.workspace.current
        if journal is not None and entry is not None:
            loop = asyncio.get_running_loop()
            count = await loop.run_in_executor(None, clear_directory, journal, entry.account)
            self.statusBar().showMessage(self.tr("Forgot {0} looked-up emails.").format(count), 8000)

    def _tab_changed(self, _index: int) -> None:
        if self.bottom_tabs.currentWidget() is self.history_panel:
            self.history_panel.refresh_action()

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        return self.background.spawn(coro)

    def notify(self, title: str, message: str) -> None:
        """Tell a user who is looking elsewhere: a tray message if there is a tray, else an alert."""
        self.notified.append(message)
        if QSystemTrayIcon.isSystemTrayAvailable() and QSystemTrayIcon.supportsMessages():
            if self._tray is None:
                self._tray = QSystemTrayIcon(app_icon(), self)
                self._tray.activated.connect(self._bring_to_front)
            self._tray.show()
            self._tray.showMessage(title, message, app_icon(), 8000)
        else:
            QApplication.alert(self)

    def _bring_to_front(self, *_args: object) -> None:
        self.raise_()
        self.activateWindow()

    # -- keeping the widgets in step --------------------------------------------------------

    def _targets(self) -> list[Target]:
        return self.catalog_panel.checked_targets(self.action_bar.action().target_kind)

    def _accounts_changed(self) -> None:
        self._spawn(self._check_keyring())
        self._sync()
        self._show_status()


    def _account_switched(self) -> None:
        caps = self.workspace.capabilities
        self.action_bar.set_capabilities(caps)
        if caps is not None:
            self.audience_panel.set_accepted(caps.identifiers)
        self._show_status()
        self._sync()

    def _catalog_loaded(self) -> None:
        """The tags and forms an audience from the platform is picked from, and the fields a file's
        columns map to."""
        ws = self.workspace
        caps = ws.capabilities
        targets = [t for kind in (TargetKind.TAG, TargetKind.FORM) for t in ws.catalog.get(kind, [])]
        has_status = caps is not None and IdentifierKind.SUBSCRIBER_ID in caps.identifiers
        self.audience_panel.set_platform_targets(targets, has_status=has_status)
        # The custom fields a file's columns can be mapped to.
        self.audience_panel.set_fields(list(ws.catalog.get(TargetKind.FIELD, [])))
        self._sync()

    def _action_changed(self, action: Action) -> None:
        self.catalog_panel.show_kind(action.target_kind)
        self.audience_panel.set_action(action)
        self._targets_changed()

    def _targets_changed(self) -> None:
        self._sync()

    def _sync(self, *_: object) -> None:
        """Read what the panels and the workspace hold now into the one session state."""
        ws = self.workspace
        entry = ws.current
        open_ = entry is not None and ws.platform is not None
        panel = self.audience_panel
        fields, field_targets = panel.mapping()
        self.session.update(
            account=entry.account.name if open_ and entry else "",
            account_label=entry.label if entry else "",
            demo=ws.demo or bool(entry and entry.account.demo),
            capabilities=ws.capabilities,
            catalog_busy=ws.catalog_busy,
            catalog_error=ws.catalog_error,
            audience=self.audience_panel.audience,
            reading=self.audience_panel.busy,
            action=self.action_bar.action(),
            targets=tuple(self._targets()),
            value=self.action_bar.value(),
            remove_all_tags=self.action_bar.remove_all_tags(),
            move_from=self.audience_panel.move_source(),
            busy=ws.job_running,
            fields=fields,
            field_targets=field_targets,
            blank=panel.blank(),
            create_missing=panel.create_missing(),
            first_name_column=panel.first_name_column(),
        )

    def _render(self, state: SessionState) -> None:
        """Every control that depends on the session, from the one state."""
        c: Controls = controls(state)
        blocker = self.tr(c.run_blocker) if c.run_blocker else None
        self.action_bar.set_run_blocker(blocker)
        from_columns = values_from_columns(state)
        self.action_bar.set_targets(
            list(state.field_targets if from_columns else state.targets), from_columns=from_columns
        )
        self.run_job_action.setEnabled(c.can_run)
        self.preview_job_action.setEnabled(c.can_run)
        self.cancel_menu_action.setEnabled(c.can_cancel or state.reading)
        self.catalog_panel.account_box.setEnabled(c.can_switch_account)
        self.accounts_action.setEnabled(c.can_switch_account)
        self.banner.setVisible(state.demo)
        creatable, create_hint = can_create_missing(state)
        self.audience_panel.create_missing_box.setEnabled(creatable)
        self.audience_panel.create_missing_box.setText(
            self.tr("Create the people who are not there yet (first names from “{0}”)").format(
                state.first_name_column
            )
            if state.first_name_column
            else self.tr("Create the people who are not there yet")
        )
        self.audience_panel.create_missing_box.setToolTip(self.tr(create_hint))
        # About the saved accounts' tokens: not shown while a demo account is open.
        self.keyring_banner.show_problem(None if state.demo else state.keyring_problem)
        self.results_panel.show_state(state.job, c)
        self.history_panel.show_state(state, c)
        # Qt appends the application's display name to a title that does not end with it (Linux,
        # Windows), so the title ends with it and names the app once everywhere.
        name = QGuiApplication.applicationDisplayName() or "Audience Manager"
        where = self.tr("Demo workspace") if state.demo else state.account_label
        self.setWindowTitle(self.tr("{0} — {1}").format(where, name) if where else name)

    def _show_status(self) -> None:
        entry = self.workspace.current
        if entry is None:
            self.account_status.setText(self.tr("No account"))
        else:
            self.account_status.setText(entry.label)
        budget = None
        with contextlib.suppress(Exception):  # a client mid-close must not break the status bar
            budget = self.workspace.budget()
        if budget is None:
            self.budget_status.setText("")
            return
        window = f"{budget.window_seconds:g} s"
        text = self.tr("Rate budget: {0:,}/{1:,} per {2}").format(budget.remaining, budget.limit, window)
        if budget.daily_remaining is not None:
            text += self.tr(" · {0:,} left today").format(budget.daily_remaining)
        self.budget_status.setText(text)

    # -- drops on the window ----------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self.audience_panel.accepts_drop(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if self.audience_panel.accepts_drop(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        if self.audience_panel.accepts_drop(event):
            event.acceptProposedAction()
            self.audience_panel.drop_event(event)
        else:
            event.ignore()

    # -- theme and layout -------------------------------------------------------------------

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            # Light to dark (or back): the icons were painted in the old text colour.
            self.banner.restyle()
            self.resume_banner.restyle()
            retint(self)
            for index, name in ((0, "list"), (1, "history")):
                self.bottom_tabs.setTabIcon(index, icon(name))
            if not self.workspace.catalog_busy and not self.workspace.catalog_error:
                self.catalog_panel.refresh_view()
        super().changeEvent(event)

    def restore_layout(self) -> None:
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray | bytes) and geometry:
            self.restoreGeometry(QByteArray(geometry))
        else:
            self.resize(1280, 820)
        state = self.settings.value("window/state")
        if isinstance(state, QByteArray | bytes) and state:
            self.restoreState(QByteArray(state))
        for splitter in (self.main_splitter, self.centre_splitter):
            saved = self.settings.value(f"window/{splitter.objectName()}")
            if isinstance(saved, QByteArray | bytes) and saved:
                splitter.restoreState(QByteArray(saved))

    def save_layout(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        for splitter in (self.main_splitter, self.centre_splitter):
            self.settings.setValue(f"window/{splitter.objectName()}", splitter.saveState())
        self.settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_layout()
        if self.workspace.job_running:
            # Cancel rather than abandon: the runner gives every unsent row its outcome first.
            self.workspace.cancel_job()
        super().closeEvent(event)


def _padded(widget: QWidget, margins: tuple[int, int, int, int] = (10, 8, 10, 8)) -> QWidget:
    holder = QWidget()
    layout = QVBoxLayout(holder)
    layout.setContentsMargins(*margins)
    layout.addWidget(widget)
    return holder


def _spec_key(state: SessionState) -> tuple[object, ...]:
    """What a preview was made for: the same account, action, targets, value and audience."""
    return (
        state.account,
        state.action,
        state.targets,
        state.value,
        state.remove_all_tags,
        state.move_from,
        id(state.audience),
    )
