"""Named fault profiles for the mirror's servers.

Each server takes one profile.  Faults are *deterministic*: they hit every n-th request (a
per-server counter), so a retrying client always gets through within a few attempts and a
test that needs a fault sees one.  "Payload" faults (truncated, corrupt) only touch file
bodies (dump files, originals, thumbnails) and event streams, not JSON API answers, since
what they test is checksum/decode verification.

========== ==========================================================================
profile    effect
========== ==========================================================================
none       nothing
latency100 +100 ms on every request
flaky      every 4th request answers 500/502/503 (rotating)
throttle   requests 3 and 4 of every 8 answer 429 with ``Retry-After: 1``
truncated  every 3rd payload is cut in half (Content-Length promises the full size), each
           file at most once (a cut connection; a retry gets it whole)
corrupt    every 3rd payload has bytes flipped (same length; checksums/decoding fail)
checksum   dumpstatus.json and *sums.txt publish a wrong md5/sha1 for imagelinks
drops      every 5th request: connection closed without an answer; SSE drops every 40 events
maxlag     requests 1 and 2 of every 6 that send ``maxlag`` get the maxlag error
thumb500   1 % of the files (chosen by name) cannot be thumbnailed: every request for one
           of their thumbnails answers **500** with Wikimedia's "Error generating
           thumbnail" page, as Thumbor does for a file it cannot render (originals are
           served); the upload server's ``thumb_error_rate`` sets another fraction
sse_chaos  EventStreams only: each message ends the connection with probability 2 %
           (seeded per request: reproducible), a resumed connection starts 1 message
           before each position sent (backwards positions, replays), and topics not yet
           consumed on a connection carry ``"offset": -1`` in the ids (idle datacentre)
========== ==========================================================================
"""

from __future__ import annotations

from dataclasses import dataclass

from wikivis.errors import ConfigError


@dataclass(frozen=True)
class FaultProfile:
    name: str
    latency_s: float = 0.0
    error_every: int = 0  # every n-th request gets a 5xx
    throttle_cycle: int = 0  # requests with (n % cycle) in throttle_slots get 429
    throttle_slots: tuple[int, ...] = ()
    retry_after_s: int = 1
    truncate_every: int = 0  # every n-th payload truncated
    corrupt_every: int = 0  # every n-th payload corrupted
    checksum_mismatch: bool = False
    drop_every: int = 0  # every n-th request dropped without an answer
    sse_drop_every_events: int = 0
    maxlag_cycle: int = 0
    maxlag_slots: tuple[int, ...] = ()
    thumb_error_rate: float = 0.0  # fraction of files whose thumbnails answer 500
    sse_drop_probability: float = 0.0  # each SSE message ends the connection with this probability
    sse_resume_backup: int = 0  # a resumed SSE connection starts this many messages before each position
    sse_idle_offsets: bool = False  # SSE ids carry "offset": -1 for every topic not consumed yet on the connection
    seed: int = 0  # of the random faults (with the request number)

    def hits(self, every: int, n: int) -> bool:
        return every > 0 and n % every == 0

    def throttled(self, n: int) -> bool:
        return self.throttle_cycle > 0 and n % self.throttle_cycle in self.throttle_slots

    def lagged(self, n: int) -> bool:
        return self.maxlag_cycle > 0 and n % self.maxlag_cycle in self.maxlag_slots


PROFILES: dict[str, FaultProfile] = {
    p.name: p
    for p in (
        FaultProfile("none"),
        FaultProfile("latency100", latency_s=0.1),
        FaultProfile("flaky", error_every=4),
        FaultProfile("throttle", throttle_cycle=8, throttle_slots=(3, 4)),
        FaultProfile("truncated", truncate_every=3),
        FaultProfile("corrupt", corrupt_every=3),
        FaultProfile("checksum", checksum_mismatch=True),
        FaultProfile("drops", drop_every=5, sse_drop_every_events=40),
        FaultProfile("maxlag", maxlag_cycle=6, maxlag_slots=(1, 2)),
        FaultProfile("thumb500", thumb_error_rate=0.01),
        FaultProfile("sse_chaos", sse_drop_probability=0.02, sse_resume_backup=1, sse_idle_offsets=True),
    )
}


def get_profile(profile: str | FaultProfile) -> FaultProfile:
    if isinstance(profile, FaultProfile):
        return profile
    try:
        return PROFILES[profile]
    except KeyError:
        raise ConfigError(f"unknown fault profile {profile!r}; known: {', '.join(PROFILES)}") from None
