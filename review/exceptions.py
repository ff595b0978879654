class InvalidReview(ValueError):
    """A review change that can't be made as asked (a 400 naming `field` to a web client)."""

    def __init__(self, field, problem):
        self.field, self.problem = field, problem
        super().__init__(f"{field}: {problem}")
