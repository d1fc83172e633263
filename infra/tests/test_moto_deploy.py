"""infra/scoreportal.yaml deployed into the local moto server, and the app run against it.

The stack is created through moto's CloudFormation API over HTTP (see cloudformation.py
for the part moto cannot create and how the secrets are made). Then the pipeline's own
steps run against what it created: `ensure_score_table` with the pipeline's environment,
`infra.stack_settings` on a copy of zappa_settings.json, and a score request, twice, the
second one served from the cache. The function role's S3 statements are enforced by moto's
IAM: imports are read-write, hand-offs write-only.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from django.conf import settings as django_settings
from moto.cloudformation.parsing import get_model_map
from moto.iam.access_control import IAMPolicy, PermissionResult

from infra import stack_settings
from infra.tests import cloudformation as cfn
from scoreportal.secrets_manager import (
    DATABASE_ROLE_VARIABLES,
    MANAGED_VARIABLES,
    load_secrets_into_environ,
)
from scores.cache import score_cache
from scores.tests.fixtures import EXAMPLE_CPF

PROJECT = Path(__file__).resolve().parents[2]
REGION = "sa-east-1"
PROXY_STAND_IN = "proxy.scoreportal.invalid"

# What moto's CloudFormation cannot create, and why; each is checked by cfn-lint and by
# test_template.py instead.
MOTO_CANNOT_CREATE = {
    # moto 5.2.5 has no CloudFormation model for these types:
    "AWS::SecretsManager::Secret",  # created by cfn.create_secrets instead
    "AWS::EC2::SecurityGroupEgress",
    "AWS::S3::BucketPolicy",
    "AWS::RDS::DBProxy",
    "AWS::RDS::DBProxyTargetGroup",
    "AWS::SNS::Subscription",
    "AWS::Logs::MetricFilter",
    "AWS::CloudWatch::Alarm",
    # moto 5.2.5's model fails on it (a DBParameterGroup Ref resolves to an object):
    "AWS::RDS::DBInstance",
    "AWS::RDS::DBParameterGroup",
}


def _client(service, **credentials):
    credentials = credentials or {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=django_settings.DYNAMODB_ENDPOINT_URL,
        config=Config(retries={"total_max_attempts": 1}),
        **credentials,
    )


@pytest.fixture(scope="module")
def stack():
    """The template deployed as a dev stage under a project name of this test run."""
    project = f"infra{uuid.uuid4().hex[:10]}"
    template = cfn.load()
    values = {
        "ProjectName": project,
        "Stage": "dev",
        "AWS::Region": REGION,
        "AWS::AccountId": cfn.MOTO_ACCOUNT_ID,
        "AWS::Partition": "aws",
        "DatabaseProxy.Endpoint": PROXY_STAND_IN,
    }
    secret_arns = cfn.create_secrets(template, values, _client("secretsmanager"))
    supported = set(get_model_map()) - MOTO_CANNOT_CREATE
    part, left_out = cfn.moto_deployable(template, supported, secret_arns)
    name = f"{project}-dev-infra"
    cloudformation = _client("cloudformation")
    cloudformation.create_stack(
        StackName=name,
        TemplateBody=json.dumps(part),
        Parameters=[
            {"ParameterKey": "ProjectName", "ParameterValue": project},
            {"ParameterKey": "Stage", "ParameterValue": "dev"},
        ],
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    described = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    outputs = {output["OutputKey"]: output["OutputValue"] for output in described["Outputs"]}
    # No delete_stack afterwards: moto 5.2.5 deletes the VPC before its subnets and fails;
    # the names are this run's own, and the moto server ends with the test session.
    return {
        "name": name,
        "project": project,
        "status": described["StackStatus"],
        "outputs": outputs,
        "left_out": left_out,
        "secret_arns": secret_arns,
        "resources": {
            resource["LogicalResourceId"]: resource["PhysicalResourceId"]
            for resource in cloudformation.list_stack_resources(StackName=name)[
                "StackResourceSummaries"
            ]
        },
    }


def test_if_the_template_is_deployed_to_moto_then_only_what_moto_cannot_create_is_left_out(stack):
    assert stack["status"] == "CREATE_COMPLETE"
    assert set(stack["left_out"].values()) == MOTO_CANNOT_CREATE
    assert {"ScoreTable", "FunctionRole", "OperationsBucket", "FunctionLogGroup", "Vpc"} <= set(
        stack["resources"]
    )
    # Every output the Zappa settings need came out of the deployed part.
    assert {key for key, _, _ in stack_settings.OUTPUT_SETTINGS} <= set(stack["outputs"])


@pytest.mark.django_db(transaction=True)
def test_if_the_stack_s_table_is_used_then_ensure_score_table_keeps_it_and_scores_are_cached(
    stack, settings, client_with_key, make_profile
):
    table = stack["outputs"]["ScoreTableName"]
    dynamodb = _client("dynamodb")
    created = dynamodb.describe_table(TableName=table)["Table"]

    # The pipeline's step, with the pipeline's environment (debug settings, no secrets).
    environment = {
        "PATH": os.environ["PATH"],
        "DJANGO_DEBUG": "true",
        "DJANGO_SETTINGS_MODULE": "scoreportal.settings",
        "SCORE_CACHE_TABLE": table,
        "DYNAMODB_ENDPOINT_URL": settings.DYNAMODB_ENDPOINT_URL,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
    }
    subprocess.run(
        [sys.executable, "manage.py", "ensure_score_table"],
        cwd=PROJECT,
        env=environment,
        check=True,
        capture_output=True,
    )

    described = dynamodb.describe_table(TableName=table)["Table"]
    assert described["TableArn"] == created["TableArn"] == stack["outputs"]["ScoreTableArn"]
    assert described["CreationDateTime"] == created["CreationDateTime"]  # not re-created
    assert described["KeySchema"] == [
        {"AttributeName": score_cache.KEY_ATTRIBUTE, "KeyType": "HASH"}
    ]
    assert described["AttributeDefinitions"] == [
        {"AttributeName": score_cache.KEY_ATTRIBUTE, "AttributeType": "S"}
    ]
    assert described["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    ttl = dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": score_cache.TTL_ATTRIBUTE}

    settings.SCORE_CACHE_TABLE = table
    make_profile(EXAMPLE_CPF)
    answers = [
        client_with_key.post("/api/v1/scores", {"cpf": cpf}, format="json")
        for cpf in (EXAMPLE_CPF, "52998224725")
    ]
    assert [answer.status_code for answer in answers] == [200, 200]
    assert [answer.json()["source"] for answer in answers] == ["computed", "cache"]
    assert answers[0].json()["score"] == answers[1].json()["score"]
    assert dynamodb.scan(TableName=table)["Count"] >= 1


def test_if_the_function_reads_its_secret_then_it_gets_the_three_variables_it_expects(
    stack, monkeypatch
):
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", django_settings.DYNAMODB_ENDPOINT_URL)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local")
    secretsmanager = _client("secretsmanager")
    environ = {"SCOREPORTAL_SECRET_ID": stack["outputs"]["AppSecretName"], "AWS_REGION": REGION}

    loaded = load_secrets_into_environ(environ)

    assert sorted(loaded) == sorted(MANAGED_VARIABLES)
    # The serving role's credentials: the serving function never has the owner's.
    database = json.loads(
        secretsmanager.get_secret_value(SecretId=stack["outputs"]["ServingDatabaseSecretArn"])[
            "SecretString"
        ]
    )
    url = urlsplit(environ["DATABASE_URL"])
    assert (url.scheme, url.username, url.password) == (
        "postgres",
        database["username"],
        database["password"],
    )
    assert (url.hostname, url.port, url.path) == (PROXY_STAND_IN, 5432, "/scoreportal")
    assert parse_qs(url.query) == {"sslmode": ["require"]}
    cpf_hash_key = secretsmanager.get_secret_value(
        SecretId=stack["secret_arns"]["CpfHashKeySecret"]
    )["SecretString"]
    assert environ["CPF_HASH_KEY"] == cpf_hash_key
    assert len(cpf_hash_key) == 64
    assert len(environ["DJANGO_SECRET_KEY"]) == 64
    assert environ["DJANGO_SECRET_KEY"] != cpf_hash_key


def test_if_the_ops_function_reads_its_secret_then_it_gets_the_owner_and_what_makes_the_roles(
    stack, monkeypatch
):
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", django_settings.DYNAMODB_ENDPOINT_URL)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local")
    secretsmanager = _client("secretsmanager")
    environ = {"SCOREPORTAL_SECRET_ID": stack["outputs"]["OpsSecretName"], "AWS_REGION": REGION}

    loaded = load_secrets_into_environ(environ)

    assert sorted(loaded) == sorted([*MANAGED_VARIABLES, *DATABASE_ROLE_VARIABLES])
    for variable, secret in (
        ("DATABASE_URL", "OwnerDatabaseSecretArn"),
        ("DATABASE_ADMIN_URL", "DatabaseSecretArn"),
        ("DATABASE_SERVING_URL", "ServingDatabaseSecretArn"),
    ):
        database = json.loads(
            secretsmanager.get_secret_value(SecretId=stack["outputs"][secret])["SecretString"]
        )
        url = urlsplit(environ[variable])
        assert (url.username, url.password) == (database["username"], database["password"])
        assert (url.hostname, url.path, url.query) == (
            PROXY_STAND_IN,
            "/scoreportal",
            "sslmode=require",
        )
    app = json.loads(
        secretsmanager.get_secret_value(SecretId=stack["outputs"]["AppSecretArn"])["SecretString"]
    )
    assert environ["CPF_HASH_KEY"] == app["CPF_HASH_KEY"]
    assert environ["DJANGO_SECRET_KEY"] != app["DJANGO_SECRET_KEY"]


def test_if_stack_settings_runs_then_the_stage_s_zappa_settings_point_at_the_stack(
    stack, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("AWS_ENDPOINT_URL", django_settings.DYNAMODB_ENDPOINT_URL)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local")
    settings_file = tmp_path / "zappa_settings.json"
    original = json.loads((PROJECT / "zappa_settings.json").read_text())
    settings_file.write_text(json.dumps(original))
    outputs = stack["outputs"]

    assert (
        stack_settings.main(["dev", "--stack", stack["name"], "--settings", str(settings_file)])
        == 0
    )

    written = json.loads(settings_file.read_text())
    dev = written["dev"]
    ops = written["dev_ops"]
    assert ops["role_arn"] == outputs["OpsFunctionRoleArn"] != dev["role_arn"]
    assert ops["aws_environment_variables"]["SCOREPORTAL_SECRET_ID"] == outputs["OpsSecretName"]
    assert set(ops) == set(original["dev_ops"])
    assert "REPLACE-ME" not in json.dumps(ops)
    assert written["production_ops"] == original["production_ops"]
    assert dev["role_arn"] == outputs["FunctionRoleArn"]
    assert dev["s3_bucket"] == outputs["DeploymentBucketName"]
    assert dev["vpc_config"] == {
        "SubnetIds": outputs["PrivateSubnetIds"].split(","),
        "SecurityGroupIds": [outputs["FunctionSecurityGroupId"]],
    }
    environment = dev["aws_environment_variables"]
    assert environment["SCORE_CACHE_TABLE"] == outputs["ScoreTableName"]
    assert environment["SCOREPORTAL_SECRET_ID"] == outputs["AppSecretName"]
    assert environment["OPERATIONS_BUCKET"] == outputs["OperationsBucketName"]
    assert "REPLACE-ME" not in json.dumps(dev)
    # Everything else is as it was, the other stage included.
    assert written["production"] == original["production"]
    untouched = {"role_arn", "s3_bucket", "vpc_config", "aws_environment_variables"}
    assert {k: v for k, v in dev.items() if k not in untouched} == {
        k: v for k, v in original["dev"].items() if k not in untouched
    }
    assert outputs["FunctionRoleArn"] in capsys.readouterr().out


# ---------------------------------------------------------------------------------------
# The function role on the operations bucket, enforced: moto's IAM evaluates the role's
# policies (as deployed, every reference resolved) for a stand-in principal, since moto
# cannot assume a role whose trust is for AWS services. Only for S3 does moto match the
# resource of a request against a policy's (for DynamoDB and Secrets Manager it checks
# actions against "*" alone), so the table and secret statements are pinned by
# test_template.py instead.
# ---------------------------------------------------------------------------------------
@pytest.fixture
def function_credentials(stack):
    iam = _client("iam")
    role = stack["resources"]["FunctionRole"]
    user = f"{role}-stand-in"
    iam.create_user(UserName=user)
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        if isinstance(document, str):  # moto returns the document as a Python literal
            document = ast.literal_eval(document)
        iam.put_user_policy(UserName=user, PolicyName=name, PolicyDocument=json.dumps(document))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    return {
        "aws_access_key_id": key["AccessKeyId"],
        "aws_secret_access_key": key["SecretAccessKey"],
    }


@pytest.fixture
def iam_enforced():
    """moto checks every request against IAM while the test runs (then no longer)."""
    endpoint = django_settings.DYNAMODB_ENDPOINT_URL

    def reset_auth(count):
        request = urllib.request.Request(  # noqa: S310 (the local moto server)
            f"{endpoint}/moto-api/reset-auth",
            data=str(count).encode(),
            method="POST",
            headers={"Content-Type": "text/plain"},  # a form body would be parsed away
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return json.loads(response.read())["PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT"]

    previous = reset_auth(0)
    try:
        yield
    finally:
        reset_auth(previous)


def _denied(call):
    with pytest.raises(ClientError) as error:
        call()
    return error.value.response["Error"]["Code"] in {"AccessDenied", "AccessDeniedException"}


def test_if_the_function_role_is_enforced_then_imports_are_read_write_and_handoffs_write_only(
    stack, function_credentials, iam_enforced
):
    bucket = stack["outputs"]["OperationsBucketName"]
    s3 = _client("s3", **function_credentials)

    s3.put_object(Bucket=bucket, Key="imports/profiles.csv", Body=b"cpf\n")
    assert s3.get_object(Bucket=bucket, Key="imports/profiles.csv")["Body"].read() == b"cpf\n"
    s3.delete_object(Bucket=bucket, Key="imports/profiles.csv")
    s3.put_object(Bucket=bucket, Key="handoff/new-key.txt", Body=b"shown once")

    assert _denied(lambda: s3.get_object(Bucket=bucket, Key="handoff/new-key.txt"))
    assert _denied(lambda: s3.delete_object(Bucket=bucket, Key="handoff/new-key.txt"))
    assert _denied(lambda: s3.put_object(Bucket=bucket, Key="elsewhere.txt", Body=b"x"))
    assert _denied(lambda: s3.list_objects_v2(Bucket=bucket))
    assert _denied(
        lambda: s3.put_object(Bucket=stack["outputs"]["DeploymentBucketName"], Key="x", Body=b"")
    )


# ---------------------------------------------------------------------------------------
# The two functions' roles as deployed (every reference resolved to this stack's ARNs),
# evaluated statement by statement by moto's own IAM policy engine, which matches
# resources too: what each may read and invoke.
# ---------------------------------------------------------------------------------------
def _permitted(stack, role_logical_id, action, resource):
    iam = _client("iam")
    role = stack["resources"][role_logical_id]
    results = []
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        if isinstance(document, str):  # moto returns the document as a Python literal
            document = ast.literal_eval(document)
        results.append(IAMPolicy(json.dumps(document)).is_action_permitted(action, resource))
    return PermissionResult.DENIED not in results and PermissionResult.PERMITTED in results


def test_if_the_deployed_roles_are_evaluated_then_each_function_reads_only_its_own_secret(stack):
    secrets = {
        name: stack["secret_arns"][name]
        for name in (
            "AppSecret",
            "OpsSecret",
            "DatabaseSecret",
            "OwnerDatabaseSecret",
            "ServingDatabaseSecret",
            "CpfHashKeySecret",
        )
    }

    readable = {
        role: {
            name
            for name, arn in secrets.items()
            if _permitted(stack, role, "secretsmanager:GetSecretValue", arn)
        }
        for role in ("FunctionRole", "OpsFunctionRole")
    }

    assert readable == {"FunctionRole": {"AppSecret"}, "OpsFunctionRole": {"OpsSecret"}}


def test_if_the_deployed_roles_are_evaluated_then_the_serving_function_cannot_invoke_the_ops_one(
    stack,
):
    function = f"arn:aws:lambda:{REGION}:{cfn.MOTO_ACCOUNT_ID}:function:{stack['project']}-dev"

    assert _permitted(stack, "FunctionRole", "lambda:InvokeFunction", function)
    assert _permitted(stack, "FunctionRole", "lambda:InvokeFunction", f"{function}:live")
    assert not _permitted(stack, "FunctionRole", "lambda:InvokeFunction", f"{function}-ops")
    assert not _permitted(stack, "OpsFunctionRole", "lambda:InvokeFunction", function)
