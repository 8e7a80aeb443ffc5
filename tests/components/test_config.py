"""Config validation: every bad value stops the program with one clear message and registers nothing."""

from __future__ import annotations

import json
from datetime import date

import pytest
import yaml

from components.config import (
    CONFIG_KEYS,
    ConfigError,
    GuardrailsConfig,
    TrailMode,
    check_environment,
    environment_warnings,
    parse_config,
)
from components.context import Organization
from preflight.engine import ProgramError, project_config_defaults, run_program
from tests.components.support import PROJECT_DIR, encode, key, program

SCP_TARGET_RULE = (
    "each target must be a root id r-[0-9a-z]{4,32}, an OU id ou-[0-9a-z]{4,32}-[a-z0-9]{8,32} "
    "or a 12-digit account id"
)
HOOK = "https://hooks.example.com/services/T000/B000/T0KEN"
LIST_RULE = "must be a list of strings (in YAML a list, on the command line a JSON array)"
RETENTION_RULE = ("must be one of the values CloudWatch Logs accepts: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, "
                  "400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653")
PERIOD_RULE = ("must be 10, 30, 60, 120, 180, 240 or 300 seconds (a root access key must alarm within minutes: the "
               "policy pack's detection policies refuse a period above their maxAlarmPeriodSeconds, 300)")
REPORT_AGE_RULE = ("must be a whole number of hours from 5 to 24 (AWS serves a cached credential report for up to "
                   "4 hours)")


def _parse(overrides: dict[str, object]) -> GuardrailsConfig:
    raw = {key(k): encode(v) for k, v in overrides.items()}
    return parse_config(raw.get, raw)


def test_config_no_values_gives_the_declared_defaults() -> None:
    assert _parse({}) == GuardrailsConfig()


def test_config_project_file_defaults_match_code_defaults() -> None:
    # The CLI passes Pulumi.yaml defaults; the code has the same ones for runs without them. They must agree.
    _, defaults = project_config_defaults(PROJECT_DIR)
    assert parse_config(defaults.get) == GuardrailsConfig()
    declared = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())["config"]
    assert tuple(declared) == CONFIG_KEYS
    assert all({"type", "default", "description"} <= set(spec) for spec in declared.values())


def test_config_example_stack_file_is_valid() -> None:
    example = yaml.safe_load((PROJECT_DIR / "Pulumi.example.yaml").read_text())["config"]
    ours = {k: encode(v) for k, v in example.items() if k.startswith("root-key-guardrails:")}
    config = parse_config(ours.get)
    assert config.scp_targets == ("ou-a1b2-workload1", "ou-a1b2-sandbox01")
    assert config.audit_org_role_name == "RootKeyAuditReader"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"scpTargets": ["ou-a1b2-workload1", "r-z9y8", "123456789012"]},
         {"scp_targets": ("ou-a1b2-workload1", "r-z9y8", "123456789012")}),
        ({"trailMode": "existing", "existingLogGroupName": "aws-controltower/CloudTrailLogs"},
         {"trail_mode": TrailMode.EXISTING, "existing_log_group_name": "aws-controltower/CloudTrailLogs"}),
        ({"auditSchedule": "cron(0 */4 * * ? *)"}, {"audit_schedule": "cron(0 */4 * * ? *)"}),
        ({"auditSchedule": "rate(12 hours)"}, {"audit_schedule": "rate(12 hours)"}),
        ({"auditSchedule": "cron(0 0,12 * * ? *)"}, {"audit_schedule": "cron(0 0,12 * * ? *)"}),
        ({"auditSchedule": "cron(0/30 * ? * SUN-SAT *)"}, {"audit_schedule": "cron(0/30 * ? * SUN-SAT *)"}),
        ({"alarmPeriodSeconds": 10}, {"alarm_period_seconds": 10}),
        ({"alarmPeriodSeconds": 300}, {"alarm_period_seconds": 300}),
        ({"alarmPeriodSeconds": 240}, {"alarm_period_seconds": 240}),
        ({"logRetentionDays": 3653}, {"log_retention_days": 3653}),
        ({"alarmEmails": ["sec.ops+aws@mail.example.co.uk"]}, {"alarm_emails": ("sec.ops+aws@mail.example.co.uk",)}),
        # The longest local part RFC 5321 allows, and two addresses that differ in more than case.
        ({"alarmEmails": ["a" * 64 + "@example.com"]}, {"alarm_emails": ("a" * 64 + "@example.com",)}),
        ({"alarmEmails": ["secops@example.com", "secops@example.org"]},
         {"alarm_emails": ("secops@example.com", "secops@example.org")}),
        # A port other than 443, a query, an internationalized host in its xn-- form, a path differing in case only
        # (paths are case-sensitive).
        ({"alarmHttpsEndpoints": ["https://hooks.example.com:8443/h?team=sec"]},
         {"alarm_https_endpoints": ("https://hooks.example.com:8443/h?team=sec",)}),
        ({"alarmHttpsEndpoints": ["https://xn--bcher-kva.example.com/hook"]},
         {"alarm_https_endpoints": ("https://xn--bcher-kva.example.com/hook",)}),
        # A fully qualified host, ending in the root's dot.
        ({"alarmHttpsEndpoints": ["https://hooks.example.com./hook"]},
         {"alarm_https_endpoints": ("https://hooks.example.com./hook",)}),
        ({"alarmHttpsEndpoints": ["https://hooks.example.com/A", "https://hooks.example.com/a"]},
         {"alarm_https_endpoints": ("https://hooks.example.com/A", "https://hooks.example.com/a")}),
        ({"metricNamespace": "Security/Root Keys#1"}, {"metric_namespace": "Security/Root Keys#1"}),
        ({"auditOrgRoleName": "OrganizationAccountAccessRoleReader"},
         {"audit_org_role_name": "OrganizationAccountAccessRoleReader"}),

        ({"auditRemediate": True, "auditOrgRoleName": "Audit", "enableCentralizedRootAccess": True},
         {"audit_remediate": True, "audit_org_role_name": "Audit", "enable_centralized_root_access": True}),
        # The CLI passes Pulumi.yaml's defaults as set values: a dependent key at its default is never in the way.
        ({"enableAudit": False, "auditSchedule": "rate(1 hour)", "auditSecurityHub": True},
         {"enable_audit": False, "audit_schedule": "rate(1 hour)"}),
        ({"enableDetection": False, "cisRootUsageAlarm": True, "trailMode": "organization"},
         {"enable_detection": False, "cis_root_usage_alarm": True}),
        # A part switched off beside the switch that already turns it off is accepted: it says the same thing twice.
        ({"enableDetection": False, "cisRootUsageAlarm": False, "eventBridgeDetection": False},
         {"cis_root_usage_alarm": False, "event_bridge_detection": False}),
        ({"enableAudit": False, "auditSecurityHub": False}, {"audit_security_hub": False}),
        ({"enableDetection": False, "enableAudit": False, "enableDashboard": False}, {"enable_dashboard": False}),
        ({"memberStackSet": False}, {"member_stack_set": False}),
    ],
)
def test_config_valid_value_parses(overrides: dict[str, object], expected: dict[str, object]) -> None:
    config = _parse(overrides)
    assert {field: getattr(config, field) for field in expected} == expected


_GAP_LIMIT = ("at most 12 hours are allowed, because the audit alarm's period is two gaps and CloudWatch caps a "
              "period at one day")


def _line(name: str, shown: str, allowed: str) -> str:
    return f"  root-key-guardrails:{name} = {shown}: {allowed}"


NAMESPACE_REFUSED = ("must not contain :, * or $ (the metric filters use it as their metric namespace, where "
                     "CloudWatch Logs refuses them)")
HOST_RULE = ("each entry must name its host by a DNS name: ASCII only (an internationalized name in its xn-- form), at "
             "least two dot-separated labels of 1-63 letters, digits and hyphens, none starting or ending with a "
             "hyphen, at most 253 characters")
PRIVATE_NAMES = "(.localhost, .local, .internal, .invalid, .test, .onion, .home.arpa), which SNS never reaches"
EMAIL_LENGTH_RULE = ("each entry must have at most 64 characters before the @ and 254 in all (RFC 5321: a longer "
                     "address is never delivered)")
SAME_URL = ("a URL's scheme and host name are compared ignoring case (and :443 is https's port), so both name one "
            "endpoint")
ROLE_OF_ITS_OWN = ("(IAM compares role names ignoring case): the audit function may sts:AssumeRole this role in every "
                   "account of the organization, and the member StackSet's reader role would collide with it; use a "
                   "dedicated name such as RootKeyAuditReader")


IP_RULE = ("each entry must name its host by a public DNS name, not an IP address (SNS delivers to public endpoints, "
           "whose certificate names their host; loopback, link-local and private addresses never get a delivery)")


def _admin_role(name: str) -> str:
    return (f"must name a role of its own, not {name}, an administrator role that already exists in member accounts "
            f"{ROLE_OF_ITS_OWN}")


def _reserved_role(prefix: str) -> str:
    return (f"must name a role of its own, not a role name starting {prefix}, which AWS uses for roles it creates and "
            f"manages {ROLE_OF_ITS_OWN}")


BAD_INPUTS = [
    pytest.param({"enableScp": "yes"}, [_line("enableScp", '"yes"', "must be true or false")], id="bool"),
    pytest.param({"enableDashboard": "on"}, [_line("enableDashboard", '"on"', "must be true or false")],
                 id="bool-dashboard"),
    pytest.param({"scpTargets": ["r-AB12"]}, [_line("scpTargets", '"r-AB12"', SCP_TARGET_RULE)], id="root-id"),
    pytest.param({"scpTargets": ["ou-ab12"]}, [_line("scpTargets", '"ou-ab12"', SCP_TARGET_RULE)], id="ou-id"),
    pytest.param({"scpTargets": ["12345678901"]}, [_line("scpTargets", '"12345678901"', SCP_TARGET_RULE)],
                 id="account-11-digits"),
    pytest.param({"scpTargets": "ou-a1b2-workload1"}, [_line("scpTargets", '"ou-a1b2-workload1"', LIST_RULE)],
                 id="targets-not-a-list"),
    pytest.param({"scpTargets": ["r-z9y8", "r-z9y8"]},
                 [_line("scpTargets", '["r-z9y8", "r-z9y8"]', "must not list the same value twice (r-z9y8)")],
                 id="targets-duplicate"),
    pytest.param({"trailMode": "cloud"}, [_line("trailMode", '"cloud"', "must be one of organization, account, existing")],
                 id="trail-mode"),
    pytest.param({"trailMode": "existing"},
                 [_line("existingLogGroupName", '""', "must name the trail's log group when trailMode is existing")],
                 id="existing-without-name"),
    pytest.param({"trailMode": "existing", "existingLogGroupName": "arn:aws:logs:us-east-1:111122223333:log-group:x:*"},
                 [_line("existingLogGroupName", '"arn:aws:logs:us-east-1:111122223333:log-group:x:*"',
                        "must be the log group's name, not its ARN (the part after log-group:, without :*)")],
                 id="log-group-arn"),
    pytest.param({"trailMode": "existing", "existingLogGroupName": "trail logs"},
                 [_line("existingLogGroupName", '"trail logs"',
                        "must be a CloudWatch log group name: 1-512 characters from A-Z a-z 0-9 . - _ / #")],
                 id="log-group-name"),
    pytest.param({"logRetentionDays": 366}, [_line("logRetentionDays", '"366"', RETENTION_RULE)], id="retention"),
    # Not a whole number: the same allowed set as a number out of range, not a bare "must be a whole number".
    pytest.param({"logRetentionDays": "1y"}, [_line("logRetentionDays", '"1y"', RETENTION_RULE)],
                 id="retention-not-a-number"),
    pytest.param({"logRetentionDays": "365.0"}, [_line("logRetentionDays", '"365.0"', RETENTION_RULE)],
                 id="retention-decimal"),
    pytest.param({"alarmPeriodSeconds": "5m"}, [_line("alarmPeriodSeconds", '"5m"', PERIOD_RULE)],
                 id="period-not-a-number"),
    pytest.param({"auditMaxReportAgeHours": "5.5"}, [_line("auditMaxReportAgeHours", '"5.5"', REPORT_AGE_RULE)],
                 id="report-age-not-a-number"),
    pytest.param({"metricNamespace": "AWS/Root"},
                 [_line("metricNamespace", '"AWS/Root"', "must not start with AWS/ (reserved for AWS services)")],
                 id="namespace-reserved"),
    pytest.param({"metricNamespace": "Root*Keys"}, [_line("metricNamespace", '"Root*Keys"', NAMESPACE_REFUSED)],
                 id="namespace-star"),
    pytest.param({"metricNamespace": "Root!Keys"},
                 [_line("metricNamespace", '"Root!Keys"',
                        "must be 1-255 characters from A-Z a-z 0-9 . - _ / # and space, not only spaces")],
                 id="namespace-chars"),
    pytest.param({"alarmPeriodSeconds": 90}, [_line("alarmPeriodSeconds", '"90"', PERIOD_RULE)], id="period"),
    # Valid for CloudWatch, refused by the policy pack's detection policies (maxAlarmPeriodSeconds 300).
    pytest.param({"alarmPeriodSeconds": 360}, [_line("alarmPeriodSeconds", '"360"', PERIOD_RULE)], id="period-over-300"),
    pytest.param({"alarmPeriodSeconds": 86400}, [_line("alarmPeriodSeconds", '"86400"', PERIOD_RULE)],
                 id="period-one-day"),
    pytest.param({"alarmEmails": ["secops@"]},
                 [_line("alarmEmails", '"secops@"', "each entry must be an e-mail address like secops@example.com")],
                 id="email"),
    pytest.param({"alarmHttpsEndpoints": ["http://alerts.example.com/hook"]},
                 [_line("alarmHttpsEndpoints", '"http://alerts.example.com/hook"', "each entry must be an https:// URL")],
                 id="https-scheme"),
    pytest.param({"alarmHttpsEndpoints": ["https://bot:s3cret@alerts.example.com/hook"]},
                 [_line("alarmHttpsEndpoints", '"https://bot:s3cret@alerts.example.com/hook"',
                        "each entry must not embed credentials (stack config is not a secret store)")],
                 id="https-credentials"),
    pytest.param({"auditSchedule": "every hour"},
                 [_line("auditSchedule", '"every hour"', "must be an EventBridge schedule expression: "
                        "rate(<n> <minute(s)|hour(s)|day(s)>) or cron(<6 fields>)")],
                 id="schedule-syntax"),
    pytest.param({"auditSchedule": "rate(1 hours)"},
                 [_line("auditSchedule", '"rate(1 hours)"', "rate() uses a singular unit for 1 and a plural unit "
                        "otherwise, e.g. rate(1 hour), rate(2 hours)")],
                 id="schedule-rate-unit"),
    pytest.param({"auditSchedule": "rate(2 days)"},
                 [_line("auditSchedule", '"rate(2 days)"', "leaves up to 2 days between runs; " + _GAP_LIMIT)],
                 id="schedule-rate-too-slow"),
    pytest.param({"auditSchedule": "cron(0 12 * * * *)"},
                 [_line("auditSchedule", '"cron(0 12 * * * *)"',
                        "cron() needs ? in exactly one of day-of-month and day-of-week")],
                 id="schedule-cron-question-mark"),
    pytest.param({"auditSchedule": "cron(0 12 ? * MON *)"},
                 [_line("auditSchedule", '"cron(0 12 ? * MON *)"', "leaves up to 7 days between runs; " + _GAP_LIMIT)],
                 id="schedule-cron-weekly"),
    # Every two hours on weekdays: Friday 22:00 to Monday 00:00 UTC is the real gap, not two hours.
    pytest.param({"auditSchedule": "cron(0 */2 ? * MON-FRI *)"},
                 [_line("auditSchedule", '"cron(0 */2 ? * MON-FRI *)"',
                        "leaves up to 2 days 2 hours between runs; " + _GAP_LIMIT)],
                 id="schedule-cron-weekdays"),
    pytest.param({"auditSchedule": "cron(0 0,12 * * ? 2020-2021)"},
                 [_line("auditSchedule", '"cron(0 0,12 * * ? 2020-2021)"', "cron() never runs from "
                        f"{date.today().isoformat()} on")],
                 id="schedule-cron-past-years"),
    pytest.param({"auditSchedule": "cron(0 8 ? * 8 *)"},
                 [_line("auditSchedule", '"cron(0 8 ? * 8 *)"', "cron() day-of-week field has 8, outside 1-7")],
                 id="schedule-cron-dow-range"),
    pytest.param({"auditSchedule": "cron(60 * * * ? *)"},
                 [_line("auditSchedule", '"cron(60 * * * ? *)"', "cron() minutes field has 60, outside 0-59")],
                 id="schedule-cron-minute-range"),
    pytest.param({"auditSchedule": "cron(0 * * * ?)"},
                 [_line("auditSchedule", '"cron(0 * * * ?)"', "cron() takes six space-separated fields: minutes "
                        "hours day-of-month month day-of-week year")],
                 id="schedule-cron-five-fields"),
    pytest.param({"auditOrgRoleName": "audit role"},
                 [_line("auditOrgRoleName", '"audit role"',
                        "must be empty or an IAM role name: 1-64 characters from A-Z a-z 0-9 + = , . @ _ -")],
                 id="role-name"),
    pytest.param({"auditMaxReportAgeHours": 4}, [_line("auditMaxReportAgeHours", '"4"', REPORT_AGE_RULE)],
                 id="report-age"),
    pytest.param({"auditOrgRoleName": "RootKeyAuditReader", "memberStackSetTargets": ["444455556666"]},
                 [_line("memberStackSetTargets", '"444455556666"', "each target must be a root id r-[0-9a-z]{4,32} or "
                        "an OU id ou-[0-9a-z]{4,32}-[a-z0-9]{8,32} (a service-managed StackSet deploys to "
                        "organizational units, not to single accounts)")],
                 id="stack-set-target-account"),
    # CloudWatch Logs refuses :, * and $ in a metric transformation's namespace: the provider would refuse every
    # metric filter, with an error naming no config key.
    pytest.param({"metricNamespace": "Security:RootKeys"},
                 [_line("metricNamespace", '"Security:RootKeys"', NAMESPACE_REFUSED)], id="namespace-colon"),
    pytest.param({"metricNamespace": ":RootKeys"}, [_line("metricNamespace", '":RootKeys"', NAMESPACE_REFUSED)],
                 id="namespace-leading-colon"),
    pytest.param({"metricNamespace": "Root$Keys"}, [_line("metricNamespace", '"Root$Keys"', NAMESPACE_REFUSED)],
                 id="namespace-dollar"),
    # Endpoints SNS can never deliver to: each would count as a subscriber and silence the no-subscriber warning.
    pytest.param({"alarmHttpsEndpoints": ["https://x.example.com\u0000/hook"]},
                 [_line("alarmHttpsEndpoints", '"https://x.example.com\\u0000/hook"',
                        "each entry must not contain control or invisible formatting characters")], id="https-nul"),
    pytest.param({"alarmHttpsEndpoints": ["https://ex\u0430mple.com/hook"]},
                 [_line("alarmHttpsEndpoints", '"https://ex\\u0430mple.com/hook"', HOST_RULE)], id="https-lookalike-host"),
    pytest.param({"alarmHttpsEndpoints": ["https://a..b/hook"]},
                 [_line("alarmHttpsEndpoints", '"https://a..b/hook"', HOST_RULE)], id="https-empty-label"),
    pytest.param({"alarmHttpsEndpoints": ["https://-bad-.example.com/hook"]},
                 [_line("alarmHttpsEndpoints", '"https://-bad-.example.com/hook"', HOST_RULE)], id="https-hyphen-label"),
    pytest.param({"alarmHttpsEndpoints": ["https://intranet/hook"]},
                 [_line("alarmHttpsEndpoints", '"https://intranet/hook"', HOST_RULE)], id="https-single-label"),
    pytest.param({"alarmHttpsEndpoints": ["https://alerts.corp.internal/hook"]},
                 [_line("alarmHttpsEndpoints", '"https://alerts.corp.internal/hook"',
                        "each entry must name a host public DNS resolves, not one under a name reserved for local or "
                        "private use " + PRIVATE_NAMES)], id="https-private-name"),
    pytest.param({"alarmHttpsEndpoints": ["https://x.example.com:0/hook"]},
                 [_line("alarmHttpsEndpoints", '"https://x.example.com:0/hook"',
                        "each entry must have a port from 1 to 65535 (or none, for 443)")], id="https-port-zero"),
    pytest.param({"alarmHttpsEndpoints": ["https://127.0.0.1/hook"]},
                 [_line("alarmHttpsEndpoints", '"https://127.0.0.1/hook"', IP_RULE)], id="https-loopback"),
    pytest.param({"alarmHttpsEndpoints": ["https://169.254.169.254/latest"]},
                 [_line("alarmHttpsEndpoints", '"https://169.254.169.254/latest"', IP_RULE)],
                 id="https-link-local"),
    pytest.param({"alarmHttpsEndpoints": ["https://10.1.2.3/hook"]},
                 [_line("alarmHttpsEndpoints", '"https://10.1.2.3/hook"', IP_RULE)], id="https-private-ip"),
    pytest.param({"alarmHttpsEndpoints": ["https://[::1]/hook"]},
                 [_line("alarmHttpsEndpoints", '"https://[::1]/hook"', IP_RULE)], id="https-ipv6-loopback"),
    pytest.param({"alarmHttpsEndpoints": ["https://hooks.example.com/p\u00e4th"]},
                 [_line("alarmHttpsEndpoints", '"https://hooks.example.com/p\\u00e4th"',
                        "each entry must be ASCII: percent-encode other characters of the path or query")],
                 id="https-non-ascii-path"),
    pytest.param({"alarmHttpsEndpoints": ["https://Hooks.example.com/h", "https://hooks.example.com/h"]},
                 [_line("alarmHttpsEndpoints", '["https://Hooks.example.com/h", "https://hooks.example.com/h"]',
                        "must not list the same value twice (https://Hooks.example.com/h and "
                        f"https://hooks.example.com/h); {SAME_URL}")], id="https-duplicate-host-case"),
    pytest.param({"alarmHttpsEndpoints": ["https://hooks.example.com:443/h", "https://hooks.example.com/h"]},
                 [_line("alarmHttpsEndpoints", '["https://hooks.example.com:443/h", "https://hooks.example.com/h"]',
                        "must not list the same value twice (https://hooks.example.com:443/h and "
                        f"https://hooks.example.com/h); {SAME_URL}")], id="https-duplicate-default-port"),
    pytest.param({"alarmEmails": ["a" * 65 + "@example.com"]},
                 [_line("alarmEmails", '"' + "a" * 65 + '@example.com"', EMAIL_LENGTH_RULE)], id="email-local-part-65"),
    pytest.param({"alarmEmails": ["a" * 200 + "@example.com"]},
                 [_line("alarmEmails", '"' + "a" * 200 + '@example.com"', EMAIL_LENGTH_RULE)], id="email-local-part-200"),
    pytest.param({"alarmEmails": ["a" * 64 + "@" + ("b" * 62 + ".") * 3 + "com"]},  # 257 characters
                 [_line("alarmEmails", '"' + "a" * 64 + "@" + ("b" * 62 + ".") * 3 + 'com"', EMAIL_LENGTH_RULE)],
                 id="email-over-254"),
    pytest.param({"alarmEmails": ["SecOps@example.com", "secops@EXAMPLE.COM"]},
                 [_line("alarmEmails", '["SecOps@example.com", "secops@EXAMPLE.COM"]',
                        "must not list the same value twice (SecOps@example.com and secops@EXAMPLE.COM); SNS compares "
                        "e-mail addresses ignoring case, so both name one subscriber")], id="email-duplicate-case"),
    # Administrator roles that already exist in member accounts, and names AWS keeps for its own roles: the audit
    # function would be allowed to assume them everywhere.
    pytest.param({"auditOrgRoleName": "OrganizationAccountAccessRole"},
                 [_line("auditOrgRoleName", '"OrganizationAccountAccessRole"', _admin_role("OrganizationAccountAccessRole"))],
                 id="role-organizations-admin"),
    pytest.param({"auditOrgRoleName": "AWSControlTowerExecution"},
                 [_line("auditOrgRoleName", '"AWSControlTowerExecution"', _admin_role("AWSControlTowerExecution"))],
                 id="role-control-tower-admin"),
    pytest.param({"auditOrgRoleName": "organizationaccountaccessrole"},
                 [_line("auditOrgRoleName", '"organizationaccountaccessrole"',
                        _admin_role("OrganizationAccountAccessRole"))], id="role-admin-other-case"),
    pytest.param({"auditOrgRoleName": "AWSCloudFormationStackSetExecutionRole"},
                 [_line("auditOrgRoleName", '"AWSCloudFormationStackSetExecutionRole"',
                        _admin_role("AWSCloudFormationStackSetExecutionRole"))], id="role-stack-set-execution"),
    pytest.param({"auditOrgRoleName": "AWSReservedSSO_AdministratorAccess_0123456789abcdef"},
                 [_line("auditOrgRoleName", '"AWSReservedSSO_AdministratorAccess_0123456789abcdef"',
                        _reserved_role("AWSReservedSSO_"))], id="role-identity-center"),
    pytest.param({"auditOrgRoleName": "AWSServiceRoleForOrganizations"},
                 [_line("auditOrgRoleName", '"AWSServiceRoleForOrganizations"', _reserved_role("AWSServiceRoleFor"))],
                 id="role-service-linked"),
    pytest.param({"enableSCP": False},
                 [_line("enableSCP", '"false"', "is not a configuration key of this project; did you mean enableScp?")],
                 id="misspelt-key"),
    pytest.param({"colour": "blue"},
                 [_line("colour", '"blue"', "is not a configuration key of this project; the keys are "
                        + ", ".join(CONFIG_KEYS))],
                 id="unknown-key"),
]



def _needs(name: str, shown: str, needs: str, why: str, default: str) -> str:
    return _line(name, shown, f"needs {needs} ({why}); otherwise leave it at its default {default}")


SCP_ONLY = "without it there is no SCP to attach or extend"
DETECTION_ONLY = "only detection reads it"
AUDIT_ONLY = "only the audit reads it"
NO_TOPIC = "with both off there are no metrics, alarms, alert topic or dashboard"
STACK_SET_ONLY = "the StackSet carries the audit reader role and the forwarding rule, nothing else"
RETENTION_NEEDS = "enableAudit true, or enableDetection true with trailMode organization or account"
RETENTION_WHY = "it sets the retention of the log groups this stack creates (an existing trail's group is not one)"
BOTH_OFF = {"enableDetection": False, "enableAudit": False}

# A value that has no effect under the rest of the config: one line per key, naming what would make it count.
NO_EFFECT_INPUTS = [
    pytest.param({"enableScp": False, "scpTargets": ["r-z9y8"]},
                 [_needs("scpTargets", '["r-z9y8"]', "enableScp true", SCP_ONLY, "[]")], id="targets-without-scp"),
    pytest.param({"enableScp": False, "enableCentralizedRootAccess": True, "scpDenyAllRootActions": True},
                 [_needs("scpDenyAllRootActions", '"true"', "enableScp true", SCP_ONLY, '"false"')],
                 id="deny-all-without-scp"),
    pytest.param({"enableDetection": False, "trailMode": "account"},
                 [_needs("trailMode", '"account"', "enableDetection true", DETECTION_ONLY, '"organization"')],
                 id="trail-mode-without-detection"),
    pytest.param({"enableDetection": False, "trailMode": "existing", "existingLogGroupName": "org-trail"},
                 [_needs("trailMode", '"existing"', "enableDetection true", DETECTION_ONLY, '"organization"'),
                  _needs("existingLogGroupName", '"org-trail"', "enableDetection true", DETECTION_ONLY, '""')],
                 id="existing-trail-without-detection"),
    pytest.param({"existingLogGroupName": "org-trail"},
                 [_needs("existingLogGroupName", '"org-trail"', "trailMode existing",
                         "the other trail modes create their own trail and log group", '""')],
                 id="name-without-existing"),
    pytest.param({**BOTH_OFF, "alarmEmails": ["secops@example.com"]},
                 [_needs("alarmEmails", '["secops@example.com"]', "enableDetection or enableAudit true", NO_TOPIC, "[]")],
                 id="emails-without-topic"),
    pytest.param({**BOTH_OFF, "alarmHttpsEndpoints": ["https://alerts.example.com/hook"]},
                 [_needs("alarmHttpsEndpoints", '["https://alerts.example.com/hook"]',
                         "enableDetection or enableAudit true", NO_TOPIC, "[]")],
                 id="endpoints-without-topic"),
    pytest.param({**BOTH_OFF, "metricNamespace": "Guardrails"},
                 [_needs("metricNamespace", '"Guardrails"', "enableDetection or enableAudit true", NO_TOPIC,
                         '"RootKeyGuardrails"')],
                 id="namespace-without-metrics"),
    pytest.param({**BOTH_OFF, "alarmPeriodSeconds": 60},
                 [_needs("alarmPeriodSeconds", '"60"', "enableDetection or enableAudit true", NO_TOPIC, '"300"')],
                 id="period-without-alarms"),
    pytest.param({**BOTH_OFF, "logRetentionDays": 400},
                 [_needs("logRetentionDays", '"400"', RETENTION_NEEDS, RETENTION_WHY, '"365"')],
                 id="retention-without-log-groups"),
    pytest.param({"enableAudit": False, "trailMode": "existing", "existingLogGroupName": "org-trail",
                  "logRetentionDays": 400},
                 [_needs("logRetentionDays", '"400"', RETENTION_NEEDS, RETENTION_WHY, '"365"')],
                 id="retention-with-existing-trail-only"),
    pytest.param({"enableAudit": False, "auditSchedule": "rate(5 minutes)"},
                 [_needs("auditSchedule", '"rate(5 minutes)"', "enableAudit true", AUDIT_ONLY, '"rate(1 hour)"')],
                 id="schedule-without-audit"),
    pytest.param({"enableAudit": False, "auditOrgRoleName": "RootKeyAuditReader"},
                 [_needs("auditOrgRoleName", '"RootKeyAuditReader"', "enableAudit true", AUDIT_ONLY, '""')],
                 id="role-without-audit"),
    pytest.param({"enableAudit": False, "auditMaxReportAgeHours": 6},
                 [_needs("auditMaxReportAgeHours", '"6"', "enableAudit true", AUDIT_ONLY, '"5"')],
                 id="report-age-without-audit"),
    pytest.param({"auditRemediate": True},
                 [_needs("auditRemediate", '"true"', "auditOrgRoleName set",
                         "remediation acts on member accounts, which only the organization audit finds", '"false"')],
                 id="remediate-prerequisites"),
    pytest.param({"auditRemediate": True, "auditOrgRoleName": "Audit", "enableCentralizedRootAccess": True,
                  "enableAudit": False},
                 [_needs("auditOrgRoleName", '"Audit"', "enableAudit true", AUDIT_ONLY, '""'),
                  _needs("auditRemediate", '"true"', "enableAudit true", AUDIT_ONLY, '"false"')],
                 id="remediate-without-audit"),
    pytest.param({"memberStackSetTargets": ["ou-a1b2-workload1"]},
                 [_needs("memberStackSetTargets", '["ou-a1b2-workload1"]', "auditOrgRoleName set or orgEventForwarding "
                         "true", STACK_SET_ONLY, "[]")],
                 id="stack-set-targets-unused"),
    pytest.param({"auditOrgRoleName": "RootKeyAuditReader", "memberStackSet": False,
                  "memberStackSetTargets": ["ou-a1b2-workload1"]},
                 [_needs("memberStackSetTargets", '["ou-a1b2-workload1"]', "memberStackSet true",
                         "they are where the StackSet deploys", "[]")],
                 id="stack-set-targets-without-stack-set"),
    pytest.param({"orgEventForwarding": True, "eventBridgeDetection": False},
                 [_needs("orgEventForwarding", '"true"', "enableDetection and eventBridgeDetection true",
                         "member events go to the central rule's alert topic", '"false"')],
                 id="forwarding-without-event-bridge"),
    pytest.param({"orgEventForwarding": True, "memberStackSet": False},
                 [_needs("orgEventForwarding", '"true"', "memberStackSet true",
                         "the StackSet deploys the member-account rule", '"false"')],
                 id="forwarding-without-stack-set"),
]
BAD_INPUTS += NO_EFFECT_INPUTS


@pytest.mark.parametrize(("overrides", "lines"), BAD_INPUTS)
def test_config_bad_value_raises_one_clear_message(overrides: dict[str, object], lines: list[str]) -> None:
    with pytest.raises(ConfigError) as err:
        _parse(overrides)
    assert str(err.value) == "Invalid configuration:\n" + "\n".join(lines)


@pytest.mark.parametrize(("overrides", "lines"), BAD_INPUTS)
def test_program_bad_value_fails_and_registers_nothing(overrides: dict[str, object], lines: list[str]) -> None:
    with pytest.raises(ProgramError) as err:
        program(overrides)
    assert err.value.message == "Invalid configuration:\n" + "\n".join(lines)
    # The engine registers the stack before the program starts; nothing else may follow it.
    assert [r.type for r in err.value.resources] == ["pulumi:pulumi:Stack"]


def test_config_remediation_without_centralized_root_access_is_judged_with_the_account() -> None:
    # Whether auditRemediate needs enableCentralizedRootAccess here depends on the deploying account (test_org.py):
    # from a delegated administrator for IAM, the management account enables it, outside this stack.
    config = _parse({"auditRemediate": True, "auditOrgRoleName": "Audit"})
    assert (config.audit_remediate, config.enable_centralized_root_access) == (True, False)


def test_config_needs_table_names_only_config_keys() -> None:
    # A misspelt key in the table would only surface, as a KeyError, in the config that trips its row.
    from components.config import _NEEDS
    assert {key for need in _NEEDS for key in need.keys} <= set(CONFIG_KEYS)


def test_config_several_bad_values_are_all_reported() -> None:
    with pytest.raises(ConfigError) as err:
        _parse({"enableAudit": "maybe", "logRetentionDays": 2})
    assert str(err.value).splitlines()[1:] == [
        _line("logRetentionDays", '"2"', RETENTION_RULE),
        _line("enableAudit", '"maybe"', "must be true or false"),
    ]


@pytest.mark.parametrize(
    ("overrides", "region", "error"),
    [
        ({}, "us-east-1", None),
        ({"eventBridgeDetection": False}, "eu-west-1", None),
        ({"enableDetection": False}, "eu-west-1", None),
        ({}, "us-gov-west-1", "Invalid configuration:\n  root-key-guardrails:eventBridgeDetection = \"true\": needs "
         "the stack in us-east-1, where EventBridge receives IAM API calls (this stack deploys to us-gov-west-1); set "
         "aws:region to us-east-1 or eventBridgeDetection to false (the metric-filter alarm still covers every region "
         "through the multi-region trail)"),
        ({}, "eu-west-1",
         "Invalid configuration:\n  root-key-guardrails:eventBridgeDetection = \"true\": needs the stack in "
         "us-east-1, where EventBridge receives IAM API calls (this stack deploys to eu-west-1); set aws:region to "
         "us-east-1 or eventBridgeDetection to false (the metric-filter alarm still covers every region through the "
         "multi-region trail)"),
    ],
)
def test_config_event_bridge_region_check(overrides: dict[str, object], region: str, error: str | None) -> None:
    config = _parse(overrides)
    if error is None:
        check_environment(config, region)
    else:
        with pytest.raises(ConfigError) as err:
            check_environment(config, region)
        assert str(err.value) == error


@pytest.mark.parametrize(
    ("overrides", "warnings"),
    [
        ({"alarmEmails": ["secops@example.com"]}, []),
        ({}, ["no alarmEmails or alarmHttpsEndpoints: alarms publish to a topic nobody is subscribed to yet; CIS 4.3 "
              "and Security Hub CloudWatch.1 want at least one subscriber"]),
        ({"alarmEmails": ["secops@example.com"], "alarmPeriodSeconds": 30},
         ["alarmPeriodSeconds 30 is below the one-minute resolution of metric-filter and Lambda metrics: most periods "
          "get no datapoint, so detection is no faster than with 60"]),
        ({"alarmEmails": ["secops@example.com"], "logRetentionDays": 90},
         ["logRetentionDays 90 is under 365 days (Security Hub CloudWatch.16, CIS 3.x)"]),
    ],
)
def test_config_weaker_settings_warn(overrides: dict[str, object], warnings: list[str]) -> None:
    assert environment_warnings(_parse(overrides)) == warnings



def test_program_wrong_region_for_eventbridge_fails_and_registers_nothing() -> None:
    with pytest.raises(ProgramError) as err:
        run_program(PROJECT_DIR, "dev", {"aws:region": "eu-west-1"})
    assert err.value.message.startswith(
        'Invalid configuration:\n  root-key-guardrails:eventBridgeDetection = "true": needs the stack in us-east-1'
    )
    assert [r.type for r in err.value.resources] == ["pulumi:pulumi:Stack"]
    # The same region works with the EventBridge path off; ARNs follow the region.
    records = run_program(PROJECT_DIR, "dev", {"aws:region": "eu-west-1", key("eventBridgeDetection"): "false"})
    trail = next(r for r in records if r.type == "aws:cloudtrail/trail:Trail")
    assert trail.inputs["cloudWatchLogsGroupArn"].startswith("arn:aws:logs:eu-west-1:")


MANAGEMENT_TARGET_ERROR = (
    'Invalid configuration:\n  root-key-guardrails:scpTargets = "111122223333": is the organization\'s management '
    "account, where SCPs never apply; remove it (detection and the audit cover the management account)"
)
# As preflight's mock getOrganization answers: root r-a1b2, the management account and two members.
ORGANIZATION = Organization(id="o-a1b2c3d4e5", root_id="r-a1b2", management_account_id="111122223333",
                            account_ids=("111122223333", "444455556666", "555566667777"))
NOT_THE_ROOT = "must be the root of organization o-a1b2c3d4e5, r-a1b2 (an organization has one root)"
NOT_AN_OU = "must be an OU of organization o-a1b2c3d4e5, whose OU ids all start ou-a1b2- (its root is r-a1b2)"
NOT_AN_ACCOUNT = ("must be an account of organization o-a1b2c3d4e5 (aws organizations list-accounts lists them); "
                  "AttachPolicy would fail at apply, after other resources exist")
ORG_AUDIT = {"auditOrgRoleName": "RootKeyAuditReader"}

# Targets the organization can hold, and ones it cannot: getOrganization gives its one root and its accounts,
# and an OU id carries its root's id.
ORGANIZATION_TARGETS = [
    pytest.param({"scpTargets": ["444455556666", "555566667777"]}, None, id="member-accounts"),
    pytest.param({"scpTargets": ["r-a1b2", "ou-a1b2-workload1"]}, None, id="root-and-ou"),
    pytest.param({**ORG_AUDIT, "memberStackSetTargets": ["r-a1b2", "ou-a1b2-sandbox01"]}, None, id="stack-set-root-and-ou"),
    pytest.param({"scpTargets": ["ou-a1b2-workload1", "111122223333"]}, MANAGEMENT_TARGET_ERROR, id="management-account"),
    pytest.param({"scpTargets": ["r-zzzz"]}, _line("scpTargets", '"r-zzzz"', NOT_THE_ROOT), id="other-root"),
    pytest.param({"scpTargets": ["999999999999"]}, _line("scpTargets", '"999999999999"', NOT_AN_ACCOUNT),
                 id="other-account"),
    pytest.param({"scpTargets": ["ou-zzzz-workload1"]}, _line("scpTargets", '"ou-zzzz-workload1"', NOT_AN_OU),
                 id="other-roots-ou"),
    pytest.param({**ORG_AUDIT, "memberStackSetTargets": ["r-zzzz"]},
                 _line("memberStackSetTargets", '"r-zzzz"', NOT_THE_ROOT), id="stack-set-other-root"),
    pytest.param({**ORG_AUDIT, "memberStackSetTargets": ["ou-a1b2c-workload1"]},
                 _line("memberStackSetTargets", '"ou-a1b2c-workload1"', NOT_AN_OU), id="stack-set-other-roots-ou"),
]


def _expected(error: str | None) -> str | None:
    return error if error is None or error.startswith("Invalid configuration:") else f"Invalid configuration:\n{error}"


@pytest.mark.parametrize(("overrides", "error"), ORGANIZATION_TARGETS)
def test_config_target_outside_the_organization_is_refused(overrides: dict[str, object], error: str | None) -> None:
    config = _parse(overrides)
    if error is None:
        check_environment(config, "us-east-1", organization=ORGANIZATION)
    else:
        with pytest.raises(ConfigError) as err:
            check_environment(config, "us-east-1", organization=ORGANIZATION)
        assert str(err.value) == _expected(error)


@pytest.mark.parametrize(("overrides", "error"), ORGANIZATION_TARGETS)
def test_program_target_outside_the_organization_fails_and_registers_nothing(
    overrides: dict[str, object], error: str | None
) -> None:
    # The same verdicts from the program, whose organization comes from the mock engine's getOrganization.
    if error is None:
        assert program(overrides).of_type("aws:organizations/policy:Policy")
        return
    with pytest.raises(ProgramError) as err:
        program(overrides)
    assert err.value.message == _expected(error)
    assert [r.type for r in err.value.resources] == ["pulumi:pulumi:Stack"]


# Values only Python would take: a trailing newline ($ matches before it), other scripts' digits (\d and
# isdigit() take them), superscripts (isdigit() takes them and int() then raises), digits beyond int()'s limit,
# URLs urllib rejects only when the port is read. Each is one clear line naming the key, never a pass or a traceback.
ODD_VALUES = [
    pytest.param({"scpTargets": ["111122223333\n"]}, "scpTargets", "each target must be a root id", id="target-newline"),
    pytest.param({"scpTargets": ["\u0661" * 12]}, "scpTargets", "each target must be a root id", id="target-arabic-digits"),
    pytest.param({"alarmEmails": ["secops@example.com\n"]}, "alarmEmails", "each entry must be an e-mail address",
                 id="email-newline"),
    pytest.param({"auditSchedule": "rate(6 hours)\n"}, "auditSchedule", "must be an EventBridge schedule expression",
                 id="rate-newline"),
    pytest.param({"auditSchedule": "cron(\u00b2 * * * ? *)"}, "auditSchedule", "minutes field has '\u00b2', not a number",
                 id="cron-superscript"),
    pytest.param({"auditSchedule": "cron(0/\u00b2 * * * ? *)"}, "auditSchedule", "minutes field has step '\u00b2'",
                 id="cron-superscript-step"),
    pytest.param({"auditSchedule": "cron(\u0660 * * * ? *)"}, "auditSchedule", "minutes field has '\u0660', not a number",
                 id="cron-arabic-digit"),
    pytest.param({"auditSchedule": "cron(5/ * * * ? *)"}, "auditSchedule", "minutes field has step ''", id="cron-empty-step"),
    pytest.param({"auditSchedule": "rate(" + "9" * 5000 + " minutes)"}, "auditSchedule",
                 "must be an EventBridge schedule expression", id="rate-5000-digits"),
    pytest.param({"alarmPeriodSeconds": "9" * 5000}, "alarmPeriodSeconds", PERIOD_RULE, id="period-5000-digits"),
    pytest.param({"alarmHttpsEndpoints": ["https://[::1/hook"]}, "alarmHttpsEndpoints", "is not a valid URL (Invalid IPv6 URL)",
                 id="url-unclosed-ipv6"),
    pytest.param({"alarmHttpsEndpoints": ["https://alerts.example.com:99999/hook"]}, "alarmHttpsEndpoints",
                 "is not a valid URL (Port out of range", id="url-port-out-of-range"),
    pytest.param({"alarmHttpsEndpoints": ["https://alerts.example.com:abc/hook"]}, "alarmHttpsEndpoints",
                 "is not a valid URL (Port could not be cast", id="url-port-not-a-number"),
    pytest.param({"metricNamespace": "RootKeyGuardrails\n"}, "metricNamespace", "must be 1-255 characters", id="namespace-newline"),
    pytest.param({"trailMode": "existing", "existingLogGroupName": "trail-logs\n"}, "existingLogGroupName",
                 "must be a CloudWatch log group name", id="log-group-newline"),
    pytest.param({"auditOrgRoleName": "RootKeyAuditReader\n"}, "auditOrgRoleName", "must be empty or an IAM role name",
                 id="role-newline"),
    pytest.param({"scpTargets": "[" * 100_000 + "]" * 100_000}, "scpTargets", "must be a list of strings", id="nested-100k-deep"),
]


@pytest.mark.parametrize(("overrides", "key", "fragment"), ODD_VALUES)
def test_config_value_only_python_reads_is_an_error(overrides: dict[str, object], key: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as err:
        _parse(overrides)
    [line] = str(err.value).splitlines()[1:]
    assert line.startswith(f"  root-key-guardrails:{key} = ")
    assert fragment in line


def test_program_scp_target_with_trailing_newline_fails_and_registers_nothing() -> None:
    with pytest.raises(ProgramError) as err:
        program({"scpTargets": ["111122223333\n"]})
    assert "root-key-guardrails:scpTargets" in err.value.message
    assert [r.type for r in err.value.resources] == ["pulumi:pulumi:Stack"]


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        pytest.param({"alarmHttpsEndpoints": ["http://hooks.example.com/T0KEN"]}, "alarmHttpsEndpoints", id="bad-value"),
        pytest.param({"alarmHttpsEndpoint": ["https://hooks.example.com/T0KEN"]}, "alarmHttpsEndpoint", id="misspelt-key"),
        pytest.param({"alarmEmails": ["T0KEN@"]}, "alarmEmails", id="bad-email"),
        # The host is the secret here: a rule about the host must not quote it.
        pytest.param({"alarmHttpsEndpoints": ["https://T0KEN.corp.internal/hook"]}, "alarmHttpsEndpoints",
                     id="private-host"),
        pytest.param({"alarmHttpsEndpoints": ["https://T0KEN/hook"]}, "alarmHttpsEndpoints", id="single-label-host"),
        pytest.param({"alarmEmails": ["T0KEN" * 13 + "@example.com"]}, "alarmEmails", id="long-email"),
        pytest.param({"enableDetection": "false", "enableAudit": "false", "alarmEmails": ["T0KEN@example.com"]},
                     "alarmEmails", id="email-without-topic"),
    ],
)
def test_config_error_never_shows_a_secret_value(overrides: dict[str, object], key: str) -> None:
    raw = {f"root-key-guardrails:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in overrides.items()}
    with pytest.raises(ConfigError) as err:
        parse_config(raw.get, raw, is_secret=lambda full: full == f"root-key-guardrails:{key}")
    assert "t0ken" not in str(err.value).lower()  # a host name is shown lower-cased
    assert f"root-key-guardrails:{key} = [secret]: " in str(err.value)


def _parse_secret(overrides: dict[str, object], secret: set[str]) -> GuardrailsConfig:
    raw = {key(k): encode(v) for k, v in overrides.items()}
    return parse_config(raw.get, raw, is_secret=lambda full: full in {key(k) for k in secret})


@pytest.mark.parametrize(
    ("secret", "expected"),
    [
        pytest.param(set(), [("email", "secops@example.com", False), ("https", HOOK, True)], id="none"),
        pytest.param({"alarmEmails"}, [("email", "secops@example.com", True), ("https", HOOK, True)], id="emails"),
        pytest.param({"alarmEmails", "alarmHttpsEndpoints"},
                     [("email", "secops@example.com", True), ("https", HOOK, True)], id="both"),
    ],
)
def test_config_subscription_set_with_secret_stays_secret(secret: set[str], expected: list[tuple[str, str, bool]]) -> None:
    config = _parse_secret({"alarmEmails": ["secops@example.com"], "alarmHttpsEndpoints": [HOOK]}, secret)
    assert [(s.protocol, s.endpoint, s.secret) for s in config.subscriptions] == expected
    assert config.secret_keys == frozenset(secret)


@pytest.mark.parametrize(
    ("name", "entries"),
    [
        pytest.param("alarmEmails", ["ciso@example.com", "soc@example.com", "ciso@example.com"], id="email"),
        pytest.param("alarmHttpsEndpoints",
                     ["https://hooks.example.com/T0KEN", HOOK, "https://hooks.example.com/T0KEN"], id="https"),
    ],
)
def test_config_secret_list_with_a_repeated_entry_names_it_by_position(name: str, entries: list[str]) -> None:
    # The rule's text is not redacted as the value is: a repeated secret entry must not be quoted there.
    with pytest.raises(ConfigError) as err:
        _parse_secret({name: entries}, {name})
    assert str(err.value) == f"Invalid configuration:\n{_line(name, '[secret]', 'must not list the same value twice (entries 1 and 3)')}"
    assert "ciso@example.com" not in str(err.value) and "T0KEN" not in str(err.value)


def test_config_secret_list_with_entries_differing_in_case_names_them_by_position() -> None:
    # SNS takes SecOps@example.com and secops@example.com for one subscriber; neither may be quoted.
    with pytest.raises(ConfigError) as err:
        _parse_secret({"alarmEmails": ["SecOps@example.com", "soc@example.com", "secops@EXAMPLE.com"]}, {"alarmEmails"})
    assert str(err.value) == "Invalid configuration:\n" + _line(
        "alarmEmails", "[secret]", "must not list the same value twice (entries 1 and 3); SNS compares e-mail "
        "addresses ignoring case, so both name one subscriber")
    assert "secops" not in str(err.value).lower()


def test_config_plain_list_with_a_repeated_entry_names_the_value() -> None:
    with pytest.raises(ConfigError) as err:
        _parse({"alarmEmails": ["ciso@example.com", "ciso@example.com"]})
    assert "must not list the same value twice (ciso@example.com)" in str(err.value)


NO_SECRET_RULE = ("must be set without --secret: only alarmEmails and alarmHttpsEndpoints are kept secret, and this "
                  "value would be written in clear into resources, the preview and the state")


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"scpTargets": ["444455556666"]}, id="list"),
        pytest.param({"auditOrgRoleName": "RootKeyAuditReader"}, id="string"),
        pytest.param({"logRetentionDays": 400}, id="integer"),
        pytest.param({"enableScp": True}, id="boolean"),
    ],
)
def test_config_key_that_cannot_stay_secret_set_with_secret_is_refused(overrides: dict[str, object]) -> None:
    [name] = overrides
    with pytest.raises(ConfigError) as err:
        _parse_secret(overrides, {name})
    assert str(err.value) == f"Invalid configuration:\n{_line(name, '[secret]', NO_SECRET_RULE)}"


@pytest.mark.parametrize("namespace", ["root-key-guardrail", "root-keys-guardrails", "rootkey-guardrails"])
def test_config_key_in_a_misspelt_namespace_is_an_error(namespace: str) -> None:
    # Every value under a namespace the program does not read would be ignored, its control left at the default.
    raw = {f"{namespace}:auditOrgRoleName": "RootKeyAuditReader"}
    with pytest.raises(ConfigError) as err:
        parse_config(raw.get, raw)
    assert str(err.value).splitlines()[1:] == [
        f'  {namespace}:auditOrgRoleName = "RootKeyAuditReader": is not in this project\'s namespace; did you mean '
        "root-key-guardrails:auditOrgRoleName?"
    ]


@pytest.mark.parametrize(
    ("full", "value"),
    [
        pytest.param("guardrails:enableScp", "false", id="other-project"),
        pytest.param("config:auditSchedule", "rate(12 hours)", id="config"),
        pytest.param("root-keys:auditOrgRoleName", "RootKeyAuditReader", id="not-close"),
        pytest.param("rkg:alarmEmails", '["secops@example.com"]', id="abbreviation"),
    ],
)
def test_config_project_key_in_another_namespace_is_an_error(full: str, value: str) -> None:
    # A key of this project under any namespace but its own would be ignored, its control left at the default,
    # however far the namespace is from the project's name.
    raw = {full: value}
    name = full.partition(":")[2]
    with pytest.raises(ConfigError) as err:
        parse_config(raw.get, raw)
    assert str(err.value).splitlines()[1:] == [
        f"  {full} = {json.dumps(value)}: is not in this project's namespace; did you mean root-key-guardrails:{name}?"
    ]


def test_program_project_key_in_another_namespace_fails_and_registers_nothing() -> None:
    with pytest.raises(ProgramError) as err:
        run_program(PROJECT_DIR, "dev", {"guardrails:enableScp": "false"})
    assert err.value.message == ("Invalid configuration:\n  guardrails:enableScp = \"false\": is not in this project's "
                                 "namespace; did you mean root-key-guardrails:enableScp?")
    assert [r.type for r in err.value.resources] == ["pulumi:pulumi:Stack"]


def test_config_other_providers_namespaces_are_theirs() -> None:
    raw = {"aws:region": "us-east-1", "pulumi:tags": "{}", "root-key-guardrails:enableScp": "true",
           "preflight:organization": "{}", "other-project:colour": "blue"}
    assert parse_config(raw.get, raw).enable_scp is True


def test_config_schedule_whose_first_run_is_years_away_is_refused() -> None:
    # Hourly, but only from 2040: until then the audit never runs and its alarm waits in INSUFFICIENT_DATA.
    with pytest.raises(ConfigError) as err:
        _parse({"auditSchedule": "cron(0 * * * ? 2040-2199)"})
    [line] = str(err.value).splitlines()[1:]
    assert line.startswith('  root-key-guardrails:auditSchedule = "cron(0 * * * ? 2040-2199)": leaves up to ')
    assert "at most 12 hours are allowed" in line
