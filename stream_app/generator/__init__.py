"""A deterministic simulated B2B SaaS company that emits the contract's events.

``generate_history`` replays the past (``end - days`` .. ``end``) in time order;
``LiveSimulation`` continues the same company after it, interval by interval.
"""

from stream_app.generator.config import (
    CURRENCY,
    FEATURES,
    MILESTONES,
    PLANS,
    TRIAL_DAYS,
    GeneratorConfig,
    Plan,
)
from stream_app.generator.history import generate_history
from stream_app.generator.live import LiveSimulation
from stream_app.generator.noise import INVALID_KINDS
from stream_app.generator.writer import encode, topic_role, write_jsonl

__all__ = [
    "CURRENCY",
    "FEATURES",
    "INVALID_KINDS",
    "MILESTONES",
    "PLANS",
    "TRIAL_DAYS",
    "GeneratorConfig",
    "LiveSimulation",
    "Plan",
    "encode",
    "generate_history",
    "topic_role",
    "write_jsonl",
]
