"""The functional core: KPI state and its update/read logic (no Faust, no Kafka)."""

from stream_app.kpi.core import Outcome, PartitionCore
from stream_app.kpi.families import Family, merge

__all__ = ["Family", "Outcome", "PartitionCore", "merge"]
