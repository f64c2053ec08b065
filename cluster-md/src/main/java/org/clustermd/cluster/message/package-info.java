/**
 * md-cluster's message channel ({@code docs/md-cluster-protocol.md §b}): the messages
 * ({@link org.clustermd.cluster.message.ClusterMessage}, md's {@code cluster_msg} laid out by
 * {@link org.clustermd.cluster.message.MessageCodec}) and
 * {@link org.clustermd.cluster.message.MessageChannel}, which broadcasts one message at a time
 * cluster-wide and returns only once every other member processed it.
 *
 * <h2>Lock modes, step by step</h2>
 * Idle, on every node: {@code token} NL, {@code message} NL, {@code ack} CR,
 * {@code no-new-dev} CR. S is the sender, R every other member.
 * <table>
 *   <caption>One broadcast</caption>
 *   <tr><th>step</th><th>S: token</th><th>S: message</th><th>S: ack</th><th>R: message</th><th>R: ack</th><th>what happens</th></tr>
 *   <tr><td>1</td><td>EX</td><td>NL</td><td>CR</td><td>NL</td><td>CR</td><td>S's send slot, then
 *       the token (one broadcast or superblock update cluster-wide), then S's receive mutex</td></tr>
 *   <tr><td>2</td><td>EX</td><td>EX</td><td>CR</td><td>NL</td><td>CR</td><td></td></tr>
 *   <tr><td>3</td><td>EX</td><td>CW</td><td>CR</td><td>NL</td><td>CR</td><td>the EX to CW conversion
 *       writes the 64-byte LVB</td></tr>
 *   <tr><td>4</td><td>EX</td><td>CW</td><td>CR&rarr;EX (waits)</td><td>NL</td><td>CR</td><td>each R
 *       gets the blocking callback; it only wakes R's receive thread</td></tr>
 *   <tr><td>5</td><td>EX</td><td>CW</td><td>waits</td><td>CR</td><td>CR</td><td>R reads the LVB (CR is
 *       compatible with CW) and processes the message</td></tr>
 *   <tr><td>6</td><td>EX</td><td>CW</td><td>waits</td><td>CR&rarr;PR (waits)</td><td>NL</td><td>R
 *       acknowledged: ack to NL; its PR waits for S's CW to go</td></tr>
 *   <tr><td>7</td><td>EX</td><td>CW</td><td>EX</td><td>waits</td><td>NL</td><td>granted once every R
 *       is at NL: all processed</td></tr>
 *   <tr><td>8</td><td>EX</td><td>CW</td><td>CR</td><td>waits</td><td>NL</td><td></td></tr>
 *   <tr><td>9</td><td>EX</td><td>NL</td><td>CR</td><td>PR</td><td>NL&rarr;CR</td><td>every R's PR is
 *       granted at once (PR is compatible with PR, {@code docs/lessons.md §1}); R re-arms ack</td></tr>
 *   <tr><td>10</td><td>NL</td><td>NL</td><td>CR</td><td>NL</td><td>CR</td><td>R drops message (the
 *       next sender's message EX waits for that, so every R is re-armed first); S releases its
 *       receive mutex, the token and its send slot</td></tr>
 * </table>
 * A refused message (unknown, malformed, from our own slot, or a type this build does not
 * handle) skips 6 and 9: R keeps {@code ack} in CR, drops {@code message} to NL, and S's ack wait
 * runs out with a CLUSTER error ({@code docs/lessons.md §10}). A handler that fails is logged
 * and acknowledged, as md logs and returns. A member that dies mid-broadcast has its locks
 * purged once its session expires, which lets S's EX through (the ack wait is above the session
 * timeout by default).
 *
 * <table>
 *   <caption>Join (md's join, the channel's part) and leave</caption>
 *   <tr><th>step</th><th>joiner</th><th>why</th></tr>
 *   <tr><td>1</td><td>message NL, token NL</td><td>md creates every lock at NL</td></tr>
 *   <tr><td>2</td><td>token EX</td><td>no broadcast is under way now</td></tr>
 *   <tr><td>3</td><td>ack CR, then the superblock re-read</td><td>a receiver of every later
 *       message and of no earlier one ({@code docs/lessons.md §7}); what an earlier one changed is
 *       read from the legs</td></tr>
 *   <tr><td>4</td><td>token NL, no-new-dev CR</td><td>idle</td></tr>
 *   <tr><td>5</td><td>at load_bitmaps: handle messages</td><td>a callback before that waits
 *       ({@code docs/lessons.md §8})</td></tr>
 *   <tr><td>leave</td><td>stop the receive thread, release every lock</td><td>a peer's broadcast
 *       no longer waits for this node</td></tr>
 * </table>
 *
 * <h2>Threads and bounds</h2>
 * The receive thread ({@code cluster-recv-<array>}) is the only one that handles messages; the
 * {@code ack} callback, on the lockspace's callback thread (which may be ZooKeeper's event
 * thread), only sets a flag and signals. Senders run on their own threads (the md thread for a
 * superblock update, an admin thread for an add, remove or re-add); a
 * {@link org.clustermd.cluster.message.SendPermit} is not owned by a thread, so an add's permit
 * can be consumed by the md thread's update. Bounds
 * ({@link org.clustermd.cluster.message.ChannelBounds}): handler &lt; ack wait &lt; token wait
 * (the lockspace's request timeout) &lt; the engine's admin wait ({@code ArrayOptions.ioWait}),
 * so the innermost wait that runs out is the one reported.
 *
 * <h2>Built now, and not yet</h2>
 * Built: the channel, the codec of every type, METADATA_UPDATED (sent after every superblock
 * write, handled by a reload), NEWDISK with the {@code no-new-dev} vote, REMOVE and RE_ADD (sent
 * and handled), RESYNCING (sent before each resync window, handled by holding writes there after
 * a drain of that range), BITMAP_NEEDS_SYNC (sent by a node that stops with resync work left,
 * after {@link org.clustermd.cluster.message.MessageChannel#stopReceiving}; handled by taking the
 * sender's slot over), RESYNCING_START (sent when a pass starts, with the resync lock held;
 * handled by activating a new spare held back since its NEWDISK), CHANGE_CAPACITY (sent by a node
 * that grows the array once every slot covers the new size, handled by growing the size requests
 * may reach). Not yet: handling BITMAP_RESIZE (refused: not acknowledged).
 */
package org.clustermd.cluster.message;
