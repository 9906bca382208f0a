"""The facts store's tables: the documented contract (docs/data-model.md).

Migrations are an ordered list; ``schema_version`` records the highest one
applied. ``highseas.store.db`` applies them and refuses files newer than this
code knows.
"""

from __future__ import annotations

#: Version 1: the whole first data model.
MIGRATION_1 = """
CREATE TABLE IF NOT EXISTS schema_version (
    version     INTEGER NOT NULL PRIMARY KEY,
    applied_at  TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS reps (
    company_id  VARCHAR NOT NULL,
    rep_id      VARCHAR NOT NULL,
    name        VARCHAR NOT NULL,
    hired_on    DATE NOT NULL,
    tier        VARCHAR,                 -- explicit tier attribute (optional)
    regions     VARCHAR[] NOT NULL DEFAULT [],
    team        VARCHAR,
    active      BOOLEAN NOT NULL DEFAULT TRUE,
    away_from   DATE,
    away_until  DATE,                    -- inclusive
    weight      INTEGER,                 -- optional per-person allocation weight
    PRIMARY KEY (company_id, rep_id)
);

CREATE TABLE IF NOT EXISTS customers (
    company_id    VARCHAR NOT NULL,
    customer_id   VARCHAR NOT NULL,
    name          VARCHAR NOT NULL,
    country       VARCHAR,               -- ISO 3166 alpha-2
    region        VARCHAR,               -- explicit region code (optional)
    source        VARCHAR,
    stage         VARCHAR,
    tags          VARCHAR[] NOT NULL DEFAULT [],
    level         INTEGER,
    attributes    JSON,                  -- custom attributes declared by the ruleset
    created_at    TIMESTAMP NOT NULL,
    owner_rep_id  VARCHAR,               -- NULL: in the high seas
    pool_id       VARCHAR,               -- for high-seas customers
    owned_since   TIMESTAMP,
    PRIMARY KEY (company_id, customer_id)
);

CREATE TABLE IF NOT EXISTS activities (
    company_id   VARCHAR NOT NULL,
    activity_id  VARCHAR,
    customer_id  VARCHAR NOT NULL,
    rep_id       VARCHAR,
    kind         VARCHAR NOT NULL,
    "at"         TIMESTAMP NOT NULL     -- quoted: AT is a keyword in DuckDB 2; write "at" in SQL
);

CREATE TABLE IF NOT EXISTS orders (
    company_id   VARCHAR NOT NULL,
    order_id     VARCHAR,
    customer_id  VARCHAR NOT NULL,
    rep_id       VARCHAR,
    placed_at    TIMESTAMP NOT NULL,
    amount       DECIMAL(18, 2),
    status       VARCHAR NOT NULL        -- open / won / lost
);

CREATE TABLE IF NOT EXISTS runs (
    company_id    VARCHAR NOT NULL,
    run_id        VARCHAR NOT NULL,
    ruleset_id    VARCHAR NOT NULL,
    ruleset_hash  VARCHAR NOT NULL,
    as_of         DATE NOT NULL,
    mode          VARCHAR NOT NULL,      -- plan / apply / simulate
    started_at    TIMESTAMP NOT NULL,
    finished_at   TIMESTAMP,
    status        VARCHAR NOT NULL,      -- ok / failed
    counts        JSON,
    PRIMARY KEY (company_id, run_id)
);

CREATE TABLE IF NOT EXISTS ownership_events (
    company_id    VARCHAR NOT NULL,
    event_id      VARCHAR NOT NULL,
    run_id        VARCHAR,
    customer_id   VARCHAR NOT NULL,
    from_rep_id   VARCHAR,
    to_rep_id     VARCHAR,
    from_pool_id  VARCHAR,
    to_pool_id    VARCHAR,
    action        VARCHAR NOT NULL,      -- release, trim, assign, claim, relay, relay_end
    rule_id       VARCHAR,
    ruleset_hash  VARCHAR,
    reason        VARCHAR NOT NULL,
    "at"          TIMESTAMP NOT NULL,    -- quoted: AT is a keyword in DuckDB 2
    as_of         DATE,
    PRIMARY KEY (company_id, event_id)
);

CREATE TABLE IF NOT EXISTS notifications (
    company_id    VARCHAR NOT NULL,
    notification_id VARCHAR NOT NULL,
    run_id        VARCHAR NOT NULL,
    rep_id        VARCHAR,
    customer_id   VARCHAR NOT NULL,
    rule_id       VARCHAR NOT NULL,
    kind          VARCHAR NOT NULL,      -- remind
    due_on        DATE,                  -- the day the release would happen
    days_left     INTEGER,
    message       VARCHAR NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    as_of         DATE NOT NULL,
    PRIMARY KEY (company_id, notification_id)
);

-- Engine state carried across runs ------------------------------------------

-- Round-robin position per allocation and pool: the last rep served.
CREATE TABLE IF NOT EXISTS rotation_state (
    company_id     VARCHAR NOT NULL,
    allocation_id  VARCHAR NOT NULL,
    pool_id        VARCHAR NOT NULL,
    last_rep_id    VARCHAR,
    updated_as_of  DATE NOT NULL,
    PRIMARY KEY (company_id, allocation_id, pool_id)
);

-- Activation relays in progress (one row per customer in a relay).
CREATE TABLE IF NOT EXISTS relay_state (
    company_id    VARCHAR NOT NULL,
    customer_id   VARCHAR NOT NULL,
    relay_id      VARCHAR NOT NULL,
    round         INTEGER NOT NULL,      -- 1-based
    rep_id        VARCHAR NOT NULL,      -- holder of the current round
    started_on    DATE NOT NULL,
    deadline      DATE NOT NULL,         -- contact must happen before this day
    reps_tried    VARCHAR[] NOT NULL,
    PRIMARY KEY (company_id, customer_id)
);
"""

#: Version 2: dated facts, so that a run as of a day sees only what was true
#: on it (docs/data-model.md, "What a run on D sees"): an order's closing
#: day, the day a salesperson left, and the history of each customer's stage.
#: Existing rows are kept as they are and read as the first model meant them:
#: a won or lost order without ``closed_at`` was closed when it was placed, and
#: ``customers.stage`` is the stage the customer came in with (the first entry
#: of its history; later ones are ``stage_changes``).
MIGRATION_2 = """
ALTER TABLE orders ADD COLUMN closed_at TIMESTAMP;   -- won / lost from then on
ALTER TABLE reps ADD COLUMN left_on DATE;            -- inactive from this day on

CREATE TABLE IF NOT EXISTS stage_changes (
    company_id   VARCHAR NOT NULL,
    customer_id  VARCHAR NOT NULL,
    stage        VARCHAR NOT NULL,
    "at"         TIMESTAMP NOT NULL     -- the customer is in this stage from then on
);
"""

#: Version 3: guard rails for the nightly apply (docs/reliability.md). When
#: each load or import ran and the newest timestamp it brought per table
#: (``loads``: how fresh the facts are); which guards a run overrode; and what
#: an applied run changed, so that ``highseas revert`` restores it exactly:
#: the customers' previous owner, pool and owned_since (and the owner and pool
#: the run left, to notice a change since), the rotation and relay rows as they
#: were (``existed`` false: the row was absent), and the reverted
#: runs' events and reminders, kept out of the live tables.
MIGRATION_3 = """
CREATE TABLE IF NOT EXISTS loads (
    company_id   VARCHAR NOT NULL,
    load_id      VARCHAR NOT NULL,       -- one per load or import
    kind         VARCHAR NOT NULL,       -- load / import
    source       VARCHAR NOT NULL,       -- the file or folder read
    loaded_at    TIMESTAMP NOT NULL,     -- when it ran (UTC)
    table_name   VARCHAR NOT NULL,
    row_count    BIGINT NOT NULL,        -- rows it added to the table
    latest_at    TIMESTAMP,              -- the newest timestamp among them
    PRIMARY KEY (company_id, load_id, table_name)
);

ALTER TABLE runs ADD COLUMN overrides VARCHAR;     -- guards an apply overrode, and why
ALTER TABLE runs ADD COLUMN reverts VARCHAR;       -- a revert run: the run it undid
ALTER TABLE runs ADD COLUMN reverted_by VARCHAR;   -- a reverted run: the revert run
ALTER TABLE runs ADD COLUMN seq BIGINT;            -- order of the applied and revert runs

CREATE TABLE IF NOT EXISTS undo_customers (
    company_id    VARCHAR NOT NULL,
    run_id        VARCHAR NOT NULL,
    customer_id   VARCHAR NOT NULL,
    owner_rep_id  VARCHAR,
    pool_id       VARCHAR,
    owned_since   TIMESTAMP,
    after_owner_rep_id VARCHAR,          -- as the run left it: a revert refuses
    after_pool_id VARCHAR,               -- when the customer changed since
    PRIMARY KEY (company_id, run_id, customer_id)
);

CREATE TABLE IF NOT EXISTS undo_rotation (
    company_id     VARCHAR NOT NULL,
    run_id         VARCHAR NOT NULL,
    allocation_id  VARCHAR NOT NULL,
    pool_id        VARCHAR NOT NULL,
    existed        BOOLEAN NOT NULL,
    last_rep_id    VARCHAR,
    updated_as_of  DATE,
    PRIMARY KEY (company_id, run_id, allocation_id, pool_id)
);

CREATE TABLE IF NOT EXISTS undo_relay (
    company_id    VARCHAR NOT NULL,
    run_id        VARCHAR NOT NULL,
    customer_id   VARCHAR NOT NULL,
    existed       BOOLEAN NOT NULL,
    relay_id      VARCHAR,
    round         INTEGER,
    rep_id        VARCHAR,
    started_on    DATE,
    deadline      DATE,
    reps_tried    VARCHAR[],
    PRIMARY KEY (company_id, run_id, customer_id)
);

CREATE TABLE IF NOT EXISTS reverted_ownership_events (
    reverted_by   VARCHAR NOT NULL,      -- the revert run
    company_id    VARCHAR NOT NULL,
    event_id      VARCHAR NOT NULL,
    run_id        VARCHAR,
    customer_id   VARCHAR NOT NULL,
    from_rep_id   VARCHAR,
    to_rep_id     VARCHAR,
    from_pool_id  VARCHAR,
    to_pool_id    VARCHAR,
    action        VARCHAR NOT NULL,
    rule_id       VARCHAR,
    ruleset_hash  VARCHAR,
    reason        VARCHAR NOT NULL,
    "at"          TIMESTAMP NOT NULL,
    as_of         DATE
);

CREATE TABLE IF NOT EXISTS reverted_notifications (
    reverted_by   VARCHAR NOT NULL,      -- the revert run that cancelled it
    company_id    VARCHAR NOT NULL,
    notification_id VARCHAR NOT NULL,
    run_id        VARCHAR NOT NULL,
    rep_id        VARCHAR,
    customer_id   VARCHAR NOT NULL,
    rule_id       VARCHAR NOT NULL,
    kind          VARCHAR NOT NULL,
    due_on        DATE,
    days_left     INTEGER,
    message       VARCHAR NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    as_of         DATE NOT NULL
);
"""

#: Version 4: the outbox the CRM fetches changes from (docs/nightly-run.md,
#: "The outbox"). A fetch numbers the changes committed since the last fetch
#: (ownership events, reminders, and the reversal of delivered ones a revert
#: undid) 1, 2, 3... per company and keeps each as delivered, so that a fetch
#: repeated with the same cursor returns the same rows.
MIGRATION_4 = """
CREATE TABLE IF NOT EXISTS outbox (
    company_id  VARCHAR NOT NULL,
    seq         BIGINT NOT NULL,         -- the cursor: 1, 2, 3... per company
    kind        VARCHAR NOT NULL,        -- ownership / notification /
                                         -- ownership_reverted / notification_cancelled
    ref_id      VARCHAR NOT NULL,        -- the event_id or notification_id
    run_id      VARCHAR,                 -- the run that wrote it (a revert: the revert run)
    payload     VARCHAR NOT NULL,        -- the change as delivered (a JSON object)
    PRIMARY KEY (company_id, seq),
    UNIQUE (company_id, kind, ref_id)
);
"""

MIGRATIONS: tuple[str, ...] = (MIGRATION_1, MIGRATION_2, MIGRATION_3, MIGRATION_4)
#: The schema version this code reads and writes.
SCHEMA_VERSION = len(MIGRATIONS)

#: Tables a run reads and writes, scoped by company_id.
FACT_TABLES = ("reps", "customers", "activities", "orders", "stage_changes")
