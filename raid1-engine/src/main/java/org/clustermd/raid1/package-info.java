/**
 * md's raid1 personality and md core for one node.
 */
package org.clustermd.raid1;
