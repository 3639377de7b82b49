"""An SQS queue of S3 notifications: long-polled, messages kept invisible while their objects are read.

Deleting is the caller's job, and only once the objects' alerts are stored: consumption is at-least-once,
and the state store's processed objects make the alerts exactly-once.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, cast

from .aws import describe_aws_error
from .aws import shared_client as client


@dataclass(frozen=True)
class Message:
    id: str
    receipt: str
    body: str
    receive_count: int


class Queue:
    def __init__(self, url: str) -> None:
        self.url = url
        self._sqs: Any = None

    @property
    def sqs(self) -> Any:
        if self._sqs is None:
            self._sqs = client("sqs")
        return self._sqs

    def attributes(self) -> dict[str, str]:
        # boto3 clients are untyped (Any): the API returns a string map here
        return cast(dict[str, str], self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["All"])["Attributes"])

    def receive(self, wait_s: int, visibility_s: int) -> list[Message]:
        reply = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_s,
                                         VisibilityTimeout=visibility_s,
                                         MessageSystemAttributeNames=["ApproximateReceiveCount"])
        return [Message(m["MessageId"], m["ReceiptHandle"], m.get("Body", ""),
                        int(m.get("Attributes", {}).get("ApproximateReceiveCount", "1")))
                for m in reply.get("Messages", [])]

    def delete(self, messages: list[Message]) -> list[str]:
        """Delete; returns a one-line reason per message that could not be deleted (it will come back)."""
        failures: list[str] = []
        for start in range(0, len(messages), 10):
            chunk = messages[start:start + 10]
            reply = self.sqs.delete_message_batch(
                QueueUrl=self.url, Entries=[{"Id": str(n), "ReceiptHandle": m.receipt} for n, m in enumerate(chunk)])
            failures += [f"{chunk[int(f['Id'])].id}: {f.get('Code')} {f.get('Message', '')}".strip()
                         for f in reply.get("Failed", [])]
        return failures

    def extend(self, messages: list[Message], visibility_s: int) -> None:
        for start in range(0, len(messages), 10):
            chunk = messages[start:start + 10]
            self.sqs.change_message_visibility_batch(
                QueueUrl=self.url, Entries=[{"Id": str(n), "ReceiptHandle": m.receipt, "VisibilityTimeout": visibility_s}
                                            for n, m in enumerate(chunk)])


class Heartbeat:
    """Keeps messages invisible while their objects are processed: re-extends every third of the timeout,
    so a big object never lets a message reappear to another consumer mid-scan."""

    def __init__(self, queue: Queue, messages: list[Message], visibility_s: int, on_error: Any = None) -> None:
        self.queue, self.messages, self.visibility_s = queue, messages, visibility_s
        self.on_error = on_error
        self.extensions = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="sqs-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        if self.messages:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _beat(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        period = max(1.0, self.visibility_s / 3)
        while not self._stop.wait(period):
            try:
                self.queue.extend(self.messages, self.visibility_s)
                self.extensions += 1
            except (ClientError, BotoCoreError) as exc:
                if self.on_error:
                    self.on_error(describe_aws_error(exc))
