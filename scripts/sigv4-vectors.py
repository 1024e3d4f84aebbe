#!/usr/bin/env python3
"""Generates Slipway's SigV4 test vectors with botocore, the reference signer.

Writes Tests/StorageTests/Fixtures/sigv4-vectors.json: presigned GET URLs and
header-signed S3 requests (GetObject, HeadObject, PutObject, ListObjectsV2,
DeleteObjects) for awkward keys, path-style and virtual-hosted addressing, and
the regions `auto` (Cloudflare R2) and `us-east-1`. The Swift tests in
Tests/StorageTests/S3/SigV4VectorTests.swift must reproduce every URL path and
signature byte for byte.

botocore's clock is frozen by patching `botocore.auth.get_current_datetime`;
requests are captured on botocore's `before-send` event and never leave the
process.

    pip install boto3
    python3 scripts/sigv4-vectors.py            # rewrites the fixture
    python3 scripts/sigv4-vectors.py --check    # fails if the fixture is stale
"""

import argparse
import datetime
import json
import pathlib
import sys
import unicodedata
from unittest import mock
from urllib.parse import parse_qsl, unquote, urlsplit

import boto3
import botocore
import botocore.auth
from botocore.config import Config

ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
FROZEN = datetime.datetime(2024, 5, 17, 12, 34, 56)
BUCKET = "slipway-sites"

FIXTURE = pathlib.Path(__file__).resolve().parent.parent / "Tests/StorageTests/Fixtures/sigv4-vectors.json"

# (name, endpoint, region, addressing styles)
ENDPOINTS = [
    ("r2", "https://0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com", "auto", ["path", "virtual"]),
    ("aws", "https://s3.us-east-1.amazonaws.com", "us-east-1", ["path", "virtual"]),
    ("ceph", "http://127.0.0.1:7480", "us-east-1", ["path"]),
]

CAFE_NAIVE = "caf\u00e9/na\u00efve r\u00e9sum\u00e9.html"


def long_key():
    segment = "very-long-directory-name-0123456789/"
    key = ""
    while len((key + segment).encode()) < 860:
        key += segment
    return key + "final file name with spaces & symbols (1).txt"


KEYS = [
    ("plain", "index.html"),
    ("nested", "sites/site_01HX/build_01HY/assets/app.3f9c2b1e.js"),
    ("space", "docs/my file.txt"),
    ("plus", "a+b/c+d.txt"),
    ("percent", "100%/real%20name.txt"),
    ("hash", "notes#1.md"),
    ("question", "what?.txt"),
    ("equals-ampersand", "k=v&x=y.txt"),
    ("reserved-punctuation", "~user/(1)!*'$@:;,[].txt"),
    ("unicode-nfc", unicodedata.normalize("NFC", CAFE_NAIVE)),
    ("unicode-nfd", unicodedata.normalize("NFD", CAFE_NAIVE)),
    ("cjk-emoji", "\u65e5\u672c\u8a9e/\u30d5\u30a1\u30a4\u30eb \U0001F680.html"),
    ("long", long_key()),
]


class Captured(Exception):
    def __init__(self, request):
        super().__init__("captured")
        self.request = request


def capture(request, **_):
    raise Captured(request)


def client(endpoint, region, addressing):
    c = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": addressing},
            retries={"max_attempts": 1, "mode": "standard"},
        ),
    )
    c.meta.events.register("before-send.s3.*", capture)
    return c


def signed_request(c, operation, **params):
    try:
        getattr(c, operation)(**params)
    except Captured as captured:
        return captured.request
    raise RuntimeError(f"{operation} was not captured")


def signed_vector(name, endpoint, region, addressing, operation, key, request):
    url = urlsplit(request.url)
    authorization = request.headers["Authorization"]
    if isinstance(authorization, bytes):
        authorization = authorization.decode()
    signed_names = authorization.split("SignedHeaders=")[1].split(",")[0].split(";")
    headers = {}
    for header_name in signed_names:
        if header_name == "host":
            headers["host"] = url.netloc
            continue
        value = request.headers[header_name]
        headers[header_name] = value.decode() if isinstance(value, bytes) else value
    return {
        "name": name,
        "operation": operation,
        "method": request.method,
        "endpoint": endpoint,
        "region": region,
        "addressing": addressing,
        "bucket": BUCKET,
        "key": key,
        "url": request.url,
        "path": url.path,
        # Decoded query parameters, in the order botocore put them in the URL.
        "query": [[k, v] for k, v in parse_qsl(url.query, keep_blank_values=True)],
        "headers": headers,
        "payloadHash": headers["x-amz-content-sha256"],
        "authorization": authorization,
    }


def generate():
    presigned = []
    signed = []
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=FROZEN):
        for endpoint_name, endpoint, region, styles in ENDPOINTS:
            for addressing in styles:
                c = client(endpoint, region, addressing)
                prefix = f"{endpoint_name}-{addressing}"
                for key_name, key in KEYS:
                    for expires in (3600, 604800):
                        url = c.generate_presigned_url(
                            "get_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=expires
                        )
                        presigned.append({
                            "name": f"{prefix}-{key_name}-{expires}",
                            "endpoint": endpoint,
                            "region": region,
                            "addressing": addressing,
                            "bucket": BUCKET,
                            "key": key,
                            "expiresIn": expires,
                            "url": url,
                        })
                    request = signed_request(c, "get_object", Bucket=BUCKET, Key=key)
                    signed.append(signed_vector(f"{prefix}-get-{key_name}", endpoint, region, addressing, "GetObject", key, request))

                key = dict(KEYS)["unicode-nfd"]
                request = signed_request(c, "get_object", Bucket=BUCKET, Key=key, Range="bytes=0-99")
                signed.append(signed_vector(f"{prefix}-get-range", endpoint, region, addressing, "GetObject", key, request))

                key = dict(KEYS)["space"]
                request = signed_request(c, "head_object", Bucket=BUCKET, Key=key)
                signed.append(signed_vector(f"{prefix}-head", endpoint, region, addressing, "HeadObject", key, request))

                key = dict(KEYS)["plus"]
                request = signed_request(
                    c, "put_object", Bucket=BUCKET, Key=key, Body=b"<h1>hello, slipway</h1>\n",
                    ContentType="text/html; charset=utf-8", CacheControl="public, max-age=0, must-revalidate",
                    ContentEncoding="gzip",
                )
                signed.append(signed_vector(f"{prefix}-put", endpoint, region, addressing, "PutObject", key, request))

                request = signed_request(
                    c, "list_objects_v2", Bucket=BUCKET, Prefix="sites/a b+c/\u00e9", StartAfter="sites/a b+c/\u00e9/x=1&y", MaxKeys=1000
                )
                signed.append(signed_vector(f"{prefix}-list", endpoint, region, addressing, "ListObjectsV2", None, request))

                request = signed_request(
                    c, "delete_objects", Bucket=BUCKET,
                    Delete={"Objects": [{"Key": "a b.txt"}, {"Key": "c+d.txt"}], "Quiet": True},
                )
                signed.append(signed_vector(f"{prefix}-delete", endpoint, region, addressing, "DeleteObjects", None, request))

    return {
        "generator": f"scripts/sigv4-vectors.py with botocore {botocore.__version__}",
        "accessKeyId": ACCESS_KEY,
        "secretAccessKey": SECRET_KEY,
        "date": FROZEN.strftime("%Y%m%dT%H%M%SZ"),
        "presigned": presigned,
        "signed": signed,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed fixture instead of writing it")
    args = parser.parse_args()
    vectors = generate()
    # The generator line names the botocore version; compare the vectors only.
    text = json.dumps(vectors, indent=2, ensure_ascii=True) + "\n"
    if args.check:
        committed = json.loads(FIXTURE.read_text())
        committed.pop("generator", None)
        fresh = dict(vectors)
        fresh.pop("generator", None)
        if committed != fresh:
            print(f"{FIXTURE} is stale: run scripts/sigv4-vectors.py", file=sys.stderr)
            return 1
        print("sigv4 vectors are up to date")
        return 0
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    FIXTURE.write_text(text)
    print(f"wrote {len(vectors['presigned'])} presigned and {len(vectors['signed'])} signed vectors to {FIXTURE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
