"""The onboarding group: signup cohorts, activation, time to value, first week, adoption
and referrals (``group.py``; per-account state: ``state.py``)."""
