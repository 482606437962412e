"""schemathesis hooks for the API fuzzing spec (api-fuzz.spec.ts points SCHEMATHESIS_HOOKS here).

POST /v1/artifacts has one rule a schema cannot state: `sha256`, when given, is the hash of the bytes sent
(else 400 checksum_mismatch, nothing kept). A well-formed sha256 is replaced by the body's real hash before the
request goes out (or dropped where the bytes are only encoded as they are sent), so a schema-valid upload is one
the API must accept; a malformed one is left alone and must still be refused. schemathesis revalidates a case after
this hook, so its checks judge what was actually sent.
"""

import hashlib
import re

import schemathesis

UPLOAD = "POST /v1/artifacts"
SHA256 = re.compile(r"[0-9a-fA-F]{64}")


@schemathesis.hook
def before_call(context, case, kwargs):
    if case.operation.label != UPLOAD or not case.query or not isinstance(case.query.get("sha256"), str):
        return
    if not SHA256.fullmatch(case.query["sha256"]):
        return
    body = case.as_transport_kwargs().get("data")
    if body is None or body != case.as_transport_kwargs().get("data"):
        # The bytes are encoded only as they are sent (JSON by requests; multipart with a fresh boundary each
        # time), so their hash is not known here; without `sha256` the upload is as schema-valid as before.
        del case.query["sha256"]
        return
    case.query["sha256"] = hashlib.sha256(body.encode() if isinstance(body, str) else body).hexdigest()
