/**
 * The clustermd command line (picocli).
 */
package org.clustermd.cluster.cli;
