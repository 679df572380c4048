"""Lake Formation's permission model: who may read and change which Data Catalog objects and data locations.

- ``model``: the grants, LF-tags, data lake settings and registered locations of moto's Lake Formation backend,
  evaluated for one principal (what it holds on a database, a table, its columns, an S3 location);
- ``defaults``: what creating a database or table grants (IAMAllowedPrincipals per the data lake settings, the
  creator's implicit permissions);
- ``access``: the checks the services and engines call (``require_database``, ``require_table``,
  ``readable_columns``, ``require_location``...), raising ``errors.LakeFormationDenied`` worded as AWS words it.

AWS sources: AWS Lake Formation Developer Guide, "Lake Formation permissions reference", "Implicit Lake Formation
permissions", "Changing the default settings for your data lake", "Granting data location permissions",
"Lake Formation tag-based access control", "Underlying data access control", "Troubleshooting Lake Formation".
"""
