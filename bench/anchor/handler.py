"""The seed's public service, the benchmark's anchor: FastAPI behind Mangum, one DynamoDB
GetItem of the score table per request; no authentication, no limits, no audit.

Packaged as the root module `handler` of a zip of its own (bench/cold_start.py) and invoked
like ours (devstack/lambda_invoke.py). The DynamoDB client is configured as ours is
(scoreportal/aws_clients.py), from the same environment variables.
"""

import hashlib
import hmac
import os
from typing import Any

import boto3
from botocore.config import Config
from fastapi import FastAPI, HTTPException
from mangum import Mangum
from pydantic import BaseModel, Field

TABLE = os.environ.get("SCORE_CACHE_TABLE", "scoreportal-scores")
CPF_HASH_KEY = os.environ["CPF_HASH_KEY"].encode()
dynamodb = boto3.client(
    "dynamodb",
    region_name=os.environ.get("AWS_REGION", "sa-east-1"),
    endpoint_url=os.environ.get("DYNAMODB_ENDPOINT_URL") or None,
    config=Config(
        connect_timeout=0.25,
        read_timeout=0.3,
        retries={"mode": "legacy", "total_max_attempts": 2},
        tcp_keepalive=True,
    ),
)
app = FastAPI()


class ScoreQuery(BaseModel):
    cpf: str = Field(pattern=r"^[0-9]{11}$")


@app.post("/api/v1/scores")
def score(query: ScoreQuery) -> dict[str, Any]:
    key = hmac.new(CPF_HASH_KEY, query.cpf.encode(), hashlib.sha256).hexdigest()
    item = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": key}}).get("Item")
    if not item or "score" not in item:
        raise HTTPException(status_code=404, detail="no_credit_data")
    return {
        "cpf": f"***.{query.cpf[3:6]}.{query.cpf[6:9]}-**",
        "score": int(item["score"]["N"]),
        "band": item["band"]["S"],
        "probability_of_default": float(item["probability_of_default"]["N"]),
        "reason_codes": [code["S"] for code in item["reason_codes"]["L"]],
    }


lambda_handler = Mangum(app, lifespan="off")
