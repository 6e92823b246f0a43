"""Every consumer of committed events, registered here and nowhere else (DESIGN §2).

Each feature that owes work for every committed event (detections, the activity and
resource rollups, the people tables and the search index today; the integrity log and
outbound streams as they land) is one consumer (``spine.consumers``) added below. The app
factory builds this registry; CLI commands build none, and what they write is consumed by
the running server, or by the next one that starts.
"""

from __future__ import annotations

from collections.abc import Callable

from vigil.analytics.resource_rollups import ResourceRollupConsumer
from vigil.analytics.rollups import RollupConsumer
from vigil.detections.consumer import DetectionConsumer
from vigil.people.consumer import PeopleConsumer
from vigil.search.consumer import SearchIndexConsumer
from vigil.settings import Settings
from vigil.spine.consumers import ConsumerRegistry


def build_consumers(settings: Settings, *, wake_deliverer: Callable[[], None]) -> ConsumerRegistry:
    """The registry of a serving process's consumers, in the order they are started."""
    registry = ConsumerRegistry()
    registry.register(DetectionConsumer(settings, on_notify=wake_deliverer))
    registry.register(RollupConsumer())
    registry.register(ResourceRollupConsumer())
    registry.register(PeopleConsumer())
    registry.register(SearchIndexConsumer())
    return registry
