"""Pure judgement of an IAM credential report's root row: the audit side of CIS AWS Foundations 1.4
("no root user access key exists"), Security Hub control IAM.4 and Prowler's iam_no_root_access_key.

No AWS calls here. Everything that cannot be trusted (missing columns, no root row, unknown values, truncated
rows, binary or base64 content, a stale report) becomes an ERROR with a reason, never a PASS: Prowler's check
turns an unreadable report into "no finding", which is the failure mode this module exists to avoid.
"""

from __future__ import annotations

import base64
import binascii
import collections
import csv
import dataclasses
import enum
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

# AWS's column order (IAM User Guide, "Getting credential reports"). Only documentation and fixtures use the
# order: the parser reads columns by name, because AWS has added columns before.
AWS_COLUMNS: tuple[str, ...] = (
    "user",
    "arn",
    "user_creation_time",
    "password_enabled",
    "password_last_used",
    "password_last_changed",
    "password_next_rotation",
    "mfa_active",
    "access_key_1_active",
    "access_key_1_last_rotated",
    "access_key_1_last_used_date",
    "access_key_1_last_used_region",
    "access_key_1_last_used_service",
    "access_key_2_active",
    "access_key_2_last_rotated",
    "access_key_2_last_used_date",
    "access_key_2_last_used_region",
    "access_key_2_last_used_service",
    "cert_1_active",
    "cert_1_last_rotated",
    "cert_2_active",
    "cert_2_last_rotated",
)
KEY_SLOTS: tuple[int, ...] = (1, 2)
KEY_FIELDS: tuple[str, ...] = ("active", "last_rotated", "last_used_date", "last_used_region", "last_used_service")
REQUIRED_COLUMNS: tuple[str, ...] = ("user", "arn") + tuple(
    f"access_key_{slot}_{name}" for slot in KEY_SLOTS for name in KEY_FIELDS
)
ROOT_USER = "<root_account>"
NOT_AVAILABLE = "N/A"

# ASCII classes and whole-string matches only: \d also matches other scripts' digits and $ matches before a
# trailing newline, and AWS writes neither.
_ROOT_ARN = re.compile(r"arn:aws(?:-[a-z]+)*:iam::(?P<account>[0-9]{12}):root", re.ASCII)
# Any row of a credential report: the root, or an IAM user (a path of /-separated parts, then the name). A part
# holds no "/", so an ARN splits into parts one way only: with "/" allowed in a part, a long path that fails at its
# end is tried split every way, in time doubling with each part.
_ROW_ARN = re.compile(
    r"arn:aws(?:-[a-z]+)*:iam::(?P<account>[0-9]{12}):(?:root|user/(?:[\x21-\x2e\x30-\x7e]+/)*[A-Za-z0-9+=,.@_-]{1,64})", re.ASCII
)
ACCOUNT_ID = re.compile(r"[0-9]{12}", re.ASCII)
# Region names such as us-east-1, us-gov-west-1, ap-southeast-7, eusc-de-east-1.
_REGION = re.compile(r"[a-z]{2,4}(?:-[a-z0-9]+)+-[0-9]{1,2}", re.ASCII)
# Service namespaces as IAM prints them (s3, iam, sts, ec2, elasticloadbalancing, ...).
_SERVICE = re.compile(r"[a-z0-9][a-z0-9.-]{0,62}", re.ASCII)
# Matched after the whitespace is taken out: one pattern with whitespace both inside and after the padding
# backtracks in time quadratic in the length of a run of blanks.
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}", re.ASCII)
_ASCII_BLANKS = re.compile(r"[ \t\r\n]+", re.ASCII)
# IAM allows 5,000 users per account, a few hundred bytes a row: about 2 MiB. Anything far larger is not a
# credential report, and reading it whole would exhaust memory before it could be judged.
MAX_REPORT_BYTES = 64 * 1024 * 1024
# The report's timestamps as AWS writes them (2025-02-03T04:05:06+00:00). datetime.fromisoformat alone also takes
# week dates, the basic format and a space for the T, none of which AWS writes.
_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?(?:Z|[+-][0-9]{2}:[0-9]{2})", re.ASCII
)
_UTF8_BOM = "\ufeff"


class Status(enum.Enum):
    """A verdict. Ordered by how much it needs attention: ERROR outranks FAIL because an unevaluated account
    may hide a FAIL, and the run must never look healthier than its least-known account."""

    PASS = "PASS"
    WARN = "WARN"
    FAIL = "FAIL"
    ERROR = "ERROR"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Status.PASS: 0, Status.WARN: 1, Status.FAIL: 2, Status.ERROR: 3}


def worst(statuses: Iterable[Status]) -> Status:
    """The most severe status; an empty run is an ERROR because nothing was audited."""
    ranked = sorted(statuses, key=lambda status: status.rank)
    return ranked[-1] if ranked else Status.ERROR


class ReportError(Exception):
    """The report cannot be evaluated; str() is the reason shown to the operator."""


@dataclass(frozen=True)
class KeySlot:
    """One of the two access-key slots of the root user, as the report shows it."""

    slot: int
    active: bool
    last_rotated: str | None
    last_used_date: str | None
    last_used_region: str | None
    last_used_service: str | None

    @property
    def _traces(self) -> dict[str, str]:
        """The slot's fields that are not N/A, by column suffix."""
        values = {
            "last_rotated": self.last_rotated,
            "last_used_date": self.last_used_date,
            "last_used_region": self.last_used_region,
            "last_used_service": self.last_used_service,
        }
        return {name: value for name, value in values.items() if value is not None}

    @property
    def exists(self) -> bool:
        # Any field but N/A is a trace of a key: an empty slot is N/A throughout. An inactive key still exists
        # (and can be re-activated), so it is a finding too.
        return self.active or bool(self._traces)

    @property
    def contradiction(self) -> str | None:
        """Why an inactive slot's fields cannot describe one key as AWS writes it; None when they can.

        An active slot needs no such check: the flag alone proves an active key, which is a FAIL whatever else
        the row says."""
        if self.active or not self.exists:
            return None
        column = f"access_key_{self.slot}_"
        traces = self._traces
        if "last_rotated" not in traces:
            present = ", ".join(column + name for name in traces)
            return (
                f"root row access key {self.slot} is contradictory: {column}active is false and "
                f"{column}last_rotated is N/A, but {present} is set; AWS gives every existing key a rotation date, "
                "so whether this key exists is unknown"
            )
        if "last_used_date" not in traces and ({"last_used_region", "last_used_service"} & traces.keys()):
            present = ", ".join(column + name for name in ("last_used_region", "last_used_service") if name in traces)
            return (
                f"root row access key {self.slot} is contradictory: {present} is set but {column}last_used_date is "
                "N/A; AWS records where a key was used only with when"
            )
        return None

    def describe(self) -> str:
        state = "active" if self.active else "inactive"
        parts = [f"key {self.slot} ({state}", f"last rotated {self.last_rotated or 'unknown'}"]
        if self.last_used_date is None:
            parts.append("never used")
        else:
            where = " ".join(
                part
                for part in (
                    f"in {self.last_used_region}" if self.last_used_region else "",
                    f"by {self.last_used_service}" if self.last_used_service else "",
                )
                if part
            )
            parts.append(f"last used {self.last_used_date}" + (f" {where}" if where else ""))
        return ", ".join(parts) + ")"

    def to_dict(self) -> dict[str, object]:
        return {
            "slot": self.slot,
            "active": self.active,
            "last_rotated": self.last_rotated,
            "last_used_date": self.last_used_date,
            "last_used_region": self.last_used_region,
            "last_used_service": self.last_used_service,
        }


@dataclass(frozen=True)
class RootRow:
    """The validated root row of one report."""

    account_id: str
    arn: str
    keys: tuple[KeySlot, ...]


@dataclass(frozen=True)
class AccountResult:
    """The audit's verdict for one account, with the facts it rests on."""

    account_id: str | None
    status: Status
    message: str
    keys: tuple[KeySlot, ...] = ()
    report_generated_at: datetime | None = None
    reason: str | None = None
    remediation: tuple[str, ...] = field(default=())
    # The report's own root ARN, which names the partition; None where no report was read.
    root_arn: str | None = None

    @property
    def active_keys(self) -> tuple[KeySlot, ...]:
        return tuple(key for key in self.keys if key.active)

    @property
    def existing_keys(self) -> tuple[KeySlot, ...]:
        return tuple(key for key in self.keys if key.exists)

    def with_remediation(self, actions: Sequence[str]) -> AccountResult:
        return dataclasses.replace(self, remediation=tuple(actions))

    def to_dict(self) -> dict[str, object]:
        return {
            "account_id": self.account_id,
            "status": self.status.value,
            "message": self.message,
            "reason": self.reason,
            "root_keys": [key.to_dict() for key in self.keys],
            "active_key_count": len(self.active_keys),
            "report_generated_at": _iso(self.report_generated_at) if self.report_generated_at else None,
            "remediation_actions": list(self.remediation),
            "remediation_steps": list(remediation_steps(self)),
        }


# Every character that can end or rewrite a line on a terminal or in a mail client: C0 controls but tab, C1 (NEL is
# C1) and Unicode's line and paragraph separators.
_LINE_BREAKERS = {
    code: f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    for code in (*range(0x09), *range(0x0A, 0x20), *range(0x7F, 0xA0), 0x2028, 0x2029)
}


def one_line(text: str) -> str:
    """text with the characters that would break it into lines escaped, for line-oriented output (the text
    report, the SNS message). A message carries text from outside (a report's column names, an endpoint's error
    message): unescaped, a line break in it could forge a verdict line such as "Overall: PASS"."""
    return text.translate(_LINE_BREAKERS)


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _label(account_id: str | None) -> str:
    return f"Account {account_id}" if account_id else "The account"


def is_account_id(value: object) -> bool:
    """Twelve ASCII digits, as AWS writes an account id."""
    return isinstance(value, str) and ACCOUNT_ID.fullmatch(value) is not None


def error_result(account_id: str | None, reason: str) -> AccountResult:
    """ERROR verdict for an account whose report could not be fetched or trusted."""
    return AccountResult(
        account_id=account_id,
        status=Status.ERROR,
        message=f"{_label(account_id)}: the root access key audit could not be completed: {reason}",
        reason=reason,
    )


def decode_content(content: bytes | str) -> str:
    """Text of a credential report as GetCredentialReport's Content (already base64-decoded by the SDK) or a
    file written by `aws iam get-credential-report --query Content --output text | base64 --decode`."""
    if isinstance(content, (bytearray, memoryview)):
        content = bytes(content)
    if not isinstance(content, (bytes, str)):
        raise ReportError(f"the content is a {type(content).__name__}, not the report's bytes or text")
    if len(content) > MAX_REPORT_BYTES:
        raise ReportError(
            f"the content is over {MAX_REPORT_BYTES:,} {'bytes' if isinstance(content, bytes) else 'characters'}, "
            "far more than a credential report can be (IAM allows 5,000 users per account, about 2 MB)"
        )
    if isinstance(content, bytes):
        if content[:2] in (b"\xff\xfe", b"\xfe\xff"):
            # What PowerShell's `>` writes; the bytes are fine, the encoding is not what AWS produces.
            raise ReportError(
                "the content is UTF-16 text, not the UTF-8 CSV that AWS produces; save the decoded report as UTF-8 "
                "(e.g. base64 --decode > report.csv, or Out-File -Encoding utf8 in PowerShell)"
            )
        if content[:2] == b"\x1f\x8b":
            raise ReportError("the content is gzip-compressed binary data, not a CSV credential report")
        if b"\x00" in content:
            raise ReportError("the content is binary (it contains NUL bytes), not a CSV credential report")
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ReportError(
                f"the content is not UTF-8 text (invalid byte 0x{content[exc.start]:02x} at offset {exc.start}); "
                "a credential report is a UTF-8 CSV file"
            ) from None
    else:
        text = content
    if text.startswith(_UTF8_BOM):
        text = text[len(_UTF8_BOM) :]
    bad = next((ch for ch in text if (ch < " " and ch not in "\r\n\t") or ch == "\x7f"), None)
    if bad is not None:
        raise ReportError(
            f"the content is binary (it contains control character 0x{ord(bad):02x}), not a CSV credential report"
        )
    if not text.strip():
        raise ReportError("the credential report is empty")
    if text.lstrip().startswith("{") and '"Content"' in text:
        raise ReportError(
            "the content is the JSON answer of get-credential-report, not the report; extract and decode it "
            "(aws iam get-credential-report --query Content --output text | base64 --decode)"
        )
    _reject_base64(text)
    return text


def _reject_base64(text: str) -> None:
    first_line = text.lstrip().split("\n", 1)[0].strip()
    if "," in first_line:
        return
    compact = _ASCII_BLANKS.sub("", text)
    if not _BASE64.fullmatch(compact):
        return
    try:
        decoded = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return
    if decoded.lstrip(b"\xef\xbb\xbf").startswith(b"user"):
        raise ReportError(
            "the content is still base64-encoded; decode it first "
            "(aws iam get-credential-report --query Content --output text | base64 --decode)"
        )


def _optional(value: str) -> str | None:
    return None if value == NOT_AVAILABLE else value


def _is_timestamp(value: str) -> bool:
    if not _TIMESTAMP.fullmatch(value):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:  # well-formed but impossible, such as month 13
        return False
    return True


def _check_timestamp(column: str, value: str) -> None:
    if value == NOT_AVAILABLE or _is_timestamp(value):
        return
    expected = "expected N/A or an ISO 8601 timestamp"
    try:
        naive = datetime.fromisoformat(value).tzinfo is None
    except ValueError:
        naive = False
    raise ReportError(
        f"root row column {column} has unknown value {value!r}; {expected}" + (" with a UTC offset" if naive else "")
    )


def _check_pattern(column: str, value: str, pattern: re.Pattern[str], what: str) -> None:
    if value != NOT_AVAILABLE and not pattern.fullmatch(value):
        raise ReportError(f"root row column {column} has unknown value {value!r}; expected N/A or {what}")


_FLAG = ("true", "false")
# The root row's other columns as AWS writes them. They do not decide the verdict, but a value outside these
# means the row is not what AWS wrote (a cut inside the row, a hand edit), so the row cannot be trusted.
_ROOT_OTHER_COLUMNS: dict[str, tuple[tuple[str, ...], bool]] = {
    # column: (allowed literal values, whether an ISO 8601 timestamp is also allowed)
    "user_creation_time": ((), True),
    "password_enabled": (("not_supported", "true", "false"), False),
    "password_last_used": (("N/A", "no_information", "not_supported"), True),
    "password_last_changed": (("N/A", "not_supported"), True),
    "password_next_rotation": (("N/A", "not_supported"), True),
    "mfa_active": (_FLAG, False),
    "cert_1_active": (_FLAG, False),
    "cert_1_last_rotated": (("N/A",), True),
    "cert_2_active": (_FLAG, False),
    "cert_2_last_rotated": (("N/A",), True),
}


def _check_other_columns(row: dict[str, str]) -> None:
    for column, (literals, timestamp) in _ROOT_OTHER_COLUMNS.items():
        if column not in row:
            continue  # only the key columns are required; AWS may drop or add others
        value = row[column]
        if value in literals or (timestamp and _is_timestamp(value)):
            continue
        expected = " or ".join(list(literals) + (["an ISO 8601 timestamp"] if timestamp else []))
        raise ReportError(f"root row column {column} has unknown value {value!r}; expected {expected}")


def _key_slot(row: dict[str, str], slot: int) -> KeySlot:
    prefix = f"access_key_{slot}_"
    active = row[prefix + "active"]
    if active not in ("true", "false"):
        raise ReportError(f"root row column {prefix}active has unknown value {active!r}; expected true or false")
    _check_timestamp(prefix + "last_rotated", row[prefix + "last_rotated"])
    _check_timestamp(prefix + "last_used_date", row[prefix + "last_used_date"])
    _check_pattern(prefix + "last_used_region", row[prefix + "last_used_region"], _REGION, "an AWS region name")
    _check_pattern(
        prefix + "last_used_service", row[prefix + "last_used_service"], _SERVICE, "an AWS service namespace"
    )
    return KeySlot(
        slot=slot,
        active=active == "true",
        last_rotated=_optional(row[prefix + "last_rotated"]),
        last_used_date=_optional(row[prefix + "last_used_date"]),
        last_used_region=_optional(row[prefix + "last_used_region"]),
        last_used_service=_optional(row[prefix + "last_used_service"]),
    )


def parse_root_row(text: str) -> RootRow:
    """Find and validate the root row of a decoded report; raise ReportError saying why it cannot be trusted.

    Rows are read one at a time and only root candidates are kept, so a report near MAX_REPORT_BYTES costs about
    its own size in memory. Every row must be the root's or an IAM user's of one account: a second header (two
    reports joined) or another account's rows would otherwise be read under the wrong columns.
    """
    reader = csv.reader(_lines(text), strict=True)
    header: list[str] | None = None
    roots: list[dict[str, str]] = []
    account: str | None = None
    try:
        for number, row in enumerate(reader, start=1):
            if not row:
                continue  # blank lines carry nothing (a trailing newline, CRLF leftovers)
            if header is None:
                header = _checked_header(row)
                user_at, arn_at = header.index("user"), header.index("arn")
                continue
            if len(row) != len(header):
                raise ReportError(
                    f"line {number} has {len(row)} field(s) but the header has {len(header)}; the report is truncated "
                    "or corrupt"
                )
            is_root = row[user_at] == ROOT_USER or row[arn_at].endswith(":root")
            match = _ROW_ARN.fullmatch(row[arn_at])
            if match is None and not is_root:  # a root row's own checks below say what is wrong with it
                # repr: a quoted field can hold a line break, which would forge lines of the text report.
                raise ReportError(
                    f"line {number} has arn {shown(row[arn_at])}, which is neither the root's nor an IAM user's; the "
                    "report is corrupt"
                )
            if match is not None and account is None:
                account = match.group("account")
            elif match is not None and match.group("account") != account:
                raise ReportError(
                    f"line {number} is of account {match.group('account')} but earlier lines are of {account}; a "
                    "credential report holds one account"
                )
            if is_root:
                roots.append(dict(zip(header, row)))
    except csv.Error as exc:
        raise ReportError(f"the credential report is not valid CSV: {exc}") from None
    if header is None:
        raise ReportError("the credential report is empty")
    if not roots:
        raise ReportError(f"the credential report has no root row (user {ROOT_USER} or an ARN ending in :root)")
    if len(roots) > 1:
        raise ReportError(f"the credential report has {len(roots)} root rows; expected exactly one")
    root = roots[0]
    match = _ROOT_ARN.fullmatch(root["arn"])
    if not match:
        raise ReportError(
            f"root row column arn has unknown value {root['arn']!r}; expected arn:<partition>:iam::<12 digits>:root"
        )
    if root["user"] != ROOT_USER:
        raise ReportError(f"root row column user has unknown value {root['user']!r}; expected {ROOT_USER}")
    keys = tuple(_key_slot(root, slot) for slot in KEY_SLOTS)
    _check_other_columns(root)
    return RootRow(account_id=match.group("account"), arn=root["arn"], keys=keys)


def _lines(text: str) -> Iterator[str]:
    """The text's lines with their endings, one at a time. A StringIO over it would hold the whole text again, at
    four bytes a character once read; AWS ends lines with \n (a \r before it is the CSV's own line ending)."""
    start, size = 0, len(text)
    while start < size:
        end = text.find("\n", start) + 1 or size
        yield text[start:end]
        start = end


def _checked_header(row: list[str]) -> list[str]:
    header = [name.strip() for name in row]
    # Counted once, not with list.count per name, which is quadratic in a header of a million empty columns.
    duplicates = sorted(name for name, seen in collections.Counter(header).items() if seen > 1)
    if duplicates:
        # repr: a quoted column name can hold a line break, which would forge lines of the text report.
        raise ReportError(f"the header repeats column(s) {', '.join(map(repr, duplicates))}")
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise ReportError(
            f"the header lacks column(s) {', '.join(missing)}; a credential report has {', '.join(REQUIRED_COLUMNS)}"
        )
    return header


_INTEGER = re.compile(r"-?[0-9]+", re.ASCII)
# int() refuses more than 4,300 digits with a message of its own; a number this long is out of any range here.
_MAX_DIGITS = 20


def bounded_int(text: str, low: int, high: int) -> int | str:
    """`text` as an integer from low to high, or why not: "not an integer" (int() alone also takes other scripts'
    digits, blanks and "1_0") or "out of range". The CLI's flags and the Lambda's settings read numbers alike."""
    if not _INTEGER.fullmatch(text):
        return "not an integer"
    if len(text) > _MAX_DIGITS or not low <= int(text) <= high:
        return "out of range"
    return int(text)


def shown(value: str, limit: int = 64) -> str:
    """A value from outside in a message: its repr, cut short. A value can be megabytes (or 5,000 digits): the
    message names it, it does not repeat it."""
    return repr(value) if len(value) <= limit else repr(value[:limit]) + f"... ({len(value)} characters)"


def verdict(
    content: bytes | str,
    *,
    expected_account_id: str | None = None,
    generated_at: datetime | None = None,
    now: datetime | None = None,
    max_age: timedelta | None = None,
) -> AccountResult:
    """The account's verdict from one credential report.

    expected_account_id: the account the report was fetched from; a report of another account is an ERROR.
    generated_at / max_age: a report older than max_age is an ERROR, because AWS serves a cached report for up to
    4 hours and a stale PASS could hide a key created since. Without generated_at (an offline file) age is not
    checked and the message says so.
    """
    if expected_account_id is not None and not is_account_id(expected_account_id):
        return error_result(expected_account_id, f"account id {expected_account_id!r} is not 12 digits")
    try:
        root = parse_root_row(decode_content(content))
    except ReportError as exc:
        return error_result(expected_account_id, str(exc))
    if expected_account_id is not None and root.account_id != expected_account_id:
        return error_result(
            expected_account_id,
            f"the credential report's root row is for account {root.account_id}, not {expected_account_id}",
        )
    account = root.account_id
    if generated_at is not None:
        if generated_at.tzinfo is None:
            return error_result(account, f"the report generation time {generated_at.isoformat()} has no time zone")
        current = now or datetime.now(timezone.utc)
        try:
            generated_at = generated_at.astimezone(timezone.utc)
            age = current - generated_at
        except (OverflowError, TypeError) as exc:  # year 1 at UTC+14 is before datetime.min in UTC
            return error_result(account, f"the report generation time {generated_at!r} cannot be compared with now ({exc})")
        if age < -timedelta(minutes=5):
            return error_result(
                account, f"the credential report claims to be generated in the future ({_iso(generated_at)})"
            )
        if max_age is not None and age > max_age:
            return error_result(
                account,
                f"the credential report was generated at {_iso(generated_at)}, {_hours(age)} ago, which is older "
                f"than the {_hours(max_age)} limit",
            )
    when = (
        f"credential report generated {_iso(generated_at)}"
        if generated_at is not None
        else "credential report generation time unknown, so its age was not checked"
    )
    active = [key for key in root.keys if key.active]
    inactive = [key for key in root.keys if key.exists and not key.active]
    contradictions = [key.contradiction for key in root.keys if key.contradiction]
    # An active flag proves the finding whatever the other slot says: such an account is FAIL, so its key counts
    # in the FAIL metric and Security Hub's FAILED; the contradiction is still named. Without one it is ERROR.
    if contradictions and not active:
        return dataclasses.replace(
            error_result(account, "; ".join(contradictions)),
            keys=root.keys, report_generated_at=generated_at, root_arn=root.arn,
        )
    if active:
        status = Status.FAIL
        message = f"{_label(account)}: FAIL, the root user has {_count(active, 'active')} ({_details(active)}); {when}."
        if contradictions:
            message += f" The report is also inconsistent: {'; '.join(contradictions)}."
    elif inactive:
        status = Status.WARN
        message = (
            f"{_label(account)}: WARN, the root user has no active access key but {_count(inactive, 'inactive')} "
            f"that must be deleted, not only deactivated ({_details(inactive)}); {when}."
        )
    else:
        status = Status.PASS
        message = f"{_label(account)}: PASS, the root user has no access keys; {when}."
    return AccountResult(
        account_id=account, status=status, message=message, keys=root.keys, report_generated_at=generated_at,
        root_arn=root.arn,
    )


def _count(keys: Sequence[KeySlot], state: str) -> str:
    return f"{len(keys)} {state} access key" + ("" if len(keys) == 1 else "s")


def _details(keys: Sequence[KeySlot]) -> str:
    return "; ".join(key.describe() for key in keys)


def _hours(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.1f} h"


def remediation_steps(result: AccountResult) -> tuple[str, ...]:
    """What a person does next, for the text output and the SNS message."""
    account = result.account_id or "<account id>"
    if result.status in (Status.FAIL, Status.WARN):
        slots = ", ".join(str(key.slot) for key in result.existing_keys)
        return (
            f"Delete root access key slot(s) {slots} of account {account}: sign in as the root user, open "
            "Security credentials, and under Access keys choose Actions > Delete for every key (deactivating is "
            "not enough: CIS 1.4 requires that no root access key exists).",
            "With centralized root access (AWS Organizations), from the management or delegated admin account: "
            f"aws sts assume-root --target-principal {account} --task-policy-arn "
            "arn=arn:aws:iam::aws:policy/root-task/IAMDeleteRootUserCredentials, then with those credentials "
            "aws iam list-access-keys and aws iam delete-access-key --access-key-id <id> for each key "
            "(or run this audit with remediation enabled).",
            "Find out who used the key and why (CloudTrail, last used date and service above) and move that "
            "workload to an IAM role.",
            "Verify: generate a new credential report (AWS may serve a cached one for up to 4 hours) and rerun "
            "the audit.",
        )
    if result.status is Status.ERROR:
        target = f" for account {result.account_id}" if result.account_id else ""
        return (
            f"Fix the cause above{target} and rerun the audit; until it passes, treat the account as possibly "
            "having an active root access key.",
        )
    return ()
