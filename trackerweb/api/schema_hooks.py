"""drf-spectacular post-processing of the OpenAPI schema."""


def bodies_are_required(result, generator, request, public):
    """Every operation that takes a body needs one: none is a 400 (drf-spectacular marks none required)."""
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if isinstance(operation, dict) and "requestBody" in operation:
                operation["requestBody"]["required"] = True
    return result
