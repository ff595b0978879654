"""What reviewers concluded, beside each conversation of a one-row-per-conversation export.

The store pages its summaries (stores.exported.summary_rows); each page's
review rows come in one query, so an export of any size holds one page.
"""

from .models import ConversationReview, sender_hash, store_key

# Beside stores.exported.SUMMARY_COLUMNS; the kinds stores.parquet types them by.
REVIEW_COLUMNS = [("review_status", "string"), ("tags", "strings")]


def review_values(*, store, sender_ids):
    """{sender_id: [review status, tag names]} of the conversations among `sender_ids` (one query)."""
    hashes = {sender_hash(sender_id): sender_id for sender_id in sender_ids}
    rows = (ConversationReview.objects.filter(store_key=store_key(store), sender_hash__in=list(hashes))
            .prefetch_related("tags"))
    return {row.sender_id: [row.status, sorted(tag.name for tag in row.tags.all())]
            for row in rows if hashes.get(row.sender_hash) == row.sender_id}
