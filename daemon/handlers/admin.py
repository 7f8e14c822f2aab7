"""Admin: models, paired clients, the queue, settings, the engine. Each message class declares
`required_scope = Scope.ADMIN`; the connection refuses it to a client token before it gets here."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import TYPE_CHECKING

from ..auth import Client
from ..config import LOOPBACK_HOSTS, load_settings, save_settings
from ..errors import InvalidInput
from ..protocol.messages import (
    BrokenModelInfo,
    ClientRecord,
    ClientsList,
    ClientsPair,
    ClientsReply,
    ClientsRevoke,
    EngineUnload,
    Message,
    ModelLocation,
    ModelsAdd,
    ModelsList,
    ModelsLocate,
    ModelsRemove,
    ModelsReply,
    ModelsSetDefault,
    ModelsUpdate,
    Ok,
    Paired,
    QueuePause,
    ResultsCleaned,
    ResultsCleanup,
    SettingsGet,
    SettingsInfo,
    SettingsReply,
    SettingsSet,
    StorageGet,
    StorageReply,
)
from ..protocol.vocab import Scope
from .base import Caller, Handler

if TYPE_CHECKING:
    from ..app import DaemonCore
    from ..config import Settings


def _models_reply(caller: Caller) -> ModelsReply:
    """The servable models, and for an admin the broken records too (to remove them by id)."""
    core = caller.core
    if caller.protocol.scope is not Scope.ADMIN:
        return ModelsReply(models=core.models())
    return ModelsReply(models=core.models(),
                       broken=[BrokenModelInfo(id=b.id, reason=b.reason, path=b.path)
                               for b in core.registry.broken()])


async def models_list(caller: Caller, message: ModelsList) -> Message:
    return await asyncio.to_thread(_models_reply, caller)


async def models_add(caller: Caller, m: ModelsAdd) -> Message:
    core = caller.core
    await asyncio.to_thread(core.registry.add, m.path, model_id=m.model_id, kind=m.kind,
                            allow_pickle=m.allow_pickle, control_type=m.control_type,
                            config=m.config, prediction=m.prediction)
    return _models_reply(caller)


async def models_remove(caller: Caller, m: ModelsRemove) -> Message:
    await asyncio.to_thread(caller.core.registry.remove, m.model_id)
    return _models_reply(caller)


async def models_set_default(caller: Caller, m: ModelsSetDefault) -> Message:
    await asyncio.to_thread(caller.core.registry.set_default, m.model_id)
    return _models_reply(caller)


async def models_update(caller: Caller, m: ModelsUpdate) -> Message:
    words = None if m.trigger_words is None else [w.strip() for w in m.trigger_words if w.strip()]
    await asyncio.to_thread(caller.core.registry.update, m.model_id, name=m.name,
                            default_weight=m.default_weight, trigger_words=words,
                            vae="" if m.clear_vae else m.vae, prediction=m.prediction)
    return _models_reply(caller)


async def models_locate(caller: Caller, m: ModelsLocate) -> Message:
    entry = caller.core.registry.get(m.model_id, field="model_id")
    return ModelLocation(model_id=m.model_id, path=str(entry.path))


async def clients_list(caller: Caller, message: ClientsList) -> Message:
    clients = await asyncio.to_thread(caller.core.tokens.list)
    open_now = Counter(s.client.name for s in caller.core.sessions)
    return ClientsReply(clients=[_record(c, open_now[c.name]) for c in clients])


async def clients_pair(caller: Caller, m: ClientsPair) -> Message:
    token = await asyncio.to_thread(caller.core.tokens.pair, m.name, m.scope)
    return Paired(name=m.name, scope=m.scope, token=token)


async def clients_revoke(caller: Caller, m: ClientsRevoke) -> Message:
    await asyncio.to_thread(caller.core.tokens.revoke, m.name)
    await caller.core.revoked()
    return Ok()


async def queue_pause(caller: Caller, m: QueuePause) -> Message:
    caller.core.manager.set_paused(m.paused)
    return Ok()


async def settings_get(caller: Caller, message: SettingsGet) -> Message:
    return await asyncio.to_thread(_settings_reply, caller.core)


async def settings_set(caller: Caller, m: SettingsSet) -> Message:
    await asyncio.to_thread(_save_settings, caller.core, m.settings, m.confirm_lan)
    return await asyncio.to_thread(_settings_reply, caller.core)


async def engine_unload(caller: Caller, message: EngineUnload) -> Message:
    executor = caller.core.executor
    if message.model_id is None:
        await executor.unload_all()
    elif not await executor.unload(message.model_id):
        loaded = ", ".join(executor.status().loaded) or "nothing"
        raise InvalidInput("model_id", message.model_id, f"is not loaded (loaded now: {loaded})")
    return Ok()


async def storage_get(caller: Caller, message: StorageGet) -> Message:
    core = caller.core
    blobs, blob_bytes = await asyncio.to_thread(core.manager.blobs.usage)
    ledger = sum(p.stat().st_size for p in core.paths.root.glob(core.paths.ledger.name + "*"))
    return StorageReply(models_bytes=sum(m.size_bytes for m in core.models()), blobs=blobs,
                        blobs_bytes=blob_bytes, ledger_bytes=ledger,
                        finished_jobs=await core.manager.finished_count())


async def results_cleanup(caller: Caller, m: ResultsCleanup) -> Message:
    before = time.time() - m.older_than_days * 86400
    jobs, blobs, freed = await caller.core.manager.cleanup_results(before)
    return ResultsCleaned(jobs=jobs, blobs=blobs, freed_bytes=freed)


def _settings_reply(core: DaemonCore) -> SettingsReply:
    saved = _settings_info(load_settings(core.paths), core)
    running = _settings_info(core.settings, core)
    return SettingsReply(settings=saved, restart_required=saved != running)


def _settings_info(settings: Settings, core: DaemonCore) -> SettingsInfo:
    server, engine = settings.server, settings.engine
    return SettingsInfo(host=server.host, port=server.port, allowed_origins=server.allowed_origins,
                        allowed_hosts=server.allowed_hosts, dtype=engine.dtype,
                        memory_budget_mb=engine.memory_budget_mb, device=engine.device,
                        data_dir=str(core.paths.root))


def _save_settings(core: DaemonCore, info: SettingsInfo, confirm_lan: bool) -> None:
    if info.host not in LOOPBACK_HOSTS and not confirm_lan:
        raise InvalidInput("host", info.host, "listening beyond loopback exposes the daemon to the "
                           "network (LAN mode): send confirm_lan=true to confirm")
    settings = load_settings(core.paths)
    settings.server = settings.server.model_copy(update={
        "host": info.host, "port": info.port, "allowed_origins": info.allowed_origins,
        "allowed_hosts": info.allowed_hosts})
    settings.engine = settings.engine.model_copy(update={
        "dtype": info.dtype, "memory_budget_mb": info.memory_budget_mb, "device": info.device})
    save_settings(core.paths, settings)


def _record(c: Client, connected: int = 0) -> ClientRecord:
    return ClientRecord(name=c.name, scope=c.scope, created_at=c.created_at, last_seen=c.last_seen,
                        connected=connected)


HANDLERS: dict[type, Handler] = {
    ModelsList: models_list,
    ModelsAdd: models_add,
    ModelsRemove: models_remove,
    ModelsSetDefault: models_set_default,
    ModelsUpdate: models_update,
    ModelsLocate: models_locate,
    ClientsList: clients_list,
    ClientsPair: clients_pair,
    ClientsRevoke: clients_revoke,
    QueuePause: queue_pause,
    SettingsGet: settings_get,
    SettingsSet: settings_set,
    EngineUnload: engine_unload,
    StorageGet: storage_get,
    ResultsCleanup: results_cleanup,
}
