"""Receive mail to disk: never lose a message, never store one twice.

Modules: `engine` (the steps of one fetch), `state` (UIDL state in SQLite),
`maildir` and `mbox` (the stores), `lines` (CRLF -> LF, mboxrd quoting),
`lock` (one run per account), `causes` (errors -> cause codes), `config`
(accounts.toml and password sources), `report` (the outcome).

Design: the order of durable steps
==================================

For every batch of messages (at most `engine.BATCH_MESSAGES` messages or
`engine.BATCH_OCTETS` octets) the engine does, strictly in this order:

1. RETR streams each message into a temporary file (Maildir: ``tmp/NAME``,
   fsynced when the message is complete; mbox: a hidden staging file).
2. **pending**: one SQLite transaction records every uid of the batch as
   ``pending`` together with its exact target (Maildir ``new/NAME``; mbox
   ``OFFSET:LENGTH:SHA256``).  ``synchronous=FULL``: durable on return.
3. **place**: Maildir links ``tmp/NAME`` to ``new/NAME`` (never overwrites)
   and fsyncs ``new/``; mbox appends under fcntl + dot-lock and fsyncs the
   file (truncating back to the old size if the append fails).
4. **delivered**: one transaction marks the batch ``delivered``.
5. Only after the last batch is delivered are DELE commands sent, and only
   for uids the state says are ``delivered``; the server applies them at
   QUIT (RFC 1939 UPDATE state).  A drop before QUIT deletes nothing.

Why nothing is lost: a message is deleted on the server only after step 4
for it, and step 4 follows the durable step 3.  A drop or kill anywhere
before QUIT leaves every message on the server.

Why nothing is stored twice: the dangerous window is between 3 and 4 -- the
message is in the mailbox but not marked delivered.  Step 2 closes it: a run
killed there leaves a ``pending`` row naming the exact target, and the next
run *reconciles* before it connects: for each pending row it asks the store
whether the target is really there (Maildir: ``new/NAME`` or ``cur/NAME*``
exists; mbox: the bytes at OFFSET hash to SHA256) and marks it delivered,
or forgets the row (and truncates a partial mbox tail) so it is fetched
again.  Killed before 2: nothing is in the mailbox and no row exists.
Killed after 4: the normal state.  A power cut is the same as a kill because
each step is fsynced before the next begins.

One run per account: a ``flock``-ed lock file beside the state database
(``msvcrt.locking`` on Windows), held for the whole run; the kernel drops it
when the process dies, so there are no stale locks.  SQLite's own exclusive
locking is not used for this because it would only lock at the first write.

Without UIDL on the server, the id is a SHA-256 of the headers (``TOP n 0``)
and the size, and the report says so (`report.NO_UIDL`).
"""
