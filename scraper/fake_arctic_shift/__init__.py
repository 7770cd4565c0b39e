"""A fake Arctic Shift API on 127.0.0.1, and generated archive data with every era's field drift.

:func:`~scraper.fake_arctic_shift.generate.generate` makes the data (also used
for the ``.zst`` dump fixtures); :class:`~scraper.fake_arctic_shift.server.FakeArcticShift`
serves it the way ARCTIC-SHIFT-AND-DUMPS.md §1 describes the real service.
"""

from scraper.fake_arctic_shift.generate import ArchiveStore, generate
from scraper.fake_arctic_shift.server import FakeArcticShift

__all__ = ["ArchiveStore", "FakeArcticShift", "generate"]
