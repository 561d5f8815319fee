"""The web group: visitors, sessions, bounce, pages per session, time on page, scroll
depth, entry and exit pages, click-through and visit surveys (``group.py``; per-visitor
state: ``state.py``; session building: ``sessions.py``; day-bucketed aggregates:
``buckets.py``)."""
