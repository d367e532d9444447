"""The history window: every call the journal holds, filtered, sorted, paged.

The model holds one page at a time plus what the operator scrolled to
(``fetchMore`` asks for the next page), so 100,000 calls cost a few hundred
rows of memory. Every query runs on the history thread (``services.history``);
the window asks and repaints when the answer comes back, never blocking.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, time
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QDate,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QProgressDialog,
    QPushButton,
    QSplitter,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from console.core.calls import Amd, Call, CallStatus
from console.core.notices import StorageProblem
from console.qt import screen, wording
from console.services.columns import SHOWN
from console.services.history import ExportCancelled, History, HistoryFilter, HistoryRow
from console.services.journal import JournalError

PAGE = 200
RETENTION_CHOICES = (
    (0, "Keep forever"),
    (7, "Keep 7 days"),
    (30, "Keep 30 days"),
    (90, "Keep 90 days"),
    (365, "Keep 1 year"),
)

Role = Qt.ItemDataRole
Index = QModelIndex | QPersistentModelIndex
ROOT = QModelIndex()
SidRole = Role.UserRole + 1


def _when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S") if ts else ""


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    whole = round(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def _status(text: str) -> str:
    status = CallStatus.parse(text)
    return wording.status_label(status) if status else text


FORMATS: dict[str, Callable[[HistoryRow], str]] = {
    "started_at": lambda r: _when(r.started_at),
    "duration": lambda r: _duration(r.duration),
    "status": lambda r: _status(r.status),
    "amd": lambda r: wording.amd(Amd(r.amd, r.amd_confidence)) if r.amd else "",
}

# Headings, order and sort keys come from the one column spec (console.services.columns).
COLUMNS: tuple[tuple[str, str | None, Callable[[HistoryRow], str]], ...] = tuple(
    (c.title or c.key, c.sort, FORMATS.get(c.key, lambda r, key=c.key: str(getattr(r, key))))
    for c in SHOWN
)


@dataclass
class HistoryServices:
    """What the history window may ask of the console."""

    history: History | None
    off_reason: StorageProblem | None
    run: Callable[[Coroutine[Any, Any, object]], None]
    delete_history: Callable[[], Awaitable[int]]
    set_retention: Callable[[int], Awaitable[int]]
    retention_days: int = 0


class HistoryModel(QAbstractTableModel):
    """Rows of the current query, loaded a page at a time."""

    more_wanted = Signal()
    sort_wanted = Signal(str, bool)  # column key, descending

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: list[HistoryRow] = []
        self.total = 0
        self.loading = False

    def reset(self, rows: list[HistoryRow], total: int) -> None:
        self.beginResetModel()
        self.rows, self.total, self.loading = list(rows), total, False
        self.endResetModel()

    def extend(self, rows: list[HistoryRow]) -> None:
        self.loading = False
        if rows:
            first = len(self.rows)
            self.beginInsertRows(QModelIndex(), first, first + len(rows) - 1)
            self.rows.extend(rows)
            self.endInsertRows()

    def rowCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index: Index, role: int = Role.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.rows):
            return None
        row = self.rows[index.row()]
        if role == Role.DisplayRole:
            return COLUMNS[index.column()][2](row)
        if role == Role.ToolTipRole and COLUMNS[index.column()][0] in ("Spoken", "Status"):
            return row.spoken if COLUMNS[index.column()][0] == "Spoken" else row.end_reason
        if role == SidRole:
            return row.sid
        return None

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Role.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Role.DisplayRole:
            return COLUMNS[section][0]
        return None

    def canFetchMore(self, parent: Index = ROOT) -> bool:
        return not parent.isValid() and not self.loading and len(self.rows) < self.total

    def fetchMore(self, parent: Index = ROOT) -> None:
        if self.canFetchMore(parent):
            self.loading = True
            self.more_wanted.emit()

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        key = COLUMNS[column][1]
        if key is not None:
            self.sort_wanted.emit(key, order == Qt.SortOrder.DescendingOrder)


class HistoryWindow(QWidget):
    """Search the history, open a call's timeline, export, delete, keep N days."""

    def __init__(self, services: HistoryServices, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("history")
        self.setWindowTitle("Call history — Kaphila Console")
        self.services = services
        self.model = HistoryModel(self)
        self.sort_key, self.descending = "started", True
        self.query_number = 0  # answers to an older query are dropped
        self._debounce = QTimer(self, singleShot=True, interval=250)
        self._debounce.timeout.connect(self.refresh)
        # New calls and changes show while the window is open, at most once a second.
        self._live = QTimer(self, singleShot=True, interval=1000)
        self._live.timeout.connect(self._on_live_timeout)
        self._build()
        QShortcut(QKeySequence(QKeySequence.StandardKey.Cancel), self, activated=self.close)
        self.model.more_wanted.connect(self._on_model_more_wanted)
        self.model.sort_wanted.connect(self._on_model_sort_wanted)
        screen.fit(self, 1180, 640)

    # ------------------------------------------------------------------ layout

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        self.banner = QLabel(self)
        self.banner.setObjectName("warning")
        self.banner.setWordWrap(True)
        off = self.services.history is None
        reason = self.services.off_reason
        self.banner.setText(
            "History is off. " + (wording.storage(reason) if reason else "") if off else ""
        )
        self.banner.setVisible(off)
        layout.addWidget(self.banner)
        layout.addLayout(self._build_filters())
        self.table = QTableView(self)
        self.table.setObjectName("historyTable")
        self.table.setModel(self.model)
        self.table.setSortingEnabled(True)
        self.table.horizontalHeader().setSortIndicator(0, Qt.SortOrder.DescendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(24)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for column, width in enumerate((150, 120, 120, 80, 70, 95, 70, 70, 110)):
            self.table.setColumnWidth(column, width)
        self.table.doubleClicked.connect(lambda _: self.open_selected())
        layout.addWidget(self.table, 1)
        layout.addLayout(self._build_actions())
        for widget in (
            self.table,
            *self.findChildren(QPushButton),
            *self.findChildren(QLineEdit),
            *self.findChildren(QComboBox),
        ):
            widget.setEnabled(not off)

    def _build_filters(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.use_dates = QCheckBox("From")
        today = QDate.currentDate()
        self.since = QDateEdit(today.addDays(-7), calendarPopup=True)
        self.until = QDateEdit(today, calendarPopup=True)
        for edit in (self.since, self.until):
            edit.setDisplayFormat("yyyy-MM-dd")
            edit.setEnabled(False)
            edit.dateChanged.connect(self._on_filter_changed)
        self.use_dates.toggled.connect(self.since.setEnabled)
        self.use_dates.toggled.connect(self.until.setEnabled)
        self.use_dates.toggled.connect(self._on_filter_changed)
        self.status = QComboBox()
        self.status.addItem("Any status", None)
        for status in CallStatus:
            self.status.addItem(wording.status_label(status), status.value)
        self.amd = QComboBox()
        self.amd.addItem("Any AMD", None)
        for value, words in wording.AMD_WORDS.items():
            self.amd.addItem(words.capitalize(), value)
        self.caller = QComboBox()
        self.caller.addItem("Any caller ID", None)
        self.number = QLineEdit(placeholderText="Number contains…")
        self.search = QLineEdit(placeholderText="Search spoken text, digits, call ID…  (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        for combo in (self.status, self.amd, self.caller):
            combo.currentIndexChanged.connect(self._on_filter_changed)
        for edit in (self.number, self.search):
            edit.textChanged.connect(self._on_filter_changed)
        QShortcut(QKeySequence.StandardKey.Find, self, activated=self.search.setFocus)
        for widget in (
            self.use_dates,
            self.since,
            QLabel("to"),
            self.until,
            self.status,
            self.amd,
            self.caller,
        ):
            row.addWidget(widget)
        row.addWidget(self.number, 1)
        row.addWidget(self.search, 2)
        return row

    def _build_actions(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.count_label = QLabel("")
        self.count_label.setObjectName("historyCount")
        open_button = QPushButton("Open timeline")
        open_button.clicked.connect(self.open_selected)
        refresh = QPushButton("Refresh")
        refresh.setShortcut(QKeySequence.StandardKey.Refresh)
        refresh.clicked.connect(self.refresh)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.setShortcut(QKeySequence("Ctrl+E"))
        self.export_button.setToolTip("Export the calls that match the filters (Ctrl+E)")
        self.export_button.clicked.connect(self.export_csv)
        self.retention = QComboBox()
        for days, label in RETENTION_CHOICES:
            self.retention.addItem(label, days)
        index = self.retention.findData(self.services.retention_days)
        if index < 0:
            self.retention.addItem(
                f"Keep {self.services.retention_days} days", self.services.retention_days
            )
            index = self.retention.count() - 1
        self.retention.setCurrentIndex(index)
        self.retention.currentIndexChanged.connect(self._on_retention_changed)
        delete = QPushButton("Delete history…")
        delete.setObjectName("danger")
        delete.clicked.connect(self.delete_history)
        self.message = QLabel("")
        self.message.setObjectName("historyMessage")
        for widget in (self.count_label, self.message):
            row.addWidget(widget)
        row.addStretch(1)
        for widget in (open_button, refresh, self.export_button, self.retention, delete):
            row.addWidget(widget)
        return row

    # ------------------------------------------------------------------ queries

    def current_filter(self) -> HistoryFilter:
        since = until = None
        if self.use_dates.isChecked():
            since = datetime.combine(self.since.date().toPython(), time()).timestamp()
            until = datetime.combine(self.until.date().addDays(1).toPython(), time()).timestamp()
        return HistoryFilter(
            since=since,
            until=until,
            status=self.status.currentData(),
            amd=self.amd.currentData(),
            caller_id=self.caller.currentData(),
            number=self.number.text().strip() or None,
            text=self.search.text().strip() or None,
        )

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        self.refresh()

    def live_update(self) -> None:
        """The console's calls changed: refresh soon if the window is open."""
        if self.isVisible() and not self._live.isActive():
            self._live.start()

    def _on_live_timeout(self) -> None:
        if self.isVisible() and not self.model.loading:
            self.refresh(keep_place=True)

    def refresh(self, keep_place: bool = False) -> None:
        history = self.services.history
        if history is None:
            return
        if keep_place and self.model.rowCount() > PAGE:
            return  # the operator is deep in a long list: do not pull it from under them
        selected = self.selected_sid() if keep_place else None
        scroll = self.table.verticalScrollBar().value() if keep_place else 0
        self.query_number += 1
        number, wanted = self.query_number, self.current_filter()
        self.model.loading = True

        async def load() -> None:
            try:
                total = await history.count(wanted)
                rows = await history.page(wanted, self.sort_key, self.descending, 0, PAGE)
                callers = await history.caller_ids()
            except JournalError as exc:
                if isValid(self):
                    self.message.setText(wording.storage(exc.problem))
                return
            if isValid(self) and number == self.query_number:
                self.model.reset(rows, total)
                if selected is not None:
                    self._reselect(selected)
                self.table.verticalScrollBar().setValue(scroll)
                self.count_label.setText(f"{total:,} call{'s' if total != 1 else ''}")
                self._offer_callers(callers)

        self.services.run(load())

    def _offer_callers(self, callers: list[str]) -> None:
        known = {self.caller.itemData(i) for i in range(1, self.caller.count())}
        for caller in callers:
            if caller not in known:
                self.caller.addItem(caller, caller)

    def _on_model_more_wanted(self) -> None:
        history = self.services.history
        if history is None:
            return
        number, wanted, offset = self.query_number, self.current_filter(), len(self.model.rows)

        async def more() -> None:
            try:
                rows = await history.page(wanted, self.sort_key, self.descending, offset, PAGE)
            except JournalError as exc:
                if isValid(self):
                    self.message.setText(wording.storage(exc.problem))
                rows = []
            if isValid(self) and number == self.query_number:
                self.model.extend(rows)

        self.services.run(more())

    def _on_model_sort_wanted(self, key: str, descending: bool) -> None:
        self.sort_key, self.descending = key, descending
        self.refresh()

    def _on_filter_changed(self, *_: object) -> None:
        self._debounce.start()

    # ------------------------------------------------------------------ actions

    def _reselect(self, sid: str) -> None:
        for row, call in enumerate(self.model.rows):
            if call.sid == sid:
                self.table.selectRow(row)
                return

    def selected_sid(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        return str(rows[0].data(SidRole)) if rows else None

    def open_selected(self) -> None:
        sid, history = self.selected_sid(), self.services.history
        if sid is None or history is None:
            return

        async def show() -> None:
            call = await history.call(sid)
            if not isValid(self):
                return
            if call is None:
                self.message.setText(f"No timeline stored for {sid}.")
                return
            dialog = TimelineDialog(call, history, self.services.run, self)
            dialog.open()

        self.services.run(show())

    def export_csv(self) -> None:
        history = self.services.history
        if history is None:
            return
        name, _ = QFileDialog.getSaveFileName(
            self, "Export call history", str(Path.home() / "kaphila-calls.csv"), "CSV files (*.csv)"
        )
        if not name:
            return
        path = Path(name)
        progress = QProgressDialog("Exporting calls…", "Cancel", 0, 100, self)
        progress.setWindowTitle("Export")
        progress.setWindowModality(Qt.WindowModality.WindowModal)
        progress.setMinimumDuration(300)
        cancel = threading.Event()
        progress.canceled.connect(cancel.set)
        self.export_button.setEnabled(False)

        def report(done: int, total: int) -> None:
            if not isValid(progress):  # reports still queued when the export ended
                return
            progress.setMaximum(max(total, 1))
            progress.setValue(done)
            progress.setLabelText(f"Exporting calls… {done:,} of {total:,}")

        async def export() -> None:
            try:
                written = await history.export_csv(
                    self.current_filter(), path, report, cancel.is_set
                )
                outcome = f"Exported {written:,} calls to {path}"
            except ExportCancelled:
                outcome = "Export cancelled; no file was written."
            except (OSError, JournalError) as exc:
                outcome = f"Export failed: {exc}"
            if isValid(self):
                progress.reset()
                progress.deleteLater()
                self.message.setText(outcome)
                self.export_button.setEnabled(True)

        self.services.run(export())

    def delete_history(self) -> None:
        answer = QMessageBox.question(
            self,
            "Delete history",
            "Delete every finished call and its timeline from the history?\n"
            "Live calls stay. This cannot be undone.",
        )
        if answer != QMessageBox.StandardButton.Yes:
            return

        async def delete() -> None:
            deleted = await self.services.delete_history()
            if isValid(self):
                self.message.setText(f"Deleted {deleted:,} calls from the history.")
                self.refresh()

        self.services.run(delete())

    def _on_retention_changed(self, index: int) -> None:
        days = int(self.retention.itemData(index))

        async def apply() -> None:
            deleted = await self.services.set_retention(days)
            if not isValid(self):
                return
            kept = "forever" if not days else f"for {days} days"
            self.message.setText(
                f"Calls are kept {kept}"
                + (f"; {deleted:,} older calls deleted." if deleted else ".")
            )
            if deleted:
                self.refresh()

        self.services.run(apply())


class TimelineDialog(QDialog):
    """One call from the history: its facts, its timeline, the raw webhooks."""

    def __init__(
        self,
        call: Call,
        history: History,
        run: Callable[[Coroutine[Any, Any, object]], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("timelineDialog")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)  # one per opened call
        self.call, self._history, self._run = call, history, run
        self.setWindowTitle(f"Call {call.sid} — {call.to}")
        layout = QVBoxLayout(self)
        amd = wording.amd(call.amd) if call.amd else "—"
        facts = QLabel(
            f"<b>{call.to}</b> from {call.from_} · {wording.status(call)} · AMD {amd}"
            + (f" · ended: {call.end_reason}" if call.end_reason else "")
        )
        layout.addWidget(facts)
        split = QSplitter(Qt.Orientation.Vertical, self)
        self.entries = QTableWidget(len(call.timeline), 3, split)
        self.entries.setHorizontalHeaderLabels(["Time", "Event", "What happened"])
        self.entries.verticalHeader().setVisible(False)
        self.entries.verticalHeader().setDefaultSectionSize(24)
        self.entries.horizontalHeader().setStretchLastSection(True)
        self.entries.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.entries.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        for row, entry in enumerate(call.timeline):
            flags = " (late)" if entry.late else ""
            for column, text in enumerate(
                (_when(entry.at), entry.what.value.capitalize(), wording.timeline(entry) + flags)
            ):
                self.entries.setItem(row, column, QTableWidgetItem(text))
        self.entries.resizeColumnsToContents()
        self.raw = QPlainTextEdit(split)
        self.raw.setReadOnly(True)
        self.raw.setPlaceholderText("Select an event to see the webhook as it arrived.")
        self.entries.currentCellChanged.connect(self._on_entries_current_changed)
        layout.addWidget(split, 1)
        buttons = QHBoxLayout()
        self.message = QLabel("")
        export = QPushButton("Export JSON…")
        export.clicked.connect(self.export_json)
        close = QPushButton("Close")
        close.clicked.connect(self.accept)
        buttons.addWidget(self.message, 1)
        buttons.addWidget(export)
        buttons.addWidget(close)
        layout.addLayout(buttons)
        screen.fit(self, 760, 480)

    def _on_entries_current_changed(self, row: int, *_: int) -> None:
        raw = self.call.timeline[row].raw if 0 <= row < len(self.call.timeline) else None
        self.raw.setPlainText(json.dumps(raw, indent=2, ensure_ascii=False) if raw else "")

    def export_json(self) -> None:
        name, _ = QFileDialog.getSaveFileName(
            self,
            "Export the call's timeline",
            str(Path.home() / f"call-{self.call.sid}.json"),
            "JSON files (*.json)",
        )
        if not name:
            return

        async def export() -> None:
            try:
                await self._history.export_call_json(self.call.sid, Path(name))
                outcome = f"Saved {name}"
            except (OSError, JournalError) as exc:
                outcome = f"Export failed: {exc}"
            if isValid(self):
                self.message.setText(outcome)

        self._run(export())
