"""Two sides of the air gap for the status-feed tests: an intake that seals small spools
and trusts the internal key for the feed source, and an internal home with a store that
imports the batches and exports feeds. Times are fixed."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from cluetool import api, keys
from cluetool.batch.seal import seal
from cluetool.config import Home
from cluetool.ingest import import_batches
from cluetool.feed.service import import_feed
from cluetool.model.feed import FeedExportReport, FeedImportReport
from samples.make_samples import valid_submission, write_submission
from tests.batch_helpers import NOW, SOURCE, KeyHome, make_home
from tests.test_import import RECEIVER_KEY

FEED_SOURCE = "internal"
EXPORT_AT = NOW + timedelta(days=1)


@dataclass
class Sides:
    root: Path
    intake: KeyHome
    internal: KeyHome
    codes: dict[str, str] = field(default_factory=dict)  # submission id -> plain query code
    batches: list[Path] = field(default_factory=list)
    _spools: int = 0

    @property
    def done(self) -> Path:
        return self.root / "spool.done"

    def seal(self, count: int, *, seed: int, max_reports: int = 2, at: datetime = NOW, attachments: int = 0,
             **kwargs: Any) -> list[Path]:
        """Seal ``count`` new submissions into batches of ``max_reports``."""
        spool = self.root / "spool"
        spool.mkdir(exist_ok=True)
        for i in range(count):
            report, files, code = valid_submission(random.Random(seed * 100_003 + i), i, attachments=attachments)
            write_submission(spool / report["submission_id"], report, files)
            self.codes[report["submission_id"]] = code
        sealed = seal(spool, home=self.intake.home, source=SOURCE, recipients=[self.internal.recipient],
                      out_dir=self.root / "out", now=at, key=self.intake.name, max_reports=max_reports, **kwargs)
        paths = [Path(b.path) for b in sealed.batches]
        self.batches += paths
        return paths

    def import_(self, paths: list[Path]) -> None:
        report = import_batches(paths, home=self.internal.home, identity=RECEIVER_KEY, now=NOW)
        assert report.ok, report.problems

    def export(self, *, at: datetime = EXPORT_AT, out: Path | None = None) -> FeedExportReport:
        return api.feed_export(self.internal.home, source=FEED_SOURCE, out_dir=out or self.root / "feeds",
                                    now=at, key=RECEIVER_KEY)

    def import_feed(self, path: Path | str, **kwargs: object) -> FeedImportReport:
        kwargs.setdefault("now", EXPORT_AT + timedelta(hours=1))
        return import_feed(self.intake.home, Path(path), **kwargs)  # type: ignore[arg-type]

    def sids_in(self, batches: list[Path]) -> list[str]:
        """The submission ids sealed in ``batches`` (from the intake's register)."""
        from cluetool.batch.register import Register

        names = {b.name for b in batches}
        with Register(self.intake.home) as reg:
            return [sid for sid in self.codes if reg.batch_of_id(sid) in names]

    def done_dirs(self) -> list[str]:
        return sorted(p.name for p in self.done.iterdir()) if self.done.is_dir() else []


def make_sides(root: Path, store: str | None = None) -> Sides:
    """``store``: a ``postgresql://`` URL for the internal side's store (else ``store.db``)."""
    intake = make_home(root / "intake")
    if store is not None:  # the store is named at init, before the keys
        api.init(Home(root / "internal"), now=NOW, store=store)
    internal = make_home(root / "internal", RECEIVER_KEY)
    keys.trust(internal.home, SOURCE, intake.pub)
    api.init(internal.home, now=NOW)
    keys.trust(intake.home, FEED_SOURCE, internal.pub)
    return Sides(root=root, intake=intake, internal=internal)


__all__ = ["EXPORT_AT", "FEED_SOURCE", "NOW", "Sides", "make_sides", "timezone"]
