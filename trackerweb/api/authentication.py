"""`?token=` authentication, as Rasa's HTTP API accepts it (besides the Authorization header)."""

from rest_framework.authentication import TokenAuthentication


class QueryTokenAuthentication(TokenAuthentication):
    def authenticate(self, request):
        key = request.query_params.get("token")
        if not key:
            return None
        return self.authenticate_credentials(key)


try:
    from drf_spectacular.extensions import OpenApiAuthenticationExtension
except ImportError:  # the schema generator is optional at run time
    OpenApiAuthenticationExtension = None

if OpenApiAuthenticationExtension:

    class QueryTokenScheme(OpenApiAuthenticationExtension):
        target_class = "trackerweb.api.authentication.QueryTokenAuthentication"
        name = "queryToken"

        def get_security_definition(self, auto_schema):
            return {"type": "apiKey", "in": "query", "name": "token"}
