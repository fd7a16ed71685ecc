"""The sweep queue on SQS: shards out in batches of ten, an early shard sent on again."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chalicelib.sweep.shards import MAX_DELAY_SECONDS, ShardMessage, encode_message

SQS_BATCH = 10  # SendMessageBatch takes at most ten entries


class SqsSweepQueue:
    """`ports.SweepQueue` on an SQS queue; needs sqs:SendMessage on it."""

    def __init__(self, sqs_client: Any, queue_url: str) -> None:
        self._sqs = sqs_client
        self.queue_url = queue_url

    def __repr__(self) -> str:
        return f"SqsSweepQueue({self.queue_url!r})"

    def send_batch(self, messages: Sequence[ShardMessage], start: int) -> dict[int, str]:
        """Send; return index -> error for the entries SQS did not take.

        SQS holds a message back at most 900 s: a longer delay is sent as 900 s with a
        `not_before` time (`start` + delay), and the worker sends it on until then.
        """
        entries = []
        for message in messages:
            delay = min(message.delay_seconds, MAX_DELAY_SECONDS)
            if message.delay_seconds > MAX_DELAY_SECONDS:
                message = ShardMessage(
                    message.shard,
                    message.run_id,
                    message.index,
                    message.total,
                    message.delay_seconds,
                    start + message.delay_seconds,
                )
            entries.append(
                {
                    "Id": str(message.index),
                    "MessageBody": encode_message(message),
                    "DelaySeconds": delay,
                }
            )
        try:
            answer = self._sqs.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
        except Exception as exc:  # the whole batch failed: the caller retries it once
            return {m.index: str(exc) for m in messages}
        return {
            int(item["Id"]): f"{item.get('Code', '?')}: {item.get('Message', '')}".strip(": ")
            for item in answer.get("Failed", [])
        }

    def defer(self, body: str, delay_seconds: int) -> None:
        self._sqs.send_message(
            QueueUrl=self.queue_url,
            MessageBody=body,
            DelaySeconds=min(MAX_DELAY_SECONDS, delay_seconds),
        )
