"""Deferrable sensor: wait until a complete dump run of a wiki dated on or before a date exists.

Dumps start on the 1st and the 20th and take days, so a nightly run takes the newest complete
one and lets EventStreams bring it up to date (``wikivis.stages.ingest.wait_for_dump``).

The sensor pokes once synchronously (a dump that is already complete costs no deferral),
then hands the wait to :class:`~wikivis_airflow.triggers.DumpReadyTrigger` in the
triggerer.  With ``deferrable=False`` it falls back to Airflow's ordinary poke/reschedule
loop with the same :meth:`poke`.

``timeout`` bounds the whole wait (the deferral timeout); with ``soft_fail=True`` a dump that
never appears skips the downstream tasks instead of failing the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from airflow.sdk import BaseSensorOperator, Context
from airflow.sdk.exceptions import AirflowException

from wikivis_airflow import triggers


class DumpReadySensor(BaseSensorOperator):
    """Succeed when ``wikivis.stages.ingest.wait_for_dump`` is true.

    :param wiki: wiki database name (templated; mappable).
    :param dump_date: dump date ``YYYYMMDD`` (templated, e.g. ``{{ data_interval_start | ds_nodash }}``).
    :param deferrable: wait in the triggerer (default) instead of a worker slot.
    """

    template_fields: Sequence[str] = ("wiki", "dump_date")
    ui_color = "#d9ecf2"

    def __init__(self, *, wiki: str, dump_date: str, deferrable: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.wiki = wiki
        self.dump_date = dump_date
        self.deferrable = deferrable

    def poke(self, context: Context) -> bool:
        return triggers.poke_dump(self.wiki, self.dump_date)

    def execute(self, context: Context) -> None:
        if not self.deferrable:
            super().execute(context)
            return
        if self.poke(context):
            return
        self.defer(
            trigger=triggers.DumpReadyTrigger(self.wiki, self.dump_date, poll_interval_s=self.poke_interval),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> None:
        if event and event.get("status") == "ready":
            self.log.info("dump %s %s is complete", self.wiki, self.dump_date)
            return
        message = (event or {}).get("message", "no event")
        raise AirflowException(f"waiting for the {self.wiki} dump of {self.dump_date} failed: {message}")
