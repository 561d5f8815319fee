"""The functional core: KPI state and its update/read logic (no Faust, no Kafka).

``core`` (one partition's state: validation, per-key admission, the groups), ``keystate``
(per-key bookkeeping), ``group`` (the interface of a KPI group), ``families`` (what is
exported), ``daycount`` (day-bucketed counts), ``registry`` (the groups a core runs), and
``groups/<name>/``: one folder per KPI group. Nothing here imports Faust or Kafka.
"""
