"""The live indexer: a Redis store's indexes follow whatever any program writes, within a second or so.

A bot writes its conversations with plain GET/SET (Rasa's RedisTrackerStore);
queries read only the indexes. The live indexer, run in a thread of each web
process (and by `manage.py index_live`), keeps them following:

- One indexer leads per store at a time (lease.py); the others stand by and
  take over when its lease lapses.
- The leader turns keyspace notifications on where they are off
  (notifications.py), subscribes on every primary, and then sweeps the whole
  store once (`sweep_all`: every stored conversation and every indexed one,
  a few pipelined commands each when up to date), which indexes what was
  written while nobody listened. From then on it gathers the sender ids the
  notifications name for `flush_seconds` and catches those up (`catch_up`).
  Idle, that costs nothing but the lease's renewal, a PING per quiet node
  now and then and a look at the notification flags each minute; busy, a
  few commands per changed conversation besides reading and indexing it.
- A connection lost (notifications published meanwhile are lost too), a
  failover, a primary added, flags someone turned off: it subscribes anew,
  and sweeps again.
- Without notifications (`notifications=False`, or CONFIG refused and the
  flags not set): a sweep every `sweep_seconds`, O(stored conversations)
  commands each.
- On a store a bot filled (conversations, no indexes), or with indexes of
  another version, or a rebuild left unfinished, the leader first rebuilds
  them (`reindex`), queries refusing meanwhile with the progress (building.py).

A conversation a bot appended to shows in queries within `flush_seconds`
plus the time to index it, well within 5 s; without notifications within
`sweep_seconds` plus a sweep's duration.
"""

import logging
import threading
import time

from ...exceptions import StoreError, StoreUnavailable
from . import building
from .lease import Lease
from .notifications import NotificationsRefused, Subscription, enable, node_clients

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 0.25
SWEEP_SECONDS = 2.0
LEASE_SECONDS = 15.0
# Flags someone may have turned off again: looked at this often (a command per node).
CONFIG_CHECK_SECONDS = 60.0
# After a failure, wait this long before trying again, doubling up to the longest.
RETRY_FIRST_SECONDS, RETRY_LONGEST_SECONDS = 0.5, 10.0
# Leading this long without a failure: the next failure waits the first pause again.
STEADY_SECONDS = 60.0
# How long `start()` waits to learn whether it leads and whether queries must wait for a rebuild.
READY_SECONDS = 5.0
PROGRESS_LOG_SECONDS = 10.0


class _Stopped(Exception):
    """stop() was called."""


class _LeaseLost(Exception):
    """The lease lapsed (this process stalled, or lost Redis, longer than it lasts): another may lead."""


class LiveIndexer:
    def __init__(self, store, *, notifications=True, sweep_seconds=SWEEP_SECONDS, flush_seconds=FLUSH_SECONDS,
                 lease_seconds=LEASE_SECONDS):
        self.store = store
        self.notifications = notifications
        self.sweep_seconds = sweep_seconds
        self.flush_seconds = flush_seconds
        self.lease = Lease(store, lease_seconds)
        self.renew_seconds = lease_seconds / 3
        self.status = "not started"
        #: Whole sweeps done, and conversations caught up on notifications (for the log, tests, the benchmark).
        self.sweeps = 0
        self.notified = 0
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._thread = None
        self._renewed = 0.0
        self._told = set()  # warnings given once, not at every reconnection or sweep

    def __repr__(self):
        return f"<LiveIndexer of {self.store.describe()}: {self.status}>"

    @property
    def leading(self):
        return self.status.startswith("leading")

    def start(self, wait=READY_SECONDS):
        """Run in a thread of its own. Returns once it knows whether it leads and, leading, whether
        the indexes are being rebuilt (queries refuse from then on), or after `wait` seconds."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="trackerweb-live-indexer", daemon=True)
            self._thread.start()
        self._ready.wait(wait)
        return self

    def stop(self, timeout=10.0):
        """Stop, give the lease up, close its connections; returns once its thread has ended (or after `timeout`)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self):
        pause = RETRY_FIRST_SECONDS
        try:
            while not self._stopping.is_set():
                led_since = time.monotonic()
                try:
                    if self.lease.acquire():
                        self._renewed = led_since
                        self._lead()  # returns to subscribe anew
                    else:
                        self.status = f"standing by (led by {self.lease.holder()})"
                        self._ready.set()
                        self._stopping.wait(self.renew_seconds)
                        continue
                except _Stopped:
                    break
                except _LeaseLost:
                    logger.warning("The live indexer of %s lost its lease (it stalled or lost Redis for %g s): "
                                   "another may lead now.", self.store.describe(), self.lease.seconds)
                    continue
                except Exception as e:
                    pause = self._pause_after(led_since, pause)
                    self._failed(e, pause)
                # After a failure, or to subscribe anew (each time a whole sweep): a pause that doubles while
                # they come quickly one after the other (a connection cut as soon as it is made).
                pause = self._pause_after(led_since, pause)
                self._stopping.wait(pause)
                pause = min(pause * 2, RETRY_LONGEST_SECONDS)
        finally:
            self._ready.set()
            try:
                self.lease.release()
            except Exception as e:  # Redis is gone: the lease lapses by itself
                logger.info("The live indexer of %s could not give its lease up (%s)", self.store.describe(), e)
            self.status = "stopped"

    @staticmethod
    def _pause_after(led_since, pause):
        return RETRY_FIRST_SECONDS if time.monotonic() - led_since > STEADY_SECONDS else pause

    def _failed(self, error, pause):
        import redis

        self.status = f"retrying after an error ({error})"
        self._ready.set()
        if isinstance(error, (StoreUnavailable, redis.ConnectionError, redis.TimeoutError, TimeoutError, OSError)):
            logger.warning("The live indexer of %s lost Redis (%s); trying again in %g s.",
                           self.store.describe(), error, pause)
        else:
            logger.error("The live indexer of %s failed; trying again in %g s.", self.store.describe(), pause,
                         exc_info=error)

    # -- leading ---------------------------------------------------------------

    def _lead(self):
        """Lead until stopped, the lease is lost (both raise) or the subscription must be made anew (returns)."""
        due = self.store.rebuild_due()
        if due:
            building.started(self.store)  # Queries refuse from now on, before this start() returns.
        self.status = "leading"
        self._ready.set()
        subscription, reliable = self._subscribe()
        pending, lock, listening = set(), threading.Lock(), threading.Event()
        outcome = []
        listener = None
        try:
            if subscription is not None:
                listener = threading.Thread(target=lambda: outcome.append(subscription.listen(pending, lock, listening)),
                                            name="trackerweb-live-indexer-listener", daemon=True)
                listener.start()
            if due:
                self._rebuild(due)
            else:
                self._sweep()
            self.status = "leading" + (", on keyspace notifications" if reliable else
                                       f", sweeping every {self.sweep_seconds:g} s")
            last_sweep = last_config_check = time.monotonic()
            while True:
                self._keep_going()
                if listener is not None and not listener.is_alive():
                    logger.warning("The live indexer of %s stopped hearing Redis (%s): subscribing anew, then "
                                   "sweeping the store for what was written meanwhile.",
                                   self.store.describe(), outcome[0] if outcome else "?")
                    return
                if subscription is not None and not subscription.covers(self.store.redis):
                    logger.info("The primaries of %s changed: subscribing anew.", self.store.describe())
                    return
                with lock:
                    changed = list(pending)
                    pending.clear()
                if changed:
                    self.notified += len(changed)
                    self._catch_up(changed)
                now = time.monotonic()
                if reliable and now - last_config_check > CONFIG_CHECK_SECONDS:
                    last_config_check = now
                    if self._flags_turned_off(subscription):
                        return
                if not reliable and now - last_sweep >= self.sweep_seconds:
                    self._sweep()
                    last_sweep = time.monotonic()
                self._stopping.wait(self.flush_seconds)
        finally:
            listening.set()
            if listener is not None:
                listener.join(5)
            if subscription is not None:
                subscription.close()

    def _keep_going(self, *progress):
        """Between steps (and batches of a sweep): stop when asked, renew the lease when due."""
        if self._stopping.is_set():
            raise _Stopped()
        if time.monotonic() - self._renewed > self.renew_seconds:
            if not self.lease.renew():
                raise _LeaseLost()
            self._renewed = time.monotonic()

    def _subscribe(self):
        """(a `Subscription`, or None; whether notifications can be relied on, or sweeps are needed)."""
        import redis

        if not self.notifications:
            return None, False
        reliable = True
        try:
            for node in node_clients(self.store.redis):
                enable(node, self.store.describe())
        except NotificationsRefused as e:
            self._tell_once(str(e))
            reliable = False
        try:
            return Subscription(self.store).open(), reliable
        except redis.ResponseError as e:  # an ACL that forbids the channels
            self._tell_once(f"Redis refused to subscribe to the keyspace notifications of {self.store.describe()} "
                            f"({e}): trackerweb sweeps every conversation every {self.sweep_seconds:g} s instead.")
            return None, False

    def _flags_turned_off(self, subscription):
        """Whether someone took flags away (then notifications were lost: subscribe anew and sweep)."""
        try:
            added = [enable(node, self.store.describe()) for node in subscription.nodes]
        except NotificationsRefused:
            return False  # They were set when the subscription began; CONFIG is refused now.
        return any(added)

    def _rebuild(self, why):
        describe = self.store.describe()
        logger.info("Indexing %s in the background, since %s. Lists, counts and statistics answer once it is done; "
                    "conversations open by id meanwhile.", describe, why)
        self.status = "leading, indexing the store"
        started, logged = time.monotonic(), [time.monotonic()]

        def progress(done, total):
            self._keep_going()
            self.status = f"leading, indexing the store: {done:,} of about {total:,} conversations"
            if time.monotonic() - logged[0] > PROGRESS_LOG_SECONDS:
                logged[0] = time.monotonic()
                logger.info("Indexing %s: %s of about %s conversations", describe, f"{done:,}", f"{total:,}")

        try:
            indexed = self.store.reindex(progress=progress)
        except StoreUnavailable:
            raise
        except StoreError as e:
            self._tell_once(f"Indexed {describe}, except: {e}")
        else:
            logger.info("Indexed %s: %s conversations in %.1f s; queries answer from now on.",
                        describe, f"{indexed:,}", time.monotonic() - started)
        self.sweeps += 1

    def _sweep(self):
        self._catch_up(None)
        self.sweeps += 1

    def _catch_up(self, sender_ids):
        """Catch these conversations up (None: all, `sweep_all`); values that are no tracker are told of once."""
        try:
            if sender_ids is None:
                self.store.sweep_all(progress=self._keep_going)
            else:  # (a burst may be long to catch up: the lease is renewed meanwhile)
                self.store.catch_up(sender_ids, progress=self._keep_going)
        except StoreUnavailable:
            raise
        except StoreError as e:
            self._tell_once(f"The live indexer of {self.store.describe()} left some conversations unindexed: {e}")

    def _tell_once(self, message):
        if message not in self._told:
            self._told.add(message)
            logger.warning("%s", message)
