"""What the list page's parameters select: the store's filter, the review filter and the order.

The list page, stats.json, "Review next", bulk actions and saved views all
read the same parameters, so a filter means the same wherever it travels
(a link, a hidden field of a form, a saved view).
"""

from dataclasses import dataclass
from urllib.parse import urlencode

from django.http import QueryDict

from review.selection import ReviewFilter, as_seen_by, restricted, review_filter_from_query
from stores.query import ORDERS, ConversationFilter, check_order


@dataclass(frozen=True)
class Selection:
    filter: ConversationFilter
    review: ReviewFilter
    order: str = ORDERS[0]

    @classmethod
    def from_query(cls, params):
        """From query parameters (a QueryDict, or query-string text); raises FilterError or InvalidReview
        naming the parameter."""
        if isinstance(params, str):
            params = QueryDict(params)
        return cls(ConversationFilter.from_query(params), review_filter_from_query(params),
                   check_order(params.get("order")))

    def query(self, *, with_order=True):
        """The parameters that select the same again (for links, hidden fields, saved views)."""
        query = {**self.filter.as_query(), **self.review.as_query()}
        if with_order and self.order != ORDERS[0]:
            query["order"] = self.order
        return query

    def query_string(self, *, with_order=True):
        return urlencode(self.query(with_order=with_order))

    def store_filter(self, store, user):
        """The store's filter, restricted to what the review filter selects for `user` (`me`)."""
        return restricted(self.filter, store, as_seen_by(self.review, user.get_username()))

    def __bool__(self):
        return bool(self.query(with_order=False))
