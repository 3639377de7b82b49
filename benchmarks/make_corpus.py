"""Write a benchmark corpus: CloudTrail's S3 delivery layout, gzipped, with planted matches and decoys.

    python benchmarks/make_corpus.py OUT [--files 400] [--mb 1000] [--quick]

Background records are made fresh, each with its own ids, time, caller and request, in the mix of a busy
organisation trail (data-plane and read calls dominate; identity-plane calls are a few percent), using
trailhound.demo's identities and user agents. Planted: CreateLoginProfile without a reset (the matches, listed
in OUT/expected.txt), and decoys a naive scanner would count: the same call with a reset required,
UpdateLoginProfile, and the needle in an unrelated field (an S3 key, a user agent), in other letter cases too.
"""

from __future__ import annotations

import argparse
import gzip
import random
import string
import sys
from datetime import datetime, timedelta
from pathlib import Path

import orjson

from trailhound import demo


def planted(rnd: random.Random, index: int, when: datetime) -> tuple[list[dict], list[str]]:
    """The records hidden in file `index`, at `when` inside the file's five minutes (a scheduled KQL rule sees
    an event only while it is inside the rule's period, as Sentinel does): (records, eventIDs that must alert)."""
    thief = demo._user("ci-deploy")
    match = demo._login_profile(rnd, when, thief, f"victim-{index}", False, demo.ATTACKER_IP)
    shouty = demo._login_profile(rnd, when, thief, f"victim-{index}-b", False, demo.ATTACKER_IP)
    shouty["eventName"] = "CREATELOGINPROFILE"
    decoys = [
        demo._login_profile(rnd, when, thief, f"staff-{index}", True),
        demo._login_profile(rnd, when, thief, f"staff-{index}", False, name="UpdateLoginProfile"),
        demo._event(rnd, when, "us-east-1", "s3.amazonaws.com", "GetObject", demo._user("bob"),
                    {"bucketName": "docs", "key": "runbooks/createLoginProfile.md"}, None),
        demo._event(rnd, when, "us-east-1", "sts.amazonaws.com", "GetCallerIdentity", demo._user("bob"), None,
                    None, agent="scanner/1.0 (checks CreateLoginProfile)"),
    ]
    return [match, shouty] + decoys, [match["eventID"], shouty["eventID"]]


# The mix of a busy organisation trail: data-plane and read calls dominate, identity-plane calls are a few
# percent (CloudTrail's own event history shows the same shape). Weights per 1,000 records.
_MIX = (
    ("s3.amazonaws.com", "GetObject", 260), ("s3.amazonaws.com", "PutObject", 120), ("kms.amazonaws.com", "Decrypt", 110),
    ("sts.amazonaws.com", "AssumeRole", 90), ("ec2.amazonaws.com", "DescribeInstances", 80),
    ("logs.amazonaws.com", "PutLogEvents", 70), ("dynamodb.amazonaws.com", "Query", 60),
    ("lambda.amazonaws.com", "Invoke", 50), ("ec2.amazonaws.com", "DescribeSecurityGroups", 40),
    ("ssm.amazonaws.com", "GetParameter", 40), ("secretsmanager.amazonaws.com", "GetSecretValue", 30),
    ("sts.amazonaws.com", "GetCallerIdentity", 20), ("iam.amazonaws.com", "GetRole", 15),
    ("iam.amazonaws.com", "ListUsers", 5), ("iam.amazonaws.com", "GetUser", 5),
    ("signin.amazonaws.com", "ConsoleLogin", 3), ("iam.amazonaws.com", "CreateAccessKey", 1),
    ("iam.amazonaws.com", "CreateUser", 1),
)
_NAMES = [(source, name) for source, name, _ in _MIX]
_WEIGHTS = [weight for _, _, weight in _MIX]


_AGENT_SHAPES = (
    "aws-cli/2.{a}.{b} Python/3.11.{c} Linux/6.1.{d} exe/x86_64.amzn.2023 prompt/off command/{cmd}",
    "Boto3/1.34.{a} md/Botocore#1.34.{a} ua/2.0 os/linux#6.1.{d} md/arch#x86_64 lang/python#3.{c}.{b} cfg/retry-mode#standard",
    "aws-sdk-go-v2/1.{a}.{b} os/linux lang/go#1.22.{c} md/GOOS#linux md/GOARCH#amd64 api/{cmd}#1.{d}.0",
    "aws-sdk-java/2.{a}.{b} Linux/5.10.{d}-amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.{c}+7-LTS Java/17.0.{c} vendor/Amazon.com_Inc.",  # noqa: E501
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/12{c}.0.{a}.{b} Safari/537.36",
)


def _agent(rnd: random.Random, name: str) -> str:
    return rnd.choice(_AGENT_SHAPES).format(a=rnd.randint(0, 99), b=rnd.randint(0, 99), c=rnd.randint(0, 9),
                                            d=rnd.randint(0, 299), cmd=name.lower())


def _token(rnd: random.Random, length: int) -> str:
    return "".join(rnd.choices(string.ascii_letters + string.digits + "/+", k=length))


def background(rnd: random.Random, when, region: str) -> bytes:
    """One fresh record: its own ids, time, caller, address, agent and request, as real trails never repeat.
    Credentials in AssumeRole responses and resource ARNs carry the entropy that makes real CloudTrail
    compress ~6-9x (the public samples in ../shared/corpus do), not the 12x+ of templated records."""
    source, name = rnd.choices(_NAMES, _WEIGHTS)[0]
    if rnd.random() < 0.4:
        identity = demo._user(rnd.choice(demo._PEOPLE))
    else:
        identity = demo._role(rnd.choice(("deploy", "lambda-exec", "monitoring", "etl", "web")),
                              f"s-{rnd.getrandbits(48):x}")
    resource = f"{name.lower()}-{rnd.getrandbits(64):x}"
    request = {"bucketName": f"acme-{rnd.choice(('data', 'logs', 'ml', 'web'))}-{rnd.randint(1, 40)}",
               "key": f"{rnd.choice(('reports', 'raw', 'tmp'))}/{rnd.getrandbits(64):x}/{rnd.getrandbits(40):x}.parquet",
               "Host": f"acme-data.s3.{region}.amazonaws.com"} if source.startswith("s3") else {"resource": resource}
    response = None
    if name == "AssumeRole":
        response = {"credentials": {"accessKeyId": "ASIA" + _token(rnd, 16).upper(), "sessionToken": _token(rnd, 360),
                                    "expiration": "Nov 27, 2026, 11:00:00 PM"},
                    "assumedRoleUser": {"assumedRoleId": "AROA" + _token(rnd, 17).upper() + ":" + resource,
                                        "arn": f"arn:aws:sts::{demo.ACCOUNT}:assumed-role/deploy/{resource}"}}
    address = f"{rnd.choice((10, 52, 54, 198, 203))}.{rnd.randint(0, 255)}.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}"
    event = demo._event(rnd, when, region, source, name, identity, request, response, ip=address,
                        agent=_agent(rnd, name), read_only=name.startswith(("Get", "Describe", "List")))
    event["resources"] = [{"accountId": demo.ACCOUNT, "type": "AWS::Resource",
                           "ARN": f"arn:aws:{source.split('.')[0]}:{region}:{demo.ACCOUNT}:{resource}"}]
    return orjson.dumps(event)


def write_corpus(out: Path, files: int, total_mb: float, seed: int = 237, plant_every: int = 40) -> list[str]:
    rnd = random.Random(seed)
    expected: list[str] = []
    per_file = total_mb * 1e6 / files
    for index in range(files):
        region = demo.REGIONS[index % len(demo.REGIONS)]
        start = demo.DAY + timedelta(minutes=5 * index)
        records, size = [], 0
        while size < per_file:
            record = background(rnd, start + timedelta(seconds=rnd.randint(0, 299)), region)
            records.append(record)
            size += len(record) + 1
        if index % plant_every == plant_every // 2:
            extra, ids = planted(rnd, index, start + timedelta(minutes=2))
            expected += ids
            for record in extra:
                records.insert(rnd.randrange(len(records) + 1), orjson.dumps(record))
        path = out / demo._key(region, start, rnd)  # out/AWSLogs/...
        path.parent.mkdir(parents=True, exist_ok=True)
        # CloudTrail delivers gzip at the default level; level 6 here, as gzip(1) would.
        path.write_bytes(gzip.compress(b'{"Records":[' + b",".join(records) + b"]}", 6))
    (out / "expected.txt").write_text("".join(f"{e}\n" for e in sorted(expected)))
    return expected


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--files", type=int, default=400)
    parser.add_argument("--mb", type=float, default=1000, help="decompressed JSON in all, MB")
    parser.add_argument("--quick", action="store_true", help="16 files, 16 MB: a smoke test")
    args = parser.parse_args(argv)
    files, mb = (16, 16) if args.quick else (args.files, args.mb)
    expected = write_corpus(args.out, files, mb, plant_every=8 if args.quick else 40)
    print(f"wrote {files} files (~{mb:.0f} MB of JSON), {len(expected)} planted matches, under {args.out}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
