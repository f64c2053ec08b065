/**
 * JMX for a {@link org.clustermd.cluster.ClusteredArray} (docs/design.md §5): the Array, Device and
 * Cluster MXBeans with md's attribute names, words and units, their AttributeChangeNotifications
 * (ArrayState, SyncAction, Degraded, device State), the one owner of their registration
 * ({@link org.clustermd.cluster.jmx.JmxExport}) and the remote connector
 * ({@link org.clustermd.cluster.jmx.JmxRemote}) with the JDK's management.properties conventions,
 * which never lets a client create or register an MBean.
 */
package org.clustermd.cluster.jmx;
