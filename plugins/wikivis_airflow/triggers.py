"""Deferrable wait for a complete dump run: the trigger half (runs in the triggerer).

A dump run of ``dumps.wikimedia.org`` takes days to finish, so a sensor that held a worker
slot (``poke`` mode) or woke a worker every few minutes (``reschedule`` mode) would waste
capacity.  :class:`DumpReadyTrigger` instead polls :func:`wikivis.stages.ingest.wait_for_dump`
from the triggerer's event loop: one cheap ``dumpstatus.json`` request per interval.

``wait_for_dump`` is blocking (``requests``), so each poke runs in a worker thread
(``asyncio.to_thread``) and never stalls the other triggers sharing the loop; ``wikivis``
itself is imported inside that thread for the same reason.

Transient source errors (a 503 from the dumps server after the client's own retries) are
logged and polled again; configuration errors end the trigger with an ``error`` event that
fails the task with the message.  The overall time limit is the sensor's ``timeout``
(Airflow's deferral timeout), not the trigger's business.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent


def poke_dump(wiki: str, dump_date: str) -> bool:
    """One blocking readiness check (imports ``wikivis`` lazily; the deployment's settings:
    the dumps endpoint is not a connection)."""
    from wikivis.stages.ingest import wait_for_dump
    from wikivis_airflow.hooks import deployment_settings

    return bool(wait_for_dump(deployment_settings(), wiki, dump_date))


class DumpReadyTrigger(BaseTrigger):
    """Fire once the dump run of ``wiki`` dated ``dump_date`` (YYYYMMDD) is complete."""

    def __init__(self, wiki: str, dump_date: str, poll_interval_s: float = 300.0) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # BaseTrigger.__init__ has no annotations
        self.wiki = wiki
        self.dump_date = dump_date
        self.poll_interval_s = float(poll_interval_s)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {"wiki": self.wiki, "dump_date": self.dump_date, "poll_interval_s": self.poll_interval_s},
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from wikivis.errors import SourceError, WikivisError

        event = {"wiki": self.wiki, "dump_date": self.dump_date}
        while True:
            try:
                if await asyncio.to_thread(poke_dump, self.wiki, self.dump_date):
                    yield TriggerEvent({**event, "status": "ready"})
                    return
            except SourceError as exc:  # transient: the dumps server is down or throttling
                self.log.warning("dump status of %s %s unavailable, polling again: %s", self.wiki, self.dump_date, exc)
            except WikivisError as exc:  # configuration or policy: polling again cannot help
                yield TriggerEvent({**event, "status": "error", "message": str(exc)})
                return
            await asyncio.sleep(self.poll_interval_s)
