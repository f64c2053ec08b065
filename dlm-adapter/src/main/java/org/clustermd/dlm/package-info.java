/**
 * The lock manager API: the semantics of the VMS/Linux DLM that md-cluster relies on, with no
 * ZooKeeper or Curator type in sight. {@link org.clustermd.dlm.LockSpace} is a lockspace with
 * member slots and recovery callbacks; {@link org.clustermd.dlm.LockResource} is this node's one
 * lock on a named resource, requested once and converted up and down in place;
 * {@link org.clustermd.dlm.LockMode} owns the compatibility matrix and the value-block rules.
 *
 * <p>What the implementation guarantees (see {@code org.clustermd.dlm.zk} for how):
 * <ul>
 *   <li>six modes with the standard matrix; FIFO grants with conversions first; NOQUEUE,
 *       cancel and a timeout on every blocking call; conversion deadlock reported, not hung;</li>
 *   <li>64-byte value blocks written on a down-conversion or unlock from PW/EX (PW to PW
 *       republishes), read on grant, and not-valid after a PW/EX holder dies;</li>
 *   <li>a blocking callback carrying the requested mode;</li>
 *   <li>stable 0-based slots, bounded in number; recovery callbacks in the DLM's order, with a
 *       dead member's locks reaching no one before recover_prep;</li>
 *   <li>session health as {@link org.clustermd.dlm.LockSpaceState}, and a strictly increasing
 *       fencing token on every PW/EX grant.</li>
 * </ul>
 *
 * <p>The one checked exception is {@link org.clustermd.dlm.DlmException}, with an enum code.
 */
package org.clustermd.dlm;
