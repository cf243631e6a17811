"""S3 for the fake: a moto S3 server on 127.0.0.1 that records what it receives, and the bucket calls the fake makes.

Needs the ``moto[server]`` and ``boto3`` packages (the ``testing`` extra); both are imported only
when S3 is used, so the rest of the fake works without them.
"""

from __future__ import annotations

import importlib
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _no_log(*_args: Any, **_kwargs: Any) -> None:
    return None


@dataclass(frozen=True)
class S3Request:
    """One request the S3 server received: enough to prove what a client sent to the bucket."""

    method: str
    path: str
    query: str
    headers: dict[str, str]


class S3Server:
    """A real S3-compatible HTTP server (moto's) on a free port of 127.0.0.1, in a thread.

    Every request it receives is kept in :attr:`requests`, so a test can show that no Discourse
    credential header reached the bucket::

        with S3Server() as s3:
            fake = FakeDiscourse(s3=s3)
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.requests: list[S3Request] = []
        self._lock = threading.Lock()
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint_url(self) -> str:
        """The server's base URL (``http://127.0.0.1:<port>``)."""
        if self._server is None:
            raise RuntimeError("the S3 server is not running; call start() or use it as a context manager")
        return f"http://{self.host}:{self._server.server_address[1]}"

    def _recording(self, app: WSGIApp) -> WSGIApp:
        def record(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            headers = {k[5:].replace("_", "-").title(): str(v) for k, v in environ.items() if k.startswith("HTTP_")}
            for name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                if environ.get(name):
                    headers[name.replace("_", "-").title()] = str(environ[name])
            entry = S3Request(
                environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", ""), headers
            )
            with self._lock:
                self.requests.append(entry)
            return app(environ, start_response)

        return record

    def start(self) -> S3Server:
        """Start serving (idempotent)."""
        if self._server is not None:
            return self
        moto_server = importlib.import_module("moto.server")
        serving = importlib.import_module("werkzeug.serving")
        app = moto_server.DomainDispatcherApplication(moto_server.create_backend_app)
        # werkzeug logs every request line, presigned signatures included: keep the log quiet.
        quiet = type("QuietMotoHandler", (moto_server.MotoRequestHandler,), {"log_request": _no_log, "log": _no_log})
        self._server = serving.make_server(
            self.host, self.port, self._recording(app), threaded=True, request_handler=quiet
        )
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-s3", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def clear(self) -> None:
        """Forget the recorded requests."""
        with self._lock:
            self.requests.clear()

    def __enter__(self) -> S3Server:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class S3Error(Exception):
    """S3 refused a call; ``code`` is S3's error code (``InvalidPart``, ``NoSuchUpload``...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class S3Store:
    """The bucket of a site with direct S3 uploads: the calls Discourse's S3 store makes, through boto3."""

    def __init__(
        self,
        endpoint_url: str,
        *,
        bucket: str | None = None,
        region: str = "us-east-1",
        access_key_id: str = "fake-access-key",
        secret_access_key: str = "fake-secret-key",  # noqa: S107 - moto accepts any credentials
    ) -> None:
        boto3 = importlib.import_module("boto3")
        config = importlib.import_module("botocore.config")
        self.endpoint_url = endpoint_url.rstrip("/")
        self.bucket = bucket or f"discourse-fake-{uuid.uuid4().hex[:12]}"
        self.region = region
        # Path-style URLs keep every presigned URL on the server's own host and port.
        self.client: Any = boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            config=config.Config(
                s3={"addressing_style": "path"}, signature_version="s3v4", retries={"max_attempts": 2}
            ),
        )
        self.client.create_bucket(Bucket=self.bucket)

    def _call(self, method: str, **kwargs: Any) -> Any:
        errors = importlib.import_module("botocore.exceptions")
        try:
            return getattr(self.client, method)(**kwargs)
        except errors.ClientError as exc:
            error = exc.response.get("Error", {})
            raise S3Error(str(error.get("Code", "Error")), str(error.get("Message", exc))) from exc

    def public_url(self, key: str) -> str:
        """Where an object is read from."""
        return f"{self.endpoint_url}/{self.bucket}/{key}"

    def presign_put(self, key: str, *, expires: int, metadata: dict[str, str]) -> tuple[str, dict[str, str]]:
        """A presigned PUT URL and the headers it was signed with (the client must send them)."""
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if metadata:
            params["Metadata"] = metadata
        url = self.client.generate_presigned_url("put_object", Params=params, ExpiresIn=expires)
        return url, {f"x-amz-meta-{k}": v for k, v in metadata.items()}

    def size_of(self, key: str) -> int | None:
        """The object's size, or None when it does not exist."""
        try:
            head = self._call("head_object", Bucket=self.bucket, Key=key)
        except S3Error:
            return None
        return int(head["ContentLength"])

    def read(self, key: str, byte_range: str | None = None) -> bytes:
        """An object's bytes (or a ``bytes=0-31`` range of them)."""
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if byte_range:
            params["Range"] = byte_range
        body: bytes = self._call("get_object", **params)["Body"].read()
        return body

    def put(self, key: str, data: bytes) -> None:
        """Store an object."""
        self._call("put_object", Bucket=self.bucket, Key=key, Body=data)

    def create_multipart(self, key: str, metadata: dict[str, str]) -> str:
        """Start a multipart upload; its UploadId."""
        upload_id: str = self._call("create_multipart_upload", Bucket=self.bucket, Key=key, Metadata=metadata)[
            "UploadId"
        ]
        return upload_id

    def presign_part(self, key: str, upload_id: str, part_number: int, *, expires: int) -> str:
        """A presigned URL for one part's PUT."""
        url: str = self.client.generate_presigned_url(
            "upload_part",
            Params={"Bucket": self.bucket, "Key": key, "UploadId": upload_id, "PartNumber": part_number},
            ExpiresIn=expires,
        )
        return url

    def complete_multipart(self, key: str, upload_id: str, parts: list[tuple[int, str]]) -> None:
        """Finish a multipart upload; S3 checks every part's ETag."""
        self._call(
            "complete_multipart_upload",
            Bucket=self.bucket,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": n, "ETag": etag} for n, etag in parts]},
        )

    def abort_multipart(self, key: str, upload_id: str) -> None:
        """Abandon a multipart upload and its parts."""
        self._call("abort_multipart_upload", Bucket=self.bucket, Key=key, UploadId=upload_id)

    def pending_multipart_uploads(self) -> list[str]:
        """UploadIds of multipart uploads neither completed nor aborted."""
        listing = self._call("list_multipart_uploads", Bucket=self.bucket)
        return [u["UploadId"] for u in listing.get("Uploads", [])]
