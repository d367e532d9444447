"""The header: which profile this is, what needs the operator's attention, and
the doors to History and Settings; in a Team profile, who the desk is, the
team stream's link and the desk's own status (``TeamStatus``)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from console.config import Profile
from console.core.events import StatusRequested
from console.core.notices import Notice, StorageProblem
from console.core.team import Team
from console.qt import wording
from console.qt.widgets.team_status import TeamStatus


class Header(QFrame):
    def __init__(
        self,
        parent: QWidget,
        open_history: Callable[[], None] | None,
        open_settings: Callable[[], None] | None,
        set_status: Callable[[StatusRequested], object] | None = None,
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
        self._profile_name = ""
        self.history_problem = QLabel()
        self.history_problem.setObjectName("warning")
        self.history_problem.setVisible(False)
        row.addWidget(title)
        row.addSpacing(12)
        row.addWidget(self.profile_badge)
        self._row = row
        self._set_status = set_status or (lambda _: None)
        self.team: TeamStatus | None = None  # made when the state has a team
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
        self._profile_name = profile.name
        if profile.sandbox:
            self.profile_badge.setText("  SANDBOX · local, no real calls  ")
            self.profile_badge.setProperty("kind", "sandbox")
        else:
            self.profile_badge.setText(f"  LIVE · {profile.name}  ")
            self.profile_badge.setProperty("kind", "live")

    def show_team(self, team: Team | None) -> None:
        if team is None:
            if self.team is not None:
                self.team.setVisible(False)
            return
        if self.team is None:
            self.team = TeamStatus(self._set_status, self)
            self._row.insertWidget(self._row.indexOf(self.profile_badge) + 1, self.team)
        self.team.setVisible(True)
        self.profile_badge.setText(f"  TEAM · {self._profile_name}  ")  # through a gateway
        self.team.show_team(team)

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
