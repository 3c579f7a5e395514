"""The status feed (issue 23): the internal side exports the public stage of every
report (by query-code hash) and a receipt of the batches it imported, as a signed,
chained ``.status`` file; the intake imports it, answers ``status CODE`` from it and
purges the confirmed batches from ``SPOOL.done/``. See docs/feed.md."""
