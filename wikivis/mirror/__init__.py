"""A local Wikimedia mirror: dumps, Action API, upload (thumbnails) and EventStreams.

``Mirror(sample, faults="none", host="127.0.0.1", ports=None)`` serves a
:mod:`wikivis.sample` wiki over real HTTP/1.1 on loopback, with Wikimedia's documented
behaviour and limits (see each module: :mod:`~wikivis.mirror.dumps`,
:mod:`~wikivis.mirror.api`, :mod:`~wikivis.mirror.upload`, :mod:`~wikivis.mirror.streams`),
optional fault profiles (:mod:`~wikivis.mirror.faults`) and politeness counters
(``Mirror.stats``).  ``wikivis mirror serve`` runs it on the default ports.
"""

from wikivis.mirror.app import SERVER_NAMES, Mirror
from wikivis.mirror.faults import PROFILES, FaultProfile

__all__ = ["PROFILES", "SERVER_NAMES", "FaultProfile", "Mirror"]
