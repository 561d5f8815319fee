"""The revenue group: subscription status, MRR and its movements, churn, renewals, payment
failures and revenue (``group.py``; per-account state: ``state.py``; read: ``read.py``)."""
