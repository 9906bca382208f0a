"""The registry of diagnostic codes: every ``HSnnn`` highseas reports.

Each code is stable: CI configurations, SARIF consumers and scripts key on
it. One :class:`Code` entry per code gives its short title, the exit code of
a command it stops (per docs/cli.md: 1 rule or test failures and rejected
data, 2 invalid input or usage, 3 internal; 0 for a warning that never fails
a command) and the doc whose code table explains it. A test
(tests/docs/test_codes.py) keeps the registry, the code and the docs in step.

Raise sites name the meaning, not the number::

    raise InvalidInputError("...", code=codes.AS_OF_OUT_OF_RANGE)

Each constant is the code's id (a plain ``str``), so diagnostics, JSON and
text output carry ``"HS551"`` exactly as before. A code that is no longer
emitted stays registered as ``retired`` (with what replaced it), so that its
number is never given another meaning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

#: Exit codes of the command line (docs/cli.md).
EXIT_OK: Final = 0
EXIT_FAILURE: Final = 1
EXIT_USAGE: Final = 2
EXIT_INTERNAL: Final = 3

RULESETS_DOC: Final = "docs/rulesets.md"
DATA_MODEL_DOC: Final = "docs/data-model.md"
NIGHTLY_DOC: Final = "docs/nightly-run.md"
COMPILER_DOC: Final = "docs/compiler.md"
ALLOCATION_DOC: Final = "docs/allocation.md"
TESTING_DOC: Final = "docs/testing.md"
SIMULATION_DOC: Final = "docs/simulation.md"
CLI_DOC: Final = "docs/cli.md"
SCALE_OUT_DOC: Final = "docs/scale-out.md"


@dataclass(frozen=True)
class Code:
    """One registered diagnostic code."""

    id: str
    title: str
    exit_code: int
    doc: str
    #: A retired code is emitted no more; ``replaced_by`` names its successor.
    retired: bool = False
    replaced_by: str = ""


REGISTRY: dict[str, Code] = {}


def _code(id: str, title: str, exit_code: int, doc: str) -> str:
    if id in REGISTRY:  # pragma: no cover - a slip when adding a code
        raise ValueError(f"{id} is registered twice")
    REGISTRY[id] = Code(id, title, exit_code, doc)
    return id


def _retired(id: str, title: str, exit_code: int, doc: str, replaced_by: str) -> None:
    REGISTRY[id] = Code(id, title, exit_code, doc, retired=True, replaced_by=replaced_by)


def get(code: str) -> Code:
    """The registry entry of ``code``; KeyError when it is not registered."""
    return REGISTRY[code]


def title(code: str) -> str:
    """The short title of ``code`` (the code itself when unknown)."""
    entry = REGISTRY.get(code)
    return entry.title if entry else code


def exit_code(code: str) -> int:
    """The exit code of a command that ``code`` stops (2 when unknown)."""
    entry = REGISTRY.get(code)
    return entry.exit_code if entry else EXIT_USAGE


def active() -> list[Code]:
    """Every code still emitted, in numeric order."""
    return sorted((c for c in REGISTRY.values() if not c.retired), key=lambda c: c.id)


_R = RULESETS_DOC
_D = DATA_MODEL_DOC
_N = NIGHTLY_DOC
_C = COMPILER_DOC
_A = ALLOCATION_DOC
_T = TESTING_DOC
_S = SIMULATION_DOC
_F = EXIT_FAILURE
_U = EXIT_USAGE
_I = EXIT_INTERNAL

# --- HS0xx: paths given on the command line --------------------------------
PATH_NOT_FOUND = _code("HS001", "path does not exist", _U, _R)
PATH_UNREADABLE = _code("HS002", "path cannot be read", _U, _R)
NO_YAML_FILES = _code("HS004", "directory without YAML files", _U, _R)
GIT_REVISION_UNREADABLE = _code("HS005", "git revision of a file cannot be read", _U, CLI_DOC)
PROJECT_CONFIG_INVALID = _code("HS006", "project configuration invalid", _U, CLI_DOC)

# --- HS1xx: YAML (the safe loader) -----------------------------------------
YAML_SYNTAX = _code("HS101", "YAML syntax error", _F, _R)
DUPLICATE_KEY = _code("HS102", "duplicate key", _F, _R)
FILE_TOO_LARGE = _code("HS103", "file larger than 1 MiB", _F, _R)
NOT_UTF8 = _code("HS104", "file is not UTF-8", _F, _R)
CONTROL_CHARACTER = _code("HS105", "NUL byte or control character", _F, _R)
TAB_CHARACTER = _code("HS106", "tab character", _F, _R)
SEVERAL_DOCUMENTS = _code("HS107", "more than one YAML document", _F, _R)
NOT_A_MAPPING = _code("HS108", "empty file or top level not a mapping", _F, _R)
TAG_NOT_ALLOWED = _code("HS109", "tag not allowed (only plain data)", _F, _R)
TOO_COMPLEX = _code(
    "HS110", "too many aliases, too large, recursive, or nested too deeply", _F, _R
)
KEY_NOT_TEXT = _code("HS111", "key that is not plain text", _F, _R)

# --- HS2xx: the ruleset schema ---------------------------------------------
UNKNOWN_KEY = _code("HS201", "unknown key", _F, _R)
MISSING_KEY = _code("HS202", "missing required key", _F, _R)
WRONG_TYPE = _code("HS203", "wrong type of value", _F, _R)
VALUE_NOT_ALLOWED = _code("HS204", "value not allowed", _F, _R)
WRONG_FORM = _code("HS205", "value of the wrong form (duration, id, country code)", _F, _R)
NUMBER_OUT_OF_RANGE = _code("HS206", "number out of range", _F, _R)
TOO_SHORT_OR_REPEATED = _code("HS207", "list or text too short, or an item listed twice", _F, _R)
WRONG_KEY_COUNT = _code("HS208", "wrong number of keys (a condition has exactly one kind)", _F, _R)
SCHEMA_VIOLATION = _code("HS209", "other schema violation", _F, _R)

# --- HS3xx: ruleset semantics ----------------------------------------------
DUPLICATE_ID = _code("HS301", "duplicate id", _F, _R)
UNKNOWN_TIER = _code("HS302", "unknown tier", _F, _R)
UNKNOWN_REGION = _code("HS303", "unknown region", _F, _R)
UNKNOWN_POOL = _code("HS304", "unknown pool", _F, _R)
CODE_IN_TWO_REGIONS = _code("HS305", "country or region code in two regions", _F, _R)
DEFAULT_POOL_COUNT = _code("HS306", "no default pool, or more than one", _F, _R)
TIERS_OVERLAP = _code("HS307", "tiers overlap", _F, _R)
TIERS_GAP = _code("HS308", "tiers leave a gap, or every tier selects an attribute", _F, _R)
EMPTY_TENURE = _code("HS309", "tier with an empty tenure range", _F, _R)
REMINDER_TOO_LONG = _code("HS310", "reminder not shorter than the release period", _F, _R)
REMINDER_WITHOUT_TIME = _code("HS311", "reminder on a rule without a time condition", _F, _R)
REGION_IN_TWO_POOLS = _code("HS312", "region covered by two pools", _F, _R)
CLAIM_CAP_NEVER_APPLIES = _code("HS313", "claim caps that never apply (warning)", _F, _R)
TWO_CAPS_FOR_TIER = _code("HS314", "two caps of the same kind for one tier", _F, _R)
EXCESS_TO_SAME_TIER = _code("HS315", "cap excess sent back to the same tier", _F, _R)
COOLDOWN_TOO_LONG = _code("HS316", "cooldown longer than a release period (warning)", _F, _R)
RULE_NEVER_FIRES = _code("HS317", "rule that can never fire (warning)", _F, _R)
RULE_SHADOWED = _code("HS318", "rule shadowed by another rule (warning)", _F, _R)
UNDECLARED_FIELD = _code("HS319", "condition on an undeclared field", _F, _R)
VALUE_DOES_NOT_FIT = _code("HS320", "comparison value does not fit the field or operator", _F, _R)
DURATION_OUT_OF_RANGE = _code("HS321", "duration out of range", _F, _R)
UNKNOWN_TIMEZONE = _code("HS322", "unknown time zone", _F, _R)
NOT_ISO_COUNTRY = _code("HS323", "not an ISO 3166 country code", _F, _R)
STRATEGY_SETTINGS = _code("HS324", "allocation strategy and its settings disagree", _F, _R)
SHADOWS_BUILTIN_FIELD = _code("HS325", "custom field named like a built-in field", _F, _R)
REGION_SELF_FALLBACK = _code("HS326", "region falls back to itself", _F, _R)
EMPTY_REGION = _code("HS327", "region with no countries and no codes", _F, _R)
NEWER_LANGUAGE_KEY = _code("HS328", "key of a newer language version than declared", _F, _R)
CATCH_ALL_TIER_NOT_LAST = _code("HS329", "catch-all tier that is not the last tier", _F, _R)
EXCESS_TARGET_NEVER_USED = _code(
    "HS330", "excess_to target after a pool target without a condition (never used)", _F, _R
)

# --- HS40x: the database file ----------------------------------------------
DATABASE_MISSING = _code("HS400", "database file does not exist", _U, _D)
DATABASE_BUSY = _code("HS401", "database in use by another process", _U, _D)
NOT_A_DATABASE = _code("HS402", "not a highseas database", _U, _D)
DATABASE_TOO_NEW = _code("HS403", "database of a newer schema version", _U, _D)
DATABASE_TOO_OLD = _code("HS404", "database of an older schema version, opened read-only", _U, _D)
COMPANY_NOT_GIVEN = _code("HS405", "company not given and not guessable", _U, _D)
INVALID_COMPANY_ID = _code("HS406", "company id not of the id form", _U, _D)
DATABASE_DAMAGED = _code("HS407", "database file is damaged", _U, _D)

# --- HS41x: facts files as a whole -----------------------------------------
UNKNOWN_TABLE = _code("HS410", "unknown table", _U, _D)
FACTS_FILE_UNREADABLE = _code(
    "HS411", "facts file missing, empty, unreadable or unsupported", _U, _D
)
REQUIRED_COLUMN_MISSING = _code("HS412", "required column absent", _U, _D)
UNKNOWN_COLUMN = _code("HS413", "unknown column, or a column named twice", _U, _D)
REJECTS_FILE_UNWRITABLE = _code("HS414", "rejects file cannot be written", _U, _D)

# --- HS42x-HS43x: rejected rows of a facts file ----------------------------
REQUIRED_VALUE_MISSING = _code("HS420", "required value missing", _F, _D)
NOT_A_NUMBER = _code("HS421", "not an integer, number or boolean", _F, _D)
NOT_A_DATE = _code("HS422", "not a valid date or timestamp", _F, _D)
DATE_IN_FUTURE = _code("HS423", "more than a day in the future", _F, _D)
ID_REPEATED_IN_FILE = _code("HS424", "id repeated within the file", _F, _D)
ID_ALREADY_LOADED = _code("HS425", "id already in the table", _F, _D)
UNKNOWN_REP_IN_ROW = _code("HS426", "no such rep", _F, _D)
UNKNOWN_CUSTOMER_IN_ROW = _code("HS427", "no such customer", _F, _D)
NOT_A_COUNTRY = _code("HS428", "not an ISO 3166-1 alpha-2 country code", _F, _D)
ROW_VALUE_NOT_ALLOWED = _code("HS429", "value not allowed", _F, _D)
MALFORMED_LIST = _code("HS430", "malformed list", _F, _D)
ATTRIBUTES_NOT_OBJECT = _code("HS431", "attributes are not a JSON object", _F, _D)
INCONSISTENT_ROW = _code("HS432", "inconsistent row", _F, _D)
MALFORMED_CSV_LINE = _code("HS433", "malformed CSV line", _F, _D)
OTHER_COMPANY = _code("HS434", "company_id differs from the company being loaded", _F, _D)
ROW_NUMBER_OUT_OF_RANGE = _code("HS435", "number out of range", _F, _D)
DATE_BEFORE_1900 = _code("HS436", "date before 1900", _F, _D)
NUL_IN_TEXT = _code("HS437", "text contains a NUL character", _F, _D)
CLOSED_BEFORE_PLACED = _code("HS438", "order closed before it was placed", _F, _D)
STAGE_BEFORE_CUSTOMER = _code("HS439", "stage change before the customer existed", _F, _D)
ROWS_REJECTED = _code("HS440", "rows rejected; nothing was loaded", _F, _D)
CLOSED_ORDER_OPEN = _code("HS441", "order with a closing time but status open", _F, _D)

# --- HS45x-HS46x: importers and the fixture generator ----------------------
IMPORT_SOURCE_MISSING = _code("HS450", "import folder or file missing", _U, _D)
IMPORT_CSV_UNREADABLE = _code("HS451", "unreadable CSV", _U, _D)
IMPORT_COLUMN_MISSING = _code("HS452", "import column missing", _U, _D)
IMPORT_COMPANY_PRESENT = _code("HS453", "company already present (import)", _U, _D)
IMPORT_IDS_REPEATED = _code("HS454", "repeated ids", _U, _D)
UNKNOWN_ARCHETYPE = _code("HS460", "unknown archetype", _U, _D)
FIXTURE_BAD_COUNTS = _code("HS461", "bad counts or seed", _U, _D)
FIXTURE_COMPANY_PRESENT = _code("HS462", "company already present (generator)", _U, _D)

# --- HS50x: the compiler ---------------------------------------------------
UNKNOWN_FIELD = _code("HS501", "unknown field or a column outside the whitelist", _I, _C)
WRONG_VALUE_TYPE = _code("HS502", "value of the wrong type", _I, _C)
UNSUPPORTED_OPERATOR = _code("HS503", "operator the type does not support", _I, _C)
TOO_MANY_COMPARISONS = _code("HS504", "too many comparisons on one field", _I, _C)
CONDITION_TOO_LARGE = _code("HS505", "condition too large for durable-rules", _I, _C)
TOO_MANY_FIELDS = _code("HS506", "too many fields read", _I, _C)
DUPLICATE_DECISION_POINT = _code("HS507", "two decision points with one name", _I, _C)
UNKNOWN_DECISION_POINT = _code("HS508", "no decision point of that name", _I, _C)
COMPILER_INVARIANT = _code("HS509", "internal compiler invariant", _I, _C)
DURABLE_ERROR_CODE = _code("HS514", "durable-rules returned an error code", _I, _C)
DURABLE_FAILED = _code("HS515", "durable-rules failed otherwise", _I, _C)

# --- HS51x-HS55x: the nightly run, claims and explain ----------------------
APPLY_BEFORE_LAST_RUN = _code("HS510", "apply for a date before the last applied run", _U, _N)
# guards of --apply (docs/reliability.md) and highseas revert
FACTS_TOO_OLD = _code("HS516", "facts older than the ruleset's max_facts_age", _U, _N)
AS_OF_AFTER_TODAY = _code("HS517", "as-of date after today in the company's time zone", _U, _N)
TOO_MANY_CHANGES = _code(
    "HS518", "run releases or changes more customers than the ruleset's guards allow", _F, _N
)
UNKNOWN_RUN = _code("HS519", "no such run", _U, _N)
REVERT_REFUSED = _code(
    "HS527", "run cannot be reverted: not the latest applied run, or changed since", _U, _N
)
UNKNOWN_SALESPERSON = _code("HS520", "no such salesperson", _U, _N)
UNKNOWN_CUSTOMER = _code("HS521", "no such customer", _U, _N)
REFUSED_CLAIM = _code("HS522", "a refused claim cannot be recorded", _U, _N)
CLAIMED_MEANWHILE = _code("HS523", "customer claimed by someone else in the meantime", _U, _N)
CANDIDATE_FILTER_DISAGREES = _code(
    "HS525", "durable-rules and the SQL candidate filter disagree", _I, _N
)
CUSTOMER_NOT_YET = _code("HS526", "customer did not exist yet on the as-of date", _U, _N)
OUTBOX_CURSOR_INVALID = _code("HS528", "outbox cursor that is not a change number", _U, _N)
OUTBOX_CURSOR_AHEAD = _code("HS529", "outbox cursor after the last change", _U, _N)
UNKNOWN_OUTPUT_SUFFIX = _code(
    "HS530", "output suffix other than .json, .jsonl, .csv or .parquet", _U, _N
)
INCOMPLETE_VERDICTS = _code("HS540", "incomplete verdicts", _I, _C)
FACT_WITHOUT_KEY = _code("HS541", "fact without a unique integer key", _I, _C)
FACT_NOT_HANDLED = _code("HS542", "durable-rules did not handle or saw twice a fact", _I, _C)
ACTION_RAISED = _code("HS543", "action raised inside durable-rules", _I, _C)
FACT_VALUE_TYPE = _code("HS544", "fact value of the wrong type", _I, _C)
UNSAFE_IDENTIFIER = _code("HS550", "name that is not a safe identifier", _I, _N)
AS_OF_OUT_OF_RANGE = _code("HS551", "as-of date outside 1900-01-01 .. 2999-12-31", _U, _N)
COMPANY_NOT_IN_DATABASE = _code(
    "HS552", "database holds no salespeople or customers of the ruleset's company", _U, _N
)
CUSTOM_ATTRIBUTE_TYPE = _code(
    "HS553", "custom attribute value not of the declared type", _U, _N
)
UNDECLARED_TIER_ATTRIBUTE = _code(
    "HS554", "tier attribute of a salesperson that selects no tier (warning)", EXIT_OK, _N
)

# --- HS56x: allocation inputs ----------------------------------------------
UNKNOWN_STRATEGY = _code("HS560", "unknown strategy or region fallback", _U, _A)
CAPACITY_MISSING = _code("HS561", "capacity strategy without a capacity", _U, _A)
NEGATIVE_WEIGHT_OR_LIMIT = _code("HS562", "negative weight or per-run limit", _U, _A)
REP_LISTED_TWICE = _code("HS563", "salesperson appears twice", _U, _A)
CUSTOMER_REQUESTED_TWICE = _code("HS564", "customer requested twice in one call", _U, _A)

# --- HS6xx: test files and test runs ---------------------------------------
TEST_RULESET_INVALID = _code("HS601", "the ruleset of a test file is missing or invalid", _U, _T)
CASE_NAME_TWICE = _code("HS602", "case name used twice in a file", _U, _T)
NOT_A_REAL_DATE = _code("HS603", "not a real date or time", _U, _T)
UNKNOWN_CASE_ID = _code("HS604", "unknown customer or salesperson in a case", _U, _T)
LISTED_TWICE_IN_CASE = _code("HS605", "id or expectation listed twice in a case", _U, _T)
UNKNOWN_RULE_ID = _code("HS606", "unknown rule id, or a rule of another kind", _U, _T)
UNKNOWN_CASE_REFERENCE = _code(
    "HS607", "unknown pool, tier, region or custom field, or a value that does not fit it",
    _U, _T,
)
KEYS_DO_NOT_GO_TOGETHER = _code("HS608", "keys that do not go together", _U, _T)
DAYS_OUT_OF_ORDER = _code("HS609", "days not in increasing order", _U, _T)
CSV_UNREADABLE = _code("HS610", "CSV file missing or unreadable", _U, _T)
INVALID_CSV_VALUE = _code("HS611", "invalid CSV value", _U, _T)
CSV_COLUMN = _code("HS612", "unknown or missing CSV column", _U, _T)
CONTRADICTORY_EXPECTATION = _code("HS613", "expectation that contradicts itself", _U, _T)
FACT_AFTER_LAST_DAY = _code("HS614", "fact dated after the last as-of day (warning)", EXIT_OK, _T)
NO_TEST_FILES = _code("HS620", "no test files found", _U, _T)
CASE_DATA_REFUSED = _code("HS621", "the engine refused a case's data", _U, _T)
COVERAGE_TOO_LOW = _code("HS622", "coverage below --min-coverage", _F, _T)
NO_CASE_MATCHES = _code("HS623", "no case matches -k", _U, _T)
UPDATE_INVALID_FILE = _code("HS624", "--update refused: the test file is invalid", _U, _T)
TEMPLATE_MISSING = _code("HS630", "init: template missing from the installation", _U, _T)
INIT_INVALID_COMPANY = _code("HS631", "init: invalid company id", _U, _T)
INIT_FILE_EXISTS = _code("HS632", "init: file already exists", _U, _T)

# --- HS7xx: simulation and advice ------------------------------------------
OVERRIDE_PATH_UNKNOWN = _code("HS701", "override not PATH=VALUE, or its path names nothing", _U, _S)
NO_IDLE_RULE = _code("HS702", "idle-period but no release rule has an idle_for", _U, _S)
OVERRIDE_VALUE_INVALID = _code("HS703", "value empty or not YAML", _U, _S)
MALFORMED_SWEEP = _code("HS704", "malformed sweep", _U, _S)
DATES_REVERSED = _code("HS705", "--to before --from", _U, _S)
JOBS_BELOW_ONE = _code("HS706", "--jobs below 1", _U, _S)
CONFLICTING_OVERRIDES = _code("HS709", "two overrides set the same path", _U, _S)
INVALID_CONTACT_AFTER = _code(
    "HS707", "--contact-after not a duration, or share outside 0..1", _U, _S
)
_retired(
    "HS708", "database holds nothing of the ruleset's company", _U, _S,
    replaced_by=COMPANY_NOT_IN_DATABASE,
)
ADVISE_COMPANY = _code("HS710", "advise: several companies or none", _U, _S)
ADVISE_SETTINGS = _code("HS711", "advise: --max-share outside 0..1 or no order status", _U, _S)
INVALID_WARM_UP = _code("HS712", "--warm-up not a duration, or as long as the replay", _U, _S)
REPLAY_PATHS_DIFFER = _code(
    "HS713", "simulate --verify: the incremental and the nightly replay differ", _F, _S
)
INCREMENTAL_UNSUPPORTED = _code(
    "HS714", "--replay-path incremental for a ruleset it cannot replay yet", _U, _S
)
VERIFY_EVERY_BELOW_ONE = _code("HS715", "--verify-every below 1", _U, _S)
OWNERSHIP_CHANGES_UNDONE = _code(
    "HS720", "database records ownership changes on or after --from (warning)", EXIT_OK, _S
)

# --- HS8xx: the fleet (highseas run-all) -----------------------------------
UNKNOWN_FLEET_COMPANY = _code(
    "HS801", "--only or --exclude names no company of --rulesets", _U, SCALE_OUT_DOC
)
SHARED_FACTS_APPLY = _code(
    "HS802", "--apply with one facts database for several companies", _U, SCALE_OUT_DOC
)
SCHEDULER_UNREACHABLE = _code("HS803", "the Dask scheduler cannot be reached", _U, SCALE_OUT_DOC)
WORKER_LOST = _code(
    "HS804", "a company's task lost every worker it ran on", _F, SCALE_OUT_DOC
)
SUMMARY_SUFFIX = _code(
    "HS805", "--summary file suffix other than .parquet or .jsonl", _U, SCALE_OUT_DOC
)

# --- HS9xx: the command line's last resort ---------------------------------
INTERNAL_ERROR = _code("HS999", "internal error (a bug in highseas)", _I, CLI_DOC)
