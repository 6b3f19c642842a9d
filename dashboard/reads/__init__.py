"""The dashboard's database reads, one module per page (docs/design.md §8): views parse the
request, ask a read, render. Long windows read the rollups (minute buckets for the last day, hour
buckets beyond; classify/rollups.py), never raw events. Phone numbers are masked here, before
anything reaches a template. Links and wording are the views' and templates' business.

- ``common``: cursors, percentages, the chart's date_bin, the failing outcome groups
- ``overview``: tiles, the outcome chart, the top failure causes
- ``sessions``: session rows for the live feed, the sessions list and its CSV
- ``session``: one session's legs, timeline and guidance
- ``codes``: final SIP codes by class and split by direction, country, sub-account
- ``reference``: the troubleshooting page's counts and the reference search
- ``health``: the receiver health strip, ``/healthz`` and the ``/metrics`` gauges
"""
