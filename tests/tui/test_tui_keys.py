"""Any sequence of keys leaves the app running: no key, in any screen or dialog, raises."""

from __future__ import annotations

import random

import pytest

from tui_helpers import ready

KEYS = ["f1", "f2", "f3", "f4", "f5", "f6", "escape", "enter", "up", "down", "left", "right", "tab",
        "shift+tab", "1", "2", "3", "9", "a", "c", "n", "p", "r", "s", "u", "v", "question_mark",
        "ctrl+n", "ctrl+t", "pageup", "pagedown", "space", "h", "backspace", "alt+1", "alt+2"]


@pytest.mark.parametrize("seed", [1, 2])
async def test_random_keys_never_crash_the_app(make_app, seed: int) -> None:
    rng = random.Random(seed)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        for _ in range(50):
            await pilot.press(rng.choice(KEYS))
        await pilot.pause()
        assert app.is_running
        assert app.return_code is None  # no unhandled exception stopped it
