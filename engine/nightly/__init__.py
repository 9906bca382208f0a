"""The nightly run: facts and verdicts to a plan, applied in one transaction.

Modules:

* ``facts`` - derived facts as of a date, computed set-based in DuckDB
* ``verdicts`` - rule verdicts: an SQL candidate filter, then durable-rules
* ``planner`` - the run's decisions, step by step (``steps/``), into a Plan
* ``ledger`` - the state of one run, shared by every step of the planner
* ``steps`` - relays, releases, caps, reminders and allocation, one module each
* ``allocation``, ``allocation_types``, ``allocator``, ``chunks`` - automatic rotation
* ``lapsed`` - the cooldown of a salesperson whose relay round lapsed
* ``plan`` - the typed result of planning
* ``plan_files`` - plans written as JSON, JSON Lines, CSV or Parquet
* ``apply`` - writing a plan: one DuckDB transaction, with an audit trail
* ``guards`` - what ``--apply`` refuses: stale facts, a future date, mass changes
* ``runs``, ``revert`` - the recorded runs, and undoing the latest applied ones
* ``claims`` - may a salesperson take a high-seas customer by choice?
* ``explain`` - why a customer was (or was not) released, reminded, assigned
* ``events``, ``reasons`` - what a run went through, and why, for observers
* ``summary`` - what ``highseas run`` prints about a plan
* ``plan_diff`` - the per-customer difference of two plans of one night
* ``outbox`` - the changes the CRM fetches, each exactly once

May import ``highseas.compile``, ``highseas.ruleset``, ``highseas.store``,
``highseas.errors``, ``highseas.codes`` and ``highseas.suggestions``; never
``highseas.testing``, ``highseas.simulate``, the API or the CLI: whoever
wants to watch a run (rule coverage) passes an observer in.
"""
