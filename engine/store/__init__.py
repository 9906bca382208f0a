"""The facts store: DuckDB files with the documented tables, and what fills them.

Modules:

* ``ddl`` - the tables: the documented contract (docs/data-model.md)
* ``db`` - opening a store: creation, schema versions, locks, transactions
* ``loader`` - facts files (CSV, Parquet, JSON) loaded row-checked, all or nothing
* ``tables`` - the loadable tables' columns, kinds and checks, as data
* ``staging`` - reading a facts file as text into a staging table
* ``row_checks`` - the set-based SQL checks and the typed insert of a load
* ``imports`` - importers of public CRM data sets
* ``freshness`` - when loads ran, and how fresh the facts are (``loads``)
* ``fixtures`` - the deterministic generator of realistic fake companies
* ``demo`` - the demo database, generated on first use
* ``countries`` - ISO 3166-1 alpha-2 country codes
* ``scratch`` - in-memory stores with the current schema

Sits below the nightly run, the test harness and the simulation: may import
only ``highseas.errors``, ``highseas.codes`` and ``highseas.suggestions``
(not even the ruleset: the store knows tables, not rules). duckdb is imported
inside the functions that use it.
"""
