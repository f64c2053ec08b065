/**
 * The lock manager on ZooKeeper (through Curator): {@link org.clustermd.dlm.zk.ZkLockManager}
 * opens one session per node; {@link org.clustermd.dlm.zk.ZkLockManager#join} returns a
 * {@link org.clustermd.dlm.LockSpace}.
 *
 * <h2>The idea</h2>
 * Every lock's whole state lives in its znode <em>name</em> ({@link org.clustermd.dlm.zk.LockEntry}):
 * owner, granted mode, requested mode, generation, queue position. The value block lives in a
 * name too ({@link org.clustermd.dlm.zk.ValueBlockEntry}). Each member keeps one persistent
 * recursive watch on its lockspace, so the ordered stream of watch events is a complete, exact
 * replica of every lock table ({@link org.clustermd.dlm.zk.ResourceView}); no read is needed after
 * joining or reconnecting, a waiter is woken by the event that grants it, and nothing polls. Grant
 * decisions are a pure function of a table ({@link org.clustermd.dlm.zk.GrantPolicy}: the Linux
 * DLM's rules), so any member with an exact view computes the same one. Each decision is written
 * as one transaction ({@link org.clustermd.dlm.zk.TablePlanner}).
 *
 * <h2>Znodes, and who may write which when</h2>
 * Layout: {@link org.clustermd.dlm.zk.ZkLockPaths}. Every znode carries the cluster's ACL when
 * credentials are configured ({@link org.clustermd.dlm.zk.DlmCredentials}).
 * <ul>
 *   <li><b>members/, slots/, names/&lt;node&gt;/member</b> (ephemeral): created by a joining node
 *       for itself, in one transaction (the slot claim fails if the slot is taken, or if a live
 *       member already has the node's name) that also sets the members directory's data, so its
 *       version counts joins; deleted by the node when it leaves (together with a departed/
 *       tombstone, which is how survivors tell a departure from a death) or by ZooKeeper when its
 *       session expires. A member znode's name carries the member's incarnation, its session id:
 *       ZooKeeper never hands out a session id twice, so a slot's next member always has another
 *       one, which the API reports ({@link org.clustermd.dlm.MemberId}, {@code memberIn}, and
 *       recover_slot), so that a recovery queued for one life of a slot never acts on the
 *       next.</li>
 *   <li><b>recovery/&lt;dead&gt;+&lt;member&gt;</b> (persistent): created by a member for itself
 *       once its recover_prep has returned for that death; deleted, once the dead member's locks
 *       are gone, by the live member in the lowest slot.</li>
 *   <li><b>a lock znode</b> (persistent, so that a dead member's locks outlive its session until
 *       survivors have run their recovery callbacks) is written by exactly these writers:
 *       <ol>
 *         <li>its owner, to queue a request (create), convert (rename), cancel (rename or
 *             delete) or unlock (delete);</li>
 *         <li>any member writing a <em>grant pass</em>, which may only rename a lock from
 *             pending to granted in the mode it requested: a releaser in its release, or the
 *             owner of the first grantable waiting request (the "elected" writer) when the
 *             releaser's view did not show the waiter;</li>
 *         <li>any live member purging the locks of an owner whose member znode is gone, once
 *             recover_prep has returned for that death on every live member (see "Recovery
 *             order").</li>
 *       </ol>
 *       No writer ever strengthens another member's granted mode except by such a grant, and
 *       nobody but the owner (or a purge) weakens or removes it.</li>
 *   <li><b>the value block znode</b>: replaced (create the new, delete the old, in the same
 *       transaction) by a PW/EX holder when it converts down or unlocks, or by a purge (marked
 *       not-valid) when a dead member held PW or EX.</li>
 *   <li><b>the version znode</b> (outside the watched subtree): bumped by every compare-and-set
 *       transaction and by nothing else.</li>
 * </ul>
 *
 * <h2>Why a grant is safe even when decided on a stale view</h2>
 * Invariant I: in every committed state of a resource, the granted modes of its locks are
 * pairwise compatible. Transactions are of two kinds.
 * <ul>
 *   <li><b>Plain</b> transactions ({@link org.clustermd.dlm.zk.TablePlanner#plainSafe}) only
 *       delete locks, create a request that holds nothing, create NL, convert a lock down
 *       (every mode compatible with the old one is compatible with the new), withdraw a
 *       conversion, or replace the value block. None can make two granted modes incompatible,
 *       so they preserve I whatever view they were decided on.</li>
 *   <li><b>Compare-and-set</b> transactions are every transaction that grants anything other
 *       than NL or queues a conversion. Their last operation sets the version znode at the
 *       version the writer's view had; the version counts exactly these transactions. So if one
 *       commits, no other compare-and-set transaction committed between the writer's view and
 *       its commit: the only changes it did not see are plain ones, which removed or weakened
 *       locks or added requests that hold nothing. Every lock it grants was checked against
 *       every granted mode in its view (a superset, in strength, of the granted modes at commit
 *       time) and against the modes it grants in the same pass. Its deletes name exact znodes, so
 *       if a lock it meant to rename was renamed or removed meanwhile, the whole transaction
 *       fails. Hence I holds after it.</li>
 * </ul>
 * By induction over the transaction log, I holds in every committed state. The safety checker
 * test replays a server's transaction log and checks I after every transaction.
 *
 * <p>A view can be a prefix of the log plus a partly applied transaction. Transactions create
 * before they delete, so a rename shows both names (the view is <em>unsettled</em> and no decision
 * is taken) and every other intermediate state holds at least the locks of the committed one. A
 * compare-and-set transaction writes its new version into every name it creates, and every such
 * transaction creates one (a grant or queued conversion is always a new name), so watchers learn
 * the version from the same events. FIFO order holds for the same reason: a plain new request
 * that a granter did not see was created after everything in the granter's view, so it is behind
 * all of it; conversions are compare-and-set, so every granter sees them before it grants a new
 * request. A request never grants anyone but itself, and only when nobody before it is
 * grantable, so it cannot overtake a waiter it does see; the one exception is the DLM's: a
 * conversion not queued yet whose mode is compatible with every held mode is granted at once,
 * past waiting conversions (docs/lessons.md §54). That changes order only, not I: the grant is
 * compare-and-set and checked against every granted mode in the view, as any other.
 *
 * <h2>A joint transaction</h2>
 * {@link org.clustermd.dlm.LockSpace#convertJointly} writes conversions of several resources'
 * locks as one ZooKeeper multi ({@link org.clustermd.dlm.zk.JointRequest}): each part is planned
 * on its own resource's view exactly as a single conversion would be, and the transaction is the
 * concatenation of the parts' operations, each part's version check included. A part's
 * operations touch only its own resource's znodes and version znode, so for each resource the
 * transaction is that resource's own plain or compare-and-set transaction, and the induction
 * above holds resource by resource: a compare-and-set part commits only if no other
 * compare-and-set transaction on its resource committed since its view, and then the whole
 * transaction commits, or none of it does. Watchers apply its events resource by resource; a
 * view that shows one part applied and the next not yet is a state no decision can tell from two
 * transactions in a row, since decisions are taken per resource. Every grant of a joint
 * transaction has its zxid as fencing token, which still grows with each resource's grants. What
 * a joint transaction adds is atomicity across resources, which callers rely on: md-cluster never
 * holds {@code message} EX without {@code token} EX (docs/lessons.md §66). It never waits as a
 * whole: once written, each part is granted or waits in its own queue as any request. A joint
 * write whose reply a connection loss took is settled part by part from the view re-read after
 * the resume, as a single write is; the transaction being atomic, every part is found written
 * (and goes on alone) or none is (and the parts are written again together). A wait that ends
 * while parts still wait cancels them; when a cancel loses to its grant and every part ends
 * granted, the caller gets the grants, as {@code convert} returns a grant that won the race with
 * its cancel. A joint request can end SUSPENDED after its write committed (a grant whose
 * completion came after SUSPENDED, below): its parts still waiting are cancelled, but such a
 * cancel is written only once the lockspace is ACTIVE again, after the caller may have given up
 * waiting for it. A caller learns what it holds by waiting for the lease and then for each lock
 * to have no request pending ({@code LockResource#awaitNoRequest}, docs/lessons.md §69).
 *
 * <h2>A grant is learned from its event, which comes before its reply</h2>
 * A member completes its own request when its view shows the lock granted in the requested mode
 * under a new name, whoever wrote that grant. When its own compare-and-set transaction wrote it,
 * the transaction's reply would prove the same grant: the transaction committed, so its version
 * check held and I held after it, and the names the event reports are the names it created. The
 * reply is never earlier, though. A ZooKeeper server (the leader or the follower the client talks
 * to) applies a committed transaction, which sends the notifications it triggers, and only then
 * sends its reply, on the same connection, in that order; the client hands both to its one event
 * thread in the order they arrived. So when a writer's reply is handled, its view already holds
 * every event up to and including its own transaction, and its grant has already completed from
 * it ({@code WriteStats#grantsBeforeReply}, docs/lessons.md §53). Completing on the reply would
 * add a second path to the same belief and save nothing; a request granted by somebody else's
 * transaction has no reply of its own to learn from at all. A lost reply (connection loss) is
 * settled from the re-read view, as before. An unlock completes the same way, once the view shows
 * its lock gone: the delete committed (or a purge removed the lock), so nothing is held for the
 * caller any more (docs/lessons.md §71).
 *
 * <h2>Beliefs and fencing</h2>
 * A member believes it holds a mode from the moment its request's completion is delivered until
 * its own write changes it, or until its belief ends with the session's health: at
 * {@link org.clustermd.dlm.LockSpaceState#SUSPENDED} or at the lease deadline
 * ({@link org.clustermd.dlm.LockSpace#leaseDeadlineNanos()}), whichever comes first, and never
 * later. LOST is no fence: it comes only once the server has expired the session (the client
 * hears so when it reconnects, or Curator gives up a session timeout after SUSPENDED), and by then
 * others may hold the locks. A grant whose completion would reach its caller after
 * SUSPENDED was reported fails with {@link org.clustermd.dlm.DlmException.Code#SUSPENDED} (the
 * lock may still be held, and is if the same session resumes: the handle's
 * {@code grantedMode()} tells once the lockspace is ACTIVE again). The check before delivery and
 * the report are not atomic, so a holder checks {@link org.clustermd.dlm.LockSpace#leaseValid()}
 * before each write it protects, as the engine does. Beyond the lease (a pause between that check
 * and the write longer than the lease's margin), the fencing token of a PW/EX grant, the zxid of
 * the granting transaction, orders holders: storage records it and rejects older ones. A reconnect
 * with a new session (which Curator's retry would otherwise hide) is treated as lost.
 *
 * <h2>The lease</h2>
 * ZooKeeper's client is not a fence: it declares the link dead after two thirds of the session
 * timeout {@code T} without receiving anything (its read timeout; it pings after a third of
 * {@code T} without sending), but any byte resets that timer, other members' watch notifications
 * included. With only its outbound traffic lost, a member keeps hearing the lockspace and never
 * notices, while the server, hearing nothing, expires its session after {@code T} and the others
 * purge and take its locks. So each {@link org.clustermd.dlm.zk.ZkLockManager} (one session) keeps
 * a lease ({@link org.clustermd.dlm.zk.Lease}) that depends only on answers to its own requests,
 * on this node's monotonic clock ({@code System.nanoTime()}), with {@code T} the negotiated
 * timeout:
 * <ul>
 *   <li>A {@link org.clustermd.dlm.zk.LeaseRenewer} sends a {@code sync} every {@code T/12}: no
 *       write, so locking costs the same number of transactions as without the lease. Each
 *       answered request is a <em>probe</em>: sent at {@code s}, answered at {@code c}.</li>
 *   <li>A probe is <em>confirmed</em> by an answered sync sent at least {@code T/3} after
 *       {@code c}. The deadline is {@code s + 5T/6} of the latest confirmed probe. The first
 *       session's lease runs from a time {@code t0} taken before the client asked for the
 *       session: {@code t0 + 5T/6}.</li>
 *   <li>The renewer reports the end {@code T/30} before the deadline, so every lockspace is told
 *       SUSPENDED no later than the deadline, whatever the connection state says. A lockspace is
 *       ACTIVE again only when Curator reports the same session connected and the lease is valid,
 *       through the same-session path: read everything again, then ACTIVE.</li>
 * </ul>
 * Why ZooKeeper cannot expire the session before the deadline (times in real time; the clocks
 * of this node and of the servers are assumed to run at the same rate, up to what the margin
 * covers):
 * <ol>
 *   <li>A server touches a session whenever it receives a request of it (a read, a sync, a
 *       ping): at {@code r >= s}. Only the leader expires sessions (a single server is its own
 *       leader), at the first tick boundary at or after its last touch plus {@code T}: its
 *       expiry queue rounds up to the next tick, which only makes expiry later. A follower
 *       records the touch and forwards it in its reply to the leader's next ping; the leader
 *       pings every half tick, and ZooKeeper grants no session shorter than two ticks (its
 *       default minimum; a server configured below it is outside this argument), so the touch
 *       reaches the leader within {@code T/4} plus a round trip. A new leader restarts every
 *       session's timer when it starts leading, which again only makes expiry later.</li>
 *   <li>A sync is answered only through the leader: the leader orders it after every
 *       transaction proposed before it (a closeSession among them), and the answering server
 *       applies those first; a server that closed the session answers nothing more. So an
 *       answered sync means the leader had not expired the session when it handled the sync.
 *       When that sync was sent at least {@code T/3} after the probe's answer, the probe's touch,
 *       forwarded on the same connection to the leader, had reached the leader before it, and
 *       found the session alive: the leader's expiry is then at least {@code r + T >= s + T}.
 *       A follower cut off from its leader keeps answering reads for up to syncLimit ticks,
 *       but not syncs, so it cannot stretch the lease.</li>
 *   <li>At the start, the leader created the session after {@code t0}, with expiry at least its
 *       creation plus {@code T}.</li>
 * </ol>
 * So while the lease is valid, the server cannot expire the session before the deadline plus
 * {@code T/6}. That sixth is the margin: it must cover the holder's check-to-issue window (from
 * {@code leaseValid()} to the write reaching storage), the difference in clock rates (quartz:
 * parts per million), the time the leader takes from deciding an expiry to refusing syncs, and a
 * follower's ping reply that takes longer than {@code T/12} to reach the leader. A longer pause
 * is what the fencing token is for. The confirmation delay is why a lease lasts only
 * {@code 5T/12} to {@code T/2} past the last answer, less the renewals' round trips (a sync
 * waits for the leader's pending commits): after a one-way cut SUSPENDED comes then (0.3-0.4
 * {@code T} was measured under load), half a session timeout or more before ZooKeeper can expire
 * the session, and a gap of about that long without answers suspends a healthy member (it
 * resumes once a renewal is confirmed again, in the same session with every lock). Only an
 * expired member's locks are purged and handed to others.
 *
 * <h2>Recovery order: cluster-wide, as the DLM's</h2>
 * Claim R: a dead member's locks are purged (and so granted to anyone) only after every member
 * that is live when the purge commits has returned from recover_prep for that death. The Linux
 * DLM gets this by stopping every node before recovering anything; here a barrier does it
 * ({@link org.clustermd.dlm.zk.RecoveryBarrier}):
 * <ul>
 *   <li>A member learns of a death from the ordered stream: its member znode's deletion, or, for
 *       a node that joined (or resynced) after it, the dead member's locks in the view it joined
 *       with. Either way it queues recover_prep, recover_slot and, once the locks are gone,
 *       recover_done, and when recover_prep has returned it creates its mark
 *       recovery/&lt;dead&gt;+&lt;itself&gt;.</li>
 *   <li>A purge is decided only on a view that shows a mark from every member in that view, and
 *       its transaction checks the members directory's data version as that view had it. Every
 *       slot claim sets that data, so if the purge commits, no member joined after the view:
 *       every member live at commit time is in the view (members only leave otherwise), and each
 *       one's mark was created after its recover_prep returned.</li>
 *   <li>A member that joins while the dead member's locks are still there sees them in the state
 *       its claim committed in (the claim's reply follows every earlier event), so it takes part:
 *       it gets recover_prep and writes its mark, and purges decided before its claim fail.</li>
 *   <li>Members that die or leave before marking are no longer live; the purge waits only for
 *       the others. A member that cannot reach ZooKeeper holds the purge up until it reconnects
 *       or its session expires.</li>
 * </ul>
 * Marks are written only for deaths that left locks behind: one create per live member, and one
 * transaction that deletes them all once the locks are gone. On every member, a dead member's
 * locks also reach no one before recover_prep has been delivered there, since the death is seen
 * before the purge and recover_prep is queued before any grant the purge causes. A member whose
 * recover_prep returned in an episode that is still open when another member dies marks that
 * death at once: it is still between recover_prep and recover_done.
 *
 * <h2>Costs</h2>
 * An uncontended request is one compare-and-set transaction; an unlock with nobody waiting one
 * plain delete; a conversion one transaction. A release that frees waiters grants them in the
 * same transaction. A joint request is one transaction for all its parts. Each transaction sends one notification per created or deleted lock znode
 * to every member of the lockspace.
 *
 * <h2>Limits</h2>
 * ZooKeeper versions are 32-bit: a resource accepts about 2^31 compare-and-set transactions; past
 * that the lock manager refuses rather than risk a version that means "any". Each member watches
 * the whole lockspace; md-cluster's lockspaces hold a handful of resources and at most a few dozen
 * members.
 */
package org.clustermd.dlm.zk;
