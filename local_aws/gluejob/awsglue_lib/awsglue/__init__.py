"""The awsglue library for local Glue job runs, implemented on PySpark (the local AWS puts it on a job process's
path; on AWS Glue the real library is used). What is implemented follows the AWS Glue developer guide's PySpark
reference ("GlueContext class", "DynamicFrame class", the transform classes, "Job bookmarks"); what is not raises
NotImplementedError naming the call.
"""


def not_implemented(call: str) -> NotImplementedError:
    return NotImplementedError(f"{call} is not implemented by the local AWS's awsglue library")


class Unimplemented:
    """Attribute access to anything a class does not define names the missing call instead of AttributeError."""

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        raise not_implemented(f"{type(self).__name__}.{name}")
