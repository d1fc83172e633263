"""Reading infra/scoreportal.yaml, and deploying the part moto can emulate into moto.

moto's CloudFormation (moto 5.2) creates most of the template's resource types, but not
AWS::SecretsManager::Secret, RDS Proxy, CloudWatch alarms, metric filters, bucket policies
or SNS subscriptions. For the secrets this module does what CloudFormation itself does,
through the Secrets Manager API: it creates each secret from the template's own properties
(GenerateSecretString through GetRandomPassword, `{{resolve:secretsmanager:…}}` dynamic
references resolved), then hands the rest of the template their ARNs in place of `Ref`.
Everything else moto cannot create is left out with whatever depends on it, and listed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from cfnlint.decode import decode

INFRA = Path(__file__).resolve().parents[1]
TEMPLATE = INFRA / "scoreportal.yaml"
BOOTSTRAP_TEMPLATE = INFRA / "bootstrap.yaml"
MOTO_ACCOUNT_ID = "123456789012"
SECRET_TYPE = "AWS::SecretsManager::Secret"

_SUB_VARIABLE = re.compile(r"\$\{([^!}][^}]*)\}")
_DYNAMIC_REFERENCE = re.compile(r"\{\{resolve:secretsmanager:(.+?)\}\}")


def load(path: Path = TEMPLATE) -> dict[str, Any]:
    """The template as CloudFormation reads it (short-form tags become Fn:: mappings)."""
    template, matches = decode(str(path))
    assert not matches, matches
    assert template is not None
    loaded: dict[str, Any] = json.loads(json.dumps(template))
    return loaded


def references(node: Any) -> set[str]:
    """Logical ids and parameters a template node refers to (Ref, GetAtt, Sub)."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref":
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value[0] if isinstance(value, list) else value.split(".")[0])
            elif key == "Fn::Sub":
                text, variables = (value, {}) if isinstance(value, str) else value
                found |= {
                    name.split(".")[0]
                    for name in _SUB_VARIABLE.findall(text)
                    if name not in variables
                }
                found |= references(variables)
            else:
                found |= references(value)
    elif isinstance(node, list):
        for item in node:
            found |= references(item)
    return {name for name in found if not name.startswith("AWS::")}


def substitute(node: Any, values: dict[str, str]) -> Any:
    """Evaluate Ref and Sub against known values (enough for the secrets' properties)."""
    if isinstance(node, dict) and set(node) == {"Ref"}:
        return values[node["Ref"]]
    if isinstance(node, dict) and set(node) == {"Fn::Sub"}:
        text, variables = (
            (node["Fn::Sub"], {}) if isinstance(node["Fn::Sub"], str) else node["Fn::Sub"]
        )
        known = {**values, **{name: substitute(value, values) for name, value in variables.items()}}
        return _SUB_VARIABLE.sub(lambda match: known[match[1]], text)
    if isinstance(node, dict):
        return {key: substitute(value, values) for key, value in node.items()}
    if isinstance(node, list):
        return [substitute(item, values) for item in node]
    return node


def resolve_dynamic_references(text: str, secretsmanager: Any) -> str:
    """Replace `{{resolve:secretsmanager:id[:SecretString:key]}}` by the secret's value."""

    def value(match: re.Match[str]) -> str:
        secret_id, _, rest = match[1].partition(":SecretString")
        if secret_id.startswith("arn:"):  # an ARN holds colons: split after "secret:name-xxxxxx"
            secret_id = ":".join(match[1].split(":")[:7])
            rest = match[1][len(secret_id) :].removeprefix(":SecretString")
        secret = secretsmanager.get_secret_value(SecretId=secret_id)["SecretString"]
        key = rest.lstrip(":").split(":")[0]
        return str(json.loads(secret)[key]) if key else secret

    return _DYNAMIC_REFERENCE.sub(value, text)


def _in_dependency_order(resources: dict[str, Any], names: set[str]) -> list[str]:
    ordered: list[str] = []
    pending = sorted(names)
    while pending:
        ready = [name for name in pending if references(resources[name]) & set(pending) <= {name}]
        assert ready, f"circular references among {pending}"
        ordered += ready
        pending = [name for name in pending if name not in ready]
    return ordered


def create_secrets(
    template: dict[str, Any], values: dict[str, str], secretsmanager: Any
) -> dict[str, str]:
    """Create the template's secrets as CloudFormation would; return logical id -> ARN."""
    resources = template["Resources"]
    names = {name for name, resource in resources.items() if resource["Type"] == SECRET_TYPE}
    arns: dict[str, str] = {}
    for name in _in_dependency_order(resources, names):
        properties = substitute(resources[name]["Properties"], {**values, **arns})
        generate = properties.get("GenerateSecretString")
        if generate:
            password = secretsmanager.get_random_password(
                PasswordLength=generate.get("PasswordLength", 32),
                ExcludePunctuation=generate.get("ExcludePunctuation", False),
                ExcludeCharacters=generate.get("ExcludeCharacters", ""),
            )["RandomPassword"]
            if "SecretStringTemplate" in generate:
                document = resolve_dynamic_references(
                    generate["SecretStringTemplate"], secretsmanager
                )
                secret_string = json.dumps(
                    {**json.loads(document), generate["GenerateStringKey"]: password}
                )
            else:
                secret_string = password
        else:
            secret_string = resolve_dynamic_references(properties["SecretString"], secretsmanager)
        arns[name] = secretsmanager.create_secret(
            Name=properties["Name"], SecretString=secret_string
        )["ARN"]
    return arns


def moto_deployable(
    template: dict[str, Any], supported_types: set[str], secret_arns: dict[str, str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The part of the template moto can create, with the secrets' ARNs in place of Ref.

    Returns that template and the resources left out (logical id -> type).
    """
    resources = template["Resources"]
    parameters = set(template.get("Parameters", {}))
    kept = {
        name
        for name, resource in resources.items()
        if resource["Type"] in supported_types and name not in secret_arns
    }
    while True:  # drop whatever refers to something that is not there
        available = kept | parameters | set(secret_arns)
        orphans = {
            name
            for name in kept
            if not references(resources[name]) | set(_depends_on(resources[name])) <= available
        }
        if not orphans:
            break
        kept -= orphans
    available = kept | parameters | set(secret_arns)
    part = {
        "AWSTemplateFormatVersion": template["AWSTemplateFormatVersion"],
        "Parameters": template["Parameters"],
        "Conditions": template.get("Conditions", {}),
        "Resources": {name: _with_secret_arns(resources[name], secret_arns) for name in kept},
        "Outputs": {
            key: _with_secret_arns(output, secret_arns)
            for key, output in template.get("Outputs", {}).items()
            if references(output) <= available
        },
    }
    left_out = {name: resource["Type"] for name, resource in resources.items() if name not in kept}
    return part, left_out


def _depends_on(resource: dict[str, Any]) -> list[str]:
    depends = resource.get("DependsOn", [])
    return [depends] if isinstance(depends, str) else list(depends)


def _with_secret_arns(node: Any, secret_arns: dict[str, str]) -> Any:
    if isinstance(node, dict) and set(node) == {"Ref"} and node["Ref"] in secret_arns:
        return secret_arns[node["Ref"]]
    if isinstance(node, dict) and set(node) == {"Fn::Sub"} and isinstance(node["Fn::Sub"], str):
        text = node["Fn::Sub"]
        for name, arn in secret_arns.items():
            text = text.replace("${" + name + "}", arn)
        return {"Fn::Sub": text}
    if isinstance(node, dict):
        return {key: _with_secret_arns(value, secret_arns) for key, value in node.items()}
    if isinstance(node, list):
        return [_with_secret_arns(item, secret_arns) for item in node]
    return node
