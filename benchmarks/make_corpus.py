"""Write a benchmark corpus: CloudTrail's S3 delivery layout, gzipped, with planted matches and decoys.

    python benchmarks/make_corpus.py OUT [--files 400] [--mb 1000] [--quick]

Background records come from trailhound.demo (services, identities, user agents of a real organisation
trail). Planted: CreateLoginProfile without a reset (the matches, listed in OUT/expected.txt), and decoys a
naive scanner would count: the same call with a reset required, UpdateLoginProfile, and the needle in an
unrelated field (an S3 key, a user agent), in other letter cases too.
"""

from __future__ import annotations

import argparse
import random
import sys
from datetime import timedelta
from pathlib import Path

import orjson
from isal import igzip

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


def write_corpus(out: Path, files: int, total_mb: float, seed: int = 237, plant_every: int = 40) -> list[str]:
    rnd = random.Random(seed)
    pool = [orjson.dumps(demo.background(rnd, demo.DAY + timedelta(seconds=rnd.randint(0, 86399)),
                                          rnd.choice(demo.REGIONS))) for _ in range(4000)]
    per_file = max(1, int(total_mb * 1e6 / files / (sum(map(len, pool)) / len(pool))))
    expected: list[str] = []
    for index in range(files):
        region = demo.REGIONS[index % len(demo.REGIONS)]
        records = rnd.choices(pool, k=per_file)
        if index % plant_every == plant_every // 2:
            extra, ids = planted(rnd, index)
            expected += ids
            for record in extra:
                records.insert(rnd.randrange(len(records) + 1), orjson.dumps(record))
        when = demo.DAY + timedelta(minutes=5 * index)
        path = out / demo._key(region, when, rnd)  # out/AWSLogs/...
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(igzip.compress(b'{"Records":[' + b",".join(records) + b"]}", 1))
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
