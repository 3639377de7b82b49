"""Write a benchmark corpus: CloudTrail's S3 delivery layout, gzipped, with planted matches and decoys.

    python benchmarks/make_corpus.py OUT [--files 400] [--mb 1000] [--quick]

Background records are made fresh, each with its own ids, time, caller and request, in the mix of a busy
organisation trail (data-plane and read calls dominate; identity-plane calls are a few percent), using
trailhound.demo's identities and user agents. Planted: CreateLoginProfile without a reset (the matches, listed in OUT/expected.txt), and decoys a
naive scanner would count: the same call with a reset required, UpdateLoginProfile, and the needle in an
unrelated field (an S3 key, a user agent), in other letter cases too.
"""

from __future__ import annotations

import argparse
import gzip
import random
import sys
from datetime import timedelta
from pathlib import Path

import orjson

from trailhound import demo


def planted(rnd: random.Random, index: int) -> tuple[list[dict], list[str]]:
    """The records hidden in file `index`: (records, eventIDs that must alert)."""
    when = demo.DAY + timedelta(minutes=index)
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


def background(rnd: random.Random, when, region: str) -> bytes:
    """One fresh record (its own ids, time, caller and request): real trails do not repeat records."""
    source, name = rnd.choices(_NAMES, _WEIGHTS)[0]
    if rnd.random() < 0.4:
        identity = demo._user(rnd.choice(demo._PEOPLE))
    else:
        identity = demo._role(rnd.choice(("deploy", "lambda-exec", "monitoring", "etl", "web")),
                              f"s-{rnd.randint(100, 99999)}")
    request = {"bucketName": f"acme-{rnd.choice(('data', 'logs', 'ml', 'web'))}",
               "key": f"{rnd.choice(('reports', 'raw', 'tmp'))}/{rnd.getrandbits(40):x}.parquet"} \
        if source.startswith("s3") else {"resource": f"{name.lower()}-{rnd.getrandbits(24):x}"}
    event = demo._event(rnd, when, region, source, name, identity, request, None, read_only=name.startswith(("Get", "Describe", "List")))
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
            extra, ids = planted(rnd, index)
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
