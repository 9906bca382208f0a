"""The steps of the nightly run, one module each, in the order of precedence.

A subpackage rather than modules beside the planner: the steps are the parts
:mod:`highseas.nightly.planner` runs in order, and nothing else calls them.
Each step is a function of the run's :class:`highseas.nightly.ledger.RunLedger`
that decides what its part of the ruleset decides and leaves it in the
ledger for the next steps to see:

1. Relays in progress, and 2. new relays: :mod:`.relays`
3. Release rules: :mod:`.releases`
4. Private caps: :mod:`.trims`
5. Reminders: :mod:`.reminders`
6. Allocation: :mod:`.allocations`
"""
