"""What a Glue crawler does with the objects under an S3 target: classify each file, infer its schema, find the
Hive partitions, and build the TableInput / PartitionInput a crawler writes into the catalog.

``schema`` classifies files and infers Glue column types; ``layout`` lists a target's data files and their
partition folders; ``table_input`` turns a crawled target into catalog structures.
"""
