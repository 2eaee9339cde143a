"""CloudWatch over Smithy RPC v2 CBOR (what the Rust SDK speaks): the codec, and alarms put and read that way."""

from __future__ import annotations

import urllib.request

from localaws import cbor


def test_the_codec_round_trips_what_the_protocol_uses():
    value = {"AlarmNames": ["web-5xx", "ü"], "MaxRecords": 100, "Threshold": 1.5, "Negative": -300,
             "Big": 2**40, "Flag": True, "None": None, "Blob": b"\x00\x01", "Nested": [{"a": []}]}
    assert cbor.decode(cbor.encode(value)) == value
    # Indefinite-length maps, arrays and text (as the SDK's encoder may write them), and a tag-1 timestamp.
    indefinite = (b"\xbf" + cbor.encode("A") + b"\x9f\x01\x02\xff" + cbor.encode("T") + b"\xc1"
                  + cbor.encode(1700000000.5) + cbor.encode("S") + b"\x7f" + cbor.encode("ab") + cbor.encode("c")
                  + b"\xff" + b"\xff")
    assert cbor.decode(indefinite) == {"A": [1, 2], "T": 1700000000.5, "S": "abc"}


def _call(world, op: str, params: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"{world.aws.endpoint}{cbor.CLOUDWATCH_PREFIX}{op}", data=cbor.encode(params), method="POST",
        headers={"Content-Type": "application/cbor", "Accept": "application/cbor", "smithy-protocol": "rpc-v2-cbor",
                 "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/monitoring/aws4_request, "
                                  "SignedHeaders=host, Signature=0"})
    try:
        with urllib.request.urlopen(request) as r:
            assert r.headers["Content-Type"] == "application/cbor"
            return r.status, cbor.decode(r.read())
    except urllib.error.HTTPError as e:
        return e.code, cbor.decode(e.read())


def test_alarms_are_put_and_described_over_cbor(world):
    status, _ = _call(world, "PutMetricAlarm", {
        "AlarmName": "web-5xx", "Namespace": "AWS/ApplicationELB", "MetricName": "HTTPCode_Target_5XX_Count",
        "Statistic": "Sum", "Period": 60, "EvaluationPeriods": 1, "Threshold": 1.0,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold"})
    assert status == 200
    world.cw.set_alarm_state(AlarmName="web-5xx", StateValue="ALARM", StateReason="test")
    status, out = _call(world, "DescribeAlarms", {"AlarmNames": ["web-5xx", "absent"],
                                                  "AlarmTypes": ["MetricAlarm", "CompositeAlarm"]})
    assert status == 200
    [alarm] = out["MetricAlarms"]
    assert (alarm["AlarmName"], alarm["StateValue"]) == ("web-5xx", "ALARM")
    assert isinstance(alarm["StateUpdatedTimestamp"], float), "a tag-1 timestamp decodes to epoch seconds"
    status, out = _call(world, "DescribeAlarms", {"MaxRecords": "many"})
    assert status == 400 and out.get("__type"), out
