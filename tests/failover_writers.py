"""A writer appending through one store while a test kills the master under it, and what it may claim after.

What "nothing acknowledged and replicated is lost" means in the failover
tests (tests/stores/test_redis_deployments.py for Sentinel,
tests/stores/test_redis_cluster.py for a cluster): Redis replicates
asynchronously, so an append the master acknowledged may die with it. The
writer counts an append as one that must survive only when its master's
replica had applied the master's writes up to a point read after the
acknowledgement, or when it was sent once the master was dead (its
process gone: whatever acknowledged it is alive). An append that raised
may have run, its reply lost: it is never sent again (an append sent
twice stores its events twice), unless it certainly did not run.
"""

import threading
import time

from stores.exceptions import StoreUnavailable
from tests.redis_servers import ServerFailed, applied_offset, wait_until


def never_ran(error):
    """Whether an append that raised `error` (StoreUnavailable) certainly did not run: Redis refused it
    (CLUSTERDOWN, TRYAGAIN), the client knew no node for its slot, or no connection could be opened to
    send it. A connection lost once it may have been sent says nothing: the script may have run, its
    reply lost."""
    import redis
    from redis.exceptions import ClusterDownError, SlotNotCoveredError, TryAgainError

    chain, pending = [], [error.__cause__]
    while pending:
        cause = pending.pop()
        if cause is not None and cause not in chain:
            chain.append(cause)
            pending += [cause.__cause__, cause.__context__]
    lost = [cause for cause in chain if isinstance(cause, (redis.ConnectionError, redis.TimeoutError))]
    if any("connecting to" not in str(cause) for cause in lost):
        return False
    return bool(lost) or any(isinstance(cause, (ClusterDownError, TryAgainError, SlotNotCoveredError))
                             for cause in chain)


class FailoverWriter(threading.Thread):
    """Appends numbered events, in turn to each of `senders`, through one store until told to stop.

    `replication_of(sender_id)` is (the master holding that conversation, its
    replica) as they are before the kill. Each append ends one of three ways:
    `acknowledged` (the store returned; `confirmed` too when the replica had
    then applied its master's writes, so the append with them; `after_kill`
    when it was sent once `killed` was set, which the test does once the
    master's process has exited); `ambiguous` (it raised, and may have run);
    or not run for certain (`never_ran`): then the same append is sent again
    (`resent` counts them).
    """

    def __init__(self, store, senders, replication_of):
        super().__init__(daemon=True)
        self.store, self.senders, self.replication_of = store, senders, replication_of
        self.killed = threading.Event()
        self.stop = threading.Event()
        self.acknowledged, self.confirmed, self.after_kill, self.ambiguous = [], [], [], []
        self.resent, self.errors = 0, []

    def sender(self, n):
        return self.senders[n % len(self.senders)]

    def count(self, numbers, senders):
        """How many of the appends `numbers` went to `senders`."""
        return sum(self.sender(n) in senders for n in numbers)

    def run(self):
        n = 0
        while not self.stop.is_set():
            n += 1
            event = {"event": "user", "timestamp": 1700000000.0 + n, "text": f"message {n}", "metadata": {"n": n}}
            while not self.stop.is_set():
                sent_after_kill = self.killed.is_set()
                try:
                    self.store.append(self.sender(n), [event])
                except StoreUnavailable as e:
                    time.sleep(0.02)
                    if never_ran(e):
                        self.resent += 1
                        continue
                    self.ambiguous.append(n)
                    break
                except Exception as e:  # reported by the test: a thread's exception would be lost
                    self.errors.append(e)
                    return
                self.acknowledged.append(n)
                if sent_after_kill:
                    self.after_kill.append(n)
                elif self.replicated(*self.replication_of(self.sender(n))):
                    self.confirmed.append(n)
                break

    @staticmethod
    def replicated(master, replica):
        import redis

        try:
            written = master.info("replication")["master_repl_offset"]
            wait_until(lambda: applied_offset(replica) >= written, "replication", seconds=2, pause=0.005)
        except (redis.RedisError, ServerFailed):
            return False  # the master died first, or the replica lags: not known to be replicated
        return True

    def stored_appends(self):
        """{sender id: the numbers of its stored events}, having checked them against what the writer was told:
        no append stored twice, none acknowledged and replicated (or sent after the kill) lost, none stored
        that was neither acknowledged nor ambiguous, each conversation's in the order written."""
        stored = {sender_id: [event["metadata"]["n"] for event in self.store.retrieve(sender_id).events]
                  for sender_id in self.senders}
        numbers = [n for ns in stored.values() for n in ns]
        assert len(numbers) == len(set(numbers)), "an append was stored twice"
        assert set(self.confirmed) | set(self.after_kill) <= set(numbers), "an acknowledged, replicated append is lost"
        assert set(numbers) <= set(self.acknowledged) | set(self.ambiguous), "an append never acknowledged is stored"
        for sender_id, ns in stored.items():
            assert ns == sorted(ns) and all(self.sender(n) == sender_id for n in ns), sender_id
        return stored

    def summary(self, stored):
        numbers = {n for ns in stored.values() for n in ns}
        return (f"{len(self.acknowledged)} appends acknowledged ({len(self.confirmed)} replicated before the kill, "
                f"{len(self.after_kill)} sent after it), {len(self.ambiguous)} ambiguous "
                f"({len(set(self.ambiguous) & numbers)} of them stored), {self.resent} sent again")
