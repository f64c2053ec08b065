/**
 * The clustermd command line (picocli): {@link org.clustermd.cluster.cli.ClusterMdMain} is the
 * entry point of {@code bin/clustermd}, {@link org.clustermd.cluster.cli.ClusterMdCommand} the
 * top command, and every verb a class of its own registered in the top command's
 * {@code subcommands} list (the one place to add a verb).
 *
 * <p>Exit codes: 0 ok, 1 the operation failed (stderr says why), 2 usage error. Logs go to
 * stderr, WARN and above unless {@code --verbose}; stdout carries only a verb's result.
 */
package org.clustermd.cluster.cli;
