"""Benchmark suite: ``python -m bench`` (full) or ``python -m bench --quick`` (CI smoke run).

Every figure comes from one run on one machine against one local Apache Kafka broker, over
one generated dataset (every topic, page views the most frequent type: bench.data.WEB_MIX;
the share of each type is in ``details.dataset``):
- ``ceiling_eps``: bare aiokafka consumer (getmany, no decoding) reading the 6 source topics;
- ``worker_eps``: one ``stream-app worker --processes N`` command (every KPI group,
  changelogged state; N = ``--worker-processes``, by default one per CPU:
  ``worker_processes``), ``worker_eps_single`` the same on one process;
  ``worker_usage_eps`` / ``_single``: the same with ``CS_GROUPS=usage`` (the peers'
  computation);
- ``naive_faust_eps`` / ``quix_eps``: peers doing only active users (bench.naive_faust,
  bench.quix);
- ``replay_eps``: ``stream-app replay`` of the same events from JSONL, split over
  ``--processes 2`` when the CLI has the flag (``replay_processes`` says), and
  ``replay_eps_single`` (bench.replay_cli), and ``replay_floor_eps``: the split replay
  with the company group only (every line still read, decoded, validated and
  deduplicated: the most a replay reaches by making the KPI groups cheaper);
- ``freshness_*``: production -> visible in /progress and in /metrics at half the load;
- ``rss_mb_per_100k_users``, ``rss_mb_per_100k_visitors``: VmRSS growth of a fresh worker
  (every group) from idle to HOLDING the state of 100k users / web visitors, read once it
  has handled their events, caught up, committed and trimmed (``/progress`` shows
  ``trimmed_handled`` >= the count); ``rss_peak_mb_per_100k_users`` / ``_visitors``: the
  same growth read the moment ``/progress`` shows the last event handled (plus the
  backlog's transient memory); see bench/workers.py (``memory_and_recovery``);
- ``recovery_s``, ``scale_2_workers`` (two single-process workers over
  ``worker_eps_single``): see bench/workers.py;
- ``targets``: each target of issue 18, its threshold, the value, met (bench.targets).

Modules: data (events, fast producer), ceiling, naive_faust, quix, workers, freshness,
replay_cli, procs (subprocess helpers), targets, summary, plots (``python -m bench.plots
results.json DIR`` redraws the plots of a run).
"""
