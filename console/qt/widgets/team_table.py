"""A table of the supervisor board (operators, or the team's calls) behind its
filter: whole rows, one at a time; Tab leaves it; rows hold still while the
pointer is over it; selection is by key (a name, a call id), never by row.

Column widths are measured once from the widest value each column can hold
(as ``CallTable`` does): measuring rows would cost every repaint of a
1,000-row table."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QRect, QSortFilterProxyModel, Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget


class TeamTable(QTableView):
    def __init__(
        self, proxy: QSortFilterProxyModel, widest: tuple[str, ...], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.proxy = proxy
        self.source = proxy.sourceModel()
        self.widest = widest
        self.setModel(proxy)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setTabKeyNavigation(False)
        self.setSortingEnabled(False)  # rows keep their place: no jitter under updates
        self.setWordWrap(False)
        self.setAlternatingRowColors(True)
        self.setMouseTracking(True)
        self.verticalHeader().setVisible(False)
        # Uniform rows: Qt never asks a row its height, 1,000 rows scroll as 10 do.
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self._fit_rows()
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        header.setMinimumSectionSize(40)
        self.fit_columns()

    def fit_columns(self) -> None:
        metrics = self.fontMetrics()
        heading = self.horizontalHeader().fontMetrics()
        for column, sample in enumerate(self.widest):
            title = str(self.source.headerData(column, Qt.Orientation.Horizontal))
            width = max(metrics.horizontalAdvance(sample), heading.horizontalAdvance(title))
            self.setColumnWidth(column, width + 20)

    def _fit_rows(self) -> None:
        """Rows a little denser than a desk's board: more of a big team on screen."""
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 10)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:
            self.fit_columns()
            self._fit_rows()

    def selected_key(self) -> str | None:
        rows = self.selectionModel().selectedRows()
        if not rows:
            return None
        return self.source.key_at(self.proxy.mapToSource(rows[0]).row())  # type: ignore[attr-defined]

    def select_key(self, key: str) -> bool:
        """Select the row of ``key`` if it is shown (the filter may hide it)."""
        row = self.source.row_of(key)  # type: ignore[attr-defined]
        if row < 0:
            return False
        index = self.proxy.mapFromSource(self.source.index(row, 0))
        if not index.isValid():
            return False
        if not self.selectionModel().isRowSelected(index.row()):
            self.selectRow(index.row())
            self.scrollTo(index)  # only when it changes: never fights the supervisor's scrolling
        return True

    def repaint_columns(self, *columns: int) -> None:
        """Repaint what shows of these columns (the clock moved): a view's matter,
        no model signal, so the filter re-checks no row for a time that grew."""
        viewport = self.viewport()
        for column in columns:
            x = self.columnViewportPosition(column)
            if x >= 0 or x + self.columnWidth(column) > 0:
                viewport.update(QRect(x, 0, self.columnWidth(column), viewport.height()))

    def select_first(self) -> None:
        if self.selected_key() is None and self.proxy.rowCount() > 0:
            self.selectRow(0)

    # Rows do not move under the pointer (the calls' model holds finished ones).
    def enterEvent(self, event: QEvent) -> None:  # type: ignore[override]
        if hasattr(self.source, "set_hold"):
            self.source.set_hold(True)
        super().enterEvent(event)

    def leaveEvent(self, event: QEvent) -> None:
        if hasattr(self.source, "set_hold"):
            self.source.set_hold(False)
        super().leaveEvent(event)
