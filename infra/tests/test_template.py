"""The templates, parameter files, Zappa settings and workflows, read as they are written.

These pin what moto cannot show (see test_moto_deploy.MOTO_CANNOT_CREATE) and what a
reviewer must be able to trust without reading YAML: the function role's exact rights, the
table the code expects, a database that survives mistakes, alarms on the service's signals.
cfn-lint (make lint) checks the templates against CloudFormation's own schemas.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from conftest import owner_sql
from infra import stack_settings
from infra.tests import cloudformation as cfn
from scoreportal.database_roles import ROLE_NAME
from scoreportal.secrets_manager import DATABASE_ROLE_VARIABLES, MANAGED_VARIABLES
from scores.cache import score_cache
from scores.models import Consultation
from scores.tests.fixtures import EXAMPLE_CPF

PROJECT = Path(__file__).resolve().parents[2]
TEMPLATE = cfn.load()
RESOURCES = TEMPLATE["Resources"]
PARAMETERS = TEMPLATE["Parameters"]
STAGES = ("dev", "production")
WORKFLOWS = PROJECT / ".github" / "workflows"
# aws cloudformation deploy sends a template inline (no S3 bucket) up to this size.
INLINE_TEMPLATE_LIMIT = 51_200


def of_type(resource_type, template=TEMPLATE):
    return {
        name: resource
        for name, resource in template["Resources"].items()
        if resource["Type"] == resource_type
    }


def as_list(value):
    return value if isinstance(value, list) else [value]


def grants(role):
    """Every (action, resource) an IAM role's inline policies allow."""
    allowed = set()
    for policy in role["Properties"]["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow"
            assert "Condition" not in statement
            assert "NotAction" not in statement
            for action in as_list(statement["Action"]):
                for resource in as_list(statement["Resource"]):
                    allowed.add((action, json.dumps(resource, sort_keys=True)))
    return allowed


def node(value):
    return json.dumps(value, sort_keys=True)


# ---------------------------------------------------------------------------------------
# The function's role
# ---------------------------------------------------------------------------------------
FUNCTION_ARN = (
    "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${ProjectName}-${Stage}"
)
EXPECTED_FUNCTION_GRANTS = {
    # The one table: exactly the score cache's and rate limiter's calls.
    *(
        (f"dynamodb:{action}", node({"Fn::GetAtt": ["ScoreTable", "Arn"]}))
        for action in ("GetItem", "PutItem", "UpdateItem", "BatchGetItem", "BatchWriteItem")
    ),
    # The one secret.
    ("secretsmanager:GetSecretValue", node({"Ref": "AppSecret"})),
    # Imports read-write; hand-offs write-only.
    *(
        (f"s3:{action}", node({"Fn::Sub": "${OperationsBucket.Arn}/imports/*"}))
        for action in ("GetObject", "PutObject", "DeleteObject")
    ),
    ("s3:PutObject", node({"Fn::Sub": "${OperationsBucket.Arn}/handoff/*"})),
    # Audit trail exports: written in parts by their task, read through a presigned link.
    *(
        (f"s3:{action}", node({"Fn::Sub": "${OperationsBucket.Arn}/exports/*"}))
        for action in ("GetObject", "PutObject", "AbortMultipartUpload")
    ),
    # API Gateway's integrations and Zappa's asynchronous tasks invoke this function.
    ("lambda:InvokeFunction", node({"Fn::Sub": FUNCTION_ARN})),
    ("lambda:InvokeFunction", node({"Fn::Sub": FUNCTION_ARN + ":*"})),
    # Its own log group (created by the template, so no CreateLogGroup).
    *(
        (
            f"logs:{action}",
            node(
                {
                    "Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}"
                    ":log-group:${FunctionLogGroup}:*"
                }
            ),
        )
        for action in ("CreateLogStream", "PutLogEvents")
    ),
    # Lambda's VPC attachment (AWSLambdaVPCAccessExecutionRole's actions).
    *(
        (f"ec2:{action}", node("*"))
        for action in (
            "CreateNetworkInterface",
            "DescribeNetworkInterfaces",
            "DescribeSubnets",
            "DeleteNetworkInterface",
            "AssignPrivateIpAddresses",
            "UnassignPrivateIpAddresses",
        )
    ),
}


def test_if_the_function_role_is_read_then_it_grants_exactly_what_the_function_needs():
    role = RESOURCES["FunctionRole"]

    assert grants(role) == EXPECTED_FUNCTION_GRANTS
    assert not {"ManagedPolicyArns", "PermissionsBoundary"} & set(role["Properties"])
    # Nothing else in the template attaches a policy to the role.
    for policy_type in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        assert not of_type(policy_type)


def test_if_the_function_role_is_read_then_only_lambda_api_gateway_and_eventbridge_assume_it():
    (statement,) = RESOURCES["FunctionRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]

    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "sts:AssumeRole"
    assert sorted(statement["Principal"]["Service"]) == [
        "apigateway.amazonaws.com",
        "events.amazonaws.com",
        "lambda.amazonaws.com",
    ]
    assert set(statement["Principal"]) == {"Service"}


# ---------------------------------------------------------------------------------------
# The ops function's role: its own secret, its own log group, the VPC; nothing else
# ---------------------------------------------------------------------------------------
EXPECTED_OPS_GRANTS = {
    ("secretsmanager:GetSecretValue", node({"Ref": "OpsSecret"})),
    *(
        (
            f"logs:{action}",
            node(
                {
                    "Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}"
                    ":log-group:${OpsFunctionLogGroup}:*"
                }
            ),
        )
        for action in ("CreateLogStream", "PutLogEvents")
    ),
    *((action, resource) for action, resource in EXPECTED_FUNCTION_GRANTS if action[:4] == "ec2:"),
}


def test_if_the_ops_function_role_is_read_then_it_grants_exactly_what_migrations_and_pruning_need():
    role = RESOURCES["OpsFunctionRole"]
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]

    assert grants(role) == EXPECTED_OPS_GRANTS
    assert sorted(statement["Principal"]["Service"]) == [
        "events.amazonaws.com",  # its prune_audit schedule
        "lambda.amazonaws.com",
    ]
    assert role["Properties"]["RoleName"] == {"Fn::Sub": "${ProjectName}-${Stage}-ops"}


def test_if_the_two_roles_are_compared_then_neither_reads_the_other_s_secret_or_the_master_s():
    secrets_read = {
        name: {
            json.loads(resource)["Ref"]
            for action, resource in grants(RESOURCES[name])
            if action.startswith("secretsmanager:")
        }
        for name in ("FunctionRole", "OpsFunctionRole")
    }

    assert secrets_read == {"FunctionRole": {"AppSecret"}, "OpsFunctionRole": {"OpsSecret"}}
    # The serving function may invoke only itself: never the ops function.
    invoked = {
        json.loads(resource)["Fn::Sub"]
        for action, resource in grants(RESOURCES["FunctionRole"])
        if action == "lambda:InvokeFunction"
    }
    assert invoked == {FUNCTION_ARN, FUNCTION_ARN + ":*"}


def _secret_document(name):
    """A secret's generated JSON, with its references in place of their values."""
    generate = RESOURCES[name]["Properties"]["GenerateSecretString"]
    document = json.loads(generate["SecretStringTemplate"]["Fn::Sub"])
    return {**document, generate["GenerateStringKey"]: "generated"}


def _database_user(url):
    """Which database secret a URL of a secret's template takes its user and password from."""
    users = set(re.findall(r"\{\{resolve:secretsmanager:\$\{(\w+)\}:SecretString:username", url))
    passwords = set(re.findall(r"\$\{(\w+)\}:SecretString:password", url))
    assert users == passwords, url
    (user,) = users
    return user


def test_if_the_function_secrets_are_read_then_each_carries_its_own_role_s_database_url():
    app, ops = _secret_document("AppSecret"), _secret_document("OpsSecret")

    assert set(app) == set(MANAGED_VARIABLES)
    assert set(ops) == set(MANAGED_VARIABLES) | set(DATABASE_ROLE_VARIABLES)
    assert _database_user(app["DATABASE_URL"]) == "ServingDatabaseSecret"
    assert _database_user(ops["DATABASE_URL"]) == "OwnerDatabaseSecret"
    assert _database_user(ops["DATABASE_ADMIN_URL"]) == "DatabaseSecret"  # the master
    assert _database_user(ops["DATABASE_SERVING_URL"]) == "ServingDatabaseSecret"
    assert RESOURCES["OpsSecret"]["Properties"]["Name"] == {
        "Fn::Sub": "${ProjectName}/${Stage}/ops"
    }
    usernames = {
        name: json.loads(
            RESOURCES[name]["Properties"]["GenerateSecretString"]["SecretStringTemplate"]
        )["username"]
        for name in ("DatabaseSecret", "OwnerDatabaseSecret", "ServingDatabaseSecret")
    }
    assert len(set(usernames.values())) == 3
    assert all(ROLE_NAME.fullmatch(username) for username in usernames.values())


def test_if_the_proxy_is_read_then_it_takes_the_three_database_users_and_only_their_secrets():
    proxy = RESOURCES["DatabaseProxy"]["Properties"]
    database_secrets = ["DatabaseSecret", "OwnerDatabaseSecret", "ServingDatabaseSecret"]

    assert [auth["SecretArn"] for auth in proxy["Auth"]] == [
        {"Ref": name} for name in database_secrets
    ]
    assert all(auth["IAMAuth"] == "DISABLED" for auth in proxy["Auth"])
    assert grants(RESOURCES["DatabaseProxyRole"]) == {
        ("secretsmanager:GetSecretValue", node({"Ref": name})) for name in database_secrets
    }


def test_if_zappa_settings_are_read_then_each_ops_stage_is_its_stage_s_without_an_api():
    settings = json.loads((PROJECT / "zappa_settings.json").read_text())
    ops_role = RESOURCES["OpsFunctionRole"]["Properties"]["RoleName"]["Fn::Sub"]
    prune = "scoreportal.lambda_tasks.prune_audit"
    partitions = "scoreportal.lambda_tasks.audit_partitions"

    for stage in STAGES:
        own = settings[stack_settings.ops_stage(stage)]
        assert own["extends"] == stage
        assert (own["apigateway_enabled"], own["keep_warm"], own["touch"]) == (False, False, False)
        expected_role = ops_role.replace("${ProjectName}", "scoreportal").replace("${Stage}", stage)
        assert own["role_arn"].endswith(":role/" + expected_role)
        # The stage's network and package bucket, by extension.
        assert not {"vpc_config", "s3_bucket", "project_name"} & set(own)
        environment = own["aws_environment_variables"]
        assert environment["SCOREPORTAL_SECRET_ID"] == f"scoreportal/{stage}/ops"
        assert (
            environment["AUDIT_RETENTION_DAYS"]
            == (settings[stage]["aws_environment_variables"]["AUDIT_RETENTION_DAYS"])
        )
        # prune_audit and the partitions ahead run only here, as the owner; the serving
        # stage no longer has them.
        assert [event["function"] for event in own["events"]] == [partitions, prune]
        assert partitions not in [event["function"] for event in settings[stage]["events"]]
        assert prune not in [event["function"] for event in settings[stage]["events"]]
    updated = stack_settings.apply_outputs(
        settings["dev_ops"],
        {key: "x,y" for key, _, _ in stack_settings.OPS_OUTPUT_SETTINGS},
        stack_settings.OPS_OUTPUT_SETTINGS,
    )
    assert set(updated) == set(settings["dev_ops"])


def test_if_zappa_settings_are_read_then_each_stage_uses_the_template_s_role_and_network():
    settings = json.loads((PROJECT / "zappa_settings.json").read_text())
    role_name = RESOURCES["FunctionRole"]["Properties"]["RoleName"]["Fn::Sub"]

    for stage in STAGES:
        own = settings[stage]
        merged = {**settings.get(own.get("extends", ""), {}), **own}
        assert merged["manage_roles"] is False
        assert "extra_permissions" not in merged
        assert "role_name" not in merged
        expected_role = role_name.replace("${ProjectName}", merged["project_name"])
        assert merged["role_arn"].endswith(":role/" + expected_role.replace("${Stage}", stage))
        # A stage that extends another replaces these dictionaries whole, so each stage
        # needs its own for stack_settings to fill in.
        assert "vpc_config" in own
        assert "aws_environment_variables" in own
        environment = own["aws_environment_variables"]
        assert {"SCORE_CACHE_TABLE", "SCOREPORTAL_SECRET_ID", "OPERATIONS_BUCKET"} <= set(
            environment
        )
        assert environment["SCORE_CACHE_TABLE"] == f"{merged['project_name']}-scores-{stage}"
        assert environment["SCOREPORTAL_SECRET_ID"] == f"{merged['project_name']}/{stage}"
        assert "infra" in merged["exclude_glob"]  # templates and tools stay out of the zip
    updated = stack_settings.apply_outputs(
        settings["dev"], {key: "x,y" for key, _, _ in stack_settings.OUTPUT_SETTINGS}
    )
    assert set(updated) == set(settings["dev"])  # only existing settings are written


# ---------------------------------------------------------------------------------------
# Data stores
# ---------------------------------------------------------------------------------------
def test_if_the_score_table_is_read_then_it_is_the_table_the_code_expects():
    table = RESOURCES["ScoreTable"]["Properties"]

    assert table["KeySchema"] == [{"AttributeName": score_cache.KEY_ATTRIBUTE, "KeyType": "HASH"}]
    assert table["AttributeDefinitions"] == [
        {"AttributeName": score_cache.KEY_ATTRIBUTE, "AttributeType": "S"}
    ]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["TimeToLiveSpecification"] == {
        "AttributeName": score_cache.TTL_ATTRIBUTE,
        "Enabled": True,
    }
    assert table["SSESpecification"] == {"SSEEnabled": True}
    # A cache: no point-in-time recovery, no secondary indexes, no streams.
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": False}
    assert not {"GlobalSecondaryIndexes", "LocalSecondaryIndexes", "StreamSpecification"} & set(
        table
    )
    assert table["TableName"] == {"Fn::Sub": "${ProjectName}-scores-${Stage}"}


def test_if_the_database_is_read_then_it_is_private_encrypted_backed_up_and_protected():
    database = RESOURCES["Database"]
    properties = database["Properties"]

    assert database["DeletionPolicy"] == database["UpdateReplacePolicy"] == "Snapshot"
    assert properties["DeletionProtection"] is True
    assert properties["StorageEncrypted"] is True
    assert properties["PubliclyAccessible"] is False
    assert properties["MultiAZ"] == {"Fn::If": ["IsProduction", True, False]}
    assert properties["BackupRetentionPeriod"] == {"Ref": "DatabaseBackupRetentionDays"}
    assert PARAMETERS["DatabaseBackupRetentionDays"]["MinValue"] >= 7
    assert properties["Engine"] == "postgres"
    family = RESOURCES["DatabaseParameterGroup"]["Properties"]
    assert family["Parameters"]["rds.force_ssl"] == "1"
    assert re.fullmatch(PARAMETERS["DatabaseEngineVersion"]["AllowedPattern"], "16")
    assert family["Family"] == "postgres16"
    # Credentials only through the generated secret.
    for field, key in (("MasterUsername", "username"), ("MasterUserPassword", "password")):
        assert properties[field] == {
            "Fn::Sub": "{{resolve:secretsmanager:${DatabaseSecret}:SecretString:" + key + "}}"
        }


def test_if_the_proxy_is_read_then_tls_is_required_and_only_the_function_reaches_it():
    proxy = RESOURCES["DatabaseProxy"]["Properties"]

    assert proxy["RequireTLS"] is True
    assert proxy["DebugLogging"] is False
    assert proxy["EngineFamily"] == "POSTGRESQL"
    assert proxy["Auth"][0]["SecretArn"] == {"Ref": "DatabaseSecret"}
    # DATABASE_CONN_MAX_AGE (300 s) closes idle connections before the proxy does.
    assert proxy["IdleClientTimeout"] > 300
    ingress = {
        name: resource["Properties"].get("SecurityGroupIngress", [])
        for name, resource in of_type("AWS::EC2::SecurityGroup").items()
    }
    assert ingress["FunctionSecurityGroup"] == []
    assert [
        (rule["FromPort"], rule["SourceSecurityGroupId"]) for rule in ingress["ProxySecurityGroup"]
    ] == [(5432, {"Ref": "FunctionSecurityGroup"})]
    assert [
        (rule["FromPort"], rule["SourceSecurityGroupId"])
        for rule in ingress["DatabaseSecurityGroup"]
    ] == [(5432, {"Ref": "ProxySecurityGroup"})]
    assert not of_type("AWS::EC2::SecurityGroupIngress")
    assert not of_type("AWS::EC2::InternetGateway")
    assert not of_type("AWS::EC2::NatGateway")
    egress = {
        (rule["Properties"]["GroupId"]["Ref"], rule["Properties"]["FromPort"]): rule["Properties"][
            "DestinationSecurityGroupId"
        ]["Ref"]
        for rule in of_type("AWS::EC2::SecurityGroupEgress").values()
    }
    assert egress == {
        ("FunctionSecurityGroup", 5432): "ProxySecurityGroup",
        ("ProxySecurityGroup", 5432): "DatabaseSecurityGroup",
        ("ProxySecurityGroup", 443): "EndpointSecurityGroup",
    }


def test_if_the_network_is_read_then_the_function_reaches_aws_through_endpoints():
    endpoints = {
        resource["Properties"]["ServiceName"]["Fn::Sub"].rsplit(".", 1)[1]: resource["Properties"]
        for resource in of_type("AWS::EC2::VPCEndpoint").values()
    }

    assert {name: props["VpcEndpointType"] for name, props in endpoints.items()} == {
        "dynamodb": "Gateway",
        "s3": "Gateway",
        "secretsmanager": "Interface",
        "lambda": "Interface",  # Zappa's asynchronous tasks
    }
    assert endpoints["secretsmanager"]["PrivateDnsEnabled"] is True
    assert endpoints["lambda"]["PrivateDnsEnabled"] is True
    subnets = of_type("AWS::EC2::Subnet")
    assert len(subnets) == 2
    assert all(subnet["Properties"]["MapPublicIpOnLaunch"] is False for subnet in subnets.values())


def test_if_the_secrets_are_read_then_the_app_secret_carries_what_the_function_loads():
    app = RESOURCES["AppSecret"]["Properties"]["GenerateSecretString"]
    document = re.sub(
        r"\{\{resolve:[^}]+\}\}|\$\{[^}]+\}", "x", app["SecretStringTemplate"]["Fn::Sub"]
    )

    assert set(json.loads(document)) | {app["GenerateStringKey"]} == set(MANAGED_VARIABLES)
    assert RESOURCES["AppSecret"]["Properties"]["Name"] == {"Fn::Sub": "${ProjectName}/${Stage}"}
    # The CPF hash key can never be lost with the stack, nor replaced by an update.
    for name in (
        "CpfHashKeySecret",
        "DatabaseSecret",
        "OwnerDatabaseSecret",
        "ServingDatabaseSecret",
    ):
        assert (
            RESOURCES[name]["DeletionPolicy"] == RESOURCES[name]["UpdateReplacePolicy"] == "Retain"
        )
    assert not of_type("AWS::SecretsManager::RotationSchedule")
    # Values that go into a URL and a JSON document unescaped.
    for secret in of_type(cfn.SECRET_TYPE).values():
        assert secret["Properties"]["GenerateSecretString"]["ExcludePunctuation"] is True


def test_if_the_stack_generates_the_app_s_keys_then_the_app_accepts_their_length():
    """The settings refuse a DJANGO_SECRET_KEY under 50 characters and a CPF_HASH_KEY
    under 32 (scoreportal/settings.py): the keys the stack makes pass, with room."""
    app_key = RESOURCES["AppSecret"]["Properties"]["GenerateSecretString"]
    cpf_key = RESOURCES["CpfHashKeySecret"]["Properties"]["GenerateSecretString"]

    assert app_key["GenerateStringKey"] == "DJANGO_SECRET_KEY"
    assert app_key["PasswordLength"] >= 50
    assert cpf_key["PasswordLength"] >= 32


def test_if_the_buckets_are_read_then_they_are_private_encrypted_tls_only_and_expire():
    policies = {
        policy["Properties"]["Bucket"]["Ref"]: policy["Properties"]["PolicyDocument"]["Statement"]
        for policy in of_type("AWS::S3::BucketPolicy").values()
    }

    for name, bucket in of_type("AWS::S3::Bucket").items():
        properties = bucket["Properties"]
        assert all(properties["PublicAccessBlockConfiguration"].values()), name
        assert properties["BucketEncryption"]["ServerSideEncryptionConfiguration"], name
        assert properties["LifecycleConfiguration"]["Rules"], name
        assert "VersioningConfiguration" not in properties, name
        tls = [s for s in policies[name] if s.get("Condition", {}).get("Bool")]
        assert tls[0]["Effect"] == "Deny"
        assert tls[0]["Condition"]["Bool"] == {"aws:SecureTransport": "false"}
    rules = {
        rule.get("Prefix"): rule
        for rule in RESOURCES["OperationsBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    }
    assert rules["handoff/"]["ExpirationInDays"] == 1
    assert rules["imports/"]["ExpirationInDays"] == {"Ref": "ImportsRetentionDays"}
    (handoff,) = [s for s in policies["OperationsBucket"] if s["Sid"].startswith("Handoff")]
    assert (handoff["Effect"], handoff["Action"]) == ("Deny", "s3:GetObject")
    assert handoff["Condition"]["ArnNotLike"]["aws:PrincipalArn"]["Fn::Sub"].endswith(
        ":role/${ProjectName}-${Stage}-operator"
    )


def test_if_stateful_resources_are_read_then_each_has_an_explicit_deletion_policy():
    stateful = (
        "AWS::RDS::DBInstance",
        "AWS::DynamoDB::Table",
        "AWS::S3::Bucket",
        "AWS::SecretsManager::Secret",
        "AWS::Logs::LogGroup",
        "AWS::KMS::Key",
    )
    for resource_type in stateful:
        for name, resource in of_type(resource_type).items():
            assert "DeletionPolicy" in resource, name
            assert "UpdateReplacePolicy" in resource, name
    for name, group in of_type("AWS::Logs::LogGroup").items():
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name
    assert RESOURCES["AlarmTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "AlarmTopicKey"}
    assert RESOURCES["AlarmTopicKey"]["Properties"]["EnableKeyRotation"] is True


# ---------------------------------------------------------------------------------------
# Alarms and dashboard
# ---------------------------------------------------------------------------------------
def test_if_the_alarms_are_read_then_the_service_s_signals_page_the_alarm_topic():
    watched = set()
    for name, alarm in of_type("AWS::CloudWatch::Alarm").items():
        properties = alarm["Properties"]
        assert properties["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
        assert properties["TreatMissingData"] == "notBreaching", name
        metrics = [
            query["MetricStat"]["Metric"]
            for query in properties.get("Metrics", [])
            if "MetricStat" in query
        ] or [properties]
        for metric in metrics:
            namespace = metric["Namespace"]
            watched.add(
                (
                    namespace if isinstance(namespace, str) else namespace["Fn::Sub"],
                    metric["MetricName"],
                    properties.get("ExtendedStatistic", properties.get("Statistic", "")),
                    tuple(d["Name"] for d in metric.get("Dimensions", [])),
                )
            )

    assert watched >= {
        ("AWS/ApiGateway", "5XXError", "Average", ("ApiName",)),
        ("AWS/ApiGateway", "Latency", "p95", ("ApiName",)),
        ("AWS/Lambda", "Throttles", "Sum", ("FunctionName",)),
        ("ScorePortal/${Stage}", "AuditWriteFailures", "Sum", ()),
        ("AWS/DynamoDB", "ReadThrottleEvents", "", ("TableName",)),
        ("AWS/DynamoDB", "WriteThrottleEvents", "", ("TableName",)),
        ("AWS/RDS", "DatabaseConnections", "Maximum", ("ProxyName",)),
    }
    audit = RESOURCES["AuditWriteFailureMetricFilter"]["Properties"]
    assert audit["LogGroupName"] == {"Ref": "FunctionLogGroup"}
    assert audit["MetricTransformations"][0]["MetricName"] == "AuditWriteFailures"


def _json_filter_matches(pattern, line):
    """CloudWatch Logs' JSON filter syntax, as much as the template uses: `$.a = "v*" && …`."""
    conditions = re.findall(r'\$\.(\w+) = "([^"]*)"', pattern)
    assert conditions, pattern
    assert pattern.count("&&") == len(conditions) - 1, pattern
    return all(
        re.fullmatch(re.escape(value).replace(r"\*", ".*"), str(line.get(field, "")))
        for field, value in conditions
    )


@pytest.mark.django_db(transaction=True)
def test_if_an_audit_write_fails_then_the_logged_line_feeds_the_alarm_s_metric_filter(
    score_table, client_with_key, make_profile, log_output
):
    pattern = RESOURCES["AuditWriteFailureMetricFilter"]["Properties"]["FilterPattern"]
    make_profile()
    table = Consultation._meta.db_table
    owner_sql(f'ALTER TABLE "{table}" RENAME TO "{table}_away"')
    try:
        response = client_with_key.post("/api/v1/scores", {"cpf": EXAMPLE_CPF}, format="json")
    finally:
        owner_sql(f'ALTER TABLE "{table}_away" RENAME TO "{table}"')

    assert response.status_code == 503
    assert "could not be recorded" in response.json()["error"]["message"]
    matching = [line for line in log_output() if _json_filter_matches(pattern, line)]
    assert len(matching) == 1
    # A successful request's lines do not match.
    response = client_with_key.post("/api/v1/scores", {"cpf": EXAMPLE_CPF}, format="json")
    assert response.status_code == 200
    assert len([line for line in log_output() if _json_filter_matches(pattern, line)]) == 1


def test_if_the_dashboard_is_rendered_then_its_body_is_valid_json_with_widgets():
    body, variables = RESOURCES["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    assert set(variables) == {"Function"}
    rendered = re.sub(r"\$\{[^}]+\}", "1", body)

    widgets = json.loads(rendered)["widgets"]

    assert len(widgets) >= 6
    assert all(widget["properties"]["metrics"] for widget in widgets)


# ---------------------------------------------------------------------------------------
# Parameters per stage
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("stage", [pytest.param(stage, id=stage) for stage in STAGES])
def test_if_a_stage_s_parameter_file_is_read_then_the_template_accepts_it(stage):
    values = json.loads((PROJECT / "infra" / "parameters" / f"{stage}.json").read_text())

    assert set(values) <= set(PARAMETERS)
    assert {name for name, p in PARAMETERS.items() if "Default" not in p} <= set(values)
    assert values["Stage"] == stage
    for name, value in values.items():
        parameter = PARAMETERS[name]
        if "AllowedValues" in parameter:
            assert value in [str(v) for v in parameter["AllowedValues"]], name
        if "AllowedPattern" in parameter:
            assert re.fullmatch(parameter["AllowedPattern"], value), name
        if parameter["Type"] == "Number":
            assert parameter.get("MinValue", -math.inf) <= Decimal(value), name
            assert Decimal(value) <= parameter.get("MaxValue", math.inf), name
    # The alarm fires at 80% of the connections the proxy may open.
    budget = int(values["DatabaseMaxConnections"]) * int(values["ProxyMaxConnectionsPercent"]) / 100
    assert int(values["ProxyConnectionsAlarmThreshold"]) == math.floor(budget * 0.8)


def test_if_the_stages_are_compared_then_production_is_the_more_durable():
    dev, production = (
        json.loads((PROJECT / "infra" / "parameters" / f"{stage}.json").read_text())
        for stage in STAGES
    )

    assert int(production["DatabaseBackupRetentionDays"]) == 35
    assert int(production["LogRetentionDays"]) >= int(dev["LogRetentionDays"])
    assert production["VpcCidr"] != dev["VpcCidr"]


def test_if_the_template_is_deployed_by_the_pipeline_then_it_fits_inline():
    for path in (cfn.TEMPLATE, cfn.BOOTSTRAP_TEMPLATE):
        assert path.stat().st_size < INLINE_TEMPLATE_LIMIT, path.name


# ---------------------------------------------------------------------------------------
# The pipeline's roles and workflow
# ---------------------------------------------------------------------------------------
def test_if_the_bootstrap_roles_are_read_then_github_deploys_only_its_own_stage():
    bootstrap = cfn.load(cfn.BOOTSTRAP_TEMPLATE)
    deploy = bootstrap["Resources"]["DeployRole"]["Properties"]
    (trust,) = deploy["AssumeRolePolicyDocument"]["Statement"]

    assert trust["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert trust["Condition"]["StringEquals"] == {
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
        "token.actions.githubusercontent.com:sub": {
            "Fn::Sub": "repo:${GitHubRepository}:environment:${Stage}"
        },
    }
    statements = [
        statement
        for policy in deploy["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
    ]
    for statement in statements:
        assert "*" not in as_list(statement["Resource"]), statement
        assert not any(action.endswith(":*") for action in as_list(statement["Action"]))
    pass_role = [s for s in statements if s["Action"] == "iam:PassRole"]
    assert all("iam:PassedToService" in s["Condition"]["StringEquals"] for s in pass_role)
    # The deploy role may create the score table (ensure_score_table); the function may not.
    assert "dynamodb:CreateTable" in {a for s in statements for a in as_list(s["Action"])}


def _workflow(name):
    # PyYAML reads the key `on` as True (YAML 1.1); the jobs are what matter here.
    return yaml.safe_load((WORKFLOWS / name).read_text())


def test_if_the_workflows_are_read_then_production_waits_for_dev_and_aws_access_is_oidc_only():
    pipeline = _workflow("deploy.yml")
    stage = _workflow("deploy-stage.yml")
    jobs = pipeline["jobs"]

    assert jobs["package"]["needs"] == "checks"
    assert jobs["deploy-dev"]["needs"] == "package"
    assert jobs["deploy-production"]["needs"] == "deploy-dev"
    for name in ("deploy-dev", "deploy-production"):
        assert jobs[name]["uses"] == "./.github/workflows/deploy-stage.yml"
        assert jobs[name]["permissions"]["id-token"] == "write"
    (deploy,) = stage["jobs"].values()
    assert deploy["environment"]["name"] == "${{ inputs.stage }}"  # approval rules apply
    commands = "\n".join(step.get("run", "") for step in deploy["steps"])
    for command in (
        "aws cloudformation deploy",
        "python -m infra.stack_settings",
        'zappa update "$OPS_STAGE"',
        'zappa manage "$OPS_STAGE" ensure_database_roles',
        'zappa manage "$OPS_STAGE" migrate',
        'zappa manage "$OPS_STAGE" grant_serving_role',
        'zappa update "$STAGE"',
        "manage.py ensure_score_table",
        "/api/v1/health",
    ):
        assert command in commands, command
    # The database is prepared by the ops function, in this order, before the serving
    # function's new code; the serving function never migrates.
    steps = [
        commands.index(command)
        for command in (
            'zappa manage "$OPS_STAGE" ensure_database_roles',
            'zappa manage "$OPS_STAGE" migrate',
            'zappa manage "$OPS_STAGE" grant_serving_role',
            'zappa update "$STAGE"',
        )
    ]
    assert steps == sorted(steps)
    assert 'zappa manage "$STAGE"' not in commands
    assert deploy["env"]["OPS_STAGE"] == "${{ inputs.stage }}_ops"
    assert set(pipeline["jobs"]["package"]["strategy"]["matrix"]["stage"]) == {
        *STAGES,
        *map(stack_settings.ops_stage, STAGES),
    }
    text = "\n".join(path.read_text() for path in WORKFLOWS.glob("*.yml"))
    assert "aws-access-key-id" not in text
    assert "AWS_SECRET_ACCESS_KEY" not in text
    for action in re.findall(r"uses:\s*([^\s#]+)", text):
        if not action.startswith("./"):
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", action), action
