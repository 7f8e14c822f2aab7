"""The settings the daemon last started with come back when saved ones stop it starting."""

from __future__ import annotations

from layerbridge.daemon.config import Paths
from layerbridge.desktop.recovery import SettingsGuard


def test_settings_that_stop_the_daemon_are_replaced_by_the_last_that_started(paths: Paths) -> None:
    guard = SettingsGuard(paths)
    paths.settings.write_text('{"server": {"port": 7900}}')
    assert not guard.restore()  # never seen it start: nothing known to be good
    guard.remember_started()
    assert not guard.restore()  # unchanged: the settings are not the cause
    paths.settings.write_text('{"server": {"host": "not a host!!"}}')
    assert guard.restore()
    assert paths.settings.read_text() == '{"server": {"port": 7900}}'
    assert guard.refused_file.read_text() == '{"server": {"host": "not a host!!"}}'


def test_a_daemon_that_started_on_defaults_gets_the_defaults_back(paths: Paths) -> None:
    guard = SettingsGuard(paths)
    paths.settings.unlink(missing_ok=True)
    guard.remember_started()
    paths.settings.write_text('{"server": {"allowed_origins": ["figma"]}}')
    assert guard.restore()
    assert paths.settings.read_text().strip() == "{}"
