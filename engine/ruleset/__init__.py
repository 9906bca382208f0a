"""Rulesets: from a YAML file to a checked, typed, immutable :class:`Ruleset`.

Modules:

* ``yaml_loader`` - safe YAML loading with a line and column for every JSON path
* ``schema`` - JSON Schema validation, reported at YAML lines
* ``semantic`` - the checks a JSON Schema cannot express (ids, tiers, regions, rules)
* ``condition_logic`` - what can be proved about conditions: implication, shadowing
* ``durations`` - durations such as ``14d``, ``2w``, ``6mo``
* ``model`` - the typed, immutable form of a ruleset
* ``versions`` - the language versions, and the keys that need 1.1
* ``loader`` - file -> schema -> semantic checks -> model
* ``validation`` - many files at once, every diagnostic of every file
* ``reporters`` - validation reports as text, JSON, GitHub annotations, SARIF
* ``diff`` - the structural difference of two rulesets (a file or a git revision)
* ``project`` - the project configuration (``highseas.toml`` or ``[tool.highseas]``)

May import only ``highseas.errors``, ``highseas.codes`` and
``highseas.suggestions``. Test files are checked by a validator its caller
passes in (the API passes highseas.testing's), never by importing the test
harness. Importing this package loads neither duckdb, durable-rules, pyarrow
nor matplotlib, so ``highseas validate`` starts fast.
"""
