"""The base of CloudFormation resource types the local AWS adds to moto's engine.

A service module that creates resources moto's CloudFormation lacks declares them beside itself:

    class GlueDatabase(LocalResource, CloudFormationModel):
        TYPE = "AWS::Glue::Database"

        @classmethod
        def create(cls, name, props, account_id, region): ...   # through the service's backend
        @classmethod
        def remove(cls, name, props, account_id, region): ...

moto finds models by ``CloudFormationModel.__subclasses__()``, so a concrete type names CloudFormationModel as a
direct base; ``services/cloudformation.py`` clears moto's model caches once every service module is imported.
"""

from __future__ import annotations

from typing import Any

from moto.cloudformation.exceptions import UnformattedGetAttTemplateException


class LocalResource:
    """A resource created through a service backend; Ref gives ``physical_id``, GetAtt reads ``attributes``."""

    TYPE = ""
    NAME_PROPERTY = ""
    # True: an update deletes what the previous version created (its ``delete``) before creating anew, for
    # resources whose create adds to the service rather than replacing (grants, LF-tags, tag assignments).
    REPLACE_ON_UPDATE = False

    def __init__(self, physical_id: str, attributes: dict[str, Any] | None = None):
        self.physical_id = physical_id
        self.attributes = attributes or {}

    @property
    def physical_resource_id(self) -> str:
        return self.physical_id

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.TYPE

    @classmethod
    def cloudformation_name_type(cls) -> str:
        return cls.NAME_PROPERTY

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return True

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name in self.attributes:
            return self.attributes[attribute_name]
        raise UnformattedGetAttTemplateException()

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name,
                                        **kwargs):
        return cls.create(resource_name, cloudformation_json.get("Properties", {}), account_id, region_name)

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json,
                                        account_id, region_name):
        if cls.REPLACE_ON_UPDATE:
            original_resource.delete(account_id, region_name)
        return cls.create(new_resource_name, cloudformation_json.get("Properties", {}), account_id, region_name)

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        cls.remove(resource_name, cloudformation_json.get("Properties", {}), account_id, region_name)

    @classmethod
    def create(cls, name: str, props: dict, account_id: str, region: str) -> LocalResource:
        raise NotImplementedError

    @classmethod
    def remove(cls, name: str, props: dict, account_id: str, region: str) -> None:
        """Delete by physical id (``props`` are the template's, unresolved). Grants and settings stay recorded."""
