"""ISO 3166-1 alpha-2 country codes (officially assigned), shipped in code.

No network and no third-party package: the list is the 249 officially
assigned codes. ``is_country`` is what the loader's SQL check mirrors.
"""

from __future__ import annotations

_CODES = """
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ
BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ
CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ
DE DJ DK DM DO DZ
EC EE EG EH ER ES ET
FI FJ FK FM FO FR
GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY
HK HM HN HR HT HU
ID IE IL IM IN IO IQ IR IS IT
JE JM JO JP
KE KG KH KI KM KN KP KR KW KY KZ
LA LB LC LI LK LR LS LT LU LV LY
MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ
NA NC NE NF NG NI NL NO NP NR NU NZ
OM
PA PE PF PG PH PK PL PM PN PR PS PT PW PY
QA
RE RO RS RU RW
SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ
TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ
UA UG UM US UY UZ
VA VC VE VG VI VN VU
WF WS
YE YT
ZA ZM ZW
"""

#: Every officially assigned ISO 3166-1 alpha-2 code.
ISO_ALPHA2: frozenset[str] = frozenset(_CODES.split())

#: English short names (and the spellings found in public data sets) to codes,
#: for importers of files that carry country names instead of codes.
NAME_TO_CODE: dict[str, str] = {
    "united states": "US",
    "united states of america": "US",
    "usa": "US",
    "kenya": "KE",
    "philippines": "PH",
    "japan": "JP",
    "italy": "IT",
    "norway": "NO",
    "korea": "KR",
    "south korea": "KR",
    "republic of korea": "KR",
    "jordan": "JO",
    "brazil": "BR",
    "germany": "DE",
    "panama": "PA",
    "belgium": "BE",
    "romania": "RO",
    "poland": "PL",
    "china": "CN",
    "france": "FR",
    "united kingdom": "GB",
    "spain": "ES",
    "netherlands": "NL",
    "canada": "CA",
    "mexico": "MX",
    "india": "IN",
    "australia": "AU",
}


def is_country(code: str) -> bool:
    """True if ``code`` is an officially assigned ISO 3166-1 alpha-2 code."""
    return code in ISO_ALPHA2
