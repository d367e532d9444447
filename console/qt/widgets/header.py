"""The header: which profile this is, what needs the operator's attention, and
the doors to History and Settings."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from console.config import Profile
from console.core.notices import Notice, StorageProblem
from console.qt import wording


class Header(QFrame):
    def __init__(
        self,
        parent: QWidget,
        open_history: Callable[[], None] | None,
        open_settings: Callable[[], None] | None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("header")
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 4, 8, 4)
        title = QLabel("<b>Kaphila Console</b>")
        self.profile_badge = QLabel()
        self.profile_badge.setObjectName("profileBadge")
        self.warning = QLabel()
        self.warning.setObjectName("warning")
        self.warning.setVisible(False)
        self.history_problem = QLabel()
        self.history_problem.setObjectName("warning")
        self.history_problem.setVisible(False)
        row.addWidget(title)
        row.addSpacing(12)
        row.addWidget(self.profile_badge)
        row.addWidget(self.history_problem)
        row.addWidget(self.warning)
        row.addStretch(1)
        if open_history is not None:
            history = QPushButton("History…")
            history.setObjectName("openHistory")
            history.setToolTip("Every call, searchable and exportable (Ctrl+Y)")
            history.clicked.connect(open_history)
            QShortcut(QKeySequence("Ctrl+Y"), parent, activated=open_history)
            row.addWidget(history)
        if open_settings is not None:
            settings = QPushButton("Settings…")
            settings.setObjectName("openSettings")
            settings.clicked.connect(open_settings)
            row.addWidget(settings)

    def set_profile(self, profile: Profile) -> None:
        if profile.sandbox:
            self.profile_badge.setText("  SANDBOX · local, no real calls  ")
            self.profile_badge.setProperty("kind", "sandbox")
        else:
            self.profile_badge.setText(f"  LIVE · {profile.name}  ")
            self.profile_badge.setProperty("kind", "live")

    def show_warnings(self, notices: list[Notice]) -> None:
        """Warnings that matter stay here: first sentence shown, all on hover."""
        texts = [wording.notice(n) for n in notices]
        shown = [t.split(". ")[0].split(" (")[0] for t in texts]
        self.warning.setText("  ".join(f"⚠ {t}" for t in shown))
        self.warning.setToolTip("\n\n".join(texts))
        self.warning.setVisible(bool(texts))

    def show_history_problem(self, problem: StorageProblem | None) -> None:
        """The moment the journal cannot store, and until it can again."""
        self.history_problem.setText("⚠ History is not being saved" if problem else "")
        self.history_problem.setToolTip(wording.storage(problem) if problem else "")
        self.history_problem.setVisible(problem is not None)
