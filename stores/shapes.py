"""Reading stored events, which are whatever their writer wrote.

Another program may store a field of the wrong type (`parse_data` a list,
`name` an object, `timestamp` a string). Read through these, such a field
counts as absent, so one odd event never stops a conversation from being
shown, replayed or written as a story.
"""


def as_dict(value):
    return value if isinstance(value, dict) else {}


def as_list(value):
    return value if isinstance(value, list) else []


def as_text(value):
    """`value` when it is a string, else None."""
    return value if isinstance(value, str) else None


def as_number(value):
    """`value` when it is a number (not a bool, not NaN), else None."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value == value:
        return value
    return None
