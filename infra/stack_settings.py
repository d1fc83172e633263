"""Write a stage's infrastructure stack outputs into zappa_settings.json.

The infrastructure stack (infra/scoreportal.yaml) creates what the functions need and Zappa
does not: their roles, subnets and security group, the package bucket, the score table, the
secrets and the operations bucket. Their names and ids depend on the account, so
zappa_settings.json holds `REPLACE-ME` placeholders for them, and the deploy pipeline (or an
operator deploying by hand) fills them in before `zappa deploy` / `zappa update`, which read
them. A stage and its ops stage (`<stage>_ops`, the function that migrates and prunes as the
schema's owner) come from the same stack:

    python -m infra.stack_settings dev            # stack scoreportal-dev-infra: dev, dev_ops

Only the settings below are written; everything else in the file is left as it is.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import boto3

SETTINGS_FILE = Path(__file__).resolve().parent.parent / "zappa_settings.json"


def _one(value: str) -> str:
    return value


def _listed(value: str) -> list[str]:
    return [item for item in value.split(",") if item]


# Stack output -> where it goes in the stage's settings, and how.
OUTPUT_SETTINGS: tuple[tuple[str, tuple[str, ...], Callable[[str], Any]], ...] = (
    ("FunctionRoleArn", ("role_arn",), _one),
    ("DeploymentBucketName", ("s3_bucket",), _one),
    ("PrivateSubnetIds", ("vpc_config", "SubnetIds"), _listed),
    ("FunctionSecurityGroupId", ("vpc_config", "SecurityGroupIds"), lambda value: [value]),
    ("ScoreTableName", ("aws_environment_variables", "SCORE_CACHE_TABLE"), _one),
    ("AppSecretName", ("aws_environment_variables", "SCOREPORTAL_SECRET_ID"), _one),
    ("OperationsBucketName", ("aws_environment_variables", "OPERATIONS_BUCKET"), _one),
)


# The stage's ops function: its own role and secret. The package bucket and the network
# it takes from the stage it extends.
OPS_OUTPUT_SETTINGS: tuple[tuple[str, tuple[str, ...], Callable[[str], Any]], ...] = (
    ("OpsFunctionRoleArn", ("role_arn",), _one),
    ("OpsSecretName", ("aws_environment_variables", "SCOREPORTAL_SECRET_ID"), _one),
)


def ops_stage(stage: str) -> str:
    """The Zappa stage of a stage's ops function."""
    return f"{stage}_ops"


class StackSettingsError(Exception):
    """The stack or the settings file cannot be reconciled."""


def stack_name(project_name: str, stage: str) -> str:
    """The infrastructure stack of a stage (Zappa's own API stack is "<project>-<stage>")."""
    return f"{project_name}-{stage}-infra"


def stack_outputs(name: str, *, region: str) -> dict[str, str]:
    """The outputs of a deployed stack, by key."""
    client = boto3.client("cloudformation", region_name=region)
    stacks = client.describe_stacks(StackName=name)["Stacks"]
    return {
        output["OutputKey"]: output["OutputValue"]
        for output in stacks[0].get("Outputs", [])
        if "OutputKey" in output and "OutputValue" in output
    }


def apply_outputs(
    stage_settings: Mapping[str, Any],
    outputs: Mapping[str, str],
    output_settings: Sequence[tuple[str, tuple[str, ...], Callable[[str], Any]]] = OUTPUT_SETTINGS,
) -> dict[str, Any]:
    """A copy of one stage's settings with the values the stack outputs provide.

    Nested settings (vpc_config, aws_environment_variables) must be the stage's own: a
    stage that `extends` another replaces such a dictionary whole rather than merging it.
    """
    missing = [key for key, _, _ in output_settings if key not in outputs]
    if missing:
        raise StackSettingsError(f"the stack has no output {', '.join(missing)}")
    updated: dict[str, Any] = json.loads(json.dumps(stage_settings))
    for key, path, convert in output_settings:
        *parents, leaf = path
        target = updated
        for parent in parents:
            if not isinstance(target.get(parent), dict):
                raise StackSettingsError(f"the stage has no {parent!r} of its own")
            target = target[parent]
        target[leaf] = convert(outputs[key])
    return updated


def update_settings_file(
    path: Path, stage: str, outputs: Mapping[str, str]
) -> dict[str, dict[str, Any]]:
    """Rewrite a stage of a zappa_settings.json, and its ops stage, with the stack's outputs;
    returns what each was given."""
    settings = json.loads(path.read_text())
    written = {}
    for name, output_settings in (
        (stage, OUTPUT_SETTINGS),
        (ops_stage(stage), OPS_OUTPUT_SETTINGS),
    ):
        if name not in settings:
            raise StackSettingsError(f"{path.name} has no stage {name!r}")
        settings[name] = apply_outputs(settings[name], outputs, output_settings)
        written[name] = dict(settings[name])
    path.write_text(json.dumps(settings, indent=4, ensure_ascii=False) + "\n")
    return written


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.stack_settings", description=__doc__)
    parser.add_argument("stage", help="the Zappa stage (dev, production); its ops stage too")
    parser.add_argument("--stack", help="default: <project_name>-<stage>-infra")
    parser.add_argument("--settings", type=Path, default=SETTINGS_FILE)
    args = parser.parse_args(argv)

    settings = json.loads(args.settings.read_text())
    if args.stage not in settings:
        parser.error(f"{args.settings.name} has no stage {args.stage!r}")
    base = settings.get(settings[args.stage].get("extends", ""), {})
    stage_settings = {**base, **settings[args.stage]}
    name = args.stack or stack_name(stage_settings["project_name"], args.stage)
    try:
        outputs = stack_outputs(name, region=stage_settings["aws_region"])
        written = update_settings_file(args.settings, args.stage, outputs)
    except StackSettingsError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 1
    for name, output_settings in (
        (args.stage, OUTPUT_SETTINGS),
        (ops_stage(args.stage), OPS_OUTPUT_SETTINGS),
    ):
        for _, path, _ in output_settings:
            value: Any = written[name]
            for part in path:
                value = value[part]
            print(f"{name}.{'.'.join(path)} = {json.dumps(value)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
