"""Taking agencies' JSON Schemas as they are: dialect and metaschema checks, local ``$ref``
resolution, flattening into field rows, element suggestions and breaking-change detection.

Pure functions over JSON documents (no database, no HTTP), so the API, the CLI and the seed
all import through exactly the same checks.
"""
