"""The Faust shell: thin glue between Kafka and the KPI core."""
