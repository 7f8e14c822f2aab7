"""Jobs: submit, cancel, fetch, list, and the daemon's status. A client sees only its own jobs
(another's is `unknown_job`); an admin sees all."""

from __future__ import annotations

from ..protocol.messages import (
    JobCancel,
    JobFetch,
    JobList,
    JobListReply,
    JobState,
    JobSubmit,
    Message,
    Ok,
    Ping,
    Pong,
    StatusRequest,
)
from ..protocol.vocab import Scope
from .base import Caller, Handler, owner


async def ping(caller: Caller, message: Ping) -> Message:
    return Pong()


async def status(caller: Caller, message: StatusRequest) -> Message:
    return caller.core.status()


async def submit(caller: Caller, message: JobSubmit) -> Message:
    return await caller.core.manager.submit(message.params, message.job_id, caller.client.name,
                                            message.priority, caller, message.id,
                                            admin=owner(caller) is None)


async def cancel(caller: Caller, message: JobCancel) -> Message:
    await caller.core.manager.cancel(message.job_id, owner(caller))
    return Ok()


async def fetch(caller: Caller, message: JobFetch) -> None:
    manager = caller.core.manager
    job = await manager.fetch(message.job_id, caller, owner(caller))
    caller.deliver(JobState(reply_to=message.id, job=job.summary(manager.position(job.job_id))))
    for frame, payload in await manager.results_frames(job):
        caller.deliver(frame, payload)
    final = manager.final_message(job)
    if final is not None:
        caller.deliver(final)


async def list_jobs(caller: Caller, message: JobList) -> Message:
    manager = caller.core.manager
    if message.watch:
        caller.protocol.require(Scope.ADMIN, "job.list with watch")
        manager.watch(caller)
    jobs = await manager.recent(message.limit, owner(caller))
    return JobListReply(jobs=[j.summary(manager.position(j.job_id)) for j in jobs])


HANDLERS: dict[type, Handler] = {
    Ping: ping,
    StatusRequest: status,
    JobSubmit: submit,
    JobCancel: cancel,
    JobFetch: fetch,
    JobList: list_jobs,
}
