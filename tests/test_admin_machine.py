"""Admin messages for the tray's Machine and Clients tabs: the device saved in the settings, the
disk the daemon uses, a cleanup of old results, and who is connected now."""

from __future__ import annotations

import os
import time

from layerbridge.daemon.client import DaemonClient
from layerbridge.daemon.config import load_settings
from layerbridge.daemon.protocol.messages import (
    ClientsList,
    ClientsReply,
    JobParams,
    ResultsCleaned,
    ResultsCleanup,
    SettingsGet,
    SettingsReply,
    SettingsSet,
    StorageGet,
    StorageReply,
)

from tests.conftest import RunningDaemon

SMALL = JobParams(kind="generate", model="demo", steps=1, width=64, height=64)


async def test_the_device_is_a_setting(daemon: RunningDaemon) -> None:
    async with await DaemonClient.connect(daemon.url, daemon.admin_token) as admin:
        got = await admin.request(SettingsGet())
        assert isinstance(got, SettingsReply) and got.settings.device == "auto"
        saved = await admin.request(SettingsSet(settings=got.settings.model_copy(
            update={"device": "cpu"})))
        assert isinstance(saved, SettingsReply) and saved.settings.device == "cpu"
    assert load_settings(daemon.paths).engine.device == "cpu"


async def test_storage_and_a_cleanup_of_old_results_keep_what_jobs_still_use(
        daemon: RunningDaemon) -> None:
    async with await DaemonClient.connect(daemon.url, daemon.admin_token) as admin:
        old = await (await admin.submit(SMALL.model_copy(update={"seed": 1}))).wait()
        new = await (await admin.submit(SMALL.model_copy(update={"seed": 2}))).wait()
        before = await admin.request(StorageGet())
        assert isinstance(before, StorageReply)
        assert before.finished_jobs >= 2 and before.blobs >= 2 and before.blobs_bytes > 0
        assert before.models_bytes > 0 and before.ledger_bytes > 0
        # the first job ended long ago (its result blob too); the second just now
        ledger = daemon.core.manager.ledger
        ledger._db.execute("UPDATE jobs SET finished_at = ? WHERE job_id = ?",
                           (time.time() - 40 * 86400, old.job_id))
        ledger._db.commit()
        old_blob = daemon.core.manager.blobs._path(old.results[0][0].blob)
        os.utime(old_blob, (time.time() - 40 * 86400,) * 2)
        cleaned = await admin.request(ResultsCleanup(older_than_days=30))
        assert isinstance(cleaned, ResultsCleaned)
        assert (cleaned.jobs, cleaned.blobs) == (1, 1) and cleaned.freed_bytes > 0
        assert not old_blob.exists()
        assert daemon.core.manager.blobs.has(new.results[0][0].blob)
        assert ledger.get(old.job_id) is None and ledger.get(new.job_id) is not None


async def test_the_client_list_says_who_is_connected_now(daemon: RunningDaemon) -> None:
    async with await DaemonClient.connect(daemon.url, daemon.admin_token) as admin:
        async with await DaemonClient.connect(daemon.url, daemon.token):
            listed = await admin.request(ClientsList())
            assert isinstance(listed, ClientsReply)
            connected = {c.name: c.connected for c in listed.clients}
        assert sum(connected.values()) == 2 and all(n >= 0 for n in connected.values())
        listed = await admin.request(ClientsList())
        assert isinstance(listed, ClientsReply)
        assert sum(c.connected for c in listed.clients) == 1  # only the admin now
