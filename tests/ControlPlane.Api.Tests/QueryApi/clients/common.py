"""Shared by the client scripts: the endpoint and keys come from the environment the C# test sets."""
import json
import os
import subprocess
import sys
import time
import urllib.request
import urllib.error

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.config
import botocore.credentials
from botocore.exceptions import ClientError

ENDPOINT = os.environ["CP_ENDPOINT"]
REGION = os.environ.get("CP_REGION", "eu-west-1")
KEY_ID, SECRET = os.environ["CP_KEY_ID"], os.environ["CP_SECRET"]
BEARER = os.environ["CP_BEARER"]  # the same operator key, for the REST side
DEADLINE = time.monotonic() + float(os.environ.get("CP_SCRIPT_SECONDS", "600"))


def step(text):
    print(f"--- {text}", flush=True)
    if time.monotonic() > DEADLINE:
        sys.exit(f"out of time before: {text}")


def client(key_id=KEY_ID, secret=SECRET):
    return boto3.client(
        "elasticache", endpoint_url=ENDPOINT, region_name=REGION,
        aws_access_key_id=key_id, aws_secret_access_key=secret,
        config=botocore.config.Config(retries={"max_attempts": 1}, connect_timeout=10, read_timeout=60))


def fault(call, *args, **kwargs):
    """The ClientError a call raises: (code, HTTP status, message); fails when it succeeds."""
    try:
        call(*args, **kwargs)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"].get("Message", "")
    sys.exit(f"expected a fault from {getattr(call, '__name__', call)}{kwargs}")


def expect(condition, text):
    if not condition:
        sys.exit(f"FAILED: {text}")


def rest(method, path, body=None):
    """The REST API with the operator key: (status, JSON body or None)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(ENDPOINT + path, data=data, method=method, headers={"Authorization": f"Bearer {BEARER}"})
    if data is not None:
        request.add_header("Content-Type", "application/merge-patch+json" if method == "PATCH" else "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
            return response.status, json.loads(text) if text else None
    except urllib.error.HTTPError as e:
        text = e.read()
        return e.code, json.loads(text) if text else None


def raw(body, content_type="application/x-www-form-urlencoded; charset=utf-8", key_id=KEY_ID, secret=SECRET, sign=True, amz_date=None):
    """POST / with this exact body, signed by botocore's own SigV4 signer: (status, XML text)."""
    request = botocore.awsrequest.AWSRequest(method="POST", url=ENDPOINT + "/", data=body.encode(), headers={"Content-Type": content_type})
    if sign:
        signer = botocore.auth.SigV4Auth(botocore.credentials.Credentials(key_id, secret), "elasticache", REGION)
        if amz_date is not None:
            # botocore's own steps, at a chosen time (add_auth would take the clock's).
            request.context["timestamp"] = amz_date.strftime("%Y%m%dT%H%M%SZ")
            signer._modify_request_before_signing(request)
            canonical = signer.canonical_request(request)
            signer._inject_signature_to_request(request, signer.signature(signer.string_to_sign(request, canonical), request))
        else:
            signer.add_auth(request)
    prepared = request.prepare()
    http = urllib.request.Request(prepared.url, data=prepared.body, method="POST", headers=dict(prepared.headers.items()))
    try:
        with urllib.request.urlopen(http, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def wait_rest(path, status, seconds=180):
    end = time.monotonic() + seconds
    while True:
        code, body = rest("GET", path)
        if code == 200 and body.get("status") == status:
            return body
        if time.monotonic() > end:
            sys.exit(f"{path} never became {status}: {code} {body}")
        time.sleep(1)


def aws(*args, check=True):
    """The Debian awscli (v2) against the control plane; JSON output parsed."""
    cli = "/usr/bin/aws" if os.path.exists("/usr/bin/aws") else "aws"
    env = dict(os.environ, AWS_ACCESS_KEY_ID=KEY_ID, AWS_SECRET_ACCESS_KEY=SECRET, AWS_DEFAULT_REGION=REGION,
               AWS_PAGER="", AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null", AWS_MAX_ATTEMPTS="1")
    result = subprocess.run([cli, "--endpoint-url", ENDPOINT, "--output", "json", "elasticache", *args],
                            env=env, capture_output=True, text=True, timeout=900)
    if check and result.returncode != 0:
        sys.exit(f"aws elasticache {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    print(f"$ aws elasticache {' '.join(args)} -> {result.returncode}", flush=True)
    return (json.loads(result.stdout) if result.stdout.strip() else None) if check else result
