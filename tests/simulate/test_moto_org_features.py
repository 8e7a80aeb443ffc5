"""simulate.moto_org_features and simulate.moto_gaps: the IAM organization features and the two moto gaps, each
rule from a compliant baseline with one thing changed."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from simulate import moto_gaps, moto_org_features

REGION = "us-east-1"


@pytest.fixture(autouse=True)
def _installed():
    moto_org_features.install()
    moto_gaps.install()
    moto_org_features.reset()
    with mock_aws():
        yield


def _org(*, iam_access: bool = True, feature_set: str = "ALL", delegate: bool = False) -> str:
    org = boto3.client("organizations", region_name=REGION)
    org.create_organization(FeatureSet=feature_set)
    member = org.create_account(AccountName="security", Email="security@example.com")["CreateAccountStatus"]["AccountId"]
    if iam_access:
        org.enable_aws_service_access(ServicePrincipal="iam.amazonaws.com")
    if delegate:
        org.register_delegated_administrator(AccountId=member, ServicePrincipal="iam.amazonaws.com")
    return member


def _as(account_id: str, service: str):
    creds = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole", RoleSessionName="test")["Credentials"]
    return boto3.client(service, region_name=REGION, aws_access_key_id=creds["AccessKeyId"],
                        aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"])


def _error(call) -> tuple[str, str]:
    with pytest.raises(ClientError) as err:
        call()
    return err.value.response["Error"]["Code"], err.value.response["Error"]["Message"]


def test_enable_root_credentials_management_from_management_account_enabled():
    _org()
    iam = boto3.client("iam", region_name=REGION)
    first = iam.enable_organizations_root_credentials_management()
    again = iam.enable_organizations_root_credentials_management()
    sessions = iam.enable_organizations_root_sessions()
    assert first["EnabledFeatures"] == again["EnabledFeatures"] == ["RootCredentialsManagement"]
    assert sessions["EnabledFeatures"] == ["RootCredentialsManagement", "RootSessions"]
    assert iam.list_organizations_features()["OrganizationId"] == first["OrganizationId"]
    assert iam.disable_organizations_root_sessions()["EnabledFeatures"] == ["RootCredentialsManagement"]
    assert iam.disable_organizations_root_credentials_management()["EnabledFeatures"] == []


@pytest.mark.parametrize(("setup", "caller", "action", "expected"), [
    ({"iam_access": False}, "management", "enable_organizations_root_credentials_management",
     ("ServiceAccessNotEnabledException", "Trusted access for iam.amazonaws.com is not enabled in your organization.")),
    ({}, "member", "enable_organizations_root_sessions",
     ("CallerIsNotManagementAccountException", "The request was rejected because the account making the request is "
                                               "not the management account.")),
    ({}, "member", "list_organizations_features",
     ("AccountNotManagementOrDelegatedAdministratorException", "The request was rejected because the account making "
      "the request is not the management account or delegated administrator account for centralized root access.")),
])
def test_organization_features_refused(setup, caller, action, expected):
    member = _org(**setup)
    iam = boto3.client("iam", region_name=REGION) if caller == "management" else _as(member, "iam")
    assert _error(getattr(iam, action)) == expected


def test_organization_features_without_organization_refused():
    iam = boto3.client("iam", region_name=REGION)
    assert _error(iam.list_organizations_features)[0] == "OrganizationNotFoundException"


def test_list_organization_features_from_delegated_administrator_allowed():
    member = _org(delegate=True)
    boto3.client("iam", region_name=REGION).enable_organizations_root_credentials_management()
    assert _as(member, "iam").list_organizations_features()["EnabledFeatures"] == ["RootCredentialsManagement"]


def _trail() -> str:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="trail-bucket")
    return boto3.client("cloudtrail", region_name=REGION).create_trail(Name="trail-one", S3BucketName="trail-bucket")["TrailARN"]


@pytest.mark.parametrize("by", ["name", "arn"])
def test_delete_trail_by_name_or_arn_deleted(by):
    arn = _trail()
    ct = boto3.client("cloudtrail", region_name=REGION)
    ct.delete_trail(Name="trail-one" if by == "name" else arn)
    assert ct.describe_trails()["trailList"] == []


def test_delete_unknown_trail_not_found():
    _trail()
    ct = boto3.client("cloudtrail", region_name=REGION)
    assert _error(lambda: ct.delete_trail(Name="arn:aws:cloudtrail:us-east-1:123456789012:trail/nope"))[0] == \
        "TrailNotFoundException"


def _finding(fid: str) -> dict:
    return {"SchemaVersion": "2018-10-08", "Id": fid, "ProductArn": "arn:aws:securityhub:us-east-1:123456789012:product/123456789012/default",
            "GeneratorId": "g", "AwsAccountId": "123456789012", "Types": ["Software and Configuration Checks"],
            "CreatedAt": "2026-01-01T00:00:00Z", "UpdatedAt": "2026-01-01T00:00:00Z",
            "Severity": {"Label": "CRITICAL"}, "Title": "t", "Description": "d",
            "Resources": [{"Type": "AwsAccount", "Id": "AWS::::Account:123456789012"}], "Workflow": {"Status": "NEW"}}


def test_batch_update_findings_resolves_known_and_lists_unknown():
    hub = boto3.client("securityhub", region_name=REGION)
    hub.batch_import_findings(Findings=[_finding("f1")])
    product = _finding("f1")["ProductArn"]
    result = hub.batch_update_findings(FindingIdentifiers=[{"Id": "f1", "ProductArn": product},
                                                           {"Id": "nope", "ProductArn": product}],
                                       Workflow={"Status": "RESOLVED"})
    assert result["ProcessedFindings"] == [{"Id": "f1", "ProductArn": product}]
    assert result["UnprocessedFindings"] == [{"FindingIdentifier": {"Id": "nope", "ProductArn": product},
                                              "ErrorCode": "FindingNotFound", "ErrorMessage": "Finding Not Found"}]
    assert hub.get_findings()["Findings"][0]["Workflow"] == {"Status": "RESOLVED"}


def _stack_set(auto: bool) -> tuple[object, str, list[str]]:
    org = boto3.client("organizations", region_name=REGION)
    org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]
    members = [org.create_account(AccountName=f"m{i}", Email=f"m{i}@example.com")["CreateAccountStatus"]["AccountId"]
               for i in range(2)]
    cfn = boto3.client("cloudformation", region_name=REGION)
    cfn.create_stack_set(StackSetName="members", TemplateBody='{"Resources": {}}', PermissionModel="SERVICE_MANAGED",
                         AutoDeployment={"Enabled": auto, "RetainStacksOnAccountRemoval": False})
    cfn.create_stack_instances(StackSetName="members", DeploymentTargets={"OrganizationalUnitIds": [root]},
                               Regions=[REGION])
    return cfn, root, members


@pytest.mark.parametrize("auto", [True, False])
def test_create_stack_set_auto_deployment_kept(auto):
    cfn, _, _ = _stack_set(auto)
    assert cfn.describe_stack_set(StackSetName="members")["StackSet"]["AutoDeployment"] == {
        "Enabled": auto, "RetainStacksOnAccountRemoval": False}


def test_delete_stack_instances_by_deployment_targets_deleted():
    cfn, root, members = _stack_set(True)
    # (moto also places an instance in the management account, which AWS never does for a service-managed StackSet)
    assert set(members) <= {i["Account"] for i in cfn.list_stack_instances(StackSetName="members")["Summaries"]}
    cfn.delete_stack_instances(StackSetName="members", DeploymentTargets={"OrganizationalUnitIds": [root]},
                               Regions=[REGION], RetainStacks=False)
    assert cfn.list_stack_instances(StackSetName="members")["Summaries"] == []
    cfn.delete_stack_set(StackSetName="members")
