"""SNS: moto's topics, subscriptions and delivery (to SQS queues in the same process) as they are, plus the
CloudFormation type moto lacks.

- ``AWS::SNS::TopicPolicy`` (AWS CloudFormation User Guide, "AWS::SNS::TopicPolicy"): sets ``PolicyDocument`` as
  the ``Policy`` attribute of each topic in ``Topics`` (what SetTopicAttributes does); deleting it puts back the
  topic's default policy, as AWS does. Ref gives a generated id. The topic policy is evaluated with the caller's
  identity policies for sns:Publish and the other topic actions (``local_aws.iam.gate``).
"""

from __future__ import annotations

import json
import uuid

from moto.core.common_models import CloudFormationModel
from moto.sns.models import sns_backends

from local_aws.cfn_resources import LocalResource
from local_aws.patches import patch


class TopicPolicy(LocalResource, CloudFormationModel):
    TYPE = "AWS::SNS::TopicPolicy"

    @classmethod
    def create(cls, name, props, account_id, region):
        backend = sns_backends[account_id][region]
        for arn in props["Topics"]:
            backend.set_topic_attribute(arn, "policy", json.dumps(props["PolicyDocument"]))  # as SetTopicAttributes
        return cls(f"{name}-{uuid.uuid4().hex[:12]}", {"Id": name})

    @classmethod
    def remove(cls, name, props, account_id, region):
        backend = sns_backends[account_id][region]
        for arn in props.get("Topics", []):
            if isinstance(arn, str) and arn in backend.topics:  # the topic may have gone first
                topic = backend.topics[arn]
                topic.policy = json.dumps(topic._create_default_topic_policy(region, account_id, topic.name))


# AWS CloudFormation User Guide, "AWS::SNS::Topic", Return values: Fn::GetAtt gives TopicArn and TopicName; moto
# gives only TopicName.
@patch("moto.sns.models.Topic.has_cfn_attr", why="AWS::SNS::Topic documents the TopicArn attribute; moto lacks it",
       wrap=True)
def _topic_has_cfn_attr(original: classmethod):
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "TopicArn" or original.__func__(cls, attr)

    return classmethod(has_cfn_attr)


@patch("moto.sns.models.Topic.get_cfn_attribute", why="AWS::SNS::Topic's GetAtt TopicArn is the topic's ARN",
       wrap=True)
def _topic_get_cfn_attribute(original):
    def get_cfn_attribute(self, attribute_name: str) -> str:
        return self.arn if attribute_name == "TopicArn" else original(self, attribute_name)

    return get_cfn_attribute
