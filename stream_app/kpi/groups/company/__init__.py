"""The company group: acquisition spend (for CAC), social interactions and employee
survey answers, from the company topic keyed by ``source`` (``group.py``; per-source
state: ``state.py``)."""
