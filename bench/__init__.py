"""Benchmark suite: ``python -m bench`` (full) or ``python -m bench --quick`` (CI smoke run).

Every figure comes from one run on one machine against one local Apache Kafka broker:
- ``ceiling_eps``: bare aiokafka consumer (getmany, no decoding) reading the 4 topics;
- ``worker_eps``: one ``stream-app worker`` process (all KPIs, changelogged state);
- ``naive_faust_eps`` / ``quix_eps``: peers doing only active users (bench.naive_faust,
  bench.quix), ``replay_eps``: ``stream_app.replay`` of the same events from JSONL;
- ``freshness_*``: production -> visible in /progress and in /metrics at half the load;
- ``rss_mb_per_100k_users``, ``recovery_s``, ``scale_2_workers``: see bench/workers.py.

Modules: data (events, fast producer), ceiling, naive_faust, quix, workers, freshness,
procs (subprocess helpers), summary, plots.
"""
