"""S3 state across restarts of `python -m local_aws serve`: configuration, metadata, deletes, crash recovery."""

from __future__ import annotations

import threading

import boto3
from botocore.exceptions import ClientError
from server_process import start_server, stop_server

from local_aws.server import free_port

ENCRYPTION = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
BLOCK_ALL = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
             "RestrictPublicBuckets": True}


def serve(state_dir, port, **env):
    proc, url = start_server(state_dir, port, **env)
    return proc, boto3.client("s3", endpoint_url=url, region_name="us-east-1")


terminate = stop_server


def test_configuration_metadata_and_deletes_survive_a_restart(tmp_path):
    port = free_port()
    proc, s3 = serve(tmp_path, port)
    try:
        s3.create_bucket(Bucket="lake-config")
        # versioned, so the delete below leaves a delete marker as the latest version
        s3.put_bucket_versioning(Bucket="lake-config", VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_encryption(Bucket="lake-config", ServerSideEncryptionConfiguration=ENCRYPTION)
        s3.put_public_access_block(Bucket="lake-config", PublicAccessBlockConfiguration=BLOCK_ALL)
        s3.put_object(Bucket="lake-config", Key="keep.csv", Body=b"a\n1\n", ContentType="text/csv",
                      Metadata={"run-date": "2021-12-01"})
        s3.put_object(Bucket="lake-config", Key="gone.csv", Body=b"x")
        s3.delete_object(Bucket="lake-config", Key="gone.csv")
    finally:
        terminate(proc)

    proc, s3 = serve(tmp_path, port)
    try:
        rules = s3.get_bucket_encryption(Bucket="lake-config")["ServerSideEncryptionConfiguration"]["Rules"]
        assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
        assert s3.get_public_access_block(Bucket="lake-config")["PublicAccessBlockConfiguration"] == BLOCK_ALL
        head = s3.head_object(Bucket="lake-config", Key="keep.csv")
        assert head["ContentType"] == "text/csv" and head["Metadata"] == {"run-date": "2021-12-01"}
        assert [o["Key"] for o in s3.list_objects_v2(Bucket="lake-config")["Contents"]] == ["keep.csv"]
    finally:
        terminate(proc)


def test_acknowledged_objects_survive_sigkill_without_waiting(tmp_path):
    """No save interval: a PutObject answered 200 is on disk already (the store fsyncs before answering)."""
    port = free_port()
    proc, s3 = serve(tmp_path, port)
    try:
        s3.create_bucket(Bucket="lake-crash")
        s3.put_bucket_versioning(Bucket="lake-crash", VersioningConfiguration={"Status": "Enabled"})
        s3.put_object(Bucket="lake-crash", Key="raw/part-0.csv", Body=b"id\n1\n")
        second = s3.put_object(Bucket="lake-crash", Key="raw/part-0.csv", Body=b"id\n2\n")["VersionId"]
        s3.put_object(Bucket="lake-crash", Key="raw/part-1.csv", Body=b"id\n3\n")
        s3.delete_object(Bucket="lake-crash", Key="raw/part-1.csv")
        s3.put_object_tagging(Bucket="lake-crash", Key="raw/part-0.csv",
                              Tagging={"TagSet": [{"Key": "stage", "Value": "raw"}]})
        versions_before = s3.list_object_versions(Bucket="lake-crash")
    finally:
        proc.kill()  # no SIGTERM: nothing more is written at exit
        proc.wait(timeout=30)

    proc, s3 = serve(tmp_path, port)
    try:
        assert s3.get_object(Bucket="lake-crash", Key="raw/part-0.csv")["Body"].read() == b"id\n2\n"
        assert s3.get_object(Bucket="lake-crash", Key="raw/part-0.csv")["VersionId"] == second
        versions_after = s3.list_object_versions(Bucket="lake-crash")
        assert versions_after["Versions"] == versions_before["Versions"]  # ids, ETags, times: identical
        assert versions_after["DeleteMarkers"] == versions_before["DeleteMarkers"]
        assert s3.get_object_tagging(Bucket="lake-crash", Key="raw/part-0.csv")["TagSet"] == [
            {"Key": "stage", "Value": "raw"}]
    finally:
        terminate(proc)



def test_conditional_writes_take_turns_and_plain_writes_do_not_wait(boto_client):
    """S3 User Guide, "Add preconditions to S3 operations with conditional requests": of several conditional writes
    of one object name the first to finish succeeds and the others get 412 PreconditionFailed, so the condition
    and the write are one step. moto checks, then writes: the local S3 runs conditional writes one at a time."""
    from local_aws.services import s3 as local_s3

    s3 = boto_client("s3")
    s3.create_bucket(Bucket="conditional-writes")
    done: dict[str, str] = {}

    def put(name: str, **condition) -> None:
        try:
            s3.put_object(Bucket="conditional-writes", Key="lock.json", Body=name.encode(), **condition)
            done[name] = "won"
        except ClientError as exc:
            done[name] = exc.response["Error"]["Code"]

    with local_s3._conditional_writes:  # another conditional write is between its check and its write
        conditional = threading.Thread(target=put, args=("conditional",), kwargs={"IfNoneMatch": "*"})
        conditional.start()
        conditional.join(timeout=1.0)
        assert conditional.is_alive() and "conditional" not in done
        put("plain")  # an unconditional write does not wait
        assert done == {"plain": "won"}
    conditional.join(timeout=10)
    assert done == {"plain": "won", "conditional": "PreconditionFailed"}
