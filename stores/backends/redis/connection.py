"""How the Redis store reaches its data: one Redis server, a Redis Cluster, or the master Sentinel names.

`deployment_mode`, `endpoints` and `sentinel_service` are read as Rasa Pro
3.21 reads them (rasa/core/redis_connection_factory.py), so one
endpoints.yml serves the bot and trackerweb:

- `standard` (the default): `url`, `port`, `db`; `endpoints` is ignored, as
  Rasa Pro ignores it.
- `cluster`: the seed nodes in `endpoints` (`url:port` when there are none);
  the rest of the cluster is discovered from them. A cluster has database 0
  only: Rasa Pro ignores another `db`, which would mix this bot's
  conversations with the ones stored there: an error here.
- `sentinel`: the Sentinels in `endpoints` (required) name the master of
  `sentinel_service` (mymaster), and `db` is read there. The username,
  password and TLS are the master's; the Sentinels are asked without them,
  as Rasa Pro asks them.

No client here sends a command again after its reply was lost. A lost reply
doesn't say the command did not run: an append (a script call) sent again
would store its events twice. redis-py re-sends by default (a standalone
client up to 3 times, a cluster client up to 10), so each client is given no
retries: the failure is reported instead. What is safe still happens: a
cluster client follows MOVED and ASK redirects (the node did not run the
command), and a Sentinel client asks the Sentinels for the master again
on its next connection.
"""

from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

from ...exceptions import StoreError, StoreUnavailable
from ...parameters import TRACKER_STORE

STANDARD, CLUSTER, SENTINEL = "standard", "cluster", "sentinel"
DEPLOYMENT_MODES = (STANDARD, CLUSTER, SENTINEL)
DEFAULT_SENTINEL_SERVICE = "mymaster"
CONNECT_TIMEOUT = 5
COMMAND_TIMEOUT = CONNECT_TIMEOUT * 2


def no_retries():
    """A redis-py Retry that never re-sends a command (see the module's docstring)."""
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return Retry(NoBackoff(), 0)


def read_endpoints(value, mode):
    """`endpoints`: a list of "host:port" texts, as ((host, port), ...); () when not given.

    A list of texts in any mode (Rasa Pro checks that much always); each
    one an address where it is used. Rasa Pro skips an address it can't
    read, with a warning: here it is an error, not a node silently left out.
    """
    if value is None:
        return ()
    if not isinstance(value, list):
        raise TRACKER_STORE.error("endpoints", f"must be a list of host:port addresses, got {type(value).__name__}")
    for item in value:
        if not isinstance(item, str):
            raise TRACKER_STORE.error("endpoints", f"must be a list of host:port texts, got the "
                                                   f"{type(item).__name__} {item!r} in it")
    if mode == STANDARD:
        return ()
    addresses = []
    for item in value:
        host, colon, port = item.strip().rpartition(":")
        if not (colon and host) or not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
            raise TRACKER_STORE.error("endpoints", f"must be host:port addresses (a port from 1 to 65535), "
                                                   f"got {item!r}")
        addresses.append((host, int(port)))
    return tuple(addresses)


@dataclass(frozen=True)
class RedisConnection:
    """Where and how to reach the store's Redis, read strictly from its endpoints.yml parameters."""

    mode: str
    host: str
    port: int
    db: int
    endpoints: tuple = ()  # ((host, port), ...): the cluster's seed nodes, or the Sentinels
    sentinel_service: str = None
    use_ssl: bool = False
    username: str = field(default=None, repr=False)
    password: str = field(default=None, repr=False)
    ssl_files: tuple = ()  # ((parameter, path), ...) of those given

    @classmethod
    def read(cls, *, url=None, port=None, db=None, username=None, password=None, use_ssl=False, ssl_keyfile=None,
             ssl_certfile=None, ssl_ca_certs=None, deployment_mode=None, endpoints=None, sentinel_service=None):
        mode = TRACKER_STORE.text("deployment_mode", deployment_mode, default=STANDARD)
        if mode not in DEPLOYMENT_MODES:
            raise TRACKER_STORE.error("deployment_mode", f"must be standard, cluster or sentinel, got {mode!r}")
        host = TRACKER_STORE.text("url", url) or "localhost"
        port = TRACKER_STORE.port("port", port, default=6379)
        db = TRACKER_STORE.whole_number("db", db, default=0)
        addresses = read_endpoints(endpoints, mode)
        service = TRACKER_STORE.text("sentinel_service", sentinel_service, non_empty=mode == SENTINEL)
        if mode == CLUSTER:
            if db != 0:
                raise TRACKER_STORE.error("db", f"must be 0 with deployment_mode: cluster (a Redis Cluster has "
                                                f"database 0 only), got {db!r}")
            addresses = addresses or ((host, port),)
        if mode == SENTINEL:
            if not addresses:
                raise TRACKER_STORE.error("endpoints", "must list the Sentinels (host:port) with deployment_mode: "
                                                       "sentinel")
            service = service or DEFAULT_SENTINEL_SERVICE
        ssl_files = tuple((key, TRACKER_STORE.text(key, value)) for key, value in [
            ("ssl_keyfile", ssl_keyfile), ("ssl_certfile", ssl_certfile), ("ssl_ca_certs", ssl_ca_certs)] if value)
        return cls(mode=mode, host=host, port=port, db=db, endpoints=addresses,
                   sentinel_service=service if mode == SENTINEL else None,
                   use_ssl=TRACKER_STORE.flag("use_ssl", use_ssl), username=TRACKER_STORE.text("username", username),
                   password=TRACKER_STORE.text("password", password), ssl_files=ssl_files)

    def describe(self):
        """"Redis at h:p db 0", "Redis Cluster at h:p,h:p", "Redis via Sentinel service mymaster at h:p db 0"."""
        listed = ",".join(f"{host}:{port}" for host, port in self.endpoints)
        if self.mode == CLUSTER:
            return f"Redis Cluster at {listed}"
        if self.mode == SENTINEL:
            return f"Redis via Sentinel service {self.sentinel_service} at {listed} db {self.db}"
        return f"Redis at {self.host}:{self.port} db {self.db}"

    def connect(self):
        """A redis-py client for this deployment, having checked that the server is one.

        Raises redis-py's errors when nothing answers (the store turns them
        into ours), and a `StoreError` saying which `deployment_mode` to set
        when the server is of another kind: a cluster node reached as one
        server would answer MOVED for most keys.
        """
        return {STANDARD: self._standard, CLUSTER: self._cluster, SENTINEL: self._sentinel}[self.mode]()

    # -- standard: django-redis --------------------------------------------------

    def cache_settings(self):
        """A CACHES-style entry for this Redis (django-redis), password included: keep it private.

        Credentials and TLS files go in LOCATION, not OPTIONS: django-redis
        shares one connection pool per LOCATION, and two stores on one Redis
        with different users must not share a pool.
        """
        scheme = "rediss" if self.use_ssl else "redis"
        userinfo = ""
        if self.username or self.password:
            userinfo = quote(self.username or "", safe="") + ":" + quote(self.password or "", safe="") + "@"
        query = ("?" + urlencode(self.ssl_files)) if self.ssl_files else ""
        return {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"{scheme}://{userinfo}{self.host}:{self.port}/{self.db}{query}",
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "SOCKET_CONNECT_TIMEOUT": CONNECT_TIMEOUT,
                "SOCKET_TIMEOUT": COMMAND_TIMEOUT,
                # No re-send (see the module's docstring); a connection the
                # server closed while idle is still replaced before use, at no
                # cost to the caller.
                "CONNECTION_POOL_KWARGS": {"retry": no_retries()},
            },
        }

    def _standard(self):
        import redis
        from django_redis.cache import RedisCache

        settings = self.cache_settings()
        client = RedisCache(settings["LOCATION"], {"OPTIONS": settings["OPTIONS"]}).client.get_client(write=True)
        try:
            cluster_enabled = client.info("cluster").get("cluster_enabled")
        except redis.ResponseError as e:
            if not isinstance(e, redis.exceptions.NoPermissionError) and "unknown command" not in str(e).lower():
                raise
            cluster_enabled = None  # INFO refused (an ACL, a renamed command): a MOVED reply will tell instead
        if cluster_enabled:
            raise self.cluster_node_error()
        return client

    def cluster_node_error(self):
        return StoreError(f"The Redis tracker store ({self.describe()}) is a Redis Cluster node: set "
                          f"deployment_mode: cluster in the tracker_store section of endpoints.yml, with the "
                          f"cluster's nodes (host:port) under endpoints.")

    # -- cluster -------------------------------------------------------------------

    def _options(self):
        """What each connection to a Redis server (not a Sentinel) is opened with."""
        options = {"username": self.username, "password": self.password, "socket_connect_timeout": CONNECT_TIMEOUT,
                   "socket_timeout": COMMAND_TIMEOUT}
        if self.use_ssl:
            options.update(ssl=True, **dict(self.ssl_files))
        return options

    def _cluster(self):
        from redis.cluster import ClusterNode, RedisCluster
        from redis.exceptions import RedisClusterException

        try:
            # The whole cluster or nothing (require_full_coverage): a client
            # missing some slots would answer for part of the conversations.
            return RedisCluster(startup_nodes=[ClusterNode(host, port) for host, port in self.endpoints],
                                retry=no_retries(), require_full_coverage=True, **self._options())
        except RedisClusterException as e:
            # redis-py words every refusal of CLUSTER SLOTS "Cluster mode is not enabled"
            # (a missing password too): what the node answered is at the root.
            reason = _root_cause(e)
            if "cluster support disabled" in str(reason):
                raise StoreError(
                    f"The Redis tracker store ({self.describe()}) is not a Redis Cluster: the Redis at the endpoints "
                    f"has cluster support disabled. Set deployment_mode: standard (with url and port) in the "
                    f"tracker_store section of endpoints.yml, or list the cluster's nodes under endpoints.") from e
            raise StoreUnavailable(f"The Redis tracker store ({self.describe()}) is unavailable: {reason}") from e

    # -- sentinel -------------------------------------------------------------------

    def _sentinel(self):
        import redis
        from redis.sentinel import MasterNotFoundError, Sentinel

        # As Rasa Pro: the Sentinels get the socket options only; the master everything.
        sentinels = Sentinel(list(self.endpoints), **self._options(), retry=no_retries())
        master = sentinels.master_for(self.sentinel_service, db=self.db)
        try:
            master.ping()  # finds the master: a misconfiguration shows now, not on the first page
        except MasterNotFoundError as e:
            self._check_service_is_monitored(sentinels, e)
            raise
        except redis.ResponseError as e:
            if "unknown command" in str(e).lower():  # SENTINEL MASTERS, asked of a plain Redis
                raise StoreError(f"The Redis tracker store ({self.describe()}): the endpoints are not Sentinels "
                                 f"(they don't know the SENTINEL command). List the Sentinels under endpoints, or set "
                                 f"deployment_mode: standard (or cluster) in endpoints.yml.") from e
            raise
        return master

    def _check_service_is_monitored(self, sentinels, error):
        """A StoreError when every Sentinel answers and none monitors `sentinel_service` (a typo, not an outage)."""
        import redis

        monitored = set()
        for sentinel in sentinels.sentinels:
            try:
                monitored.update(sentinel.sentinel_masters())
            except redis.RedisError:
                return  # a Sentinel that doesn't answer may be the one that knows it
        if self.sentinel_service not in monitored:
            known = ", ".join(sorted(map(repr, monitored))) or "none"
            raise StoreError(f"The Redis tracker store ({self.describe()}): the Sentinels monitor no service "
                             f"{self.sentinel_service!r} (they monitor {known}). Set sentinel_service in the "
                             f"tracker_store section of endpoints.yml.") from error


def _root_cause(error):
    """The first error of the chain `error` was raised from."""
    seen = set()
    while (error.__cause__ or error.__context__) is not None and id(error) not in seen:
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return error


def disconnect(client):
    """Close a client's connections (it may open new ones if used again)."""
    from redis.cluster import RedisCluster

    if isinstance(client, RedisCluster):
        client.close()
        return
    client.connection_pool.disconnect()
    sentinels = getattr(client.connection_pool, "sentinel_manager", None)
    if sentinels is not None:
        sentinels.close()


def scan_keys(client, match, count=1000):
    """Every key matching the glob `match`, by SCAN (never KEYS: it doesn't block a busy server).

    On a cluster, every master is scanned in turn, each to its end: a master
    that can't be scanned raises (redis-py's error), never a partial list.
    Like SCAN, it may yield a key twice, and a key written meanwhile may or
    may not be among them.
    """
    from redis.cluster import RedisCluster

    if not isinstance(client, RedisCluster):
        yield from client.scan_iter(match=match, count=count)
        return
    # Not RedisCluster.scan_iter: when a node leaves the topology mid-scan it
    # goes on with that node's cursor on every master. With a node named, a
    # cluster client never retries, and refreshes its topology on a failure.
    for node in client.get_primaries():
        cursor = 0
        while True:
            cursors, keys = client.scan(cursor=cursor, match=match, count=count, target_nodes=node)
            yield from keys
            cursor = cursors[node.name]
            if cursor == 0:
                break
