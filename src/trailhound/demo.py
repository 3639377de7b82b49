"""Writes realistic CloudTrail delivery files with a planted story, for `make demo` and the benchmarks.

    python -m trailhound.demo OUT_DIR [--seed N] [--hours N] [--events-per-file N]

The layout is CloudTrail's own (AWSLogs/o-ORG/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/..._CloudTrail_...json.gz)
plus a digest file. Background traffic mixes services, identities and user agents. The story:
- 09:10 a provisioning role (Terraform) creates user `j.doe` and, two minutes later, its login profile
  without a forced reset: onboarding, which the rule flags and the context should call Low;
- 14:02 stolen keys of the `ci-deploy` user, from an unfamiliar address, try CreateLoginProfile for the
  existing user `backup-admin` and are refused (AccessDenied), then
- 14:06 succeed on the existing user `svc-reporting`, give it an access key too (14:08), and sign in to
  its console from that same address at 14:31: the attack;
- decoys: helpdesk login profiles that require a reset, UpdateLoginProfile calls, and "CreateLoginProfile"
  inside an unrelated field.
"""

from __future__ import annotations

import argparse
import gzip
import random
import string
import uuid
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

ORG = "o-7h3k2m9q1z"
ACCOUNT = "111122223333"
REGIONS = ("us-east-1", "eu-west-1")
DAY = datetime(2026, 11, 27, tzinfo=UTC)
ATTACKER_IP = "203.0.113.66"
OFFICE_IPS = ("198.51.100.10", "198.51.100.11", "198.51.100.24")

_PEOPLE = ("alice", "bob", "carol", "dave", "erin")
_AGENTS = (
    "aws-cli/2.15.30 Python/3.11.8 Linux/6.1.0 exe/x86_64.debian.12 prompt/off command/s3.ls",
    "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#6.1.0 md/arch#x86_64 lang/python#3.11.8",
    "aws-sdk-go-v2/1.26.1 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4",
    "console.amazonaws.com",
    "Terraform/1.7.5 (+https://www.terraform.io) terraform-provider-aws/5.42.0",
)
# (eventSource, eventName, readOnly, request parameters factory)
_BACKGROUND: tuple[tuple[str, str, bool, Any], ...] = (
    ("s3.amazonaws.com", "GetObject", True, lambda r: {"bucketName": "acme-data", "key": f"reports/{r.randint(1, 999)}.csv"}),
    ("s3.amazonaws.com", "PutObject", False, lambda r: {"bucketName": "acme-logs", "key": f"app/{r.randint(1, 99)}.log"}),
    ("ec2.amazonaws.com", "DescribeInstances", True, lambda r: {"maxResults": 100}),
    ("ec2.amazonaws.com", "DescribeSecurityGroups", True, lambda r: {"filterSet": {}}),
    ("sts.amazonaws.com", "AssumeRole", True, lambda r: {"roleArn": f"arn:aws:iam::{ACCOUNT}:role/deploy",
                                                       "roleSessionName": f"ci-{r.randint(1000, 9999)}"}),
    ("sts.amazonaws.com", "GetCallerIdentity", True, lambda r: None),
    ("kms.amazonaws.com", "Decrypt", True, lambda r: {"encryptionAlgorithm": "SYMMETRIC_DEFAULT"}),
    ("lambda.amazonaws.com", "Invoke", False, lambda r: {"functionName": "thumbnailer"}),
    ("iam.amazonaws.com", "ListUsers", True, lambda r: None),
    ("iam.amazonaws.com", "GetUser", True, lambda r: {"userName": r.choice(_PEOPLE)}),
    ("logs.amazonaws.com", "PutLogEvents", False, lambda r: {"logGroupName": "/aws/lambda/thumbnailer"}),
    ("dynamodb.amazonaws.com", "Query", True, lambda r: {"tableName": "orders"}),
)


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _user(name: str) -> dict[str, Any]:
    return {"type": "IAMUser", "principalId": "AIDA" + name.upper().replace("-", "").replace(".", "")[:12].ljust(12, "X"),
            "arn": f"arn:aws:iam::{ACCOUNT}:user/{name}", "accountId": ACCOUNT,
            "accessKeyId": "AKIA" + str(zlib.crc32(name.encode())).zfill(12), "userName": name}


def _role(role: str, session: str) -> dict[str, Any]:
    return {"type": "AssumedRole", "principalId": f"AROAEXAMPLE{role.upper()[:6]}:{session}",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}", "accountId": ACCOUNT,
            "accessKeyId": "ASIAEXAMPLE" + role.upper()[:6],
            "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": f"AROAEXAMPLE{role.upper()[:6]}",
                                                 "arn": f"arn:aws:iam::{ACCOUNT}:role/{role}",
                                                 "accountId": ACCOUNT, "userName": role},
                               "attributes": {"creationDate": "2026-11-27T00:00:00Z", "mfaAuthenticated": "false"}}}


def _event(rnd: random.Random, when: datetime, region: str, source: str, name: str, identity: dict[str, Any],
           request: Any, response: Any = None, ip: str | None = None, agent: str | None = None,
           read_only: bool = False, error: tuple[str, str] | None = None, event_type: str = "AwsApiCall") -> dict[str, Any]:
    event: dict[str, Any] = {
        "eventVersion": "1.09", "userIdentity": identity, "eventTime": _iso(when), "eventSource": source,
        "eventName": name, "awsRegion": region, "sourceIPAddress": ip or rnd.choice(OFFICE_IPS),
        "userAgent": agent or rnd.choice(_AGENTS), "requestParameters": request, "responseElements": response,
        "requestID": str(uuid.UUID(int=rnd.getrandbits(128))), "eventID": str(uuid.UUID(int=rnd.getrandbits(128))),
        "readOnly": read_only, "eventType": event_type, "managementEvent": True, "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
        "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
                       "clientProvidedHostHeader": source},
    }
    if error:
        event["errorCode"], event["errorMessage"] = error
    return event


def _login_profile(rnd: random.Random, when: datetime, identity: dict[str, Any], target: str, reset: bool, ip: str | None = None,
                   agent: str | None = None, error: tuple[str, str] | None = None,
                   name: str = "CreateLoginProfile") -> dict[str, Any]:
    request = {"userName": target, "passwordResetRequired": reset}
    response = None if error else {"loginProfile": {"userName": target, "createDate": when.strftime("%b %d, %Y %I:%M:%S %p"),
                                                    "passwordResetRequired": reset}}
    return _event(rnd, when, "us-east-1", "iam.amazonaws.com", name, identity, request, response, ip, agent, error=error)


def _console_login(rnd: random.Random, when: datetime, user: str, ip: str) -> dict[str, Any]:
    event = _event(rnd, when, "us-east-1", "signin.amazonaws.com", "ConsoleLogin", _user(user), None,
                   {"ConsoleLogin": "Success"}, ip, _AGENTS[3], event_type="AwsConsoleSignIn")
    event["additionalEventData"] = {"LoginTo": "https://console.aws.amazon.com/console/home", "MobileVersion": "No",
                                    "MFAUsed": "No"}
    return event


def story(rnd: random.Random, day: datetime = DAY) -> list[dict[str, Any]]:
    """The planted events (all in us-east-1, where IAM and sign-in events are delivered)."""
    def at(h: int, m: int) -> datetime:
        return day + timedelta(hours=h, minutes=m)

    terraform = _role("provisioning", "terraform-apply-4821")
    helpdesk = _role("helpdesk", "erin")
    stolen = _user("ci-deploy")
    curl_agent = "python-requests/2.31.0"
    events = [
        _event(rnd, at(9, 10), "us-east-1", "iam.amazonaws.com", "CreateUser", terraform, {"userName": "j.doe"},
               {"user": {"userName": "j.doe", "path": "/", "arn": f"arn:aws:iam::{ACCOUNT}:user/j.doe",
                         "createDate": "Nov 27, 2026 9:10:00 AM"}}, agent=_AGENTS[5]),
        _login_profile(rnd, at(9, 12), terraform, "j.doe", False, agent=_AGENTS[5]),
        _event(rnd, at(10, 30), "us-east-1", "iam.amazonaws.com", "CreateUser", helpdesk, {"userName": "k.lee"},
               {"user": {"userName": "k.lee", "path": "/", "arn": f"arn:aws:iam::{ACCOUNT}:user/k.lee",
                         "createDate": "Nov 27, 2026 10:30:00 AM"}}, agent=_AGENTS[4]),
        _login_profile(rnd, at(10, 31), helpdesk, "k.lee", True, agent=_AGENTS[4]),
        _login_profile(rnd, at(11, 45), helpdesk, "alice", True, agent=_AGENTS[4], name="UpdateLoginProfile"),
        _event(rnd, at(13, 58), "us-east-1", "sts.amazonaws.com", "GetCallerIdentity", stolen, None, None,
               ATTACKER_IP, curl_agent, read_only=True),
        _event(rnd, at(14, 0), "us-east-1", "iam.amazonaws.com", "ListUsers", stolen, None, None, ATTACKER_IP,
               curl_agent, read_only=True),
        _login_profile(rnd, at(14, 2), stolen, "backup-admin", False, ATTACKER_IP, curl_agent,
                       error=("AccessDenied", "User: arn:aws:iam::111122223333:user/ci-deploy is not authorized to "
                                              "perform: iam:CreateLoginProfile on resource: user backup-admin")),
        _login_profile(rnd, at(14, 6), stolen, "svc-reporting", False, ATTACKER_IP, curl_agent),
        _event(rnd, at(14, 8), "us-east-1", "iam.amazonaws.com", "CreateAccessKey", stolen,
               {"userName": "svc-reporting"}, {"accessKey": {"userName": "svc-reporting", "status": "Active",
                                                             "accessKeyId": "AKIAEXAMPLEPERSIST1"}},
               ATTACKER_IP, curl_agent),
        _console_login(rnd, at(14, 31), "svc-reporting", ATTACKER_IP),
        # A decoy: the needle in an unrelated field of an S3 call.
        _event(rnd, at(15, 0), "us-east-1", "s3.amazonaws.com", "GetObject", _user("bob"),
               {"bucketName": "acme-docs", "key": "runbooks/CreateLoginProfile-howto.md"}, None, read_only=True),
    ]
    return events


def background(rnd: random.Random, when: datetime, region: str) -> dict[str, Any]:
    source, name, read_only, request = rnd.choice(_BACKGROUND)
    if rnd.random() < 0.5:
        identity = _user(rnd.choice(_PEOPLE))
    else:
        identity = _role(rnd.choice(("deploy", "lambda-exec", "monitoring")), f"s-{rnd.randint(100, 999)}")
    return _event(rnd, when, region, source, name, identity, request(rnd), None, read_only=read_only)


def _key(region: str, when: datetime, rnd: random.Random) -> str:
    suffix = "".join(rnd.choices(string.ascii_letters + string.digits, k=16))
    return (f"AWSLogs/{ORG}/{ACCOUNT}/CloudTrail/{region}/{when:%Y/%m/%d}/"
            f"{ACCOUNT}_CloudTrail_{region}_{when:%Y%m%dT%H%MZ}_{suffix}.json.gz")


def write_demo(out: str | Path, seed: int = 237, hours: int = 24, events_per_file: int = 40,
               files_per_hour: int = 1, day: datetime = DAY) -> list[Path]:
    """Write a day of delivery files under `out`; returns their paths. Same seed, same bytes."""
    rnd = random.Random(seed)
    out = Path(out)
    planted = story(rnd, day)
    files: list[Path] = []
    slot = timedelta(hours=1) / files_per_hour
    for region in REGIONS:
        for index in range(hours * files_per_hour):
            start = day + slot * index
            events = [background(rnd, start + timedelta(seconds=rnd.randint(0, int(slot.total_seconds()) - 1)), region)
                      for _ in range(events_per_file)]
            events += [e for e in planted if e["awsRegion"] == region and start <= _parse(e["eventTime"]) < start + slot]
            events.sort(key=lambda e: e["eventTime"])
            path = out / _key(region, start + slot, rnd)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(gzip.compress(orjson.dumps({"Records": events}), mtime=0))
            files.append(path)
    digest = out / f"AWSLogs/{ORG}/{ACCOUNT}/CloudTrail-Digest/us-east-1/{day:%Y/%m/%d}/" \
                   f"{ACCOUNT}_CloudTrail-Digest_us-east-1_org-trail_us-east-1_{day:%Y%m%dT%H%MZ}.json.gz"
    digest.parent.mkdir(parents=True, exist_ok=True)
    digest.write_bytes(gzip.compress(orjson.dumps({
        "awsAccountId": ACCOUNT, "digestStartTime": _iso(day), "digestEndTime": _iso(day + timedelta(hours=1)),
        "digestS3Bucket": "acme-org-trail", "digestPublicKeyFingerprint": "0" * 32, "logFiles": []}), mtime=0))
    return files


def _parse(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out")
    parser.add_argument("--seed", type=int, default=237)
    parser.add_argument("--hours", type=int, default=24)
    parser.add_argument("--events-per-file", type=int, default=40)
    args = parser.parse_args(argv)
    files = write_demo(args.out, args.seed, args.hours, args.events_per_file)
    print(f"wrote {len(files)} CloudTrail files under {args.out}")


if __name__ == "__main__":
    main()
