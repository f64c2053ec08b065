/**
 * The lock manager API: DLM semantics (modes, conversions, LVBs, basts, lockspace membership and recovery callbacks). No ZooKeeper or Curator type appears here.
 */
package org.clustermd.dlm;
